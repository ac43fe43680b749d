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

from gridsim.numerics._jit import U1, U2, U3, U4, njit


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
    """Values of J (CSC data array) at voltage ``v``, given ``ibus = Ybus v``: the
    entries of :func:`jacobian_block` (without padding) at their positions ``pos``."""
    jdata = np.zeros(nnz_j)
    n = indptr.size - 1
    inv_vm = np.empty(n)
    for i in range(n):
        a = abs(v[i])
        inv_vm[i] = 1.0 / a if a > 0.0 else 1.0  # de-energised buses sit at 0
    for r in range(n):
        vr = v[r]
        for k in range(indptr[r], indptr[r + 1]):
            c = indices[k]
            block = jacobian_block(
                ydata[k], vr, v[c], inv_vm[r], inv_vm[c], ibus[r], 1.0, 1.0, c == r
            )
            for e in range(4):  # dP/dVa, dP/dVm, dQ/dVa, dQ/dVm
                p = pos[e, k]
                if p >= 0:
                    jdata[p] = block[e]
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


# -- 2x2 bus blocks -------------------------------------------------------------------------
#
# The same Jacobian, stored bus by bus: unknown block t holds (Va, Vm) of bus
# ``nodes[t]`` and equation block t its (P, Q) mismatch. A PV bus has no Vm unknown and
# no Q equation; its block row and column are padded with zeros and a 1 on the diagonal
# (the equation ``dVm = 0``), which leaves the solution of the other unknowns unchanged.
# Every Ybus entry between two buses of the system then feeds exactly one 2x2 block,
# stored row-major as four consecutive values, and the LU
# (:func:`gridsim.solvers.sparse_lu.block_numeric_lu`) works on blocks: a quarter of the
# index traffic of the scalar matrix and eight independent multiply-adds per update.


@dataclass(frozen=True)
class BlockJacobianPattern:
    """Block CSC pattern of J (one 2x2 block per pair of connected system buses).

    ``nodes[t]`` is the bus of block row/column t (the buses in elimination order),
    ``pqf[bus]`` 1.0 for PQ buses and 0.0 otherwise, ``ypos[k]`` the block that Ybus
    entry k feeds (-1 if it feeds none).
    """

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    ypos: np.ndarray
    nodes: np.ndarray
    pqf: np.ndarray


def block_jacobian_pattern(
    indptr, indices, pvpq: np.ndarray, pq: np.ndarray, bus_order: np.ndarray
) -> BlockJacobianPattern:
    """Block pattern of J for the given bus sets, blocks in the order of ``bus_order``
    (a fill-reducing ordering of all buses; buses outside ``pvpq`` are skipped)."""
    nodes, node_of, pqf = block_numbering(indptr.size - 1, pvpq, pq, bus_order)
    bindptr, bindices, ypos = block_csc(
        np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64), node_of
    )
    return BlockJacobianPattern(nodes.size, bindptr, bindices, ypos, nodes, pqf)


def block_numbering(n_bus: int, pvpq, pq, bus_order):
    """``nodes`` (bus of each block, in ``bus_order``), ``node_of`` (block of each bus,
    -1 outside the system) and ``pqf`` (1.0 for PQ buses) of the block Jacobian."""
    in_system = np.zeros(n_bus, dtype=np.bool_)
    in_system[pvpq] = True
    bus_order = np.asarray(bus_order, dtype=np.int64)
    nodes = bus_order[in_system[bus_order]]
    node_of = np.full(n_bus, -1, dtype=np.int64)
    node_of[nodes] = np.arange(nodes.size)
    pqf = np.zeros(n_bus)
    pqf[pq] = 1.0
    return nodes, node_of, pqf


