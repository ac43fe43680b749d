"""Sparse LU in Numba for structurally symmetric matrices with a fixed pattern.

Power-flow Jacobians and DC B matrices keep their sparsity pattern across Newton
iterations, contingencies and time steps, so the symbolic work is done once per pattern
(what lightsim2grid gets from KLU's refactorisation):

1. a fill-reducing symmetric ordering (given; minimum degree on the bus graph);
2. the patterns of L and U (for a structurally symmetric matrix,
   pattern(U) = pattern(L)^T), from :func:`gridsim.solvers.symbolic.symbolic_lu`;
3. per matrix, a left-looking numeric factorisation on that fixed pattern with diagonal
   pivots, then forward and backward substitution.

The Newton solver uses the same scheme on 2x2 blocks (:func:`block_numeric_lu`,
:func:`block_solve_lu`, :class:`BlockLU`): the Jacobian stored bus by bus, each bus's
(angle, magnitude) pair one block, pivots the 2x2 diagonal blocks inverted exactly. A
quarter of the index traffic and eight independent multiply-adds per update make it
2.5-3x faster than the scalar factorisation on case9241pegase (about 1.0 ms against
2.6 ms per factorisation, quiet machine).

Diagonal pivoting is what makes the pattern fixed. It is safe for power-flow Jacobians
in practice, and every pivot is checked: one smaller than ``PIVOT_TOLERANCE`` times its
column's largest entry (or not finite) makes :class:`NumbaLU` fall back to SuperLU with
partial pivoting (:class:`~gridsim.solvers.linear.ScipyLU`) for that pattern.
"""

from __future__ import annotations

import numpy as np

from gridsim.numerics._jit import U1, U2, U3, U4, njit
from gridsim.solvers.symbolic import fill_reducing_order, symbolic_lu

PIVOT_TOLERANCE = 1e-10


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
        from gridsim.solvers.linear import ScipyLU, symmetric_permutation

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


# -- 2x2 block LU -----------------------------------------------------------------------
#
# The power-flow Jacobian stored by buses (gridsim.numerics.jacobian.BlockJacobianPattern):
# the same left-looking algorithm on a block pattern, each entry a 2x2 block stored as
# four consecutive values (row-major). Pivots are the 2x2 diagonal blocks, inverted
# exactly (pivoting inside the block), and accepted when |det| exceeds ``tol`` times the
# product of the largest entries of the block column's two scalar columns.


@njit
def block_numeric_lu(
    indptr, indices, data, l_ptr, l_idx, u_ptr, u_idx, tol, l_val, u_val, dinv, x
):  # pragma: no cover (jitted)
    """Block LU into preallocated arrays: ``l_val``/``u_val`` (4 per block of L/U),
    ``dinv`` (the inverted diagonal blocks, 4 per column) and the zeroed workspace ``x``
    (4 per column, left zeroed on success). Returns False for a rejected pivot.

    The pattern arrays may be unsigned (see :data:`~gridsim.numerics._jit.U1`): then
    no index is tested for wraparound."""
    n = indptr.size - 1
    for j in range(n):
        c0 = 0.0
        c1 = 0.0
        for p in range(indptr[j], indptr[j + 1]):
            i = U4 * indices[p]
            s = U4 * p
            a0, a1, a2, a3 = data[s], data[s + U1], data[s + U2], data[s + U3]
            x[i], x[i + U1], x[i + U2], x[i + U3] = a0, a1, a2, a3
            c0 = max(c0, abs(a0), abs(a2))
            c1 = max(c1, abs(a1), abs(a3))
        for q in range(u_ptr[j], u_ptr[j + 1]):
            kk = u_idx[q]
            k = U4 * kk
            u0, u1, u2, u3 = x[k], x[k + U1], x[k + U2], x[k + U3]
            s = U4 * q
            u_val[s], u_val[s + U1], u_val[s + U2], u_val[s + U3] = u0, u1, u2, u3
            x[k], x[k + U1], x[k + U2], x[k + U3] = 0.0, 0.0, 0.0, 0.0
            for p in range(l_ptr[kk], l_ptr[kk + U1]):
                i = U4 * l_idx[p]
                t = U4 * p
                l0, l1, l2, l3 = l_val[t], l_val[t + U1], l_val[t + U2], l_val[t + U3]
                x[i] -= l0 * u0 + l1 * u2
                x[i + U1] -= l0 * u1 + l1 * u3
                x[i + U2] -= l2 * u0 + l3 * u2
                x[i + U3] -= l2 * u1 + l3 * u3
        k = 4 * j
        d0, d1, d2, d3 = x[k], x[k + 1], x[k + 2], x[k + 3]
        x[k], x[k + 1], x[k + 2], x[k + 3] = 0.0, 0.0, 0.0, 0.0
        det = d0 * d3 - d1 * d2
        if not (abs(det) > tol * c0 * c1) or not np.isfinite(det):
            for p in range(l_ptr[j], l_ptr[j + 1]):  # leave the workspace zeroed
                i = U4 * l_idx[p]
                x[i], x[i + U1], x[i + U2], x[i + U3] = 0.0, 0.0, 0.0, 0.0
            return False
        r = 1.0 / det
        e0, e1, e2, e3 = d3 * r, -d1 * r, -d2 * r, d0 * r
        dinv[k], dinv[k + 1], dinv[k + 2], dinv[k + 3] = e0, e1, e2, e3
        for p in range(l_ptr[j], l_ptr[j + 1]):
            i = U4 * l_idx[p]
            t = U4 * p
            x0, x1, x2, x3 = x[i], x[i + U1], x[i + U2], x[i + U3]
            l_val[t] = x0 * e0 + x1 * e2
            l_val[t + U1] = x0 * e1 + x1 * e3
            l_val[t + U2] = x2 * e0 + x3 * e2
            l_val[t + U3] = x2 * e1 + x3 * e3
            x[i], x[i + U1], x[i + U2], x[i + U3] = 0.0, 0.0, 0.0, 0.0
    return True


