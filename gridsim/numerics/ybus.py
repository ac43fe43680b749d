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
import scipy.sparse as sp

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
    diag_ids = np.arange(n_bus)
    rows = np.concatenate([f, f, t, t, diag_ids])
    cols = np.concatenate([f, t, f, t, diag_ids])
    pattern = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_bus, n_bus), dtype=float)
    pattern.sum_duplicates()
    pattern.sort_indices()
    indptr = pattern.indptr.astype(np.int64)
    indices = pattern.indices.astype(np.int64)
    keys = np.repeat(np.arange(n_bus, dtype=np.int64), np.diff(indptr)) * n_bus + indices

    def where(r, c):
        return np.searchsorted(keys, r.astype(np.int64) * n_bus + c)

    pos = np.vstack([where(f, f), where(f, t), where(t, f), where(t, t)])
    diag = where(diag_ids, diag_ids)
    return indptr, indices, pos, diag


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
