"""gridsim against pandapower and lightsim2grid, measured in one run.

Groups (pytest-benchmark ``group``), each read as a ratio of its rows:

- ``e2e-<case>``: from a pandapower net to result tables. gridsim:
  ``from_pandapower`` + ``run_ac`` + the bus/line/trafo/gen tables; pandapower:
  ``runpp(lightsim2grid=False)`` (its conversion, Newton-Raphson and result tables).
- ``solve-<case>``: the AC solve on a prepared network from a flat start, tolerance
  1e-8: gridsim ``run_ac`` on a compiled network (Jacobian pattern and ordering reused)
  against lightsim2grid's ``ac_pf`` with its KLU solver, warm.
- ``paired-e2e-<case>``, ``paired-solve-<case>``: the two runs alternated call by
  call; the speed-up quartiles are in ``extra_info`` (steadier than the ratio of two
  separate medians on a shared machine).
- ``scale-<case>``: gridsim's warm AC solve of MATPOWER's 25,000- and 70,000-bus
  synthetic grids; ``extra_info`` holds the iterations, the largest mismatch
  recomputed with scipy.sparse, and the process's peak resident memory (of the whole
  pytest process: run a case alone, ``-k``, for its own figure).
- ``paired-scale-<case>``: the same solve alternated with lightsim2grid's ``ac_pf`` from
  the same start (the network exported with :func:`gridsim.io.pandapower.to_pandapower`,
  untimed: pandapower's ``from_mpc`` keeps some branches as impedance elements, which
  lightsim2grid refuses).
- ``cold-start``: a fresh Python process that imports the package and solves a small
  network (Numba's disk cache warm for gridsim; pandapower turns Numba's cache off);
  ``imports`` is the floor (the dependencies' imports alone).
- ``cold-start-empty-cache``: the same with gridsim's Numba cache empty (every kernel
  compiles), against pandapower's first ``runpp``.

Run ``pytest benchmarks/ --benchmark-json=bench.json`` and then
``python benchmarks/ratios.py bench.json`` for the table in benchmarks/README.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    CASES,
    LARGE_CASES,
    SOLVE_CASES,
    case,
    lightsim2grid_model,
    matpower_case_path,
    paired,
    pp,
)

import gridsim


def _gridsim_e2e(net):
    res = gridsim.run_ac(gridsim.from_pandapower(net), tol_mva=1e-8)
    res.bus, res.line, res.trafo, res.gen  # noqa: B018 - build the tables
    return res


def _pandapower_e2e(net):
    """pandapower's own Newton-Raphson (never lightsim2grid), same start and tolerance."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, lightsim2grid=False, init="flat", tolerance_mva=1e-8)


@pytest.mark.parametrize("name", CASES)
def test_e2e_gridsim(benchmark, name):
    net = case(name)
    benchmark.group = f"e2e-{name}"
    _gridsim_e2e(net)  # warm the JIT
    res = benchmark(_gridsim_e2e, net)
    assert res.converged


@pytest.mark.parametrize("name", CASES)
def test_e2e_pandapower(benchmark, name):
    net = case(name)
    benchmark.group = f"e2e-{name}"
    _pandapower_e2e(net)
    benchmark(_pandapower_e2e, net)
    assert net.converged


@pytest.mark.parametrize("name", CASES)
def test_e2e_paired(benchmark, name):
    """gridsim and pandapower alternated call by call, so that a noisy neighbour on a
    shared machine slows both alike; ``extra_info`` holds the median and the quartiles
    of the per-pair speed-up (pandapower time / gridsim time)."""
    net = case(name)
    benchmark.group = f"paired-e2e-{name}"
    _gridsim_e2e(net)
    _pandapower_e2e(net)
    rounds = 30 if name != "case9241pegase" else 10
    paired(benchmark, lambda: _gridsim_e2e(net), lambda: _pandapower_e2e(net), rounds)


@pytest.mark.parametrize("name", SOLVE_CASES)
def test_solve_gridsim(benchmark, name):
    network = gridsim.from_pandapower(case(name))
    benchmark.group = f"solve-{name}"
    gridsim.run_ac(network)  # compile, JIT, Jacobian pattern and ordering: once
    cn = network.compile()
    res = benchmark(gridsim.run_ac, cn, tol_mva=1e-8)
    assert res.converged


def _lightsim2grid_solver(net):
    """A warm lightsim2grid ``ac_pf`` call on ``net`` from a flat start, tolerance 1e-8."""
    _, model = lightsim2grid_model(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, lightsim2grid=False, init="flat")
    v0 = np.ones(len(net.bus), dtype=complex)
    model.ac_pf(v0, 30, 1e-8)  # warm: KLU's symbolic analysis done once

    def solve():
        return model.ac_pf(v0, 30, 1e-8)

    return solve


@pytest.mark.parametrize("name", SOLVE_CASES)
def test_solve_lightsim2grid(benchmark, name):
    solve = _lightsim2grid_solver(case(name))
    benchmark.group = f"solve-{name}"
    v = benchmark(solve)
    assert v.size > 0


