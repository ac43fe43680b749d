"""AC N-1: gridsim against lightsim2grid's ``ContingencyAnalysisCPP``, on 1 and 2 threads.

Groups ``ac-n1-case1354pegase-<t>thread`` (read by ``benchmarks/ratios.py``): AC N-1
over every non-islanding branch outage of case1354pegase (``GRIDSIM_BENCH_N_AC`` limits
the count), tolerance 1e-8, each outage started from the base-case voltages.

* gridsim: ``ac_contingency(cn, outages, threads=t)``, the whole call: base case,
  islanding check, one parallel Numba call solving every outage and the table of
  flows, loadings and voltage extremes (one row per outage and monitored branch).
* lightsim2grid 1.2: ``ContingencyAnalysisCPP`` with ``NR_KLU``, ``nb_thread = t``,
  ``compute`` then ``compute_power_flows`` (the base-case voltages given, untimed).

``extra_info`` holds the seconds per contingency (median / number of outages) and
``cpu_per_contingency_s``, the same in process CPU time (all threads counted).
``paired-ac-n1-case1354pegase-<t>thread``: the two calls alternated, the quartiles of
the per-pair speed-up (lightsim2grid time / gridsim time; the speed issue's acceptance
asks for at least 1.25, a time ratio of at most 0.8).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import (
    N1_CASE,
    contingency_setup,
    cpu_seconds,
    lightsim2grid_contingency,
    paired,
)

from gridsim.analysis.contingency import ac_contingency
from gridsim.analysis.sensitivity import lodf

N_AC = int(os.environ.get("GRIDSIM_BENCH_N_AC", "0")) or None  # None: every outage
THREADS = [1, 2]
ROUNDS = 5


def _ac_outages(net, cn):
    """The non-islanding branches (the first ``N_AC``): gridsim outages and
    lightsim2grid's branch indices (lines in ``net.line`` order, then transformers)."""
    _, islanding = lodf(cn)
    outages = [o for o, isl in islanding.items() if not isl][:N_AC]
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
    table = benchmark.pedantic(
        ac_contingency, (cn, outages), {"threads": threads}, rounds=ROUNDS, iterations=1
    )
    status = table.groupby(["outage_element", "outage_id"], observed=True).status.first()
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
    its timed call: ``compute`` from the base-case voltages, then the flows."""
    model, analysis = lightsim2grid_contingency(net, "NR_KLU")
    analysis.nb_thread = threads
    analysis.add_multiple_n1(ls_index)
    v = model.ac_pf(np.ones(len(net.bus), dtype=complex), 30, 1e-8)
    assert v.size > 0

    def run():
        analysis.compute(v, 30, 1e-8)
        return analysis.compute_power_flows()

    return run


@pytest.mark.parametrize("threads", THREADS)
def test_ac_n1_lightsim2grid(benchmark, threads):
    net, _, cn = contingency_setup()
    outages, ls_index = _ac_outages(net, cn)
    n = len(outages)
    run = _lightsim2grid_n1(net, ls_index, threads)
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
    theirs = _lightsim2grid_n1(net, ls_index, threads)
    benchmark.group = f"paired-ac-n1-{N1_CASE}-{threads}thread"

    def ours():
        return ac_contingency(cn, outages, threads=threads)

    ours(), theirs()  # warm
    paired(benchmark, ours, theirs, rounds=10)
