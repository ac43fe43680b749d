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

N-1 without a PTDF matrix
    :func:`outage_rows` needs no bus PTDF: for outage ``k`` it solves
    ``B_r x = e_{f_k} - e_{t_k}`` (``H_lk = b_l (x_f - x_t)``) and writes the LODF row
    or the post-outage flows ``F_l + H_lk F_k / (1 - H_kk)`` directly, outages solved
    ``OUTAGE_BATCH`` at a time (the LU read once per batch, the inner loops over the
    batch vectorised) and batches threaded. For case1354pegase (1991 branches) that is
    1991 short solves on a factor with 2769 off-diagonal entries instead of 1354 PTDF
    columns followed by a dense 1991 x 1991 combination.
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


OUTAGE_BATCH = 8  # outages solved together: the LU is read once per batch (SIMD over them)


@njit
def _transfer_batch(
    l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, piv, rf, rt, rows, y
):  # pragma: no cover (jitted)
    """Solve ``B_r x = e_f - e_t`` for up to ``OUTAGE_BATCH`` transfers at once.

    ``y`` (``(n, OUTAGE_BATCH)``, zeroed) receives the solutions in permuted order; column
    ``j`` is the transfer of outage ``rows[j]`` (``-1``: unused column), whose end
    positions are ``rf``/``rt`` (``-1`` for a fixed bus: the slack takes it).
    """
    n = y.shape[0]
    first = n
    for j in range(rows.size):
        k = rows[j]
        if k < 0:
            continue
        a, c = rf[k], rt[k]
        if a >= 0:
            y[a, j] += 1.0
            first = min(first, a)
        if c >= 0:
            y[c, j] -= 1.0
            first = min(first, c)
    for k in range(first, n):  # L y = rhs, rows of zeros skipped
        nonzero = False
        for j in range(OUTAGE_BATCH):
            if y[k, j] != 0.0:
                nonzero = True
        if not nonzero:
            continue
        for p in range(l_ptr[k], l_ptr[k + 1]):
            i = l_idx[p]
            v = l_val[p]
            for j in range(OUTAGE_BATCH):
                y[i, j] -= v * y[k, j]
    for i in range(n - 1, -1, -1):  # U x = y
        d = 1.0 / piv[i]
        nonzero = False
        for j in range(OUTAGE_BATCH):
            y[i, j] *= d
            if y[i, j] != 0.0:
                nonzero = True
        if not nonzero:
            continue
        for q in range(u_ptr[i], u_ptr[i + 1]):
            r = u_idx[q]
            v = u_val[q]
            for j in range(OUTAGE_BATCH):
                y[r, j] -= v * y[i, j]


