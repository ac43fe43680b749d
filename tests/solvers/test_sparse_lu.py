"""The Numba sparse LU against scipy's SuperLU; its ordering and symbolic LU against
Gaussian elimination on a dense boolean matrix."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import PANDAPOWER_CASES, pandapower_case
from scipy.sparse.linalg import splu

import gridsim
from gridsim.model.compile import NO_VOLTAGE_DEPENDENCE
from gridsim.numerics.jacobian import (
    block_jacobian_pattern,
    block_jacobian_values,
    jacobian_order,
    jacobian_pattern,
    jacobian_values,
)
from gridsim.numerics.mismatch import block_mismatch, mismatch
from gridsim.solvers import newton, symbolic
from gridsim.solvers.linear import ScipyLU, symmetric_permutation
from gridsim.solvers.sparse_lu import BlockLU, NumbaLU
from gridsim.solvers.symbolic import _SUPERLU, _stand_in, fill_reducing_order, symbolic_lu

CASES = [*PANDAPOWER_CASES, "case6515rte"]


@cache
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
    return cn, pat, jd, f, jacobian_order(cn.bus_order(), pvpq, pq), v


def _block_system(cn, v):
    """The 2x2 bus-block Jacobian and mismatch at ``v``, and the scalar unknown (or -1
    for a PV bus's padding) behind each block unknown."""
    ref, pv, pq = cn.bus_sets()
    pvpq = np.concatenate([pv, pq])
    bp = block_jacobian_pattern(cn.indptr, cn.indices, pvpq, pq, cn.bus_order())
    ibus = np.empty(cn.n_bus, dtype=complex)
    fb = np.empty(2 * bp.n)
    norm = block_mismatch(
        cn.indptr,
        cn.indices,
        cn.ydata,
        v,
        cn.sbus(),
        NO_VOLTAGE_DEPENDENCE,
        bp.nodes,
        bp.pqf,
        ibus,
        fb,
    )
    jb = np.empty(4 * bp.indices.size)
    block_jacobian_values(
        cn.indptr,
        cn.indices,
        cn.ydata,
        v,
        np.abs(v),
        ibus,
        NO_VOLTAGE_DEPENDENCE,
        bp.ypos,
        bp.pqf,
        jb,
    )
    ia = np.full(cn.n_bus, -1)
    im = np.full(cn.n_bus, -1)
    ia[pvpq] = np.arange(pvpq.size)
    im[pq] = pvpq.size + np.arange(pq.size)
    scalar = np.stack([ia[bp.nodes], im[bp.nodes]], axis=1).ravel()
    return bp, jb, fb, norm, scalar


@pytest.mark.parametrize("case", CASES)
def test_numba_lu_matches_superlu_on_power_flow_jacobians(case):
    cn, pat, jd, f, order, _ = _jacobian(case)
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


@pytest.mark.parametrize("case", CASES)
def test_block_jacobian_and_block_lu_match_the_scalar_jacobian_and_superlu(case):
    """The bus-block Jacobian holds the scalar Jacobian's entries (PV padding aside),
    its mismatch the scalar mismatch, and the block LU solves it as SuperLU solves J."""
    cn, pat, jd, f, _, v = _jacobian(case)
    bp, jb, fb, norm, scalar = _block_system(cn, v)
    jac = sp.csc_matrix((jd, pat.indices, pat.indptr), shape=(pat.n, pat.n))
    real = scalar >= 0
    # mismatch: the same numbers, zeros for the padding, the same largest magnitude (p.u.)
    np.testing.assert_array_equal(fb[real], f[scalar[real]])
    assert np.all(fb[~real] == 0.0) and norm == np.abs(f).max()
    # Jacobian: scatter the blocks into a dense-by-blocks CSC and compare entry by entry
    col_of = np.repeat(np.arange(bp.n), np.diff(bp.indptr))
    r2 = (2 * bp.indices[:, None] + np.array([0, 0, 1, 1])).ravel()
    c2 = (2 * col_of[:, None] + np.array([0, 1, 0, 1])).ravel()
    big = sp.csc_matrix((jb, (r2, c2)), shape=(2 * bp.n, 2 * bp.n))
    embedded = big[np.flatnonzero(real)][:, np.flatnonzero(real)]
    perm = scalar[real]  # block unknown -> scalar unknown
    reordered = jac[perm][:, perm]
    assert abs(embedded - reordered).max() <= 1e-12 * abs(jac).max()
    padding = big[np.flatnonzero(~real)]  # PV rows: only the 1 on the diagonal
    assert padding.nnz == 0 or (abs(padding).sum() == padding.shape[0])
    # block LU against SuperLU (scipy's defaults) on the scalar matrix
    reference = splu(jac).solve(f)
    x = BlockLU(bp.indptr, bp.indices).solve(jb, fb)
    assert x is not None, "2x2 diagonal block pivots should do on a power-flow Jacobian"
    assert np.all(x[~real] == 0.0)
    scale = np.abs(reference).max()
    assert np.abs(x[real] - reference[scalar[real]]).max() <= 1e-9 * scale


def test_block_lu_rejects_a_singular_diagonal_block():
    # blocks [[A, B], [B, A]] with A singular: the first pivot block is rejected
    a = np.array([1.0, 2.0, 2.0, 4.0])
    b = np.array([1.0, 0.0, 0.0, 1.0])
    indptr, indices = np.array([0, 2, 4]), np.array([0, 1, 0, 1])
    lu = BlockLU(indptr, indices)
    assert lu.solve(np.concatenate([a, b, b, a]), np.ones(4)) is None
    # and a regular one is solved: [[I, 2I], [I, 3I]] x = [1, 1, 2, 2]
    eye = np.array([1.0, 0.0, 0.0, 1.0])
    x = lu.solve(np.concatenate([eye, eye, 2 * eye, 3 * eye]), np.array([1.0, 1.0, 2.0, 2.0]))
    np.testing.assert_allclose(x, [-1.0, -1.0, 1.0, 1.0], atol=1e-15)


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
def test_fill_reducing_order_is_a_permutation_with_little_fill(case):
    cn, pat, jd, f, _, _ = _jacobian(case)
    order = fill_reducing_order(cn.indptr, cn.indices, cn.n_bus)
    assert order.dtype == np.int64
    assert np.array_equal(np.sort(order), np.arange(cn.n_bus))
    assert np.array_equal(cn.bus_order(), order)  # the compiled network's ordering
    pvpq = np.concatenate(cn.bus_sets()[1:])
    pq = cn.bus_sets()[2]
    ours = NumbaLU(pat.indptr, pat.indices, pat.n, order=jacobian_order(order, pvpq, pq))
    natural = splu(
        sp.csc_matrix((jd, pat.indices, pat.indptr), shape=(pat.n, pat.n)),
        permc_spec="MMD_AT_PLUS_A",
    )
    # as little fill as SuperLU's multiple minimum degree on the Jacobian, within 10 %
    assert ours.fill <= 1.1 * (natural.L.nnz + natural.U.nnz)


@pytest.mark.parametrize("case", ["case1354pegase", "case9241pegase"])
def test_fill_reducing_order_keeps_large_subtrees_together_with_minimum_degree_fill(case):
    """Every subtree of the ordering's elimination tree with more than SMALL_SUBTREE
    columns is a contiguous range of columns ending at its root (SuperLU's own
    minimum-degree order scatters them), and the fill is the minimum-degree order's."""
    cn = gridsim.from_pandapower(pandapower_case(case)).compile()
    ip, ix = cn.indptr.astype(np.int64), cn.indices.astype(np.int64)
    order = fill_reducing_order(ip, ix, cn.n_bus)
    l_ptr, l_idx, _, _ = symbolic_lu(*symmetric_permutation(ip, ix, order)[:2])
    n = cn.n_bus
    first = np.arange(n)  # the lowest column of each subtree
    size = np.ones(n, dtype=np.int64)
    for k in range(n):
        if l_ptr[k + 1] > l_ptr[k]:
            parent = l_idx[l_ptr[k]]  # the first row below the diagonal
            first[parent] = min(first[parent], first[k])
            size[parent] += size[k]
    large = size > symbolic.SMALL_SUBTREE
    assert np.count_nonzero(large) >= 20
    np.testing.assert_array_equal(first[large], (np.arange(n) - size + 1)[large])
    mmd = splu(_stand_in(ip, ix), permc_spec="MMD_AT_PLUS_A", **_SUPERLU)  # not renumbered
    assert l_idx.size == mmd.L.nnz - n


def _dense_fill(indptr, indices):
    """The structure of L + U by Gaussian elimination in the given order on a dense
    boolean matrix (the definition of fill; diagonal pivots)."""
    n = indptr.size - 1
    a = np.eye(n, dtype=bool)
    a[indices, np.repeat(np.arange(n), np.diff(indptr))] = True
    a |= a.T
    for k in range(n):
        rows = k + 1 + np.flatnonzero(a[k + 1 :, k])
        cols = k + 1 + np.flatnonzero(a[k, k + 1 :])
        a[np.ix_(rows, cols)] = True
    return a


@pytest.mark.parametrize("case", ["case30", "case118", "case300", "case1354pegase"])
def test_symbolic_lu_is_the_fill_of_gaussian_elimination(case):
    """The patterns of L and U, for the buses in fill-reducing order and for the block
    Jacobian, are exactly the fill of dense elimination (no entry missing or extra)."""
    cn = gridsim.from_pandapower(pandapower_case(case)).compile()
    ip, ix = cn.indptr.astype(np.int64), cn.indices.astype(np.int64)
    buses = symmetric_permutation(ip, ix, cn.bus_order())[:2]
    pvpq = np.concatenate(cn.bus_sets()[1:])
    bp = block_jacobian_pattern(cn.indptr, cn.indices, pvpq, cn.bus_sets()[2], cn.bus_order())
    for indptr, indices in (buses, (bp.indptr, bp.indices)):
        n = indptr.size - 1
        l_ptr, l_idx, u_ptr, u_idx = symbolic_lu(indptr, indices)
        lower = sp.csc_matrix((np.ones(l_idx.size), l_idx, l_ptr), shape=(n, n)).toarray()
        upper = sp.csc_matrix((np.ones(u_idx.size), u_idx, u_ptr), shape=(n, n)).toarray()
        fill = _dense_fill(indptr, indices)
        np.testing.assert_array_equal(lower != 0, np.tril(fill, -1))
        np.testing.assert_array_equal(upper != 0, np.triu(fill, 1))
        for ptr, idx in ((l_ptr, l_idx), (u_ptr, u_idx)):  # rows ascending per column
            assert all(np.all(np.diff(idx[ptr[j] : ptr[j + 1]]) > 0) for j in range(n))


def test_symbolic_lu_of_a_pattern_without_its_diagonal():
    """A pattern missing diagonal entries is analysed with them (and symmetrised): a
    star 0-{1,2,3} eliminated centre first fills the leaves' clique; a path given by
    one side of each pair fills nothing."""
    indptr = np.array([0, 3, 4, 5, 6])
    indices = np.array([1, 2, 3, 0, 0, 0])  # no diagonal at all
    l_ptr, l_idx, u_ptr, u_idx = symbolic_lu(indptr, indices)
    assert l_ptr.tolist() == [0, 3, 5, 6, 6] and l_idx.tolist() == [1, 2, 3, 2, 3, 3]
    assert u_ptr.tolist() == [0, 0, 1, 3, 6] and u_idx.tolist() == [0, 0, 1, 0, 1, 2]
    full = _dense_fill(indptr, indices)
    lower = sp.csc_matrix((np.ones(l_idx.size), l_idx, l_ptr), shape=(4, 4)).toarray()
    np.testing.assert_array_equal(lower != 0, np.tril(full, -1))
    lower_only = symbolic_lu(np.array([0, 1, 2, 2]), np.array([1, 2]))  # 1-0, 2-1 one way
    assert lower_only[1].tolist() == [1, 2]


def test_scipy_lu_reuses_its_ordering():
    _, pat, jd, f, order, _ = _jacobian("case300")
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


def _flat_start(cn):
    ref = cn.bus_sets()[0]
    v0 = np.where((cn.bus_type == 2) | (cn.bus_type == 3), cn.vm_set, 1.0).astype(complex)
    return v0 * np.exp(1j * cn.va_set[ref[0]])


@pytest.mark.parametrize("case", ["case300", "case2869pegase"])
def test_block_and_scalar_newton_kernels_agree(case):
    """The block kernel (default) and the scalar Jacobian with the scalar Numba LU take
    the same Newton steps: same iterations, voltages within 1e-10 p.u."""
    cn = gridsim.from_pandapower(pandapower_case(case)).compile()
    ref, pv, pq = cn.bus_sets()
    pvpq = np.concatenate([pv, pq])
    block = newton.NewtonSolver(cn.indptr, cn.indices, pvpq, pq, bus_order=cn.bus_order())
    scalar = newton.NewtonSolver(cn.indptr, cn.indices, pvpq, pq, bus_order=cn.bus_order())
    scalar._block = False  # the scalar Jacobian and Numba LU, in the Python loop
    a = block.solve(cn.ydata, cn.sbus(), _flat_start(cn), tol=1e-10, max_iter=20)
    b = scalar.solve(cn.ydata, cn.sbus(), _flat_start(cn), tol=1e-10, max_iter=20)
    assert block.block is not None and scalar.lu.fallback is None
    assert a.converged and b.converged and a.iterations == b.iterations
    np.testing.assert_allclose(a.v, b.v, rtol=0, atol=1e-10)


def test_block_newton_hands_over_to_superlu_after_a_rejected_pivot(monkeypatch):
    """A pivot the block LU rejects (simulated after one iteration) hands the iterate to
    SuperLU, which finishes the solve: same answer as without the hand-over."""
    cn = gridsim.from_pandapower(pandapower_case("case118")).compile()
    ref, pv, pq = cn.bus_sets()
    pvpq = np.concatenate([pv, pq])
    plain = newton.NewtonSolver(cn.indptr, cn.indices, pvpq, pq, bus_order=cn.bus_order())
    a = plain.solve(cn.ydata, cn.sbus(), _flat_start(cn), tol=1e-10, max_iter=20)
    kernel = newton.newton_ordered_kernel

    def one_step_then_reject(*args):
        it, norm, _ = kernel(*args[:10], 1, *args[11:])  # max_iter 1
        return it, norm, newton.PIVOT_REJECTED

    monkeypatch.setattr(newton, "newton_ordered_kernel", one_step_then_reject)
    handed = newton.NewtonSolver(cn.indptr, cn.indices, pvpq, pq, bus_order=cn.bus_order())
    b = handed.solve(cn.ydata, cn.sbus(), _flat_start(cn), tol=1e-10, max_iter=20)
    assert handed.block is None and handed.lu.fallback is not None
    assert b.converged and b.iterations == a.iterations
    np.testing.assert_allclose(a.v, b.v, rtol=0, atol=1e-10)


def test_block_kernel_same_on_signed_and_unsigned_index_arrays():
    """The block system's index arrays are unsigned (no wraparound tests); the Newton
    kernel computes bit for bit the same on signed copies."""
    cn = gridsim.from_pandapower(pandapower_case("case300")).compile()
    solver = newton.newton_solver(cn)
    system = solver.block_system
    kinds = [a.dtype for a in system if a.dtype.kind in "iu"]
    assert kinds == [np.uint64] * 3 + [np.int64] + [np.uint64] * 6  # ypos holds -1
    signed = tuple(a.astype(np.int64) if a.dtype == np.uint64 else a for a in system)
    v0, tol = _flat_start(cn), 1e-10
    runs = []
    for sys_ in (system, signed):
        v = v0.copy()
        work = newton.block_workspace(sys_, cn.n_bus)
        out = newton.newton_block_kernel(
            sys_,
            cn.ydata,
            cn.sbus(),
            NO_VOLTAGE_DEPENDENCE,
            v,
            np.angle(v),
            np.abs(v),
            0,
            tol,
            20,
            0.0,
            work,
        )
        runs.append((out, v))
    (a, va), (b, vb) = runs
    assert a == b and a[2] == newton.CONVERGED_OR_LIMIT and a[1] < tol
    np.testing.assert_array_equal(va, vb)


@pytest.mark.parametrize("zip_loads", [False, True])
def test_ordered_kernel_same_as_bus_order_bit_for_bit(zip_loads):
    """The solver runs the block kernel on the buses renumbered in elimination order
    (each Ybus row's sum in its original order): the same iterations and voltages,
    bit for bit, as the kernel on the bus order, with and without voltage-dependent
    loads."""
    cn = gridsim.from_pandapower(pandapower_case("case300")).compile()
    solver = newton.newton_solver(cn)
    index = solver.ordered_system[0]
    parts = {name: newton._index_part(index, k) for k, name in enumerate(newton.ORDERED_INDEX)}
    assert np.array_equal(np.sort(parts["perm"]), np.arange(cn.n_bus))
    assert np.array_equal(parts["l_idx"], solver.block_system[8])  # unpacked as packed
    vdep = NO_VOLTAGE_DEPENDENCE
    if zip_loads:
        rng = np.random.default_rng(5)
        vdep = 0.01 * (rng.random((2, cn.n_bus)) + 0.5j * rng.random((2, cn.n_bus)))
    v0, tol, sbus = _flat_start(cn), 1e-10, cn.sbus()
    v = v0.copy()
    work = newton.block_workspace(solver.block_system, cn.n_bus)
    args = (np.angle(v), np.abs(v), 0, tol, 20, 0.0, work)
    it, norm, status = newton.newton_block_kernel(
        solver.block_system, cn.ydata, sbus, vdep, v, *args
    )
    res = solver.solve(cn.ydata, sbus, v0, tol=tol, max_iter=20, vdep=vdep)
    assert status == newton.CONVERGED_OR_LIMIT and norm < tol
    assert (res.iterations, res.max_mismatch) == (it, norm)
    np.testing.assert_array_equal(res.v, v)


def test_block_update_rotation_matches_the_trigonometric_update():
    """Angle steps under SMALL_ANGLE rotate the phasor by Taylor cosine and sine:
    the same voltages as ``vm exp(j va)`` to 1e-15 p.u. (the series' truncation is
    below 2e-21; a missing cubic term would be 2e-10 at 1e-3 rad); larger steps take
    the cosine and sine of the new angle; a non-finite step changes nothing."""
    rng = np.random.default_rng(2)
    n = 200
    nodes = rng.permutation(n + 10)[:n].astype(np.int64)
    pqf = (rng.random(n + 10) < 0.7).astype(np.float64)
    va = rng.uniform(-np.pi, np.pi, n + 10)
    vm = rng.uniform(0.9, 1.1, n + 10)
    v = vm * np.exp(1j * va)
    for scale in (1e-9, 1e-6, 9e-4, 3e-3, 0.3):
        step = rng.uniform(-scale, scale, 2 * n)
        assert newton.block_update(step, nodes, pqf, va, vm, v)
        np.testing.assert_allclose(v, vm * np.exp(1j * va), rtol=0, atol=1e-15)
    before = v.copy(), va.copy(), vm.copy()
    step[7] = np.nan
    assert not newton.block_update(step, nodes, pqf, va, vm, v)
    for a, b in zip((v, va, vm), before, strict=True):
        np.testing.assert_array_equal(a, b)
