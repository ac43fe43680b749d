"""Newton-Raphson power flow in polar coordinates.

The narrow interface of PYPOWER's ``newtonpf``: Ybus (CSR arrays), the scheduled
injections ``sbus``, a start ``v0`` and the bus sets. The Jacobian pattern and the
linear solver are built once per set of bus types and reused across iterations.

With gridsim's Numba LU the whole iteration loop (mismatch, Jacobian values,
factorisation, solve, update) runs in one Numba call, :func:`newton_kernel`; with
SuperLU, or after the Numba LU met a pivot it would not trust, the same steps run in
Python around scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridsim.numerics._jit import njit
from gridsim.numerics.jacobian import jacobian_order, jacobian_pattern, jacobian_values
from gridsim.numerics.mismatch import max_abs, mismatch
from gridsim.solvers.linear import SingularMatrixError
from gridsim.solvers.sparse_lu import PIVOT_TOLERANCE, NumbaLU, gather_solve

# newton_kernel's status codes
CONVERGED_OR_LIMIT, PIVOT_REJECTED, NON_FINITE_STEP, NON_FINITE_MISMATCH = 0, 1, 2, 3


@njit
def newton_kernel(
    indptr,
    indices,
    ydata,
    sbus,
    v0,
    pvpq,
    pq,
    jpos,
    nnz_j,
    gather,
    p_indptr,
    p_indices,
    l_ptr,
    l_idx,
    u_ptr,
    u_idx,
    order,
    tol,
    max_iter,
):  # pragma: no cover
    """Newton-Raphson iterations with the Numba LU, all in compiled code.

    Returns ``(v, iterations, max_mismatch, status)``; on ``PIVOT_REJECTED`` ``v`` is
    the last iterate, from which the caller continues with a pivoting LU.
    """
    npvpq = pvpq.size
    v = v0.copy()
    va = np.angle(v)
    vm = np.abs(v)
    f, ibus = mismatch(indptr, indices, ydata, v, sbus, pvpq, pq)
    norm = max_abs(f)
    it = 0
    while norm >= tol and it < max_iter:
        jdata = jacobian_values(indptr, indices, ydata, v, ibus, jpos, nnz_j)
        dx, ok = gather_solve(
            jdata,
            gather,
            p_indptr,
            p_indices,
            l_ptr,
            l_idx,
            u_ptr,
            u_idx,
            order,
            -f,
            PIVOT_TOLERANCE,
        )
        if not ok:
            return v, it, norm, PIVOT_REJECTED
        it += 1
        for k in range(dx.size):
            if not np.isfinite(dx[k]):
                return v, it, norm, NON_FINITE_STEP
        for k in range(npvpq):
            va[pvpq[k]] += dx[k]
        for k in range(pq.size):
            vm[pq[k]] += dx[npvpq + k]
        v = vm * np.exp(1j * va)
        f, ibus = mismatch(indptr, indices, ydata, v, sbus, pvpq, pq)
        norm = max_abs(f)
        if not np.isfinite(norm):
            return v, it, norm, NON_FINITE_MISMATCH
    return v, it, norm, CONVERGED_OR_LIMIT


@dataclass
class NewtonResult:
    """State after a Newton-Raphson run."""

    v: np.ndarray  # complex bus voltages, p.u.
    converged: bool
    iterations: int
    max_mismatch: float  # p.u. of the power base
    message: str = ""


class NewtonSolver:
    """Newton-Raphson for one Ybus pattern and one set of bus types.

    Parameters
    ----------
    indptr, indices : ndarray
        Ybus CSR pattern.
    pvpq, pq : ndarray of int
        Buses whose angle is unknown (PV and PQ) and whose magnitude is unknown (PQ).
    bus_order : ndarray of int, optional
        Fill-reducing ordering of the buses (e.g. minimum degree on Ybus); the Jacobian
        is ordered bus by bus, each bus's angle before its magnitude.
    linear_solver : type, optional
        Class with the :class:`~gridsim.solvers.linear.ScipyLU` interface:
        :class:`~gridsim.solvers.sparse_lu.NumbaLU` (default) or ``ScipyLU``.
    """

    def __init__(self, indptr, indices, pvpq, pq, bus_order=None, linear_solver=NumbaLU):
        self.indptr, self.indices = indptr, indices
        self.pattern = pat = jacobian_pattern(indptr, indices, pvpq, pq)
        order = None if bus_order is None else jacobian_order(bus_order, pvpq, pq)
        self.lu = linear_solver(pat.indptr, pat.indices, pat.n, order=order)

    def solve(
        self, ydata: np.ndarray, sbus: np.ndarray, v0: np.ndarray, *, tol: float, max_iter: int
    ) -> NewtonResult:
        """Iterate from ``v0`` until ``max |mismatch| < tol`` (p.u.) or ``max_iter``."""
        v = v0.astype(np.complex128).copy()
        lu, pat = self.lu, self.pattern
        done = 0
        if isinstance(lu, NumbaLU) and lu.fallback is None and pat.n:
            v, done, norm, status = newton_kernel(
                self.indptr,
                self.indices,
                ydata,
                sbus,
                v,
                pat.pvpq,
                pat.pq,
                pat.pos,
                pat.indices.size,
                lu.gather,
                lu.p_indptr,
                lu.p_indices,
                lu.l_ptr,
                lu.l_idx,
                lu.u_ptr,
                lu.u_idx,
                lu.order,
                tol,
                max_iter,
            )
            if status == NON_FINITE_STEP:
                return NewtonResult(v, False, done, norm, "Jacobian solve gave non-finite steps")
            if status == NON_FINITE_MISMATCH:
                return NewtonResult(v, False, done, np.inf, "mismatch became non-finite")
            if status == CONVERGED_OR_LIMIT:
                converged = bool(norm < tol)
                return NewtonResult(
                    v, converged, done, norm, "" if converged else "iteration limit"
                )
            lu.use_fallback()  # a pivot the Numba LU would not trust: go on with SuperLU
        return self._python_loop(ydata, sbus, v, tol, max_iter, done)

    def _python_loop(self, ydata, sbus, v, tol, max_iter, done) -> NewtonResult:
        pat = self.pattern
        pvpq, pq = pat.pvpq, pat.pq
        npvpq = pvpq.size
        va, vm = np.angle(v), np.abs(v)
        nnz = pat.indices.size
        f, ibus = mismatch(self.indptr, self.indices, ydata, v, sbus, pvpq, pq)
        norm = max_abs(f)
        it = done
        while norm >= tol and it < max_iter:
            it += 1
            jdata = jacobian_values(self.indptr, self.indices, ydata, v, ibus, pat.pos, nnz)
            try:
                dx = self.lu.solve(jdata, -f)
            except SingularMatrixError:
                return NewtonResult(v, False, it, norm, "singular Jacobian")
            if not np.all(np.isfinite(dx)):
                return NewtonResult(v, False, it, norm, "Jacobian solve gave non-finite steps")
            va[pvpq] += dx[:npvpq]
            vm[pq] += dx[npvpq:]
            v = vm * np.exp(1j * va)
            f, ibus = mismatch(self.indptr, self.indices, ydata, v, sbus, pvpq, pq)
            norm = max_abs(f)
            if not np.isfinite(norm):
                return NewtonResult(v, False, it, np.inf, "mismatch became non-finite")
        converged = bool(norm < tol)
        return NewtonResult(v, converged, it, norm, "" if converged else "iteration limit")
