"""Batched AC power flows: 1,000 load scenarios on case118 against lightsim2grid 1.2.

Scenarios: every load's P and Q scaled by one factor per scenario, uniform in
[0.8, 1.2] (seed 0). Tolerance 1e-8, NR with KLU in lightsim2grid. Every solver starts
from the solved base case (solved outside the timing, as lightsim2grid's ``Vinit``).

Groups (read by ``benchmarks/ratios.py``; ``extra_info["per_scenario_s"]`` is the median
divided by the number of scenarios, ``cpu_per_scenario_s`` the same in process CPU time,
all threads counted):

* ``batch-case118-1thread``: gridsim ``run_ac_batch(..., threads=1)`` against
  lightsim2grid's time series (``TimeSeriesCPP``, which starts each step from the
  previous step's voltages and runs on one thread only) and its ``InjectionSweepCPP``
  (each scenario from ``Vinit``) with ``nb_thread = 1``;
* ``batch-case118-2thread``: the same with 2 threads (``InjectionSweepCPP`` only).

``paired-batch-case118-<t>thread``: gridsim's call and lightsim2grid's
``InjectionSweepCPP`` (same thread count) alternated; quartiles of the per-pair
speed-up in ``extra_info``.

gridsim's timed call builds the per-scenario injections, solves all scenarios in one
parallel Numba call and returns voltages; lightsim2grid's timed call is ``compute`` and
``get_voltages`` (injections set beforehand).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import case, cpu_seconds, lightsim2grid_model, paired, pp

import gridsim
from gridsim.analysis.batch import run_ac_batch

CASE = "case118"
N_SCENARIOS = 1000
ROUNDS = 20


def _setup():
    net = case(CASE)
    pp.runpp(net, lightsim2grid=False, init="flat")
    network = gridsim.from_pandapower(net)
    cn = network.compile()
    scale = np.random.default_rng(0).uniform(0.8, 1.2, N_SCENARIOS)
    return net, cn, scale


def _extra(benchmark, threads, converged, fn):
    benchmark.extra_info["per_scenario_s"] = benchmark.stats.stats.median / N_SCENARIOS
    benchmark.extra_info["cpu_per_scenario_s"] = cpu_seconds(fn) / N_SCENARIOS
    benchmark.extra_info["n_scenarios"] = N_SCENARIOS
    benchmark.extra_info["threads"] = threads
    benchmark.extra_info["converged"] = int(converged)


@pytest.mark.parametrize("threads", [1, 2])
def test_batch_gridsim(benchmark, threads):
    _, cn, scale = _setup()
    base = gridsim.run_ac(cn)
    benchmark.group = f"batch-{CASE}-{threads}thread"
    run_ac_batch(cn, load_scale=scale[:4], init=base, threads=threads)  # JIT warm-up
    res = benchmark.pedantic(
        run_ac_batch,
        (cn,),
        {"load_scale": scale, "init": base, "threads": threads},
        rounds=ROUNDS,
        iterations=1,
    )
    assert res.converged.all()
    benchmark.extra_info["mean_iterations"] = float(res.iterations.mean())
    _extra(
        benchmark,
        threads,
        res.converged.sum(),
        lambda: run_ac_batch(cn, load_scale=scale, init=base, threads=threads),
    )


def _lightsim(net, scale, cls_name: str, threads: int | None = None):
    """lightsim2grid's ``cls_name`` computer with the scenarios' loads set (and
    ``nb_thread``, where given); returns its timed call: ``compute`` from the solved
    base case, then the voltages."""
    _, model = lightsim2grid_model(net)
    cpp = pytest.importorskip("lightsim2grid.lightsim2grid_cpp")
    computer = getattr(cpp, cls_name)(model)
    computer.change_algorithm("NR_KLU")
    if threads is not None:
        computer.nb_thread = threads
    load_p = np.ascontiguousarray(net.load.p_mw.to_numpy()[None, :] * scale[:, None])
    load_q = np.ascontiguousarray(net.load.q_mvar.to_numpy()[None, :] * scale[:, None])
    computer.modify_load_p(load_p)
    computer.modify_load_q(load_q)
    v0 = model.ac_pf(np.ones(len(net.bus), dtype=complex), 30, 1e-8)
    assert v0.size > 0

    def run():
        computer.compute(v0, 30, 1e-8)
        return computer.get_voltages()

    return run


def _time_lightsim(benchmark, run, threads):
    run()
    v = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    assert v.shape[0] == N_SCENARIOS
    _extra(benchmark, threads, np.isfinite(v).all(axis=1).sum(), run)


@pytest.mark.parametrize("tool", ["lightsim2grid-timeseries"])
def test_batch_lightsim2grid_timeseries(benchmark, tool):
    net, _, scale = _setup()
    run = _lightsim(net, scale, "TimeSeriesCPP")
    benchmark.group = f"batch-{CASE}-1thread"
    _time_lightsim(benchmark, run, 1)


@pytest.mark.parametrize("tool", ["lightsim2grid-sweep"])
@pytest.mark.parametrize("threads", [1, 2])
def test_batch_lightsim2grid_sweep(benchmark, threads, tool):
    net, _, scale = _setup()
    run = _lightsim(net, scale, "InjectionSweepCPP", threads)
    benchmark.group = f"batch-{CASE}-{threads}thread"
    _time_lightsim(benchmark, run, threads)


@pytest.mark.parametrize("threads", [1, 2])
def test_batch_paired(benchmark, threads):
    net, cn, scale = _setup()
    base = gridsim.run_ac(cn)
    theirs = _lightsim(net, scale, "InjectionSweepCPP", threads)
    benchmark.group = f"paired-batch-{CASE}-{threads}thread"

    def ours():
        return run_ac_batch(cn, load_scale=scale, init=base, threads=threads)

    ours(), theirs()  # warm
    paired(benchmark, ours, theirs, rounds=ROUNDS * 5)