@njit(parallel=True)
def outage_rows(
    l_ptr,
    l_idx,
    l_val,
    u_ptr,
    u_idx,
    u_val,
    piv,
    rf,
    rt,
    b,
    pf,
    pt,
    outaged,
    order,
    flow,
    as_lodf,
    tol,
    out,
    islanding,
):  # pragma: no cover (jitted)
    """Post-outage flows (or LODF rows) of branch outages, one sparse solve per outage.

    For outage ``k`` of branch ``o = outaged[k]``, ``B_r x = e_f - e_t`` (its end
    buses, fixed ones dropped) gives the transfer factors ``H_l = b_l (x_f - x_t)`` of
    every branch, and with ``den = 1 - H_o``:

    * flows (``as_lodf`` False): ``out[k, l] = flow[l] + H_l flow[o] / den``, exactly 0
      at ``l = o``;
    * LODF (``as_lodf`` True): ``out[k, l] = H_l / den``, ``-1`` at ``l = o``.

    Where ``|den| < tol`` (the outage cuts buses off their slack) the row is NaN and
    ``islanding[k]`` is set; nothing is divided by it. Outages are processed in batches
    of ``OUTAGE_BATCH`` in the given ``order`` (threaded over batches).

    Parameters
    ----------
    l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, piv : ndarray
        LU factors of the symmetrically permuted ``B_r`` (:func:`numeric_lu`).
    rf, rt : ndarray of int
        Per outage, the permuted position of its from and to bus, ``-1`` if fixed.
    b, pf, pt : ndarray
        Susceptance and permuted end positions of every branch.
    outaged, order : ndarray of int
        Branch of each outage; processing order of the outages (a permutation).
    flow : ndarray of float
        Pre-outage branch flows (ignored for LODF).
    as_lodf : bool
    tol : float
        Islanding threshold on ``|1 - H_o|``.
    out : ndarray, shape (>= n_outage, n_branch)
        Written in its first ``n_outage`` rows.
    islanding : ndarray of bool, shape (n_outage,)
        Written.
    """
    m = outaged.size
    n = piv.size
    nbr = b.size
    n_batch = (m + OUTAGE_BATCH - 1) // OUTAGE_BATCH
    for bt in prange(n_batch):
        rows = np.full(OUTAGE_BATCH, -1, dtype=np.int64)
        for j in range(OUTAGE_BATCH):
            s = bt * OUTAGE_BATCH + j
            if s < m:
                rows[j] = order[s]
        y = np.zeros((n, OUTAGE_BATCH))
        _transfer_batch(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, piv, rf, rt, rows, y)
        x = np.ascontiguousarray(y.T)
        for j in range(OUTAGE_BATCH):
            k = rows[j]
            if k < 0:
                continue
            o = outaged[k]
            xj = x[j]
            den = 1.0 - b[o] * (xj[pf[o]] - xj[pt[o]])
            if not (abs(den) >= tol):
                islanding[k] = True
                for e in range(nbr):
                    out[k, e] = np.nan
                continue
            islanding[k] = False
            if as_lodf:
                c = 1.0 / den
                for e in range(nbr):
                    out[k, e] = c * b[e] * (xj[pf[e]] - xj[pt[e]])
                out[k, o] = -1.0
            else:
                c = flow[o] / den
                for e in range(nbr):
                    out[k, e] = flow[e] + c * b[e] * (xj[pf[e]] - xj[pt[e]])
                out[k, o] = 0.0


