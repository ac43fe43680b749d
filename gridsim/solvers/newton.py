"""Newton-Raphson power flow in polar coordinates.

The narrow interface of PYPOWER's ``newtonpf``: Ybus (CSR arrays), the scheduled
injections ``sbus``, a start ``v0`` and the bus sets. The Jacobian pattern and the
linear solver are built once per set of bus types and reused across iterations.

With gridsim's Numba LU the whole iteration loop (mismatch, Jacobian values,
factorisation, solve, update) runs in one Numba call: :func:`newton_block_kernel`, on
the Jacobian stored in 2x2 bus blocks (the default of :class:`NewtonSolver`), which
:class:`NewtonSolver` runs on the buses renumbered in elimination order
(:func:`newton_ordered_kernel`). With
SuperLU, or after a Numba LU met a pivot it would not trust, the same steps run in
Python around scipy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from gridsim.model.compile import NO_VOLTAGE_DEPENDENCE, PQ, PV, REF
from gridsim.numerics._jit import njit
from gridsim.numerics.jacobian import (
    block_jacobian_pattern,
    block_jacobian_values,
    jacobian_order,
    jacobian_pattern,
    jacobian_values,
)
from gridsim.numerics.mismatch import block_mismatch, max_abs, mismatch, mismatch_floor
from gridsim.solvers.linear import SingularMatrixError
from gridsim.solvers.sparse_lu import (
    PIVOT_TOLERANCE,
    BlockLU,
    NumbaLU,
    block_backward,
    block_forward,
    block_numeric_lu,
)
from gridsim.solvers.symbolic import fill_reducing_order

# newton_block_kernel's status codes
CONVERGED_OR_LIMIT, PIVOT_REJECTED, NON_FINITE_STEP, NON_FINITE_MISMATCH, STALLED = 0, 1, 2, 3, 4
# A solve has stalled when this many steps in a row leave its lowest mismatch unbeaten
# while that lies within STALL_FACTOR of the rounding floor (mismatch_floor): the
# mismatch only moves with the rounding there, and no further step lowers it.
STALL_STEPS = 3
STALL_FACTOR = 10.0
# A rejected pivot with a mismatch above this (p.u.) ends the solve as diverged instead
# of handing a runaway iterate to SuperLU (which can take minutes on a 70,000-bus grid).
DIVERGED_MISMATCH = 1e6
# Angle steps (rad) below this update the phasor by a rotation (see block_update).
SMALL_ANGLE = 1e-3


@njit
def block_workspace(system, n_bus):  # pragma: no cover (jitted)
    """The work arrays of :func:`newton_block_kernel` for ``system`` and ``n_bus``
    buses: bus currents, mismatch, Jacobian blocks, L and U blocks, inverted pivots and
    the LU's scatter space (about 31 MB on case_ACTIVSg70k)."""
    nb = system[2].size
    return (
        np.empty(n_bus, dtype=np.complex128),
        np.empty(2 * nb),
        np.empty(4 * system[6].size),
        np.empty(4 * system[8].size),
        np.empty(4 * system[10].size),
        np.empty(4 * nb),
        np.empty(4 * nb),
    )


# The packed arrays of newton_ordered_kernel. A call's cost grows with the number of
# arrays it takes, most for arrays in tuples: 28 arrays in three tuples cost 4.2 us per
# call, 11 loose ones 0.7 us (case118: a solve takes 40 us). So the solver hands the
# ordered kernel its index arrays as one (ORDERED_INDEX), its work arrays as one real
# and one complex array, and the kernel takes them apart (slices, no copies).
ORDERED_INDEX = (
    "indptr",
    "indices",
    "nodes",
    "b_indptr",
    "b_indices",
    "l_ptr",
    "l_idx",
    "u_ptr",
    "u_idx",
    "perm",
    "ygather",
)


