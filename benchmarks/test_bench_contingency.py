"""N-1 contingency analysis: gridsim against lightsim2grid's ContingencyAnalysisCPP.

Groups (read by ``benchmarks/ratios.py``):

- ``dc-n1-case1354pegase``: DC post-outage flows of every branch for every branch
  outage. gridsim: ``dc_contingency`` on the compiled network (LODF, tidy table of
  ~4 million rows); lightsim2grid: ``ContingencyAnalysisCPP`` with ``DC_KLU`` (one DC
  solve per outage) and ``compute_power_flows``.
- ``ac-n1-case1354pegase``: AC N-1 over the same ``N_AC`` non-islanding branch outages,
  tolerance 1e-8, each outage started from the base-case voltages. gridsim:
  ``ac_contingency`` (base case included); lightsim2grid: ``ContingencyAnalysisCPP``
  with ``NR_KLU``, one thread, and ``compute_power_flows``. ``extra_info`` holds the
  seconds per contingency (median / ``N_AC``).

Both tools run on one thread here: lightsim2grid's ``nb_thread`` is 1, and gridsim's
outage loop is sequential (``NUMBA_NUM_THREADS`` is process-wide and not changed).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import case, lightsim2grid_model, pp

import gridsim
from gridsim.analysis.contingency import ac_contingency
from gridsim.analysis.sensitivity import dc_contingency, lodf

NAME = "case1354pegase"
N_AC = 200  # AC outages timed per round


def _setup():
    net = case(NAME)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, lightsim2grid=False, init="flat")
    network = gridsim.from_pandapower(net)
    return net, network, network.compile()


def _ac_outages(net, cn):
    """The first ``N_AC`` non-islanding branches: gridsim outages and lightsim2grid's
    branch indices (lines in ``net.line`` order, then transformers)."""
    _, islanding = lodf(cn)
    outages = [o for o, isl in islanding.items() if not isl][:N_AC]
    line_pos = {i: k for k, i in enumerate(net.line.index)}
    trafo_pos = {i: len(net.line) + k for k, i in enumerate(net.trafo.index)}
    ls_index = [line_pos[i] if el == "line" else trafo_pos[i] for el, i in outages]
    return outages, ls_index


def _ls_analysis(net, algorithm: str):
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


def test_dc_n1_gridsim(benchmark):
    _, _, cn = _setup()
    benchmark.group = f"dc-n1-{NAME}"
    dc_contingency(cn)  # JIT, DC factorisation
    table = benchmark(dc_contingency, cn)
    assert len(table) == cn.n_branch * (cn.n_branch - 1)


def test_dc_n1_lightsim2grid(benchmark):
    net, _, cn = _setup()
    model, analysis = _ls_analysis(net, "DC_KLU")
    benchmark.group = f"dc-n1-{NAME}"
    analysis.add_all_n1()
    v0 = model.dc_pf(np.ones(len(net.bus), dtype=complex), 30, 1e-8)

    def run():
        analysis.compute(v0, 30, 1e-8)
        return analysis.compute_power_flows()

    run()
    flows = benchmark(run)
    assert flows.shape == (cn.n_branch, cn.n_branch)


def test_ac_n1_gridsim(benchmark):
    net, _, cn = _setup()
    outages, _ = _ac_outages(net, cn)
    benchmark.group = f"ac-n1-{NAME}"
    ac_contingency(cn, outages[:5])  # JIT, solvers and symbolic LU cached on cn
    table = benchmark.pedantic(ac_contingency, (cn, outages), rounds=5, iterations=1)
    status = table.groupby(["outage_element", "outage_id"], observed=True).status.first()
    assert len(status) == N_AC and (status == "converged").sum() >= 0.95 * N_AC
    benchmark.extra_info["converged"] = int((status == "converged").sum())
    benchmark.extra_info["per_contingency_s"] = benchmark.stats.stats.median / N_AC
    benchmark.extra_info["n_outages"] = N_AC


def test_ac_n1_lightsim2grid(benchmark):
    net, _, cn = _setup()
    outages, ls_index = _ac_outages(net, cn)
    model, analysis = _ls_analysis(net, "NR_KLU")
    benchmark.group = f"ac-n1-{NAME}"
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
