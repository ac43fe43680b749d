"""Sparse LU in Numba for structurally symmetric matrices with a fixed pattern.

Power-flow Jacobians and DC B matrices keep their sparsity pattern across Newton
iterations, contingencies and time steps, so the symbolic work is done once per pattern
(what lightsim2grid gets from KLU's refactorisation):

1. a fill-reducing symmetric ordering (given; minimum degree on the bus graph);
2. the elimination tree and the patterns of L and U (for a structurally symmetric
   matrix, pattern(U) = pattern(L)^T), by the row-subtree method of a symbolic
   Cholesky factorisation;
3. per matrix, a left-looking numeric factorisation on that fixed pattern with diagonal
   pivots, then forward and backward substitution.

Diagonal pivoting is what makes the pattern fixed. It is safe for power-flow Jacobians
in practice, and every pivot is checked: one smaller than ``PIVOT_TOLERANCE`` times its
column's largest entry (or not finite) makes :class:`NumbaLU` fall back to SuperLU with
partial pivoting (:class:`~gridsim.solvers.linear.ScipyLU`) for that pattern.
"""

from __future__ import annotations

import numpy as np

from gridsim.numerics._jit import njit

PIVOT_TOLERANCE = 1e-10


@njit
def symbolic_lu(indptr, indices):  # pragma: no cover (jitted)
    """Elimination tree and the patterns of L (strictly lower, CSC) and U (strictly
    upper, CSC) of a structurally symmetric CSC pattern, no pivoting.

    Returns ``(l_ptr, l_idx, u_ptr, u_idx)``; U's columns list their rows ascending,
    which is a valid order for the left-looking updates.
    """
    n = indptr.size - 1
    parent = np.full(n, -1, dtype=np.int64)
    ancestor = np.full(n, -1, dtype=np.int64)
    for j in range(n):  # Liu's algorithm with path compression
        for p in range(indptr[j], indptr[j + 1]):
            i = indices[p]
            while i != -1 and i < j:
                nxt = ancestor[i]
                ancestor[i] = j
                if nxt == -1:
                    parent[i] = j
                i = nxt
    # row j of L = column j of U: nodes reached walking up the tree from each i < j in A
    mark = np.full(n, -1, dtype=np.int64)
    u_count = np.zeros(n + 1, dtype=np.int64)
    for j in range(n):
        mark[j] = j
        for p in range(indptr[j], indptr[j + 1]):
            i = indices[p]
            while i < j and mark[i] != j:
                mark[i] = j
                u_count[j + 1] += 1
                i = parent[i]
    u_ptr = np.cumsum(u_count)
    u_idx = np.empty(u_ptr[-1], dtype=np.int64)
    mark[:] = -1
    for j in range(n):
        mark[j] = j
        q = u_ptr[j]
        for p in range(indptr[j], indptr[j + 1]):
            i = indices[p]
            while i < j and mark[i] != j:
                mark[i] = j
                u_idx[q] = i
                q += 1
                i = parent[i]
        for a in range(u_ptr[j] + 1, u_ptr[j + 1]):  # insertion sort of the short row
            key = u_idx[a]
            b = a
            while b > u_ptr[j] and u_idx[b - 1] > key:
                u_idx[b] = u_idx[b - 1]
                b -= 1
            u_idx[b] = key
    # L by columns: the transpose of U's pattern (rows come out ascending)
    l_count = np.zeros(n + 1, dtype=np.int64)
    for q in range(u_idx.size):
        l_count[u_idx[q] + 1] += 1
    l_ptr = np.cumsum(l_count)
    l_idx = np.empty(l_ptr[-1], dtype=np.int64)
    fill = l_ptr[:-1].copy()
    for j in range(n):
        for q in range(u_ptr[j], u_ptr[j + 1]):
            k = u_idx[q]
            l_idx[fill[k]] = j
            fill[k] += 1
    return l_ptr, l_idx, u_ptr, u_idx