def block_csc(indptr, indices, node_of):
    """Block CSC pattern (rows sorted) of Ybus restricted to system buses, renumbered by
    ``node_of``, and the block position of each Ybus entry (-1 where it feeds none).

    Returns ``(indptr, indices, ypos)`` (int64).
    """
    node_of = np.asarray(node_of, dtype=np.int64)
    n_bus = indptr.size - 1
    nb = int(np.count_nonzero(node_of >= 0))
    row = node_of[np.repeat(np.arange(n_bus), np.diff(indptr))]  # Ybus CSR: row r, col c
    col = node_of[indices]
    keep = np.flatnonzero((row >= 0) & (col >= 0))
    source = keep[np.lexsort((row[keep], col[keep]))]  # by block column, then row
    bindptr = np.zeros(nb + 1, dtype=np.int64)
    np.cumsum(np.bincount(col[source], minlength=nb), out=bindptr[1:])
    ypos = np.full(indices.size, -1, dtype=np.int64)
    ypos[source] = np.arange(source.size)
    return bindptr, row[source], ypos


@njit
def jacobian_block(y, vr, vc, inv_r, inv_c, ibus_r, fr, fc, diagonal):  # pragma: no cover
    """The 2x2 block of J that Ybus entry ``y = Y_rc`` feeds, row-major
    ``(dP_r/dVa_c, dP_r/dVm_c, dQ_r/dVa_c, dQ_r/dVm_c)``.

    ``inv_r``/``inv_c`` are ``1/|V|`` of the two buses, ``ibus_r`` the current injected
    at bus r (used on the diagonal), ``fr``/``fc`` 1.0 for PQ buses and 0.0 otherwise
    (a PV bus's Q row and Vm column are zero, with a 1 on its diagonal).
    """
    # dS_r/dVm_c = V_r conj(Y_rc V_c) / |V_c|;  dS_r/dVa_c = -j V_r conj(Y_rc V_c)
    s = vr * np.conj(y * vc)
    sm = s.real * inv_c
    qm = s.imag * inv_c
    pa = s.imag
    qa = -s.real
    if diagonal:
        ci = vr * np.conj(ibus_r)
        sm += ci.real * inv_r
        qm += ci.imag * inv_r
        pa -= ci.imag
        qa += ci.real
    qm = qm * fr * fc if (not diagonal or fr != 0.0) else 1.0
    return pa, sm * fc, qa * fr, qm


@njit
def block_jacobian_values(
    indptr, indices, ydata, v, vm, ibus, vdep, ypos, pqf, out
):  # pragma: no cover (jitted)
    """Fill ``out`` (4 values per block, row-major ``[[dP/dVa, dP/dVm], [dQ/dVa, dQ/dVm]]``)
    with J at voltage ``v`` (magnitudes ``vm``, which the Newton loop keeps), given
    ``ibus = Ybus v``; PV rows/columns padded. ``vdep``: the voltage-dependent load of
    :func:`~gridsim.numerics.mismatch.block_mismatch`, whose derivative
    ``vdep[0] + 2 vdep[1] |V|`` joins the diagonal dP/dVm and dQ/dVm of PQ buses."""
    zip_loads = vdep.shape[1] > 0
    n = indptr.size - 1
    inv_vm = np.empty(n)
    for i in range(n):
        inv_vm[i] = 1.0 / vm[i] if vm[i] != 0.0 else 1.0  # d/dVm: V / Vm, either sign
    for r in range(n):
        vr = v[r]
        fr = pqf[r]
        for k in range(indptr[r], indptr[r + 1]):
            p = ypos[k]
            if p < 0:
                continue
            c = indices[k]
            q = U4 * np.uint64(p)
            out[q], out[q + U1], out[q + U2], out[q + U3] = jacobian_block(
                ydata[k], vr, v[c], inv_vm[r], inv_vm[c], ibus[r], fr, pqf[c], c == r
            )
            if zip_loads and c == r and fr != 0.0:
                d = vdep[0, r] + 2.0 * vdep[1, r] * vm[r]
                out[q + U1] += d.real
                out[q + U3] += d.imag
