"""NewtonSolver keeps its kernel's work arrays between solves (allocating them per solve
cost 2-3% on case_ACTIVSg70k): reused, shared by threads, they change no result."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from conftest import pandapower_case

import gridsim
from gridsim.solvers import newton

SCALES = (0.9, 0.95, 1.0, 1.05, 1.1, 1.15)


def _fresh_solve(cn, scale):
    """The solve with a solver of its own (a workspace never used before)."""
    ref, pv, pq = cn.bus_sets()
    solver = newton.NewtonSolver(
        cn.indptr, cn.indices, np.concatenate([pv, pq]), pq, bus_order=cn.bus_order()
    )
    return solver.solve(cn.ydata, cn.sbus() * scale, _flat(cn), tol=1e-10, max_iter=20)


def _flat(cn):
    return np.where((cn.bus_type == 2) | (cn.bus_type == 3), cn.vm_set, 1.0).astype(complex)


def test_reused_workspace_gives_a_fresh_solvers_results():
    cn = gridsim.from_pandapower(pandapower_case("case300")).compile()
    solver = newton.newton_solver(cn)
    solver.solve(cn.ydata, cn.sbus(), _flat(cn), tol=1e-10, max_iter=20)
    (work,) = solver._spare
    for scale in SCALES:
        got = solver.solve(cn.ydata, cn.sbus() * scale, _flat(cn), tol=1e-10, max_iter=20)
        expected = _fresh_solve(cn, scale)
        assert got.converged and got.iterations == expected.iterations
        np.testing.assert_array_equal(got.v, expected.v)
    assert len(solver._spare) == 1 and solver._spare[0] is work


def test_threads_solving_at_once_take_their_own_workspace():
    cn = gridsim.from_pandapower(pandapower_case("case300")).compile()
    solver = newton.newton_solver(cn)
    scales = SCALES * 4

    def solve(scale):
        return solver.solve(cn.ydata, cn.sbus() * scale, _flat(cn), tol=1e-10, max_iter=20)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(solve, scales))
    for scale, got in zip(scales, results, strict=True):
        expected = _fresh_solve(cn, scale)
        assert got.converged and got.iterations == expected.iterations
        np.testing.assert_array_equal(got.v, expected.v)
    assert 1 <= len(solver._spare) <= 3
