"""Sparse linear solves behind one small interface.

A solver object is made for one sparsity pattern and reused for every matrix of that
pattern (Newton iterations, repeated solves), with ``solve(data, rhs)``. Two exist:
:class:`gridsim.solvers.sparse_lu.NumbaLU` (the default) and :class:`ScipyLU`, SuperLU
through scipy. Both take a symmetric fill-reducing ordering (power-flow Jacobians are
structurally symmetric), given or found on the first matrix. The Newton solver derives
the Jacobian's ordering from the buses'
(:func:`~gridsim.solvers.symbolic.fill_reducing_order` on Ybus's pattern,
once per network), which costs half as much as ordering the Jacobian itself. ScipyLU
permutes every matrix with it before factorisation, so SuperLU skips its own ordering
and keeps pivots on the diagonal where it can: on case9241pegase's Jacobian a
factorisation takes about 9 ms instead of 27 ms with scipy's default COLAMD.
"""

from __future__ import annotations

import numpy as np

from gridsim.numerics._jit import njit

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
        import scipy.sparse as sp  # scipy is imported only when SuperLU is used
        from scipy.sparse.linalg import splu

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
            a = self._matrix
            a.data[:] = data[self._gather]
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
        """Store the symmetric permutation, the gather that applies it to ``data``, and
        the permuted matrix object whose values each solve overwrites."""
        import scipy.sparse as sp

        self._order = np.asarray(order, dtype=np.int64)
        indptr, indices, self._gather = symmetric_permutation(
            self.indptr.astype(np.int64), self.indices.astype(np.int64), self._order
        )
        self._matrix = sp.csc_matrix(
            (np.zeros(indices.size), indices, indptr), shape=(self.n, self.n)
        )


@njit
def symmetric_permutation(indptr, indices, order):  # pragma: no cover (jitted)
    """Pattern of ``A[order][:, order]`` (CSC, sorted rows) and where its values come from.

    Returns ``(indptr, indices, gather)`` with ``permuted_data = data[gather]``.
    """
    n = indptr.size - 1
    inverse = np.empty(n, dtype=np.int64)
    for p in range(n):
        inverse[order[p]] = p
    new_indptr = np.zeros(n + 1, dtype=np.int64)
    for p in range(n):
        c = order[p]
        new_indptr[p + 1] = new_indptr[p] + indptr[c + 1] - indptr[c]
    new_indices = np.empty(indices.size, dtype=np.int64)
    gather = np.empty(indices.size, dtype=np.int64)
    for p in range(n):
        c = order[p]
        start = new_indptr[p]
        for k in range(indptr[c + 1] - indptr[c]):  # insertion sort: columns are short
            row = inverse[indices[indptr[c] + k]]
            src = indptr[c] + k
            q = start + k
            while q > start and new_indices[q - 1] > row:
                new_indices[q] = new_indices[q - 1]
                gather[q] = gather[q - 1]
                q -= 1
            new_indices[q] = row
            gather[q] = src
    return new_indptr, new_indices, gather
