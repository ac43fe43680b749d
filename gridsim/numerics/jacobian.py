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
    ia = np.full(n_bus, -1, dtype=np.int64)
    im = np.full(n_bus, -1, dtype=np.int64)
    ia[pvpq] = np.arange(pvpq.size)
    im[pq] = pvpq.size + np.arange(pq.size)
    n = pvpq.size + pq.size
    jindptr, jindices, pos = _jacobian_csc(indptr, indices, ia, im, n)
    return JacobianPattern(n, jindptr, jindices, pos, pvpq.astype(np.int64), pq.astype(np.int64))


@njit
def _jacobian_csc(indptr, indices, ia, im, n):  # pragma: no cover (jitted)
    """CSC pattern of J and, for each Ybus entry, the positions of its four J entries.

    Ybus's pattern is symmetric, so column c of J (bus c's angle or magnitude) collects
    the entries of Ybus row c, each landing in J row ia[r] and im[r] of its bus r.
    """
    n_bus = indptr.size - 1
    nnz_y = indices.size
    count = np.zeros(n + 1, dtype=np.int64)
    for r in range(n_bus):
        for k in range(indptr[r], indptr[r + 1]):
            c = indices[k]
            rows = (ia[r] >= 0) + (im[r] >= 0)
            if ia[c] >= 0:
                count[ia[c] + 1] += rows
            if im[c] >= 0:
                count[im[c] + 1] += rows
    jindptr = np.cumsum(count)
    fill = jindptr[:-1].copy()
    jindices = np.empty(jindptr[-1], dtype=np.int64)
    pos = np.full((4, nnz_y), -1, dtype=np.int64)
    for r in range(n_bus):
        for k in range(indptr[r], indptr[r + 1]):
            c = indices[k]
            for part in range(4):
                row = ia[r] if part < 2 else im[r]
                col = ia[c] if part % 2 == 0 else im[c]
                if row >= 0 and col >= 0:
                    p = fill[col]
                    jindices[p] = row
                    pos[part, k] = p
                    fill[col] += 1
    # sort rows within each column (insertion sort: columns hold a handful of entries),
    # carrying the Ybus -> J position map along
    owner = np.empty((jindptr[-1], 2), dtype=np.int64)
    for part in range(4):
        for k in range(nnz_y):
            p = pos[part, k]
            if p >= 0:
                owner[p, 0] = part
                owner[p, 1] = k
    for j in range(n):
        for a in range(jindptr[j] + 1, jindptr[j + 1]):
            b = a
            while b > jindptr[j] and jindices[b - 1] > jindices[b]:
                jindices[b - 1], jindices[b] = jindices[b], jindices[b - 1]
                o0, o1 = owner[b - 1, 0], owner[b - 1, 1]
                owner[b - 1, 0], owner[b - 1, 1] = owner[b, 0], owner[b, 1]
                owner[b, 0], owner[b, 1] = o0, o1
                b -= 1
    for p in range(jindptr[-1]):
        pos[owner[p, 0], owner[p, 1]] = p
    return jindptr, jindices, pos


@njit
def jacobian_values(indptr, indices, ydata, v, ibus, pos, nnz_j):  # pragma: no cover (jitted)
    """Values of J (CSC data array) at voltage ``v``, given ``ibus = Ybus v``."""
    jdata = np.zeros(nnz_j)
    n = indptr.size - 1
    vnorm = np.empty(n, dtype=np.complex128)
    for i in range(n):
        a = abs(v[i])
        vnorm[i] = v[i] / a if a > 0.0 else 1.0  # de-energised buses sit at 0
    for r in range(n):
        vr = v[r]
        for k in range(indptr[r], indptr[r + 1]):
            c = indices[k]
            vc = v[c]
            vnorm_c = vnorm[c]
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


def jacobian_order(bus_order: np.ndarray, pvpq: np.ndarray, pq: np.ndarray) -> np.ndarray:
    """Expand a bus ordering to the Jacobian's unknowns (angle, then magnitude, per bus)."""
    n_bus = bus_order.size
    ia = np.full(n_bus, -1, dtype=np.int64)
    im = np.full(n_bus, -1, dtype=np.int64)
    ia[pvpq] = np.arange(pvpq.size)
    im[pq] = pvpq.size + np.arange(pq.size)
    seq = np.stack([ia[bus_order], im[bus_order]], axis=1).ravel()
    return seq[seq >= 0]