@njit(parallel=True)
def flatten_outage_rows(
    flows, outaged, islanding, row_code, row_key, col_code, col_key, base, rate, threshold
):  # pragma: no cover (jitted)
    """The long form of a post-outage flow matrix: one entry per (outage, branch).

    Row ``k`` contributes every branch but ``outaged[k]`` (``-1``: none left out, as for
    HVDC outages), branches ascending, outage after outage. With ``threshold`` not NaN,
    only entries whose loading reaches it are kept, and every entry of the rows of
    islanding outages (whose flows are NaN), so that these are still reported.

    Parameters
    ----------
    flows : ndarray, shape (n_outage, n_branch)
        Post-outage flows, MW.
    outaged : ndarray of int
        Branch left out of each row, or ``-1``.
    islanding : ndarray of bool
        Per row.
    row_code, row_key : ndarray of int8, int
        Per row, copied onto its entries (element code and id, or id position).
    col_code, col_key : ndarray of int8, int
        Per branch, copied onto its entries.
    base, rate : ndarray of float
        Pre-outage flow (MW) and rating (MVA) of every branch.
    threshold : float
        Loading (percent) to keep; NaN keeps every entry.

    Returns
    -------
    out_code, out_key, el_code, el_key : ndarray
        ``row_code``/``row_key`` of each entry's outage, ``col_code``/``col_key`` of its
        branch.
    p0, p, loading : ndarray of float
        Base flow, post-outage flow and ``100 |p| / rate`` of the entry's branch.
    status : ndarray of int8
        1 for entries of islanding outages, else 0.
    """
    m, nbr = flows.shape
    screen = not np.isnan(threshold)
    counts = np.zeros(m, dtype=np.int64)
    for k in prange(m):
        if not screen or islanding[k]:
            counts[k] = nbr - (1 if outaged[k] >= 0 else 0)
            continue
        c = 0
        for e in range(nbr):
            if e != outaged[k] and 100.0 * abs(flows[k, e]) / rate[e] >= threshold:
                c += 1
        counts[k] = c
    start = np.zeros(m + 1, dtype=np.int64)
    for k in range(m):
        start[k + 1] = start[k] + counts[k]
    total = start[m]
    out_code = np.empty(total, dtype=np.int8)
    out_key = np.empty(total, dtype=row_key.dtype)
    el_code = np.empty(total, dtype=np.int8)
    el_key = np.empty(total, dtype=col_key.dtype)
    p0 = np.empty(total)
    p = np.empty(total)
    loading = np.empty(total)
    status = np.empty(total, dtype=np.int8)
    for k in prange(m):
        o = outaged[k]
        rc, rk, st = row_code[k], row_key[k], np.int8(1 if islanding[k] else 0)
        q = start[k]
        if screen and not islanding[k]:
            for e in range(nbr):
                le = 100.0 * abs(flows[k, e]) / rate[e]
                if e != o and le >= threshold:
                    out_code[q], out_key[q], status[q] = rc, rk, st
                    el_code[q], el_key[q] = col_code[e], col_key[e]
                    p0[q], p[q], loading[q] = base[e], flows[k, e], le
                    q += 1
            continue
        for part in range(2):  # every branch: those before the outaged one, then after
            lo = 0 if part == 0 else (o + 1 if o >= 0 else nbr)
            hi = (o if o >= 0 else nbr) if part == 0 else nbr
            shift = q - lo
            for e in range(lo, hi):
                out_code[shift + e] = rc
                out_key[shift + e] = rk
                status[shift + e] = st
                el_code[shift + e] = col_code[e]
                el_key[shift + e] = col_key[e]
                p0[shift + e] = base[e]
                p[shift + e] = flows[k, e]
                loading[shift + e] = 100.0 * abs(flows[k, e]) / rate[e]
            q += hi - lo
    return out_code, out_key, el_code, el_key, p0, p, loading, status


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

    def outage_rows(
        self,
        outaged: np.ndarray,
        flow: np.ndarray | None = None,
        *,
        out: np.ndarray | None = None,
        tol: float = ISLANDING_TOL,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Post-outage flows (``flow`` given) or LODF rows (``flow`` None) of branch outages.

        Parameters
        ----------
        outaged : ndarray of int
            Branch index of each outage.
        flow : ndarray of float, optional
            Pre-outage branch flows (any unit; the result is in the same unit).
        out : ndarray, shape (>= len(outaged), n_branch), optional
            Where to write (its first ``len(outaged)`` rows); default a new array.
        tol : float
            Islanding threshold on ``|1 - H_kk|``.

        Returns
        -------
        rows : ndarray, shape (len(outaged), n_branch) (or ``out``)
            See :func:`outage_rows`: flows (0 on the outaged branch) or LODF rows (-1
            there); NaN rows for islanding outages.
        islanding : ndarray of bool, shape (len(outaged),)
        """
        outaged = np.ascontiguousarray(outaged, dtype=np.int64)
        m, nbr = outaged.size, self.b.size
        if out is None:
            out = np.empty((m, nbr))
        as_lodf = flow is None
        flow_arr = np.zeros(nbr) if as_lodf else np.ascontiguousarray(flow, dtype=np.float64)
        islanding = np.zeros(m, dtype=np.bool_)
        if m == 0:
            return out, islanding
        if self._factors is None:  # SuperLU (or an empty system): through PTDF columns
            ends = np.concatenate([self.f[outaged], self.t[outaged]])
            buses, inverse = np.unique(ends, return_inverse=True)
            lodf_t, islanding = lodf_from_ptdf(
                self.bus_ptdf(buses),
                inverse[:m].astype(np.int64),
                inverse[m:].astype(np.int64),
                outaged,
                tol,
            )
            out[:m] = lodf_t if as_lodf else post_outage_flows(lodf_t, outaged, flow_arr)
            return out, islanding
        free_f, free_t = self.free[self.f[outaged]], self.free[self.t[outaged]]
        rf = np.where(free_f, self.pf[outaged], -1)
        rt = np.where(free_t, self.pt[outaged], -1)
        first = np.minimum(np.where(rf < 0, self.n, rf), np.where(rt < 0, self.n, rt))
        order = np.argsort(first, kind="stable")  # batches that start their solves late
        outage_rows(
            *self._factors,
            rf,
            rt,
            self.b,
            self.pf,
            self.pt,
            outaged,
            order,
            flow_arr,
            as_lodf,
            float(tol),
            out,
            islanding,
        )
        return out, islanding
