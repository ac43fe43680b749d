"""A sweep of 10,000 AC power flows of the corridor model against a pandapower loop.

The grid (2032 scenario): 2 circuit counts of Niš 2-Kruševac 1 220 kV (L_RS220_01) x
100 export levels (-495..+495 MW on top of the scenario's 2,100 MW) x 50 load scales of
Serbia (0.88..1.125) = 10,000 points, solved by ``gridsim.sweep`` with the local
executor (all cores), from the network file to the result table, workers' start
included.

pandapower: the same points' networks (``apply_parameters`` + ``to_pandapower``, not
timed) solved with ``runpp(lightsim2grid=False, init="flat", tolerance_mva=1e-8)``.
Running 10,000 of them would take over an hour, so ``PP_SAMPLE`` points drawn evenly
from the grid are timed and the median per point is multiplied by 10,000 (an
extrapolation, stated as such in the figures); their results are also checked against
the sweep's rows (AC losses within 1e-3 MW, voltages within 1e-6 p.u.).

Run: ``python -m pytest benchmarks/test_bench_sweep.py -s`` (prints the figures; the
speed-up must be at least 50x).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pytest

pp = pytest.importorskip("pandapower")

import gridsim  # noqa: E402
from gridsim.analysis.sweep import apply_parameters, sweep  # noqa: E402

CASPIAN = Path(__file__).resolve().parents[1] / "networks" / "caspian_eu.yaml"
GRID = {
    "line:L_RS220_01:circuits": [1, 2],
    "export_mw": "-495:495:10",
    "load_scale:RS": "0.88:1.125:0.005",
}
N_POINTS = 10_000
PP_SAMPLE = 30
MIN_SPEEDUP = 50.0


def _runpp(net) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        pp.runpp(net, lightsim2grid=False, init="flat", tolerance_mva=1e-8, max_iteration=30)
        return time.perf_counter() - start


def test_sweep_10000_ac_power_flows_vs_pandapower(benchmark):
    network = gridsim.load_network(CASPIAN, scenario="2032")
    sweep(network, {"export_mw": [0.0]}, executor="serial")  # JIT caches warm in this process

    def run():
        return sweep(CASPIAN_2032(), GRID, executor="local")

    benchmark.group = f"sweep-corridor-2032-{N_POINTS}"
    start = time.perf_counter()
    rows = benchmark.pedantic(run, rounds=1, iterations=1)
    gridsim_s = time.perf_counter() - start
    assert len(rows) == N_POINTS
    converged = int(rows.converged.sum())

    sample = np.linspace(0, N_POINTS - 1, PP_SAMPLE).round().astype(int)
    keys = list(GRID)
    pp_times = []
    first = True
    for pid in sample:
        row = rows.iloc[pid]
        net = gridsim.to_pandapower(apply_parameters(network, {k: row[k] for k in keys}))
        if first:  # pandapower's first runpp compiles its Numba kernels: not counted
            _runpp(gridsim.to_pandapower(network))
            first = False
        pp_times.append(_runpp(net))
        if row.converged and net.converged:
            vm = net.res_bus.vm_pu.dropna()
            assert abs(vm.min() - row.min_vm_pu) < 1e-6  # p.u.
            losses = net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum()
            assert abs(losses - row.losses_mw) < 1e-3  # MW
    pp_per_point = float(np.median(pp_times))
    pp_total = pp_per_point * N_POINTS
    speedup = pp_total / gridsim_s
    benchmark.extra_info.update(
        tool="gridsim",  # ratios.py: not the test name's last word
        reference_s={"pandapower (extrapolated)": pp_total},
        points=N_POINTS,
        converged=converged,
        gridsim_total_s=gridsim_s,
        gridsim_per_point_ms=1e3 * gridsim_s / N_POINTS,
        pandapower_per_point_ms=1e3 * pp_per_point,
        pandapower_sample=PP_SAMPLE,
        pandapower_total_s_extrapolated=pp_total,
        speedup=speedup,
    )
    print(
        f"\nsweep of {N_POINTS} AC power flows (corridor 2032; {converged} converged): "
        f"gridsim local executor {gridsim_s:.1f} s ({1e3 * gridsim_s / N_POINTS:.2f} ms/point); "
        f"pandapower runpp {1e3 * pp_per_point:.0f} ms/point (median of {PP_SAMPLE} sampled "
        f"points) x {N_POINTS} = {pp_total:.0f} s extrapolated; speed-up {speedup:.0f}x"
    )
    assert speedup >= MIN_SPEEDUP


def CASPIAN_2032():  # noqa: N802 (reads as the network it returns)
    return gridsim.load_network(CASPIAN, scenario="2032")
