"""Sparse linear solves behind one small interface.

A solver object is made for one sparsity pattern and reused for every matrix of that
pattern (Newton iterations, repeated solves). :class:`ScipyLU` uses SuperLU through
scipy. It takes a minimum-degree ordering of ``A + A^T`` (power-flow Jacobians are
structurally symmetric), given or found on the first matrix, and permutes every matrix
symmetrically with it before factorisation, so SuperLU skips the ordering step and
keeps pivots on the diagonal where it can. The Newton solver derives the Jacobian's
ordering from the buses' (:func:`minimum_degree_order` on Ybus's pattern, once per
network), which costs half as much as ordering the Jacobian itself. On case9241pegase's
Jacobian this takes a factorisation from about 27 ms (scipy's default COLAMD) to 9 ms.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

_OPTIONS = {"SymmetricMode": True}
_PIVOT_THRESHOLD = 0.1  # accept a diagonal pivot down to 10% of its column's largest entry
# Grid factors are very sparse: small supernodes (relax) and panels factor faster than
# SuperLU's defaults (9 ms against 14 ms per factorisation on case9241pegase).
_SUPERNODES = {"relax": 4, "panel_size": 8}


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
    order : ndarray of int, optional
        A fill-reducing symmetric ordering to use from the first matrix on (new
        position p holds old row/column ``order[p]``). Without one, SuperLU's minimum
        degree ordering of the first matrix is used.
    """

    def __init__(self, indptr, indices, n: int, order: np.ndarray | None = None):
        self.indptr, self.indices, self.n = indptr, indices, n
        self._order = None  # symmetric permutation: new position p holds old index order[p]
        self._gather = None  # data of the permuted matrix = data[_gather]
        self._pattern = None
        if order is not None and n:
            self._set_order(order)

    def solve(self, data: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """Solve ``A x = rhs`` for the matrix with values ``data`` on the stored pattern.

        Raises
        ------
        SingularMatrixError
            When SuperLU finds the matrix singular.
        """
        if self.n == 0:
            return np.zeros(0)
        try:
            if self._order is None:
                a = sp.csc_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))
                lu = splu(
                    a,
                    permc_spec="MMD_AT_PLUS_A",
                    diag_pivot_thresh=_PIVOT_THRESHOLD,
                    options=_OPTIONS,
                    **_SUPERNODES,
                )
                order = np.empty_like(lu.perm_c)
                order[lu.perm_c] = np.arange(lu.perm_c.size)
                self._set_order(order)
                return lu.solve(rhs)
            a = sp.csc_matrix((data[self._gather], *self._pattern), shape=(self.n, self.n))
            lu = splu(
                a,
                permc_spec="NATURAL",
                diag_pivot_thresh=_PIVOT_THRESHOLD,
                options=_OPTIONS,
                **_SUPERNODES,
            )
        except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
            raise SingularMatrixError(str(exc)) from None
        x = np.empty_like(rhs)
        x[self._order] = lu.solve(rhs[self._order])
        return x

    def _set_order(self, order: np.ndarray) -> None:
        """Store the symmetric permutation and the gather that applies it to ``data``."""
        nnz = self.indices.size
        tagged = sp.csc_matrix(
            (np.arange(1, nnz + 1, dtype=float), self.indices, self.indptr), shape=(self.n, self.n)
        )
        permuted = tagged[order][:, order].tocsc()
        permuted.sort_indices()
        self._gather = permuted.data.astype(np.int64) - 1
        self._pattern = (permuted.indices, permuted.indptr)
        self._order = order


def minimum_degree_order(indptr: np.ndarray, indices: np.ndarray, n: int) -> np.ndarray:
    """Minimum-degree ordering of a structurally symmetric pattern (SuperLU's MMD on
    ``A + A^T``), found by factorising a diagonally dominant matrix of that pattern."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    a = sp.csc_matrix((np.ones(indices.size), indices, indptr), shape=(n, n))
    a = (a + sp.identity(n, format="csc") * (4.0 * n)).tocsc()
    lu = splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options=_OPTIONS)
    order = np.empty_like(lu.perm_c)
    order[lu.perm_c] = np.arange(n)
    return order.astype(np.int64)
