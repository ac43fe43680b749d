"""DC power flow matrices (MATPOWER's ``makeBdc``), on Ybus's sparsity pattern."""

from __future__ import annotations

import numpy as np

from gridsim.numerics.ybus import ybus_values


def dc_branch_parameters(ys: np.ndarray, tap: np.ndarray):
    """Series susceptance ``b = 1 / (x |tap|)`` and phase-shift injection per branch.

    ``x`` is the series reactance of each branch's pi equivalent (resistance and shunts
    are ignored); the shift injection is ``-b * shift`` (radians), MATPOWER's ``Pfinj``.
    """
    x = (1.0 / ys).imag
    b = 1.0 / (x * np.abs(tap))
    p_shift = -b * np.angle(tap)
    return b, p_shift


def bbus_values(nnz: int, pos: np.ndarray, diag: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Values of the nodal susceptance matrix ``B`` (``P = B theta``) on Ybus's pattern."""
    bc = b.astype(complex)
    return ybus_values(nnz, pos, diag, bc, -bc, -bc, bc, np.zeros(diag.size, dtype=complex)).real


def reduced_b_values(
    indptr: np.ndarray, indices: np.ndarray, diag: np.ndarray, bdata: np.ndarray, fixed
) -> np.ndarray:
    """Values of ``B_r``: ``B`` with the rows and columns of ``fixed`` buses made identity.

    Parameters
    ----------
    indptr, indices, diag : ndarray of int
        Ybus's symmetric CSR pattern and its diagonal positions.
    bdata : ndarray of float
        ``B`` on that pattern (:func:`gridsim.numerics.dc.bbus_values`).
    fixed : ndarray of bool
        Buses whose angle is held (slack and de-energised buses).

    Returns
    -------
    ndarray of float
        Symmetric values on the same pattern (CSR and CSC alike).
    """
    n = indptr.size - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    data = np.array(bdata, dtype=np.float64)
    data[fixed[indices] | fixed[rows]] = 0.0
    data[diag[fixed]] = 1.0
    return data