@njit
def block_solve_lu(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, dinv, y):  # pragma: no cover
    """Solve ``L U x = y`` in place (2 values per block row; L unit block lower)."""
    block_forward(l_ptr, l_idx, l_val, y)
    block_backward(u_ptr, u_idx, u_val, dinv, y)


@njit
def block_forward(l_ptr, l_idx, l_val, y):  # pragma: no cover
    """``y <- L^-1 y`` in place (L unit block lower; 2 values per block row)."""
    n = l_ptr.size - 1
    for k in range(n):
        y0, y1 = y[2 * k], y[2 * k + 1]
        if y0 != 0.0 or y1 != 0.0:
            for p in range(l_ptr[k], l_ptr[k + 1]):
                i = U2 * l_idx[p]
                t = U4 * p
                y[i] -= l_val[t] * y0 + l_val[t + U1] * y1
                y[i + U1] -= l_val[t + U2] * y0 + l_val[t + U3] * y1


@njit
def block_backward(u_ptr, u_idx, u_val, dinv, y):  # pragma: no cover
    """``y <- U^-1 y`` in place (U block upper, its diagonal blocks inverted in
    ``dinv``; 2 values per block row)."""
    n = dinv.size // 4
    for j in range(n - 1, -1, -1):
        k = 4 * j
        y0, y1 = y[2 * j], y[2 * j + 1]
        z0 = dinv[k] * y0 + dinv[k + 1] * y1
        z1 = dinv[k + 2] * y0 + dinv[k + 3] * y1
        y[2 * j], y[2 * j + 1] = z0, z1
        if z0 != 0.0 or z1 != 0.0:
            for q in range(u_ptr[j], u_ptr[j + 1]):
                i = U2 * u_idx[q]
                t = U4 * q
                y[i] -= u_val[t] * z0 + u_val[t + U1] * z1
                y[i + U1] -= u_val[t + U2] * z0 + u_val[t + U3] * z1


