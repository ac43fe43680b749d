"""DC power flow: ``B theta = P`` with some angles fixed (slack buses, dead buses)."""

from __future__ import annotations

import numpy as np

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
    rows = np.repeat(np.arange(n), np.diff(indptr))
    data = bdata.copy()
    theta_all = np.zeros(n)
    theta_all[fixed] = theta_fixed
    into_fixed = fixed[indices]
    rhs = p - bus_sum(rows[into_fixed], data[into_fixed] * theta_all[indices[into_fixed]], n)
    data[into_fixed | fixed[rows]] = 0.0
    data[diag[fixed]] = 1.0
    rhs[fixed] = theta_all[fixed]
    return lu.solve(data, rhs)