def pack_index(arrays: dict) -> np.ndarray:
    """The arrays named in :data:`ORDERED_INDEX` as one ``uint64`` array: the offsets of
    the parts (``len(ORDERED_INDEX) + 1`` of them, from the start of the array) and
    then the parts."""
    parts = [np.asarray(arrays[name], dtype=np.uint64) for name in ORDERED_INDEX]
    head = len(parts) + 1
    offsets = head + np.concatenate([[0], np.cumsum([a.size for a in parts])])
    return np.concatenate([offsets.astype(np.uint64), *parts])


def ordered_index(indptr, indices, bp, blu) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The buses renumbered in elimination order for :func:`newton_ordered_kernel`:
    bus ``perm[t]`` (the block pattern ``bp``'s ``nodes`` first, then the other buses)
    becomes bus ``t``. Ybus (``indptr``, ``indices``) renumbered keeps each row's
    entries in their original order, taken from the original positions ``ygather``.

    Returns ``(index, perm, ypos)``: :func:`pack_index` of the renumbered Ybus, the
    block pattern (nodes ``0..nb-1``), ``blu``'s symbolic LU, ``perm`` and ``ygather``;
    ``perm``; and the block each renumbered Ybus entry feeds (-1 for none).
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    n_bus = indptr.size - 1
    outside = np.ones(n_bus, dtype=np.bool_)
    outside[bp.nodes] = False
    perm = np.concatenate([bp.nodes, np.flatnonzero(outside)])
    new = np.empty(n_bus, dtype=np.int64)
    new[perm] = np.arange(n_bus)
    counts = np.diff(indptr)[perm]  # entries of each new row
    o_indptr = np.zeros(n_bus + 1, dtype=np.int64)
    np.cumsum(counts, out=o_indptr[1:])
    # row t's entries are old row perm[t]'s: its range, shifted to start at o_indptr[t]
    ygather = np.repeat(indptr[perm] - o_indptr[:-1], counts) + np.arange(o_indptr[-1])
    index = pack_index(
        {
            "indptr": o_indptr,
            "indices": new[np.asarray(indices, dtype=np.int64)[ygather]],
            "nodes": np.arange(bp.nodes.size),
            "b_indptr": bp.indptr,
            "b_indices": bp.indices,
            "l_ptr": blu.l_ptr,
            "l_idx": blu.l_idx,
            "u_ptr": blu.u_ptr,
            "u_idx": blu.u_idx,
            "perm": perm,
            "ygather": ygather,
        }
    )
    return index, perm, bp.ypos[ygather]


@njit(inline="always")
def _index_part(index, k):  # pragma: no cover (jitted)
    return index[np.int64(index[k]) : np.int64(index[k + 1])]


@njit(inline="always")
def _slice(buf, start, size):  # pragma: no cover (jitted)
    """``buf[start:start + size]`` and the end."""
    return buf[start : start + size], start + size


@njit
def _ordered_sizes(index):  # pragma: no cover (jitted)
    """Sizes of the real and complex work arrays of :func:`newton_ordered_kernel`."""
    nb = _index_part(index, 2).size
    n_bus = _index_part(index, 9).size
    blocks = _index_part(index, 4).size + _index_part(index, 6).size + _index_part(index, 8).size
    return 2 * nb + 4 * blocks + 8 * nb + 2 * n_bus, 3 * n_bus + _index_part(index, 10).size


@njit
def ordered_workspace(index):  # pragma: no cover (jitted)
    """The real and complex work arrays of :func:`newton_ordered_kernel` for the packed
    index ``index``."""
    n_real, n_complex = _ordered_sizes(index)
    return np.empty(n_real), np.empty(n_complex, dtype=np.complex128)


@njit
def newton_ordered_kernel(
    index, pqf, ypos, ydata, sbus, vdep, v, va, vm, tol, max_iter, real, cplx
):  # pragma: no cover
    """:func:`newton_block_kernel` on the buses renumbered in elimination order.

    ``index`` (:func:`pack_index`), ``pqf`` and ``ypos`` are
    :meth:`NewtonSolver.ordered_system`'s: the :attr:`NewtonSolver.block_system` with
    Ybus renumbered so that bus ``perm[t]`` is bus ``t`` (each row's entries in their
    original order, at the original positions ``ygather``, so every sum is taken as
    before and the results are the same bit for bit). ``ydata``, ``sbus``, ``vdep``,
    ``v``, ``va`` and ``vm`` are in bus order, as :func:`newton_block_kernel` takes
    them; they are gathered into ``real`` and ``cplx`` (:func:`ordered_workspace`'s
    arrays, overwritten, with the kernel's own work arrays) and ``v`` gets the result
    back. In elimination order the mismatch, Jacobian and update walk the bus arrays
    in the order the block LU walks its columns instead of jumping across them
    (case9241pegase: 6 % off the kernel).
    """
    indptr, indices, nodes = _index_part(index, 0), _index_part(index, 1), _index_part(index, 2)
    b_indptr, b_indices = _index_part(index, 3), _index_part(index, 4)
    l_ptr, l_idx = _index_part(index, 5), _index_part(index, 6)
    u_ptr, u_idx = _index_part(index, 7), _index_part(index, 8)
    perm, ygather = _index_part(index, 9), _index_part(index, 10)
    system = (indptr, indices, nodes, pqf, ypos, b_indptr, b_indices, l_ptr, l_idx, u_ptr, u_idx)
    n, nb = perm.size, nodes.size
    f, o = _slice(real, 0, 2 * nb)
    jdata, o = _slice(real, o, 4 * b_indices.size)
    l_val, o = _slice(real, o, 4 * l_idx.size)
    u_val, o = _slice(real, o, 4 * u_idx.size)
    dinv, o = _slice(real, o, 4 * nb)
    x, o = _slice(real, o, 4 * nb)
    vap, o = _slice(real, o, n)
    vmp, o = _slice(real, o, n)
    ibus, o = _slice(cplx, 0, n)
    sp, o = _slice(cplx, o, n)
    vp, o = _slice(cplx, o, n)
    yp, o = _slice(cplx, o, ygather.size)
    for k in range(ygather.size):
        yp[k] = ydata[ygather[k]]
    vdp = np.empty((2, vdep.shape[1]), dtype=np.complex128)
    for t in range(n):
        i = perm[t]
        sp[t] = sbus[i]
        vp[t] = v[i]
        vap[t] = va[i]
        vmp[t] = vm[i]
        if vdep.shape[1] > 0:
            vdp[0, t] = vdep[0, i]
            vdp[1, t] = vdep[1, i]
    work = (ibus, f, jdata, l_val, u_val, dinv, x)
    result = newton_block_kernel(system, yp, sp, vdp, vp, vap, vmp, 0, tol, max_iter, 0.0, work)
    for t in range(n):
        v[perm[t]] = vp[t]
    return result


@njit(inline="always")
def newton_block_kernel(
    system, ydata, sbus, vdep, v, va, vm, it, tol, max_iter, reuse, work
):  # pragma: no cover
    """Newton-Raphson on the 2x2 bus-block Jacobian, all in compiled code.

    ``system`` is :meth:`NewtonSolver.block_system`'s tuple (Ybus pattern, block
    Jacobian pattern, symbolic LU) and ``work`` :func:`block_workspace`'s arrays for
    it, overwritten: :class:`NewtonSolver` keeps them for its next solve (allocated
    per solve, the first touch of their fresh pages cost 2-3% on case_ACTIVSg70k). The
    Jacobian (see :class:`~gridsim.numerics.jacobian.BlockJacobianPattern`) is written
    straight into the block LU's order. The state
    ``v`` (complex bus voltages) with its angles ``va`` and magnitudes ``vm`` is
    updated in place; ``vdep`` is the voltage-dependent load beyond ``sbus``
    (:meth:`~gridsim.model.compile.CompiledNetwork.voltage_dependence`; ``(2, 0)``
    for none); ``it`` is the number of iterations already taken to reach it (0 for a
    new solve), and the loop stops at ``max_iter`` in all.

    ``reuse``: the next step keeps the last LU (a chord step: no Jacobian, no
    factorisation) while the last step cut the largest mismatch below ``reuse`` times
    what it was; a step that contracts less brings a fresh Jacobian. 0 gives plain
    Newton-Raphson, a new Jacobian every step. Near the solution a chord step with a
    Jacobian taken at the last factorised iterate contracts the mismatch by about
    what that iterate's Newton step did, so once steps contract a hundredfold
    (``reuse`` 0.01, the batch default) each further step costs a mismatch and two
    triangular solves instead of also a Jacobian and an LU: a third of a Newton step
    on case118. The convergence test is the same; only the path to it changes.

    A solve whose lowest mismatch has not been beaten for ``STALL_STEPS`` steps while
    it lies within ``STALL_FACTOR`` of the rounding floor
    (:func:`~gridsim.numerics.mismatch.mismatch_floor`) stops as ``STALLED``: a
    tolerance below what double precision resolves on this network is not reached by
    iterating to the limit.

    Returns ``(iterations, max_mismatch, status)``: ``CONVERGED_OR_LIMIT``, or
    ``PIVOT_REJECTED`` (``v`` the last iterate, from which the caller goes on with
    SuperLU), ``NON_FINITE_STEP``, ``NON_FINITE_MISMATCH``, ``STALLED``.
    ``iterations`` counts chord steps too.

    One function for the whole loop: Numba compiles (and LLVM optimises) each kernel
    together with every kernel it calls, so each level of calls between this loop and
    the leaf kernels would compile them all again in a process with an empty cache.
    """
    indptr, indices, nodes, pqf, ypos, b_indptr, b_indices, l_ptr, l_idx, u_ptr, u_idx = system
    ibus, f, jdata, l_val, u_val, dinv, x = work
    x[:] = 0.0  # the LU's scatter space starts zeroed (and leaves it so)
    norm = block_mismatch(indptr, indices, ydata, v, sbus, vdep, nodes, pqf, ibus, f)
    if not np.isfinite(norm):
        return it, norm, NON_FINITE_MISMATCH
    ratio = np.inf  # the last step's contraction; no LU yet
    best, stale = norm, 0
    while norm >= tol and it < max_iter:
        if not ratio < reuse:
            block_jacobian_values(indptr, indices, ydata, v, vm, ibus, vdep, ypos, pqf, jdata)
            ok = block_numeric_lu(
                b_indptr,
                b_indices,
                jdata,
                l_ptr,
                l_idx,
                u_ptr,
                u_idx,
                PIVOT_TOLERANCE,
                l_val,
                u_val,
                dinv,
                x,
            )
            if not ok:
                return it, norm, PIVOT_REJECTED
        for k in range(f.size):
            f[k] = -f[k]
        block_forward(l_ptr, l_idx, l_val, f)
        block_backward(u_ptr, u_idx, u_val, dinv, f)
        it += 1
        if not block_update(f, nodes, pqf, va, vm, v):
            return it, norm, NON_FINITE_STEP
        last = norm
        norm = block_mismatch(indptr, indices, ydata, v, sbus, vdep, nodes, pqf, ibus, f)
        if not np.isfinite(norm):
            return it, norm, NON_FINITE_MISMATCH
        ratio = norm / last
        if norm < best:
            best, stale = norm, 0
        else:
            stale += 1
            if stale >= STALL_STEPS and best < STALL_FACTOR * mismatch_floor(
                indptr, indices, ydata, v, sbus, nodes
            ):
                return it, norm, STALLED
    return it, norm, CONVERGED_OR_LIMIT


@njit
def block_update(step, nodes, pqf, va, vm, v):  # pragma: no cover
    """Add a Newton step in block order (angle, magnitude per bus; the magnitude of
    PV buses is not an unknown) to ``va``/``vm`` and refresh ``v``. False, with nothing
    changed, when the step is not finite. ``v`` must be ``vm exp(j va)`` on entry (the
    kernels keep it so).

    An angle step below ``SMALL_ANGLE`` rotates the bus's phasor by the step's cosine
    and sine from their Taylor series (terms to the fourth and fifth power: truncation
    below 2e-21 there, under double rounding) instead of evaluating both trigonometric
    functions of the new angle: near convergence, where every step is that small, this
    halves the update (case118: 1.4 to 0.8 µs, as much as a mismatch before).
    """
    n = step.size
    t0 = t1 = t2 = t3 = 0.0  # four sums, not one chain of dependent additions
    for k in range(0, n - 3, 4):
        t0 += step[k]
        t1 += step[k + 1]
        t2 += step[k + 2]
        t3 += step[k + 3]
    for k in range(n - n % 4, n):
        t0 += step[k]
    if not np.isfinite(t0 + t1 + t2 + t3):
        return False
    for t in range(nodes.size):
        i = nodes[t]
        d = step[2 * t]
        va[i] += d
        old = vm[i]
        if pqf[i] != 0.0:
            vm[i] += step[2 * t + 1]
        if abs(d) < SMALL_ANGLE and old != 0.0:
            d2 = d * d
            scale = vm[i] / old
            c = (1.0 - d2 * (0.5 - d2 / 24.0)) * scale
            s = d * (1.0 - d2 / 6.0 * (1.0 - d2 / 20.0)) * scale
            w = v[i]
            v[i] = complex(w.real * c - w.imag * s, w.real * s + w.imag * c)
        else:
            v[i] = complex(vm[i] * np.cos(va[i]), vm[i] * np.sin(va[i]))
    return True


STALL_MESSAGE = "stalled at the floor of double precision for this case"


def stall_message(cn, bus_type, ydata, v, sbus, mismatch: float) -> str:
    """What a solve that stalled at ``v`` with largest mismatch ``mismatch`` (p.u.;
    ``bus_type``, Ybus values ``ydata``, injections ``sbus``) reports: that mismatch
    and the rounding floor of its PV and PQ buses
    (:func:`~gridsim.numerics.mismatch.mismatch_floor`), in MVA."""
    rows = np.flatnonzero((bus_type == PV) | (bus_type == PQ))
    floor = mismatch_floor(cn.indptr, cn.indices, ydata, v, sbus, rows)
    return (
        f"stalled at {mismatch * cn.sn_mva:.2g} MVA, the floor of double precision for "
        f"this case (rounding alone reaches {floor * cn.sn_mva:.2g} MVA at the worst bus)"
    )


@dataclass
class NewtonResult:
    """State after a Newton-Raphson run."""

    v: np.ndarray  # complex bus voltages, p.u.
    converged: bool
    iterations: int
    max_mismatch: float  # p.u. of the power base
    message: str = ""
    stalled: bool = False  # stopped at the rounding floor (see newton_block_kernel)


class NewtonSolver:
    """Newton-Raphson for one Ybus pattern and one set of bus types.

    Parameters
    ----------
    indptr, indices : ndarray
        Ybus CSR pattern.
    pvpq, pq : ndarray of int
        Buses whose angle is unknown (PV and PQ) and whose magnitude is unknown (PQ).
    bus_order : ndarray of int, optional
        Fill-reducing ordering of the buses (e.g. minimum degree on Ybus); the Jacobian
        is ordered bus by bus, each bus's angle before its magnitude.
    linear_solver : type, optional
        Class with the :class:`~gridsim.solvers.linear.ScipyLU` interface:
        :class:`~gridsim.solvers.sparse_lu.NumbaLU` (default) or ``ScipyLU``. With
        ``NumbaLU`` a solve runs :func:`newton_block_kernel` (the Jacobian in 2x2 bus
        blocks and :func:`~gridsim.solvers.sparse_lu.block_numeric_lu`); ``pattern`` and
        ``lu`` (the scalar Jacobian pattern and its solver, which the Python loop
        uses) are built on first use.
    blocks : dict, optional
        Kept by the caller for the solvers of one Ybus pattern and ``bus_order``: the
        block pattern and its symbolic LU depend on the system buses ``pvpq`` only, not
        on which of them are PQ (a PV bus's block has a unit Vm column), so solvers
        for other bus types (reactive limits turning PV buses PQ, a unit trip) take
        them from there instead of analysing the pattern again.
    """

    def __init__(
        self, indptr, indices, pvpq, pq, bus_order=None, linear_solver=NumbaLU, blocks=None
    ):
        self.indptr, self.indices = indptr, indices
        self.pvpq = np.asarray(pvpq, dtype=np.int64)
        self.pq = np.asarray(pq, dtype=np.int64)
        self.bus_order = bus_order
        self.linear_solver = linear_solver
        self._blocks = blocks
        self._pattern = None
        self._lu = None
        self._block = None  # (BlockJacobianPattern, BlockLU), or False once rejected
        self._system = None
        self._ordered = None
        self._spare = []  # ordered_workspace arrays kept between solves
        if linear_solver is not NumbaLU:
            self.lu  # noqa: B018 - SuperLU: the scalar pattern from the start

    @property
    def pattern(self):
        """The scalar Jacobian's :class:`~gridsim.numerics.jacobian.JacobianPattern`."""
        if self._pattern is None:
            self._pattern = jacobian_pattern(self.indptr, self.indices, self.pvpq, self.pq)
        return self._pattern

    @property
    def lu(self):
        """The linear solver of the scalar Jacobian (built on first use)."""
        if self._lu is None:
            pat = self.pattern
            order = None
            if self.bus_order is not None:
                order = jacobian_order(self.bus_order, self.pvpq, self.pq)
            self._lu = self.linear_solver(pat.indptr, pat.indices, pat.n, order=order)
        return self._lu

    @property
    def block(self):
        """``(BlockJacobianPattern, BlockLU)`` of the block Newton kernel, or None when
        it does not apply (SuperLU chosen, or the block LU rejected a pivot)."""
        if self._block is None:
            if self.linear_solver is not NumbaLU or self.pvpq.size == 0:
                self._block = False
            else:
                key = np.sort(self.pvpq).tobytes()
                shared = None if self._blocks is None else self._blocks.get(key)
                if shared is None:
                    order = self.bus_order
                    if order is None:
                        order = fill_reducing_order(self.indptr, self.indices, self.indptr.size - 1)
                    bp = block_jacobian_pattern(
                        self.indptr, self.indices, self.pvpq, self.pq, order
                    )
                    shared = (bp, BlockLU(bp.indptr, bp.indices))
                    if self._blocks is not None:
                        self._blocks[key] = shared
                bp, blu = shared
                pqf = np.zeros(self.indptr.size - 1)
                pqf[self.pq] = 1.0
                self._block = (dataclasses.replace(bp, pqf=pqf), blu)
        return self._block or None

    @property
    def block_system(self) -> tuple | None:
        """The arrays the block kernels take, as one tuple: Ybus ``indptr``,
        ``indices``; the block pattern's ``nodes``, ``pqf``, ``ypos``, ``indptr``,
        ``indices``; the symbolic LU's ``l_ptr``, ``l_idx``, ``u_ptr``, ``u_idx``. None
        where :attr:`block` is. Every index array but ``ypos`` (which holds -1) is
        unsigned (``uint64``): indexed by them, the kernels skip Numba's wraparound
        tests (see :data:`~gridsim.numerics._jit.U1`)."""
        block = self.block
        if block is None:
            return None
        if self._system is None:
            bp, blu = block
            pattern = (bp.indptr, bp.indices, blu.l_ptr, blu.l_idx, blu.u_ptr, blu.u_idx)
            self._system = (
                np.asarray(self.indptr, dtype=np.uint64),
                np.asarray(self.indices, dtype=np.uint64),
                bp.nodes.astype(np.uint64),
                bp.pqf,
                bp.ypos,
                *(a.astype(np.uint64) for a in pattern),
            )
        return self._system

    @property
    def ordered_system(self) -> tuple | None:
        """``(index, pqf, ypos)`` of :func:`newton_ordered_kernel`: the block system
        (see :attr:`block_system`) with the buses renumbered in elimination order, its
        index arrays packed by :func:`ordered_index` (kept with the shared block
        pattern: they depend on the system buses only). None where :attr:`block` is."""
        block = self.block
        if block is None:
            return None
        if self._ordered is None:
            key = (np.sort(self.pvpq).tobytes(), "ordered")
            shared = None if self._blocks is None else self._blocks.get(key)
            if shared is None:
                shared = ordered_index(self.indptr, self.indices, *block)
                if self._blocks is not None:
                    self._blocks[key] = shared
            index, perm, ypos = shared
            self._ordered = (index, block[0].pqf[perm], ypos)
        return self._ordered

    def solve(
        self,
        ydata: np.ndarray,
        sbus: np.ndarray,
        v0: np.ndarray,
        *,
        tol: float,
        max_iter: int,
        polar: tuple[np.ndarray, np.ndarray] | None = None,
        vdep: np.ndarray = NO_VOLTAGE_DEPENDENCE,
    ) -> NewtonResult:
        """Iterate from ``v0`` until ``max |mismatch| < tol`` (p.u.) or ``max_iter``.

        ``polar``: ``v0``'s angles and magnitudes (``np.angle``, ``np.abs``) where the
        caller has them (a cached start); read, not modified. ``vdep``: the
        voltage-dependent load beyond ``sbus``
        (:meth:`~gridsim.model.compile.CompiledNetwork.voltage_dependence`; default
        none).
        """
        v = v0.astype(np.complex128)  # a copy
        done = 0
        handed_over = getattr(self._lu, "fallback", None) is not None
        ordered = None if handed_over else self.ordered_system
        if ordered is not None:
            va, vm = (np.angle(v), np.abs(v)) if polar is None else polar  # read only
            try:  # work arrays of an earlier solve (one per thread solving at once)
                work = self._spare.pop()
            except IndexError:
                work = ordered_workspace(ordered[0])
            done, norm, status = newton_ordered_kernel(
                *ordered, ydata, sbus, vdep, v, va, vm, tol, max_iter, *work
            )
            self._spare.append(work)
            result = _kernel_result(v, done, norm, status, tol)
            if result is not None:
                return result
            if norm > DIVERGED_MISMATCH:
                return NewtonResult(
                    v, False, done, norm, f"diverged: singular Jacobian after {done} iterations"
                )
            # a pivot the block LU would not trust: go on with SuperLU from this iterate
            self._block = False
            self._spare.clear()
            self.lu.use_fallback()
            return self._python_loop(ydata, sbus, vdep, v, tol, max_iter, done)
        return self._python_loop(ydata, sbus, vdep, v, tol, max_iter, done)

    def _python_loop(self, ydata, sbus, vdep, v, tol, max_iter, done) -> NewtonResult:
        pat = self.pattern
        pvpq, pq = pat.pvpq, pat.pq
        npvpq = pvpq.size
        va, vm = np.angle(v), np.abs(v)
        nnz = pat.indices.size
        zip_loads = vdep.shape[1] > 0
        if zip_loads:  # J's dP/dVm and dQ/dVm at each PQ bus's diagonal Ybus entry
            rows = np.repeat(np.arange(self.indptr.size - 1), np.diff(self.indptr))
            diagonal = np.flatnonzero(self.indices == rows)[pq]  # one per row
            at_p, at_q = pat.pos[1, diagonal], pat.pos[3, diagonal]

        def residual(v):
            f, ibus = mismatch(self.indptr, self.indices, ydata, v, sbus, pvpq, pq)
            if zip_loads:
                m = np.abs(v)
                drawn = (vdep[0] + vdep[1] * m) * m
                f[:npvpq] += drawn.real[pvpq]
                f[npvpq:] += drawn.imag[pq]
            return f, ibus

        f, ibus = residual(v)
        norm = max_abs(f)
        it = done
        best, stale = norm, 0
        while norm >= tol and it < max_iter:
            it += 1
            jdata = jacobian_values(self.indptr, self.indices, ydata, v, ibus, pat.pos, nnz)
            if zip_loads:
                d = vdep[0, pq] + 2.0 * vdep[1, pq] * vm[pq]
                jdata[at_p] += d.real
                jdata[at_q] += d.imag
            try:
                dx = self.lu.solve(jdata, -f)
            except SingularMatrixError:
                return NewtonResult(v, False, it, norm, "singular Jacobian")
            if not np.all(np.isfinite(dx)):
                return NewtonResult(v, False, it, norm, "Jacobian solve gave non-finite steps")
            va[pvpq] += dx[:npvpq]
            vm[pq] += dx[npvpq:]
            v = vm * np.exp(1j * va)
            f, ibus = residual(v)
            norm = max_abs(f)
            if not np.isfinite(norm):
                return NewtonResult(v, False, it, np.inf, "mismatch became non-finite")
            best, stale = (norm, 0) if norm < best else (best, stale + 1)
            if stale >= STALL_STEPS and best < STALL_FACTOR * mismatch_floor(
                self.indptr, self.indices, ydata, v, sbus, pvpq
            ):
                return NewtonResult(v, False, it, norm, STALL_MESSAGE, stalled=True)
        converged = bool(norm < tol)
        return NewtonResult(v, converged, it, norm, "" if converged else "iteration limit")


def _kernel_result(v, done, norm, status, tol) -> NewtonResult | None:
    """The result of a Newton kernel's run, or None when a pivot was rejected."""
    if status == NON_FINITE_STEP:
        return NewtonResult(v, False, done, norm, "Jacobian solve gave non-finite steps")
    if status == NON_FINITE_MISMATCH:
        return NewtonResult(v, False, done, np.inf, "mismatch became non-finite")
    if status == STALLED:
        return NewtonResult(v, False, done, norm, STALL_MESSAGE, stalled=True)
    if status == CONVERGED_OR_LIMIT:
        converged = bool(norm < tol)
        return NewtonResult(v, converged, done, norm, "" if converged else "iteration limit")
    return None


@njit
def hold_setpoints(v, bus_type, vm_set):  # pragma: no cover
    """Set the magnitude of ``v`` (``[n_points, n_bus]``, in place) at every PV and REF
    bus of ``bus_type`` to ``vm_set``, keeping its angle (0 where ``v`` is 0)."""
    for b in range(bus_type.size):
        if bus_type[b] == PV or bus_type[b] == REF:
            for i in range(v.shape[0]):
                m = abs(v[i, b])
                v[i, b] = v[i, b] * (vm_set[b] / m) if m > 0.0 else vm_set[b]


def setpoint_start(cn, v0: np.ndarray, bus_type: np.ndarray | None = None) -> np.ndarray:
    """A given start ``v0`` (``[n_bus]`` or ``[n_points, n_bus]``) as the Newton solvers
    take it: a complex copy with every voltage-controlled bus (PV or REF in ``bus_type``,
    default ``cn.bus_type``) at its magnitude setpoint ``cn.vm_set``, its angle kept.

    Those magnitudes are not unknowns, so the iterations keep whatever the start has;
    an earlier solution or a case's stored voltages must first be brought to the
    setpoints (as MATPOWER's ``runpf`` and pandapower do). A bus that reactive limits
    turned PQ is PQ in ``bus_type`` and keeps its magnitude. O(n_bus), in one kernel
    call (about 1 µs on case118).
    """
    bt = cn.bus_type if bus_type is None else bus_type
    v = np.array(v0, dtype=np.complex128, order="C")
    hold_setpoints(v.reshape(-1, v.shape[-1]), bt, cn.vm_set)
    return v


def newton_solver(cn, bus_type: np.ndarray | None = None, linear_solver: str = "numba"):
    """The :class:`NewtonSolver` of ``cn`` for a set of bus types (cached on ``cn``, the
    same object :func:`gridsim.run_ac` uses)."""
    from gridsim.solvers.linear import ScipyLU

    _, pv, pq = cn.bus_sets(bus_type)
    key = ("newton", linear_solver, pv.tobytes(), pq.tobytes())
    solver = cn._cache.get(key)
    if solver is None:
        solver = NewtonSolver(
            cn.indptr,
            cn.indices,
            np.concatenate([pv, pq]),
            pq,
            bus_order=cn.bus_order(),
            linear_solver={"numba": NumbaLU, "scipy": ScipyLU}[linear_solver],
            # per Ybus pattern and ordering, as the solvers (shared with views alike)
            blocks=cn._cache.setdefault(("newton", "blocks"), {}),
        )
        cn._cache[key] = solver
    return solver
