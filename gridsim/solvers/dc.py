"""DC power flow: ``B theta = P`` with the reference angles fixed."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from gridsim.solvers.linear import SingularMatrixError


def dc_pf(
    bmat: sp.csr_matrix, p: np.ndarray, theta_ref: np.ndarray, ref: np.ndarray, unknown: np.ndarray
) -> np.ndarray:
    """Bus angles (radians) solving ``B theta = p`` on the ``unknown`` buses.

    ``theta`` keeps ``theta_ref`` at the ``ref`` buses; buses in neither set stay 0.
    """
    n = p.size
    theta = np.zeros(n)
    theta[ref] = theta_ref
    if unknown.size == 0:
        return theta
    b_uu = bmat[unknown][:, unknown].tocsc()
    rhs = p[unknown] - bmat[unknown][:, ref] @ theta_ref
    try:
        theta[unknown] = splu(b_uu, permc_spec="MMD_AT_PLUS_A").solve(rhs)
    except RuntimeError as exc:
        raise SingularMatrixError(str(exc)) from None
    return theta