@njit
def block_forward_unit(l_ptr, l_idx, l_val, b, out):  # pragma: no cover
    """``out <- L^-1 E_b``: the two columns of block b of the identity through the
    forward substitution, as 2x2 blocks (4 per block row, row-major; zero above b).
    ``out`` (4 per block) is overwritten."""
    n = l_ptr.size - 1
    out[:] = 0.0
    out[4 * b] = 1.0
    out[4 * b + 3] = 1.0
    for k in range(b, n):
        s = 4 * k
        x0, x1, x2, x3 = out[s], out[s + 1], out[s + 2], out[s + 3]
        if x0 != 0.0 or x1 != 0.0 or x2 != 0.0 or x3 != 0.0:
            for p in range(l_ptr[k], l_ptr[k + 1]):
                i = 4 * l_idx[p]
                t = 4 * p
                l0, l1, l2, l3 = l_val[t], l_val[t + 1], l_val[t + 2], l_val[t + 3]
                out[i] -= l0 * x0 + l1 * x2
                out[i + 1] -= l0 * x1 + l1 * x3
                out[i + 2] -= l2 * x0 + l3 * x2
                out[i + 3] -= l2 * x1 + l3 * x3


@njit
def block_row_of_u_inverse(u_ptr, u_idx, u_val, dinv, a, out):  # pragma: no cover
    """``out <- E_a^T U^-1``: the two rows of block a of U's inverse, as 2x2 blocks
    (4 per block column, row-major; zero left of a). ``out`` is overwritten.

    Column by column: ``W_j = (delta_aj I - sum_{i<j} W_i U_ij) D_j^-1``.
    """
    n = dinv.size // 4
    out[:] = 0.0
    for j in range(a, n):
        if j == a:
            a0, a1, a2, a3 = 1.0, 0.0, 0.0, 1.0
        else:
            a0, a1, a2, a3 = 0.0, 0.0, 0.0, 0.0
        for q in range(u_ptr[j], u_ptr[j + 1]):
            i = 4 * u_idx[q]
            w0, w1, w2, w3 = out[i], out[i + 1], out[i + 2], out[i + 3]
            if w0 != 0.0 or w1 != 0.0 or w2 != 0.0 or w3 != 0.0:
                t = 4 * q
                u0, u1, u2, u3 = u_val[t], u_val[t + 1], u_val[t + 2], u_val[t + 3]
                a0 -= w0 * u0 + w1 * u2
                a1 -= w0 * u1 + w1 * u3
                a2 -= w2 * u0 + w3 * u2
                a3 -= w2 * u1 + w3 * u3
        k = 4 * j
        e0, e1, e2, e3 = dinv[k], dinv[k + 1], dinv[k + 2], dinv[k + 3]
        out[k] = a0 * e0 + a1 * e2
        out[k + 1] = a0 * e1 + a1 * e3
        out[k + 2] = a2 * e0 + a3 * e2
        out[k + 3] = a2 * e1 + a3 * e3


class BlockLU:
    """Symbolic analysis of a block pattern (2x2 blocks, structurally symmetric, already
    in elimination order) and block LU solves of matrices on it.

    Parameters
    ----------
    indptr, indices : ndarray
        Block CSC pattern (rows sorted), e.g. a
        :class:`~gridsim.numerics.jacobian.BlockJacobianPattern`'s.
    """

    def __init__(self, indptr, indices):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.n = self.indptr.size - 1
        self.l_ptr, self.l_idx, self.u_ptr, self.u_idx = symbolic_lu(self.indptr, self.indices)

    @property
    def fill(self) -> int:
        """Scalar entries of L and U together (4 per block, diagonal blocks included)."""
        return int(4 * (self.l_idx.size + self.u_idx.size + self.n))

    def solve(self, data: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
        """Solve for the block matrix ``data`` (4 values per block) and ``rhs`` (2 per
        block row); None when a pivot is rejected (see ``PIVOT_TOLERANCE``)."""
        l_val = np.empty(4 * self.l_idx.size)
        u_val = np.empty(4 * self.u_idx.size)
        dinv = np.empty(4 * self.n)
        x = np.zeros(4 * self.n)
        data = np.ascontiguousarray(data, dtype=np.float64)
        ok = block_numeric_lu(
            self.indptr,
            self.indices,
            data,
            self.l_ptr,
            self.l_idx,
            self.u_ptr,
            self.u_idx,
            PIVOT_TOLERANCE,
            l_val,
            u_val,
            dinv,
            x,
        )
        if not ok:
            return None
        y = np.array(rhs, dtype=np.float64)
        block_solve_lu(self.l_ptr, self.l_idx, l_val, self.u_ptr, self.u_idx, u_val, dinv, y)
        return y
