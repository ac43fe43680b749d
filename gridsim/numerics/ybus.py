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


def branch_admittances(ys, yf, yt, tap):
    """The four admittances ``Yff, Yft, Ytf, Ytt`` of each branch (arrays, p.u.)."""
    yff = (ys + yf) / (tap * np.conj(tap))
    yft = -ys / np.conj(tap)
    ytf = -ys / tap
    ytt = ys + yt
    return yff, yft, ytf, ytt


def ybus_pattern(n_bus: int, f: np.ndarray, t: np.ndarray):
    """Canonical CSR pattern of Ybus and where each branch's entries sit in it.

    NumPy on ``row * n_bus + col`` keys (``np.unique`` sorts them and says where each
    entry went), so no kernel compiles for it in a fresh process.

    Returns
    -------
    indptr, indices : ndarray of int64
        The CSR pattern, diagonal always present, column indices sorted.
    pos : ndarray of int64, shape (4, n_branch)
        Positions of (f,f), (f,t), (t,f), (t,t) in the data array.
    diag : ndarray of int64
        Position of each diagonal entry.
    """
    n = int(n_bus)
    f = np.asarray(f, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    diagonal = np.arange(n, dtype=np.int64) * (n + 1)
    wanted = np.concatenate([diagonal, f * (n + 1), f * n + t, t * n + f, t * (n + 1)])
    keys, where = np.unique(wanted, return_inverse=True)
    row_starts = np.arange(n + 1, dtype=np.int64) * n
    indptr = np.searchsorted(keys, row_starts).astype(np.int64)
    indices = keys - np.repeat(row_starts[:-1], np.diff(indptr))
    where = where.astype(np.int64)
    return indptr, indices, where[n:].reshape(4, f.size), where[:n]


def ybus_values(nnz, pos, diag, yff, yft, ytf, ytt, ysh) -> np.ndarray:
    """Ybus's data array for the pattern of :func:`ybus_pattern` (parallel branches
    summed), complex, p.u."""
    where = np.concatenate([pos.ravel(), diag])
    y = np.concatenate([yff, yft, ytf, ytt, ysh])
    return np.bincount(where, y.real, nnz) + 1j * np.bincount(where, y.imag, nnz)
