"""Newton-Raphson power flow in polar coordinates.

The narrow interface of PYPOWER's ``newtonpf``: Ybus (CSR arrays), the scheduled
injections ``sbus``, a start ``v0`` and the bus sets. The Jacobian pattern and the
linear solver are built once per set of bus types and reused across iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridsim.numerics.jacobian import jacobian_order, jacobian_pattern, jacobian_values
from gridsim.numerics.mismatch import max_abs, mismatch
from gridsim.solvers.linear import SingularMatrixError
from gridsim.solvers.sparse_lu import NumbaLU


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
        pat = self.pattern
        pvpq, pq = pat.pvpq, pat.pq
        npvpq = pvpq.size
        v = v0.astype(np.complex128).copy()
        va, vm = np.angle(v), np.abs(v)
        nnz = pat.indices.size
        f, ibus = mismatch(self.indptr, self.indices, ydata, v, sbus, pvpq, pq)
        norm = max_abs(f)
        it = 0
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
