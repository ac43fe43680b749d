"""DC power flow matrices (MATPOWER's ``makeBdc``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def dc_branch_parameters(ys: np.ndarray, tap: np.ndarray):
    """Series susceptance ``b = 1 / (x |tap|)`` and phase-shift injection per branch.

    ``x`` is the series reactance of each branch's pi equivalent (resistance and shunts
    are ignored); the shift injection is ``-b * shift`` (radians), MATPOWER's ``Pfinj``.
    """
    x = (1.0 / ys).imag
    b = 1.0 / (x * np.abs(tap))
    p_shift = -b * np.angle(tap)
    return b, p_shift


def bbus(n_bus: int, f: np.ndarray, t: np.ndarray, b: np.ndarray) -> sp.csr_matrix:
    """Nodal susceptance matrix ``B`` with ``P = B theta`` (CSR)."""
    rows = np.concatenate([f, t, f, t])
    cols = np.concatenate([f, t, t, f])
    vals = np.concatenate([b, b, -b, -b])
    m = sp.csr_matrix((vals, (rows, cols)), shape=(n_bus, n_bus))
    m.sum_duplicates()
    return m
