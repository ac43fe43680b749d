"""AC N-1: gridsim against lightsim2grid's ``ContingencyAnalysisCPP``.

Group ``ac-n1-case1354pegase`` (read by ``benchmarks/ratios.py``): AC N-1 over the same
``N_AC`` non-islanding branch outages, tolerance 1e-8, each outage started from the
base-case voltages. gridsim: ``ac_contingency`` (base case included); lightsim2grid:
``ContingencyAnalysisCPP`` with ``NR_KLU``, one thread, and ``compute_power_flows``.
``extra_info`` holds the seconds per contingency (median / ``N_AC``).

Both tools run on one thread here: lightsim2grid's ``nb_thread`` is 1, and gridsim's
outage loop is sequential (``NUMBA_NUM_THREADS`` is process-wide and not changed).
"""

from __future__ import annotations

import numpy as np
from conftest import N1_CASE, contingency_setup, lightsim2grid_contingency

from gridsim.analysis.contingency import ac_contingency
from gridsim.analysis.sensitivity import lodf

N_AC = 200  # AC outages timed per round


def _ac_outages(net, cn):
    """The first ``N_AC`` non-islanding branches: gridsim outages and lightsim2grid's
    branch indices (lines in ``net.line`` order, then transformers)."""
    _, islanding = lodf(cn)
    outages = [o for o, isl in islanding.items() if not isl][:N_AC]
    line_pos = {i: k for k, i in enumerate(net.line.index)}
    trafo_pos = {i: len(net.line) + k for k, i in enumerate(net.trafo.index)}
    ls_index = [line_pos[i] if el == "line" else trafo_pos[i] for el, i in outages]
    return outages, ls_index


def test_ac_n1_gridsim(benchmark):
    net, _, cn = contingency_setup()
    outages, _ = _ac_outages(net, cn)
    benchmark.group = f"ac-n1-{N1_CASE}"
    ac_contingency(cn, outages[:5])  # JIT, solvers and symbolic LU cached on cn
    table = benchmark.pedantic(ac_contingency, (cn, outages), rounds=5, iterations=1)
    status = table.groupby(["outage_element", "outage_id"], observed=True).status.first()
    assert len(status) == N_AC and (status == "converged").sum() >= 0.95 * N_AC
    benchmark.extra_info["converged"] = int((status == "converged").sum())
    benchmark.extra_info["per_contingency_s"] = benchmark.stats.stats.median / N_AC
    benchmark.extra_info["n_outages"] = N_AC


def test_ac_n1_lightsim2grid(benchmark):
    net, _, cn = contingency_setup()
    outages, ls_index = _ac_outages(net, cn)
    model, analysis = lightsim2grid_contingency(net, "NR_KLU")
    benchmark.group = f"ac-n1-{N1_CASE}"
    analysis.add_multiple_n1(ls_index)
    v = model.ac_pf(np.ones(len(net.bus), dtype=complex), 30, 1e-8)
    assert v.size > 0

    def run():
        analysis.compute(v, 30, 1e-8)
        return analysis.compute_power_flows()

    run()
    flows = benchmark.pedantic(run, rounds=5, iterations=1)
    assert flows.shape[0] == N_AC
    benchmark.extra_info["converged"] = int(np.isfinite(flows).all(axis=1).sum())
    benchmark.extra_info["per_contingency_s"] = benchmark.stats.stats.median / N_AC
    benchmark.extra_info["n_outages"] = N_AC