@pytest.mark.parametrize("name", SOLVE_CASES)
def test_solve_paired(benchmark, name):
    """gridsim's and lightsim2grid's warm solves alternated call by call; ``extra_info``
    holds the quartiles of the per-pair speed-up (lightsim2grid time / gridsim time)."""
    net = case(name)
    ls_solve = _lightsim2grid_solver(net)
    cn = gridsim.from_pandapower(net).compile()
    assert gridsim.run_ac(cn, tol_mva=1e-8).converged
    benchmark.group = f"paired-solve-{name}"
    rounds = {"case118": 500, "case1354pegase": 200, "case2869pegase": 100}.get(name, 40)
    paired(benchmark, lambda: gridsim.run_ac(cn, tol_mva=1e-8), ls_solve, rounds)


@cache
def _large_case(name: str):
    """The network of a MATPOWER case file and the file's bus matrix."""
    from gridsim.io.matpower import parse_matpower

    path = matpower_case_path(name)
    return gridsim.read_matpower(path), parse_matpower(path.read_text())["bus"]


# case_ACTIVSg70k diverges from a flat (and a DC) start; like MATPOWER's runpf it is
# started from the state stored in the case file (VM, VA) with the generator buses at
# their voltage setpoints
LARGE_CASE_START = {"case_ACTIVSg25k": "flat", "case_ACTIVSg70k": "matpower"}


def _large_start(name: str, cn):
    """The start of :data:`LARGE_CASE_START` for a compiled large case: ``"flat"``, or
    the file's VM/VA with the generator buses at their setpoints (an array)."""
    if LARGE_CASE_START[name] == "flat":
        return "flat"
    bus = _large_case(name)[1]
    rows = cn.bus_ids.get_indexer(bus[:, 0].astype(np.int64))  # file row -> bus
    vm, va = np.ones(cn.n_bus), np.zeros(cn.n_bus)
    vm[rows], va[rows] = bus[:, 7], np.deg2rad(bus[:, 8])
    gen_bus = (cn.bus_type == 2) | (cn.bus_type == 3)
    vm[gen_bus] = cn.vm_set[gen_bus]
    return vm * np.exp(1j * va)


@pytest.mark.parametrize("name", LARGE_CASES)
def test_scale_gridsim(benchmark, name):
    """Warm AC solve (1e-8 MVA) of a MATPOWER synthetic grid; the first solve (untimed)
    builds the Jacobian pattern, ordering and symbolic LU. ``extra_info`` has the
    largest bus mismatch of the result recomputed with scipy.sparse (independent of
    gridsim's kernels) and the process's peak resident memory."""
    import scipy.sparse as sp

    cn = _large_case(name)[0].compile()
    init = _large_start(name, cn)
    first = gridsim.run_ac(cn, tol_mva=1e-8, init=init)
    assert first.converged, first.message
    benchmark.group = f"scale-{name}"
    res = benchmark.pedantic(
        gridsim.run_ac, args=(cn,), kwargs={"tol_mva": 1e-8, "init": init}, rounds=5
    )
    assert res.converged
    ybus = sp.csr_matrix((cn.ydata, cn.indices, cn.indptr), shape=(cn.n_bus, cn.n_bus))
    ds = (res.v * np.conj(ybus @ res.v) - cn.sbus()) * cn.sn_mva
    pvpq, pq = np.isin(cn.bus_type, (1, 2)), cn.bus_type == 1
    benchmark.extra_info.update(
        n_bus=int(cn.n_bus),
        start=LARGE_CASE_START[name],
        iterations=int(res.iterations),
        max_mismatch_mva_scipy=float(max(np.abs(ds.real[pvpq]).max(), np.abs(ds.imag[pq]).max())),
    )


@pytest.mark.parametrize("name", LARGE_CASES)
def test_scale_paired(benchmark, name):
    """gridsim's warm solve of a large case alternated with lightsim2grid's ``ac_pf``
    (KLU, warm) from the same start, 1e-8; ``extra_info`` holds the quartiles of the
    per-pair speed-up. The export to pandapower for lightsim2grid is untimed (about
    40 s for case_ACTIVSg25k on a quiet machine, minutes for case_ACTIVSg70k)."""
    from gridsim.io.pandapower import to_pandapower

    network = _large_case(name)[0]
    cn = network.compile()
    init = _large_start(name, cn)
    res = gridsim.run_ac(cn, tol_mva=1e-8, init=init)
    assert res.converged, res.message
    net = to_pandapower(network)
    _, model = lightsim2grid_model(net)
    v0 = np.ones(cn.n_bus, dtype=complex) if isinstance(init, str) else init  # str: flat
    v0 = v0[cn.bus_ids.get_indexer(net.bus.index)]  # in lightsim2grid's bus order
    v = model.ac_pf(v0, 30, 1e-8)
    assert v.size == cn.n_bus  # converged
    benchmark.group = f"paired-scale-{name}"
    paired(
        benchmark,
        lambda: gridsim.run_ac(cn, tol_mva=1e-8, init=init),
        lambda: model.ac_pf(v0, 30, 1e-8),
        rounds=10,
    )


