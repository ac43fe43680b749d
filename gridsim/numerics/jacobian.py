"""Power-flow Jacobian on a fixed CSC pattern.

Unknowns are ``x = [Va(pvpq), Vm(pq)]`` and equations ``[P(pvpq), Q(pq)]``. Every Ybus
entry (r, c) feeds at most four Jacobian entries (dP/dVa, dP/dVm, dQ/dVa, dQ/dVm);
:func:`jacobian_pattern` works out, once per set of bus types, where each lands in the
CSC data array, and :func:`jacobian_values` refills the values each iteration from
(MATPOWER Technical Note 2, polar coordinates)::

    dS/dVm = diag(V) conj(Ybus diag(V/|V|)) + conj(diag(Ibus)) diag(V/|V|)
    dS/dVa = j diag(V) conj(diag(Ibus) - Ybus diag(V))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridsim.numerics._jit import njit


@dataclass(frozen=True)
class JacobianPattern:
    """CSC pattern of J and the map from Ybus entries to J entries."""

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    pos: np.ndarray  # (4, nnz_Y): dP/dVa, dP/dVm, dQ/dVa, dQ/dVm positions, -1 if absent
    pvpq: np.ndarray
    pq: np.ndarray


def jacobian_pattern(indptr, indices, pvpq: np.ndarray, pq: np.ndarray) -> JacobianPattern:
    """Build the CSC pattern of J for the given PV+PQ and PQ bus sets."""
    n_bus = indptr.size - 1
    npvpq = pvpq.size
    ia = np.full(n_bus, -1, dtype=np.int64)
    im = np.full(n_bus, -1, dtype=np.int64)
    ia[pvpq] = np.arange(npvpq)
    im[pq] = npvpq + np.arange(pq.size)
    rows_y = np.repeat(np.arange(n_bus, dtype=np.int64), np.diff(indptr))
    cols_y = indices
    nnz_y = indices.size
    entry_rows, entry_cols, entry_src = [], [], []
    for part, (ridx, cidx) in enumerate(((ia, ia), (ia, im), (im, ia), (im, im))):
        r, c = ridx[rows_y], cidx[cols_y]
        keep = (r >= 0) & (c >= 0)
        entry_rows.append(r[keep])
        entry_cols.append(c[keep])
        entry_src.append(part * nnz_y + np.flatnonzero(keep))
    r = np.concatenate(entry_rows)
    c = np.concatenate(entry_cols)
    src = np.concatenate(entry_src)
    order = np.lexsort((r, c))  # column-major: by column, then row
    n = npvpq + pq.size
    jindptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(c, minlength=n), out=jindptr[1:])
    pos = np.full(4 * nnz_y, -1, dtype=np.int64)
    pos[src[order]] = np.arange(order.size)
    return JacobianPattern(
        n,
        jindptr,
        r[order].astype(np.int64),
        pos.reshape(4, nnz_y),
        pvpq.astype(np.int64),
        pq.astype(np.int64),
    )


@njit
def jacobian_values(indptr, indices, ydata, v, ibus, pos, nnz_j):  # pragma: no cover (jitted)
    """Values of J (CSC data array) at voltage ``v``, given ``ibus = Ybus v``."""
    jdata = np.zeros(nnz_j)
    n = indptr.size - 1
    for r in range(n):
        vr = v[r]
        for k in range(indptr[r], indptr[r + 1]):
            c = indices[k]
            vc = v[c]
            vnorm_c = vc / abs(vc)
            ds_dvm = vr * np.conj(ydata[k] * vnorm_c)
            ds_dva = -1j * vr * np.conj(ydata[k] * vc)
            if c == r:
                ds_dvm += np.conj(ibus[r]) * vnorm_c
                ds_dva += 1j * vr * np.conj(ibus[r])
            p = pos[0, k]
            if p >= 0:
                jdata[p] = ds_dva.real
            p = pos[1, k]
            if p >= 0:
                jdata[p] = ds_dvm.real
            p = pos[2, k]
            if p >= 0:
                jdata[p] = ds_dva.imag
            p = pos[3, k]
            if p >= 0:
                jdata[p] = ds_dvm.imag
    return jdata