@njit
def numeric_lu(indptr, indices, data, l_ptr, l_idx, u_ptr, u_idx, tol):  # pragma: no cover
    """Left-looking LU on the symbolic pattern. Returns ``(l_val, u_val, diag, ok)``;
    ``ok`` is False when a pivot is below ``tol`` times its column's largest entry."""
    n = indptr.size - 1
    l_val = np.empty(l_idx.size)
    u_val = np.empty(u_idx.size)
    diag = np.empty(n)
    x = np.zeros(n)
    for j in range(n):
        colmax = 0.0
        for p in range(indptr[j], indptr[j + 1]):
            x[indices[p]] = data[p]
            a = abs(data[p])
            if a > colmax:
                colmax = a
        for q in range(u_ptr[j], u_ptr[j + 1]):
            k = u_idx[q]
            ukj = x[k]
            u_val[q] = ukj
            x[k] = 0.0
            if ukj != 0.0:
                for p in range(l_ptr[k], l_ptr[k + 1]):
                    x[l_idx[p]] -= l_val[p] * ukj
        pivot = x[j]
        x[j] = 0.0
        if not (abs(pivot) > tol * colmax) or not np.isfinite(pivot):
            return l_val, u_val, diag, False
        diag[j] = pivot
        for p in range(l_ptr[j], l_ptr[j + 1]):
            i = l_idx[p]
            l_val[p] = x[i] / pivot
            x[i] = 0.0
    return l_val, u_val, diag, True


@njit
def solve_lu(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, diag, b):  # pragma: no cover
    """Solve ``L U x = b`` (L unit lower, both by columns)."""
    n = diag.size
    y = b.copy()
    for k in range(n):
        yk = y[k]
        if yk != 0.0:
            for p in range(l_ptr[k], l_ptr[k + 1]):
                y[l_idx[p]] -= l_val[p] * yk
    for j in range(n - 1, -1, -1):
        y[j] /= diag[j]
        yj = y[j]
        if yj != 0.0:
            for q in range(u_ptr[j], u_ptr[j + 1]):
                y[u_idx[q]] -= u_val[q] * yj
    return y


@njit
def gather_solve(data, gather, indptr, indices, l_ptr, l_idx, u_ptr, u_idx, order, rhs, tol):
    """Permute, factorise and solve in one call (no Python between the steps).

    ``data[gather]`` are the values of the symmetrically permuted matrix; ``order``
    maps new positions to old. Returns ``(x, ok)``.
    """  # pragma: no cover (jitted)
    pdata = data[gather]
    l_val, u_val, diag, ok = numeric_lu(indptr, indices, pdata, l_ptr, l_idx, u_ptr, u_idx, tol)
    if not ok:
        return np.empty(0), False
    b = rhs[order]
    y = solve_lu(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, diag, b)
    x = np.empty_like(y)
    x[order] = y
    return x, True


class NumbaLU:
    """LU solves of matrices sharing one structurally symmetric CSC pattern.

    Same interface as :class:`~gridsim.solvers.linear.ScipyLU`. The symbolic
    factorisation is done once, here; each :meth:`solve` is one Numba call. A pivot
    that fails the check switches this solver to SuperLU for good (``fallback`` is set).
    """

    def __init__(self, indptr, indices, n: int, order: np.ndarray | None = None):
        from gridsim.solvers.linear import ScipyLU, fill_reducing_order, symmetric_permutation

        self.n = n
        self.indptr, self.indices = indptr, indices
        if order is None:
            order = fill_reducing_order(indptr, indices, n)
        self.order = np.asarray(order, dtype=np.int64)
        self.fallback: ScipyLU | None = None
        self._scipy = ScipyLU
        if n == 0:
            return
        self.p_indptr, self.p_indices, self.gather = symmetric_permutation(
            np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64), self.order
        )
        self.l_ptr, self.l_idx, self.u_ptr, self.u_idx = symbolic_lu(self.p_indptr, self.p_indices)

    @property
    def fill(self) -> int:
        """Entries of L and U together (including the diagonal)."""
        return int(self.l_idx.size + self.u_idx.size + self.n)

    def solve(self, data: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """Solve ``A x = rhs`` for the matrix with values ``data`` on the stored pattern."""
        if self.n == 0:
            return np.zeros(0)
        if self.fallback is None:
            x, ok = gather_solve(
                data,
                self.gather,
                self.p_indptr,
                self.p_indices,
                self.l_ptr,
                self.l_idx,
                self.u_ptr,
                self.u_idx,
                self.order,
                np.ascontiguousarray(rhs, dtype=np.float64),
                PIVOT_TOLERANCE,
            )
            if ok:
                return x
            self.use_fallback()
        return self.fallback.solve(data, rhs)

    def use_fallback(self) -> None:
        """Solve with SuperLU (partial pivoting) from now on."""
        if self.fallback is None:
            self.fallback = self._scipy(self.indptr, self.indices, self.n, order=self.order)
