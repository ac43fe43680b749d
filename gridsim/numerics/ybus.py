"""Bus admittance matrix on a fixed CSR pattern.

Each branch k is a pi section with a complex ratio ``tap`` on the from side (MATPOWER's
branch model, with pandapower's asymmetric shunts)::

    Yff = (ys + yf) / |tap|^2      Yft = -ys / conj(tap)
    Ytf = -ys / tap                Ytt = ys + yt

where ``ys`` is the series admittance and ``yf``, ``yt`` the shunt admittances at the
two ends. The pattern (which entries exist) depends only on the topology, so it is built
once by :func:`ybus_pattern`; :func:`ybus_values` refills the values in O(nnz).
"""

from __future__ import annotations

import numpy as np

from gridsim.numerics._jit import njit


def branch_admittances(ys, yf, yt, tap):
    """The four admittances ``Yff, Yft, Ytf, Ytt`` of each branch (arrays, p.u.)."""
    yff = (ys + yf) / (tap * np.conj(tap))
    yft = -ys / np.conj(tap)
    ytf = -ys / tap
    ytt = ys + yt
    return yff, yft, ytf, ytt


def ybus_pattern(n_bus: int, f: np.ndarray, t: np.ndarray):
    """Canonical CSR pattern of Ybus and where each branch's entries sit in it.

    Returns
    -------
    indptr, indices : ndarray of int64
        The CSR pattern, diagonal always present, column indices sorted.
    pos : ndarray of int64, shape (4, n_branch)
        Positions of (f,f), (f,t), (t,f), (t,t) in the data array.
    diag : ndarray of int64
        Position of each diagonal entry.
    """
    diag_ids = np.arange(n_bus, dtype=np.int64)
    indptr, indices = _pattern_csr(n_bus, f.astype(np.int64), t.astype(np.int64))
    f = f.astype(np.int64)
    t = t.astype(np.int64)
    pos = np.vstack(
        [
            csr_positions(indptr, indices, f, f),
            csr_positions(indptr, indices, f, t),
            csr_positions(indptr, indices, t, f),
            csr_positions(indptr, indices, t, t),
        ]
    )
    diag = csr_positions(indptr, indices, diag_ids, diag_ids)
    return indptr, indices, pos, diag


@njit
def _pattern_csr(n_bus, f, t):  # pragma: no cover (jitted)
    """Sorted, duplicate-free CSR pattern of the diagonal plus (f,t) and (t,f)."""
    count = np.ones(n_bus + 1, dtype=np.int64)
    count[0] = 0
    for k in range(f.size):
        count[f[k] + 1] += 1
        count[t[k] + 1] += 1
    raw_ptr = np.cumsum(count)
    raw = np.empty(raw_ptr[-1], dtype=np.int64)
    fill = raw_ptr[:-1].copy()
    for i in range(n_bus):
        raw[fill[i]] = i
        fill[i] += 1
    for k in range(f.size):
        raw[fill[f[k]]] = t[k]
        fill[f[k]] += 1
        raw[fill[t[k]]] = f[k]
        fill[t[k]] += 1
    indptr = np.zeros(n_bus + 1, dtype=np.int64)
    indices = np.empty(raw.size, dtype=np.int64)
    m = 0
    for i in range(n_bus):
        row = np.sort(raw[raw_ptr[i] : raw_ptr[i + 1]])
        for j in range(row.size):
            if j == 0 or row[j] != row[j - 1]:
                indices[m] = row[j]
                m += 1
        indptr[i + 1] = m
    return indptr, indices[:m].copy()


@njit
def csr_positions(indptr, indices, rows, cols):  # pragma: no cover (jitted)
    """Position of each (row, col) in a CSR pattern with sorted columns (-1 if absent)."""
    out = np.empty(rows.size, dtype=np.int64)
    for k in range(rows.size):
        lo, hi = indptr[rows[k]], indptr[rows[k] + 1]
        c = cols[k]
        while lo < hi:  # binary search in the row
            mid = (lo + hi) // 2
            if indices[mid] < c:
                lo = mid + 1
            else:
                hi = mid
        out[k] = lo if lo < indptr[rows[k] + 1] and indices[lo] == c else -1
    return out


@njit
def ybus_values(nnz, pos, diag, yff, yft, ytf, ytt, ysh):  # pragma: no cover (jitted)
    """Fill Ybus's data array for the pattern of :func:`ybus_pattern`."""
    data = np.zeros(nnz, dtype=np.complex128)
    for k in range(yff.size):
        data[pos[0, k]] += yff[k]
        data[pos[1, k]] += yft[k]
        data[pos[2, k]] += ytf[k]
        data[pos[3, k]] += ytt[k]
    for i in range(ysh.size):
        data[diag[i]] += ysh[i]
    return data
