"""Sparse linear solves behind one small interface.

A solver object is made for one sparsity pattern and reused for every matrix of that
pattern (Newton iterations, repeated solves). :class:`ScipyLU` uses SuperLU through
scipy: it finds a fill-reducing column ordering on the first matrix and reuses it, so
later factorisations skip the ordering step.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu


class SingularMatrixError(ArithmeticError):
    """The matrix is singular to working precision."""


class ScipyLU:
    """LU solves of CSC matrices sharing one pattern, with SuperLU.

    Parameters
    ----------
    indptr, indices : ndarray
        The CSC pattern every matrix passed to :meth:`solve` has.
    n : int
        Matrix dimension.
    permc_spec : str
        SuperLU column ordering used on the first matrix. ``"MMD_AT_PLUS_A"`` (minimum
        degree on the symmetrised pattern) gives the least fill on power-flow Jacobians,
        whose pattern is structurally symmetric.
    """

    def __init__(self, indptr, indices, n: int, permc_spec: str = "MMD_AT_PLUS_A"):
        self.indptr, self.indices, self.n = indptr, indices, n
        self.permc_spec = permc_spec
        self._perm = None  # column order found on the first factorisation
        self._gather = None
        self._pattern = None

    def solve(self, data: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """Solve ``A x = rhs`` for the matrix with values ``data`` on the stored pattern."""
        if self.n == 0:
            return np.zeros(0)
        try:
            if self._perm is None:
                a = sp.csc_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))
                lu = splu(
                    a,
                    permc_spec=self.permc_spec,
                    diag_pivot_thresh=0.1,
                    options={"SymmetricMode": True},
                )
                self._set_order(lu.perm_c)
                return lu.solve(rhs)
            a = sp.csc_matrix((data[self._gather], *self._pattern), shape=(self.n, self.n))
            lu = splu(
                a, permc_spec="NATURAL", diag_pivot_thresh=0.1, options={"SymmetricMode": True}
            )
        except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
            raise SingularMatrixError(str(exc)) from None
        y = lu.solve(rhs)
        x = np.empty_like(y)
        x[self._perm] = y
        return x

    def _set_order(self, perm_c: np.ndarray) -> None:
        """Precompute the gather that permutes columns of the stored pattern."""
        # perm_c[j] is the new position of column j; column p of the permuted matrix is
        # original column order[p]
        order = np.empty_like(perm_c)
        order[perm_c] = np.arange(perm_c.size)
        starts, ends = self.indptr[order], self.indptr[order + 1]
        lengths = ends - starts
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        gather = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        self._gather = gather
        self._pattern = (self.indices[gather], indptr)
        self._perm = order
