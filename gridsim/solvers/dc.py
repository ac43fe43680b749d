"""DC power flow: ``B theta = P`` with some angles fixed (slack buses, dead buses)."""

from __future__ import annotations

import numpy as np

from gridsim.numerics.dc import reduced_b_values
from gridsim.numerics.sums import bus_sum


def dc_pf(indptr, indices, diag, bdata, p, fixed, theta_fixed, lu):
    """Bus angles (radians) solving ``B theta = p`` with ``theta[fixed] = theta_fixed``.

    ``B`` is given on a symmetric CSR pattern (``indptr``, ``indices``, diagonal positions
    ``diag``); fixed buses become identity rows and their columns move to the right-hand
    side, so the pattern stays the same and one ``lu`` (a
    :class:`~gridsim.solvers.sparse_lu.NumbaLU` for that pattern) serves every solve.

    Raises
    ------
    SingularMatrixError
        When B is singular on the free buses (an island without a fixed angle).
    """
    n = p.size
    theta_all = np.zeros(n)
    theta_all[fixed] = theta_fixed
    rows = np.repeat(np.arange(n), np.diff(indptr))
    into_fixed = fixed[indices]
    rhs = p - bus_sum(rows[into_fixed], bdata[into_fixed] * theta_all[indices[into_fixed]], n)
    rhs[fixed] = theta_all[fixed]
    data = reduced_b_values(indptr, indices, diag, bdata, fixed)
    return lu.solve(data, rhs)
