"""DC sensitivities on flat arrays: PTDF and LODF kernels (MATPOWER's ``makePTDF``/``makeLODF``).

The DC model is the one of :mod:`gridsim.numerics.dc` and :func:`gridsim.solvers.dc.dc_pf`:
branch ``l`` from bus ``f`` to bus ``t`` carries ``F_l = b_l (theta_f - theta_t) + s_l``
with ``b_l = 1 / (x_l |tap_l|)`` and a constant phase-shift term ``s_l``, and the bus
angles solve ``B theta = P`` with the angles of fixed buses (each island's slack, and
de-energised buses) held. Fixed buses are identity rows (and their columns are moved to
the right-hand side), so the *reduced* matrix ``B_r`` keeps Ybus's pattern, is
block-diagonal over the AC islands, and one LU of it serves every sensitivity.

PTDF (power transfer distribution factors)
    ``PTDF[l, k] = b_l (x_f - x_t)`` with ``B_r x = e_k`` (``e_k`` zeroed at fixed
    buses): the change of flow on branch ``l`` per unit injected at bus ``k`` and
    withdrawn at the fixed bus(es) of ``k``'s island, i.e. its slack. The columns of
    slack and de-energised buses are zero; a column is zero outside its bus's island.
    This is MATPOWER's ``makePTDF(mpc)`` with the default slack (one reference per
    island here). Phase shifts are constant injections and do not enter the factors.

LODF (line outage distribution factors)
    With the transfer factor ``H_lk = PTDF[l, f_k] - PTDF[l, t_k]`` (flow on ``l`` per
    unit sent from ``f_k`` to ``t_k``),
    ``LODF[l, k] = H_lk / (1 - H_kk)`` for ``l != k`` and ``LODF[k, k] = -1``, so the
    flows after branch ``k`` is taken out are ``F_l + LODF[l, k] F_k`` (MATPOWER's
    ``makeLODF``, including its ``-1`` diagonal). ``F_k`` is the full pre-outage flow
    (phase-shift term included), which makes the prediction exact for the DC re-solve.

Islanding rule
    ``1 - H_kk`` is zero exactly when branch ``k`` is a bridge whose removal cuts buses
    off every fixed angle (their island loses its slack). Where ``|1 - H_kk| <
    ISLANDING_TOL`` the outage is flagged as islanding and its LODF column is NaN; no
    division by (nearly) zero takes place. (MATPOWER leaves such columns as ``Inf`` or
    ``NaN``.)

Kernels store factors *transposed*: one row per right-hand side (bus, transfer or
outage) and one column per branch, so each solve writes one contiguous row.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from gridsim.numerics._jit import njit
from gridsim.numerics.dc import reduced_b_values
from gridsim.solvers.sparse_lu import PIVOT_TOLERANCE, NumbaLU, numeric_lu

ISLANDING_TOL = 1e-9  # |1 - H_kk| below this: the outage islands buses


@njit(parallel=True)
def branch_sensitivities(
    l_ptr,
    l_idx,
    l_val,
    u_ptr,
    u_idx,
    u_val,
    piv,
    position,
    free,
    b,
    pf,
    pt,
    rhs_ptr,
    rhs_idx,
    rhs_val,
):  # pragma: no cover (jitted)
    """Branch-flow changes for sparse right-hand sides, one LU solve each (threaded).

    Parameters
    ----------
    l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, piv : ndarray
        LU factors of the symmetrically permuted ``B_r`` (:func:`numeric_lu`).
    position : ndarray of int
        Position of each bus in the permuted order.
    free : ndarray of bool
        Buses whose angle is free (entries at other buses are dropped: the slack takes
        them).
    b, pf, pt : ndarray
        Branch susceptances and the permuted positions of their from and to buses.
    rhs_ptr, rhs_idx, rhs_val : ndarray
        Right-hand sides in CSC form: column ``j`` injects ``rhs_val[p]`` at bus
        ``rhs_idx[p]`` for ``p`` in ``rhs_ptr[j]:rhs_ptr[j + 1]``.

    Returns
    -------
    ndarray, shape (n_rhs, n_branch)
        ``out[j, l] = b_l (x_f - x_t)`` with ``B_r x = rhs_j``.
    """
    m = rhs_ptr.size - 1
    n = piv.size
    nbr = b.size
    out = np.empty((m, nbr))
    for j in prange(m):
        y = np.zeros(n)
        first = n
        for p in range(rhs_ptr[j], rhs_ptr[j + 1]):
            k = rhs_idx[p]
            if free[k]:
                q = position[k]
                y[q] += rhs_val[p]
                if q < first:
                    first = q
        for k in range(first, n):  # L y = rhs; entries before the first nonzero stay 0
            yk = y[k]
            if yk != 0.0:
                for p in range(l_ptr[k], l_ptr[k + 1]):
                    y[l_idx[p]] -= l_val[p] * yk
        for i in range(n - 1, -1, -1):  # U x = y
            y[i] /= piv[i]
            yi = y[i]
            if yi != 0.0:
                for q in range(u_ptr[i], u_ptr[i + 1]):
                    y[u_idx[q]] -= u_val[q] * yi
        for e in range(nbr):
            out[j, e] = b[e] * (y[pf[e]] - y[pt[e]])
    return out


@njit(parallel=True)
def lodf_from_ptdf(ptdf_t, col_f, col_t, outaged, tol):  # pragma: no cover (jitted)
    """LODF columns from PTDF columns (MATPOWER's ``makeLODF``), islanding outages flagged.

    Parameters
    ----------
    ptdf_t : ndarray, shape (n_cols, n_branch)
        PTDF columns, transposed (row ``c`` holds the factors of one bus).
    col_f, col_t : ndarray of int
        For each outage, the row of ``ptdf_t`` of its branch's from and to bus.
    outaged : ndarray of int
        Branch index of each outage.
    tol : float
        Islanding threshold on ``|1 - H_kk|``.

    Returns
    -------
    lodf_t : ndarray, shape (n_outage, n_branch)
        ``lodf_t[k, l] = LODF[l, outaged[k]]``; ``-1`` at the outaged branch itself, NaN
        for every branch of an islanding outage.
    islanding : ndarray of bool, shape (n_outage,)
    """
    m = outaged.size
    nbr = ptdf_t.shape[1]
    out = np.empty((m, nbr))
    islanding = np.zeros(m, dtype=np.bool_)
    for k in prange(m):
        o = outaged[k]
        a = col_f[k]
        c = col_t[k]
        den = 1.0 - (ptdf_t[a, o] - ptdf_t[c, o])
        if not (abs(den) >= tol):
            islanding[k] = True
            for e in range(nbr):
                out[k, e] = np.nan
            continue
        for e in range(nbr):
            out[k, e] = (ptdf_t[a, e] - ptdf_t[c, e]) / den
        out[k, o] = -1.0
    return out, islanding


@njit(parallel=True)
def post_outage_flows(lodf_t, outaged, flow):  # pragma: no cover (jitted)
    """Flows after each outage: ``F_l + LODF[l, k] F_k`` (rows: outages; NaN if islanding).

    The outaged branch itself comes out as exactly zero.
    """
    m, nbr = lodf_t.shape
    out = np.empty((m, nbr))
    for k in prange(m):
        fk = flow[outaged[k]]
        for e in range(nbr):
            out[k, e] = flow[e] + lodf_t[k, e] * fk
        if not np.isnan(lodf_t[k, outaged[k]]):
            out[k, outaged[k]] = 0.0
    return out


class DcFactor:
    """One factorisation of ``B_r``, then as many sensitivity solves as wanted.

    Parameters
    ----------
    indptr, indices, diag : ndarray of int
        Ybus's pattern and diagonal positions.
    bdata : ndarray of float
        ``B`` on that pattern.
    fixed : ndarray of bool
        Buses with a held angle (slack and de-energised).
    b, f, t : ndarray
        Branch susceptances (p.u.) and end buses.
    lu : NumbaLU
        The symbolic factorisation for the pattern (shared with the DC power flow).

    Notes
    -----
    The Numba LU pivots on the diagonal. Should a pivot fail its check (possible with
    negative reactances), SuperLU with partial pivoting takes over for this factor.
    """

    def __init__(self, indptr, indices, diag, bdata, fixed, b, f, t, lu: NumbaLU):
        self.n = indptr.size - 1
        self.fixed = np.asarray(fixed, dtype=bool)
        self.free = ~self.fixed
        self.b = np.ascontiguousarray(b, dtype=np.float64)
        self.f = np.asarray(f, dtype=np.int64)
        self.t = np.asarray(t, dtype=np.int64)
        self.data = reduced_b_values(indptr, indices, diag, bdata, self.fixed)
        self._indptr, self._indices = indptr, indices
        self._splu = None
        self._factors = None
        if self.n == 0:
            return
        if lu.fallback is None:
            l_val, u_val, piv, ok = numeric_lu(
                lu.p_indptr,
                lu.p_indices,
                self.data[lu.gather],
                lu.l_ptr,
                lu.l_idx,
                lu.u_ptr,
                lu.u_idx,
                PIVOT_TOLERANCE,
            )
            if ok:
                position = np.empty(self.n, dtype=np.int64)
                position[lu.order] = np.arange(self.n)
                self._factors = (lu.l_ptr, lu.l_idx, l_val, lu.u_ptr, lu.u_idx, u_val, piv)
                self.position = position
                self.pf = position[self.f]
                self.pt = position[self.t]
                return
        import scipy.sparse as sp
        from scipy.sparse.linalg import splu

        a = sp.csc_matrix((self.data, indices, indptr), shape=(self.n, self.n))
        self._splu = splu(a)

    def solve_flows(self, rhs_ptr, rhs_idx, rhs_val) -> np.ndarray:
        """Branch-flow changes for right-hand sides in CSC form (see
        :func:`branch_sensitivities`); shape ``(n_rhs, n_branch)``."""
        rhs_ptr = np.asarray(rhs_ptr, dtype=np.int64)
        rhs_idx = np.asarray(rhs_idx, dtype=np.int64)
        rhs_val = np.asarray(rhs_val, dtype=np.float64)
        m = rhs_ptr.size - 1
        if self.n == 0 or m == 0:
            return np.zeros((m, self.b.size))
        if self._factors is not None:
            return branch_sensitivities(
                *self._factors,
                self.position,
                self.free,
                self.b,
                self.pf,
                self.pt,
                rhs_ptr,
                rhs_idx,
                rhs_val,
            )
        out = np.empty((m, self.b.size))
        block = 256
        cols = np.repeat(np.arange(m), np.diff(rhs_ptr))
        keep = self.free[rhs_idx]
        for start in range(0, m, block):
            stop = min(start + block, m)
            sel = keep & (cols >= start) & (cols < stop)
            rhs = np.zeros((self.n, stop - start))
            np.add.at(rhs, (rhs_idx[sel], cols[sel] - start), rhs_val[sel])
            x = self._splu.solve(rhs)
            out[start:stop] = (self.b[:, None] * (x[self.f] - x[self.t])).T
        return out

    def bus_ptdf(self, buses: np.ndarray) -> np.ndarray:
        """PTDF columns of ``buses``, transposed: shape ``(len(buses), n_branch)``."""
        buses = np.asarray(buses, dtype=np.int64)
        return self.solve_flows(np.arange(buses.size + 1), buses, np.ones(buses.size))
