"""DC N-1: gridsim's post-outage flow matrix against lightsim2grid's ``ContingencyAnalysisCPP``.

Like for like: DC post-outage flows of every branch for every branch outage of
case1354pegase (1991 x 1991), as a NumPy matrix.

* gridsim: :func:`gridsim.analysis.sensitivity.dc_n1_flows` on the compiled network (one
  sparse LU of the reduced B matrix, cached; per outage one sparse solve and the LODF
  update, in Numba; the base DC power flow is included in the time).
* lightsim2grid: ``ContingencyAnalysisCPP`` with ``DC_KLU`` (one DC solve per outage),
  ``compute`` then ``compute_power_flows``.

Groups (read by ``benchmarks/ratios.py``):

* ``dc-n1-case1354pegase-1thread`` / ``-2threads``: the flow matrix, both tools with the
  same number of threads (``numba.set_num_threads``; lightsim2grid's ``nb_thread``).
* ``paired-dc-n1-case1354pegase-1thread``: the two alternated call by call (one thread),
  ``extra_info`` holding the quartiles of the per-pair speed-up.
* ``dc-n1-table-case1354pegase``: gridsim's long table (``dc_contingency``, 3.96 million
  rows; mostly the time to fill ~170 MB of fresh columns) and its DC screen (rows at or
  above 100 % loading), with lightsim2grid's flow matrix (one thread) for scale.
"""

from __future__ import annotations

import os

import numba
import numpy as np
import pytest
from conftest import N1_CASE, contingency_setup, lightsim2grid_contingency, paired

from gridsim.analysis.sensitivity import dc_contingency, dc_n1_flows

THREADS = [1, 2]


@pytest.fixture
def threads(request):
    """Run with ``request.param`` Numba threads, restored afterwards."""
    n = request.param
    if n > numba.config.NUMBA_NUM_THREADS or n > (os.cpu_count() or 1):
        pytest.skip(f"{n} threads not available")
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    yield n
    numba.set_num_threads(before)


def _lightsim2grid(net, n_threads: int):
    model, analysis = lightsim2grid_contingency(net, "DC_KLU")
    analysis.nb_thread = n_threads
    analysis.add_all_n1()
    v0 = model.dc_pf(np.ones(len(net.bus), dtype=complex), 30, 1e-8)

    def run():
        analysis.compute(v0, 30, 1e-8)
        return analysis.compute_power_flows()

    run()
    return run


def _label(n: int) -> str:
    return f"{n}thread" + ("s" if n > 1 else "")


@pytest.mark.parametrize("threads", THREADS, indirect=True)
def test_dc_n1_gridsim(benchmark, threads):
    _, _, cn = contingency_setup()
    benchmark.group = f"dc-n1-{N1_CASE}-{_label(threads)}"
    dc_n1_flows(cn)  # JIT, DC factorisation
    result = benchmark(dc_n1_flows, cn)
    assert result.flows.shape == (cn.n_branch, cn.n_branch)


@pytest.mark.parametrize("threads", THREADS, indirect=True)
def test_dc_n1_lightsim2grid(benchmark, threads):
    net, _, cn = contingency_setup()
    run = _lightsim2grid(net, threads)
    benchmark.group = f"dc-n1-{N1_CASE}-{_label(threads)}"
    flows = benchmark(run)
    assert flows.shape == (cn.n_branch, cn.n_branch)


@pytest.mark.parametrize("threads", [1], indirect=True)
def test_dc_n1_paired(benchmark, threads):
    """gridsim and lightsim2grid alternated call by call, so that a noisy neighbour on a
    shared machine slows both alike; the flow matrices agree (1e-6 MW, islanding outages
    left out: lightsim2grid reports them as zero flows)."""
    net, _, cn = contingency_setup()
    run = _lightsim2grid(net, threads)
    ours = dc_n1_flows(cn)
    theirs = run()
    ok = ~ours.islanding
    # lightsim2grid's flows are in MW at the from end, branches in gridsim's order
    # (pandapower lines, then transformers), outages likewise
    assert np.abs(ours.flows[ok] - theirs[ok]).max() < 1e-6
    benchmark.group = f"paired-dc-n1-{N1_CASE}-{_label(threads)}"
    paired(benchmark, lambda: dc_n1_flows(cn), run, rounds=30)


@pytest.mark.parametrize("threads", [1], indirect=True)
def test_dc_n1_table_gridsim(benchmark, threads):
    _, _, cn = contingency_setup()
    benchmark.group = f"dc-n1-table-{N1_CASE}"
    dc_contingency(cn)
    table = benchmark(dc_contingency, cn)
    assert len(table) == cn.n_branch * (cn.n_branch - 1)


@pytest.mark.parametrize("threads", [1], indirect=True)
def test_dc_n1_table_screened100(benchmark, threads):
    _, _, cn = contingency_setup()
    benchmark.group = f"dc-n1-table-{N1_CASE}"
    table = benchmark(dc_contingency, cn, screen=100.0)
    ok = table.status == "ok"
    assert (table.loading_percent[ok] >= 100.0).all()


@pytest.mark.parametrize("threads", [1], indirect=True)
def test_dc_n1_table_lightsim2grid(benchmark, threads):
    net, _, cn = contingency_setup()
    run = _lightsim2grid(net, threads)
    benchmark.group = f"dc-n1-table-{N1_CASE}"
    flows = benchmark(run)
    assert flows.shape == (cn.n_branch, cn.n_branch)