# Each snippet times itself from before its first import to a solved power flow with
# its bus table, and prints the seconds: the process's own start-up and shut-down are
# outside what a user waits for after typing ``import``.
COLD_GRIDSIM = (
    "import time; t0 = time.perf_counter(); import gridsim; "
    "net = gridsim.load_network('networks/examples/two_area_hvdc.yaml'); "
    "r = gridsim.run_ac(net); r.bus; assert r.converged; print(time.perf_counter() - t0)"
)
COLD_PANDAPOWER = (
    "import time; t0 = time.perf_counter(); import warnings; warnings.simplefilter('ignore'); "
    "import pandapower as pp, pandapower.networks as pn; net = pn.case9(); "
    "pp.runpp(net, lightsim2grid=False); net.res_bus; print(time.perf_counter() - t0)"
)


# The floor under gridsim's figure: importing its dependencies and nothing else (the
# speed issue's "numpy, scipy, numba and pandas"; Numba imports scipy.linalg on its
# first compiled call, to find BLAS).
COLD_IMPORTS = (
    "import time; t0 = time.perf_counter(); import numpy, scipy.linalg, pandas, numba, yaml; "
    "print(time.perf_counter() - t0)"
)


@pytest.mark.parametrize(
    "tool,code",
    [("gridsim", COLD_GRIDSIM), ("pandapower", COLD_PANDAPOWER), ("imports", COLD_IMPORTS)],
)
def test_cold_start(benchmark, tool, code):
    """Fresh process: import and a first power flow (gridsim's Numba cache warm).

    The benchmark times the whole process; ``extra_info["in_process_s"]`` holds the
    median of what each process measured from its first import to its result.
    """
    benchmark.group = "cold-start"
    _time_fresh_processes(benchmark, code, rounds=5)


@pytest.mark.parametrize("tool,code", [("gridsim", COLD_GRIDSIM), ("pandapower", COLD_PANDAPOWER)])
def test_cold_start_empty_cache(benchmark, tool, code, tmp_path):
    """Fresh process, gridsim's Numba cache empty (``NUMBA_CACHE_DIR`` a new folder each
    round, so every kernel compiles) against pandapower's first ``runpp`` (which
    always compiles: it turns Numba's cache off)."""
    benchmark.group = "cold-start-empty-cache"
    _time_fresh_processes(benchmark, code, rounds=2, empty_cache=tmp_path)


# First solve of a pandapower case in a fresh process, pandapower and its case already
# imported (untimed) in both: gridsim's import, conversion and first solve (Numba cache
# warm) against pandapower's first runpp (which compiles its Numba kernels).
FIRST_SOLVE = {
    "gridsim": (
        "import gridsim; net = gridsim.from_pandapower(NET); "
        "r = gridsim.run_ac(net); r.bus; assert r.converged"
    ),
    "pandapower": "pp.runpp(NET, lightsim2grid=False, init='flat'); NET.res_bus",
}
FIRST_SOLVE_SETUP = (
    "import time, warnings; warnings.simplefilter('ignore'); import pandapower as pp; "
    "import pandapower.networks as pn; NET = pn.{case}(); t0 = time.perf_counter(); "
)


@pytest.mark.parametrize("tool", ["gridsim", "pandapower"])
@pytest.mark.parametrize("name", CASES)
def test_cold_first_solve(benchmark, name, tool):
    """Fresh process; the timer starts after pandapower and the case are loaded."""
    benchmark.group = f"cold-first-solve-{name}"
    code = FIRST_SOLVE_SETUP.format(case=name) + FIRST_SOLVE[tool]
    code += "; print(time.perf_counter() - t0)"
    _time_fresh_processes(benchmark, code, rounds=3)


def _time_fresh_processes(
    benchmark, code: str, rounds: int, empty_cache: Path | None = None
) -> None:
    """Time ``python -c code`` in fresh processes; the last line each prints (its own
    in-process seconds) goes, as a median, to ``extra_info["in_process_s"]``.

    The processes may write bytecode (``PYTHONDONTWRITEBYTECODE`` dropped), as an
    installed package has it; with ``empty_cache`` each one gets a new, empty
    ``NUMBA_CACHE_DIR`` under that folder.
    """
    root = Path(__file__).resolve().parents[1]
    inner: list[float] = []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def fresh():
        if empty_cache is not None:
            env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(dir=empty_cache)
        out = subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
            cwd=root,
            env=env,
        )
        inner.append(float(out.stdout.strip().splitlines()[-1]))

    fresh()  # fill the caches (gridsim's Numba cache, the OS's file cache)
    inner.clear()
    benchmark.pedantic(fresh, rounds=rounds, iterations=1)
    benchmark.extra_info["in_process_s"] = float(np.median(inner))
