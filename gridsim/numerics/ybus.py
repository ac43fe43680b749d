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
    f = np.ascontiguousarray(f, dtype=np.int64)
    return _ybus_pattern(int(n_bus), f, np.ascontiguousarray(t, dtype=np.int64))


@njit
def _ybus_pattern(n_bus, f, t):  # pragma: no cover (jitted)
    """:func:`ybus_pattern` in one compiled call (one cached kernel to load, not two)."""
    indptr, indices = _pattern_csr(n_bus, f, t)
    pos = np.empty((4, f.size), dtype=np.int64)
    for k in range(f.size):  # plain loops: quick to compile, no slice machinery
        pos[0, k] = _csr_position(indptr, indices, f[k], f[k])
        pos[1, k] = _csr_position(indptr, indices, f[k], t[k])
        pos[2, k] = _csr_position(indptr, indices, t[k], f[k])
        pos[3, k] = _csr_position(indptr, indices, t[k], t[k])
    diag = np.empty(n_bus, dtype=np.int64)
    for i in range(n_bus):
        diag[i] = _csr_position(indptr, indices, i, i)
    return indptr, indices, pos, diag


@njit
def _pattern_csr(n_bus, f, t):  # pragma: no cover (jitted)
    """Sorted, duplicate-free CSR pattern of the diagonal plus (f,t) and (t,f)."""
    raw_ptr = np.empty(n_bus + 1, dtype=np.int64)  # row starts: diagonal + branch ends
    count = np.ones(n_bus, dtype=np.int64)
    for k in range(f.size):
        count[f[k]] += 1
        count[t[k]] += 1
    raw_ptr[0] = 0
    for i in range(n_bus):
        raw_ptr[i + 1] = raw_ptr[i] + count[i]
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
        lo = raw_ptr[i]
        for a in range(lo + 1, raw_ptr[i + 1]):  # insertion sort: rows are short
            key = raw[a]
            b = a
            while b > lo and raw[b - 1] > key:
                raw[b] = raw[b - 1]
                b -= 1
            raw[b] = key
        for a in range(lo, raw_ptr[i + 1]):  # drop parallel branches' duplicates
            if a == lo or raw[a] != raw[a - 1]:
                indices[m] = raw[a]
                m += 1
        indptr[i + 1] = m
    return indptr, indices[:m].copy()


@njit
def _csr_position(indptr, indices, row, col):  # pragma: no cover (jitted)
    """Position of (row, col) in a CSR pattern with sorted columns (-1 if absent)."""
    lo, hi = indptr[row], indptr[row + 1]
    while lo < hi:  # binary search in the row
        mid = (lo + hi) // 2
        if indices[mid] < col:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < indptr[row + 1] and indices[lo] == col else -1


@njit
def csr_positions(indptr, indices, rows, cols):  # pragma: no cover (jitted)
    """Position of each (row, col) in a CSR pattern with sorted columns (-1 if absent)."""
    out = np.empty(rows.size, dtype=np.int64)
    for k in range(rows.size):
        out[k] = _csr_position(indptr, indices, rows[k], cols[k])
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
