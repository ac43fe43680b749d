"""Invariants that need no other solver: Jacobian against finite differences, power
balance, DC power flow against pandapower's rundcpp, independence of element order."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import pandapower_case, pp

import gridsim
from gridsim.numerics.jacobian import jacobian_pattern, jacobian_values
from gridsim.numerics.mismatch import mismatch


@pytest.mark.parametrize("case", ["case14", "case118", "case300"])
def test_jacobian_matches_finite_differences(case):
    cn = gridsim.from_pandapower(pandapower_case(case)).compile()
    ref, pv, pq = cn.bus_sets()
    pvpq = np.concatenate([pv, pq])
    rng = np.random.default_rng(7)
    vm = 1.0 + 0.05 * rng.standard_normal(cn.n_bus)
    va = 0.2 * rng.standard_normal(cn.n_bus)
    sbus = cn.sbus()
    x0 = np.concatenate([va[pvpq], vm[pq]])

    def residual(x):
        a, m = va.copy(), vm.copy()
        a[pvpq] = x[: pvpq.size]
        m[pq] = x[pvpq.size :]
        return mismatch(cn.indptr, cn.indices, cn.ydata, m * np.exp(1j * a), sbus, pvpq, pq)[0]

    pat = jacobian_pattern(cn.indptr, cn.indices, pvpq, pq)
    v = vm * np.exp(1j * va)
    _, ibus = mismatch(cn.indptr, cn.indices, cn.ydata, v, sbus, pvpq, pq)
    jd = jacobian_values(cn.indptr, cn.indices, cn.ydata, v, ibus, pat.pos, pat.indices.size)
    import scipy.sparse as sp

    jac = sp.csc_matrix((jd, pat.indices, pat.indptr), shape=(pat.n, pat.n)).toarray()
    h = 1e-7
    cols = rng.choice(pat.n, size=min(pat.n, 60), replace=False)
    for c in cols:
        e = np.zeros(pat.n)
        e[c] = h
        fd = (residual(x0 + e) - residual(x0 - e)) / (2 * h)
        # central differences: error O(h^2 |f'''|) plus round-off ~1e-16 |f| / h
        scale = np.maximum(1.0, np.abs(jac[:, c]))
        assert np.max(np.abs(fd - jac[:, c]) / scale) < 1e-6, f"column {c}"


@pytest.mark.parametrize("case", ["case30", "case118", "case1354pegase"])
def test_injections_equal_losses(case):
    """Sum of all bus injections (generation - load - shunt draw) = branch losses."""
    res = gridsim.run_ac(gridsim.from_pandapower(pandapower_case(case)))
    injected = -res.bus.p_mw.sum()
    assert abs(injected - res.losses_mw) < 1e-6 * max(1.0, res.losses_mw)
    # and per element: generation - load - shunts = losses
    gen = res.gen.p_mw.sum() + res.sgen.p_mw.sum() + res.ext_grid.p_mw.sum()
    shunt = (np.abs(res.v) ** 2 * res.cn.ysh.real).sum() * res.cn.sn_mva
    assert abs(gen - res.load.p_mw.sum() - shunt - res.losses_mw) < 1e-6 * gen
    q_branch = res.branch.ql_mvar.sum()
    assert abs(-res.bus.q_mvar.sum() - q_branch) < 1e-6 * max(1.0, abs(q_branch))


@pytest.mark.parametrize("case", ["case14", "case118", "case1354pegase", "case9241pegase"])
def test_dc_matches_pandapower_rundcpp(case):
    net = pandapower_case(case)
    with np.errstate(all="ignore"):
        pp.rundcpp(net, calculate_voltage_angles=True, trafo_model="t")
    res = gridsim.run_dc(gridsim.from_pandapower(net))
    assert res.converged
    np.testing.assert_allclose(
        res.bus.va_degree.loc[net.bus.index], net.res_bus.va_degree, atol=1e-6
    )
    np.testing.assert_allclose(
        res.line.p_from_mw.loc[net.line.index], net.res_line.p_from_mw, atol=1e-6
    )
    if len(net.trafo):
        np.testing.assert_allclose(
            res.trafo.p_hv_mw.loc[net.trafo.index], net.res_trafo.p_hv_mw, atol=1e-6
        )
    np.testing.assert_allclose(res.ext_grid.p_mw, net.res_ext_grid.p_mw, atol=1e-6)


@pytest.mark.parametrize("case", ["case118", "case1354pegase"])
def test_results_do_not_depend_on_element_order(case):
    net = pandapower_case(case)
    base = gridsim.run_ac(gridsim.from_pandapower(net))
    rng = np.random.default_rng(3)
    shuffled = gridsim.from_pandapower(net)
    tables = {e: t.iloc[rng.permutation(len(t))] for e, t in shuffled.tables.items()}
    other = gridsim.Network(
        tables, sn_mva=shuffled.sn_mva, f_hz=shuffled.f_hz, unsupplied_islands="isolate"
    )
    res = gridsim.run_ac(other)
    assert res.converged
    np.testing.assert_allclose(res.bus.vm_pu.loc[base.bus.index], base.bus.vm_pu, atol=1e-10)
    np.testing.assert_allclose(res.bus.va_degree.loc[base.bus.index], base.bus.va_degree, atol=1e-8)
    np.testing.assert_allclose(
        res.branch.p_from_mw.loc[base.branch.index], base.branch.p_from_mw, atol=1e-7
    )
    np.testing.assert_allclose(res.gen.q_mvar.loc[base.gen.index], base.gen.q_mvar, atol=1e-7)
