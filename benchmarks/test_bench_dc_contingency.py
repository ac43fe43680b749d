"""DC N-1: gridsim's LODF table against lightsim2grid's ``ContingencyAnalysisCPP``.

Group ``dc-n1-case1354pegase`` (read by ``benchmarks/ratios.py``): DC post-outage flows
of every branch for every branch outage. gridsim: ``dc_contingency`` on the compiled
network (LODF, tidy table of ~4 million rows); lightsim2grid: ``ContingencyAnalysisCPP``
with ``DC_KLU`` (one DC solve per outage) and ``compute_power_flows``, one thread.
"""

from __future__ import annotations

import numpy as np
from conftest import N1_CASE, contingency_setup, lightsim2grid_contingency

from gridsim.analysis.sensitivity import dc_contingency


def test_dc_n1_gridsim(benchmark):
    _, _, cn = contingency_setup()
    benchmark.group = f"dc-n1-{N1_CASE}"
    dc_contingency(cn)  # JIT, DC factorisation
    table = benchmark(dc_contingency, cn)
    assert len(table) == cn.n_branch * (cn.n_branch - 1)


def test_dc_n1_lightsim2grid(benchmark):
    net, _, cn = contingency_setup()
    model, analysis = lightsim2grid_contingency(net, "DC_KLU")
    benchmark.group = f"dc-n1-{N1_CASE}"
    analysis.add_all_n1()
    v0 = model.dc_pf(np.ones(len(net.bus), dtype=complex), 30, 1e-8)

    def run():
        analysis.compute(v0, 30, 1e-8)
        return analysis.compute_power_flows()

    run()
    flows = benchmark(run)
    assert flows.shape == (cn.n_branch, cn.n_branch)
