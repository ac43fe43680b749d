"""The Numba sparse LU and the minimum-degree ordering against scipy's SuperLU."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import PANDAPOWER_CASES, pandapower_case
from scipy.sparse.linalg import splu

import gridsim
from gridsim.numerics.jacobian import jacobian_order, jacobian_pattern, jacobian_values
from gridsim.numerics.mismatch import mismatch
from gridsim.solvers.linear import ScipyLU, fill_reducing_order
from gridsim.solvers.ordering import minimum_degree
from gridsim.solvers.sparse_lu import NumbaLU

CASES = [*PANDAPOWER_CASES, "case6515rte"]


def _jacobian(case: str, seed: int = 0):
    cn = gridsim.from_pandapower(pandapower_case(case)).compile()
    ref, pv, pq = cn.bus_sets()
    pvpq = np.concatenate([pv, pq])
    pat = jacobian_pattern(cn.indptr, cn.indices, pvpq, pq)
    rng = np.random.default_rng(seed)
    v = (cn.vm_set + 0.02 * rng.standard_normal(cn.n_bus)) * np.exp(
        0.1j * rng.standard_normal(cn.n_bus)
    )
    f, ibus = mismatch(cn.indptr, cn.indices, cn.ydata, v, cn.sbus(), pvpq, pq)
    jd = jacobian_values(cn.indptr, cn.indices, cn.ydata, v, ibus, pat.pos, pat.indices.size)
    return cn, pat, jd, f, jacobian_order(cn.bus_order(), pvpq, pq)


@pytest.mark.parametrize("case", CASES)
def test_numba_lu_matches_superlu_on_power_flow_jacobians(case):
    cn, pat, jd, f, order = _jacobian(case)
    jac = sp.csc_matrix((jd, pat.indices, pat.indptr), shape=(pat.n, pat.n))
    reference = splu(jac).solve(f)  # scipy's defaults: COLAMD, partial pivoting
    lu = NumbaLU(pat.indptr, pat.indices, pat.n, order=order)
    x = lu.solve(jd, f)
    assert lu.fallback is None, "diagonal pivots should do on a power-flow Jacobian"
    scale = np.abs(reference).max()
    assert np.abs(x - reference).max() <= 1e-9 * scale
    assert np.abs(jac @ x - f).max() <= 1e-9 * np.abs(f).max()
    # the pattern is reused: a second matrix of the same pattern
    jd2 = jd * (1.0 + 0.01 * np.sin(np.arange(jd.size)))
    jac2 = sp.csc_matrix((jd2, pat.indices, pat.indptr), shape=(pat.n, pat.n))
    np.testing.assert_allclose(
        lu.solve(jd2, f), splu(jac2).solve(f), rtol=0, atol=1e-9 * np.abs(splu(jac2).solve(f)).max()
    )


def test_small_pivot_falls_back_to_superlu():
    # [[0, 1], [1, 1]]: the first diagonal pivot is zero
    indptr, indices = np.array([0, 2, 4]), np.array([0, 1, 0, 1])
    data = np.array([0.0, 1.0, 1.0, 1.0])
    lu = NumbaLU(indptr, indices, 2, order=np.array([0, 1]))
    x = lu.solve(data, np.array([1.0, 3.0]))
    assert lu.fallback is not None
    np.testing.assert_allclose(x, [2.0, 1.0], atol=1e-14)


def test_scipy_and_numba_paths_give_the_same_power_flow():
    net = gridsim.from_pandapower(pandapower_case("case1354pegase"))
    a = gridsim.run_ac(net, linear_solver="numba", enforce_q_limits=True)
    b = gridsim.run_ac(net, linear_solver="scipy", enforce_q_limits=True)
    assert a.converged and b.converged and a.iterations == b.iterations
    np.testing.assert_allclose(a.bus.vm_pu, b.bus.vm_pu, atol=1e-10)
    np.testing.assert_allclose(a.bus.va_degree, b.bus.va_degree, atol=1e-8)
    with pytest.raises(gridsim.GridsimError, match="linear_solver"):
        gridsim.run_ac(net, linear_solver="klu")


@pytest.mark.parametrize("case", ["case118", "case9241pegase"])
def test_minimum_degree_is_a_permutation_with_little_fill(case):
    cn, pat, jd, f, _ = _jacobian(case)
    order = minimum_degree(cn.indptr, cn.indices)
    assert np.array_equal(np.sort(order), np.arange(cn.n_bus))
    assert np.array_equal(fill_reducing_order(cn.indptr, cn.indices, cn.n_bus), order)
    pvpq = np.concatenate(cn.bus_sets()[1:])
    pq = cn.bus_sets()[2]
    ours = NumbaLU(pat.indptr, pat.indices, pat.n, order=jacobian_order(order, pvpq, pq))
    natural = splu(
        sp.csc_matrix((jd, pat.indices, pat.indptr), shape=(pat.n, pat.n)),
        permc_spec="MMD_AT_PLUS_A",
    )
    # as little fill as SuperLU's multiple minimum degree, within 10 %
    assert ours.fill <= 1.1 * (natural.L.nnz + natural.U.nnz)


def test_scipy_lu_reuses_its_ordering():
    _, pat, jd, f, order = _jacobian("case300")
    lu = ScipyLU(pat.indptr, pat.indices, pat.n)
    x1 = lu.solve(jd, f)  # finds its ordering
    x2 = lu.solve(jd, f)  # reuses it
    np.testing.assert_allclose(x1, x2, atol=1e-10 * np.abs(x1).max())


def test_newton_continues_with_superlu_after_a_rejected_pivot():
    """The Numba Newton loop hands over to the Python loop with SuperLU; same answer."""
    from gridsim.solvers.newton import NewtonSolver

    cn = gridsim.from_pandapower(pandapower_case("case300")).compile()
    ref, pv, pq = cn.bus_sets()
    pvpq = np.concatenate([pv, pq])
    v0 = np.where((cn.bus_type == 2) | (cn.bus_type == 3), cn.vm_set, 1.0).astype(complex)
    v0 *= np.exp(1j * cn.va_set[ref[0]])
    kernel = NewtonSolver(cn.indptr, cn.indices, pvpq, pq, bus_order=cn.bus_order())
    handed_over = NewtonSolver(cn.indptr, cn.indices, pvpq, pq, bus_order=cn.bus_order())
    handed_over.lu.use_fallback()
    a = kernel.solve(cn.ydata, cn.sbus(), v0, tol=1e-10, max_iter=20)
    b = handed_over.solve(cn.ydata, cn.sbus(), v0, tol=1e-10, max_iter=20)
    assert a.converged and b.converged and a.iterations == b.iterations
    np.testing.assert_allclose(a.v, b.v, atol=1e-10)
