"""Many Newton-Raphson power flows on one Ybus pattern, in parallel over cores.

Load scenarios, time steps and branch outages change the values of Ybus and of the
scheduled injections, never the Ybus pattern nor (when the bus types stay) the
Jacobian pattern. :func:`newton_block_batch` runs
:func:`~gridsim.solvers.newton.newton_block_kernel` (the Jacobian in 2x2 bus blocks;
SuperLU in Python where the block form does not apply) for every point in a ``prange``
loop: one Numba call for the whole batch, the GIL released, each point with its own
workspace (the kernel allocates its own vectors), all points sharing the Jacobian
pattern, the fill-reducing ordering and the symbolic LU. Points are independent:
results do not depend on the thread count or on the other points.

Numba's threading layer decides whether two Python threads may run these kernels at
the same time (the ``omp`` and ``tbb`` layers can, ``workqueue`` cannot); to use several
cores, prefer one batch with ``threads`` over Python threads.

Per point the kernel takes

* a row of ``ydata`` (``[n_y, nnz]``; one row is shared by every point) plus optional
  per-point additions at given positions (``dpos``/``dval``, ``[n_points, m]``; a branch
  outage is its four admittances subtracted), so an N-1 batch needs no copy of Ybus per
  outage;
* a row of ``sbus`` and of ``v0`` (``[n_points, n_bus]``, or one row shared).

When every point starts from one shared ``v0`` with one shared row of ``ydata`` (load
scenarios from a solved base case, N-1 from the base voltages), the Jacobian of every
point's *first* iteration differs from the shared one, J0, only through the point's
Ybus changes. J0 is then factorised once and each point's first Newton step is taken
from that LU: as it is for load scenarios (J0 is their Jacobian; only the mismatch
differs), and for branch outages with the compensation method of contingency analysis
(Woodbury's identity; J differs from J0 in the 2x2 blocks among the outaged branch's
buses, a rank-4 change): :func:`compensated_step`. The step is the exact Newton step,
so iterates and iteration counts are those of the plain path within rounding; it saves
one Jacobian evaluation and one factorisation per point (case1354pegase N-1, one
thread: 475 to 404 µs per outage; 1,000 case118 load scenarios: 42 to 37 µs each).

After that a point keeps its LU for chord steps once its steps cut the mismatch a
hundredfold (``reuse_lu``; see :func:`~gridsim.solvers.newton.newton_block_kernel`):
the 1,000 case118 scenarios then take one factorisation each instead of 2.4 (4.5 steps
instead of 3.4), about 1.2x faster per scenario on one or two threads, and
case1354pegase N-1 about 1.15x. The convergence test is unchanged and the states are
plain Newton's within it (tested); ``reuse_lu=0`` gives plain Newton and its iteration
counts.

No reactive-limit enforcement happens here (bus types are fixed for the batch); the
analysis layer (:func:`gridsim.analysis.batch.run_ac_batch`) re-solves points that
violate limits through :func:`gridsim.run_ac` when asked.

Points whose Numba LU meets a pivot it does not trust are finished afterwards in Python
with SuperLU (partial pivoting), from the iterate where the kernel stopped, as
:class:`~gridsim.solvers.newton.NewtonSolver` does for a single solve.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
from numba import prange

from gridsim.numerics._jit import njit
from gridsim.numerics.jacobian import block_jacobian_values, jacobian_block
from gridsim.numerics.mismatch import block_mismatch
from gridsim.solvers.newton import (
    CONVERGED_OR_LIMIT,
    NON_FINITE_MISMATCH,
    NON_FINITE_STEP,
    PIVOT_REJECTED,
    STALLED,
    block_update,
    block_workspace,
    newton_block_kernel,
    newton_solver,
    setpoint_start,
    stall_message,
)
from gridsim.solvers.sparse_lu import (
    PIVOT_TOLERANCE,
    block_backward,
    block_forward,
    block_forward_unit,
    block_numeric_lu,
    block_row_of_u_inverse,
)

__all__ = [
    "BatchResult",
    "branch_flows",
    "newton_block_batch",
    "newton_solver",
    "numba_threads",
    "outage_deltas",
    "point_injections",
    "solve_batch",
]

MESSAGES = {
    CONVERGED_OR_LIMIT: "iteration limit",
    NON_FINITE_STEP: "Jacobian solve gave non-finite steps",
    NON_FINITE_MISMATCH: "mismatch became non-finite",
}


@njit(parallel=True)
def newton_block_batch(
    system, ydata, dpos, dval, sbus, vdep, v0, tol, max_iter, shared_first, reuse
):  # pragma: no cover (jitted)
    """:func:`~gridsim.solvers.newton.newton_block_kernel` (the Jacobian in 2x2 bus
    blocks) for every point, in parallel.

    ``system`` is :meth:`~gridsim.solvers.newton.NewtonSolver.block_system`'s tuple.
    ``ydata`` ``[n_y, nnz]``, ``sbus`` and ``v0`` ``[n_s, n_bus]`` with ``n_y`` and
    ``n_s`` either 1 (shared) or the number of points; point ``i`` solves with Ybus
    values ``ydata[i] + sum_j dval[i, j] e_{dpos[i, j]}`` (``dpos``/``dval``
    ``[n_points, m]``, ``m`` may be 0; a position below 0 is skipped). ``vdep``, the
    voltage-dependent load beyond ``sbus``
    (:meth:`~gridsim.model.compile.CompiledNetwork.voltage_dependence`), is shared.

    ``shared_first`` (with one shared ``ydata`` row and one shared start): the first
    Newton step of every point is taken with one LU of the Jacobian at the start and
    the shared Ybus, computed once, corrected for the point's Ybus changes by
    :func:`compensated_step` (exact, a low-rank update); later iterations factorise as
    usual. Results are those of the plain path within rounding.

    ``reuse`` is the kernel's: each point keeps its LU for chord steps while its last
    step cut the mismatch below ``reuse`` times what it was (0: plain Newton).

    Returns ``(v, iterations, max_mismatch, status)`` per point (the kernel's codes).
    """
    indptr, indices, nodes, pqf, ypos, b_indptr, b_indices, l_ptr, l_idx, u_ptr, u_idx = system
    n_points = max(ydata.shape[0], sbus.shape[0], v0.shape[0], dpos.shape[0])
    n_bus = v0.shape[1]
    nb = nodes.size
    v_out = np.empty((n_points, n_bus), dtype=np.complex128)
    iterations = np.zeros(n_points, dtype=np.int64)
    norms = np.zeros(n_points)
    status = np.zeros(n_points, dtype=np.int8)
    shared_y = ydata.shape[0] == 1
    shared_s = sbus.shape[0] == 1
    shared_v = v0.shape[0] == 1
    m = dpos.shape[1]

    # the shared first LU: J at the shared start with the shared Ybus values
    shared_first = shared_first and shared_y and shared_v and max_iter > 0
    z = 1 if shared_first else 0  # the shared state is empty when not used
    start = (
        np.full(z * n_bus, -1, dtype=np.int64),  # node_of
        np.empty(z * n_bus),  # va0
        np.empty(z * n_bus),  # vm0
        np.empty(z * n_bus),  # 1 / vm0
        np.empty(z * n_bus, dtype=np.complex128),  # ibus0
        np.empty(z * 4 * l_idx.size),  # LU of J0: L
        np.empty(z * 4 * u_idx.size),  # U
        np.empty(z * 4 * nb),  # inverted diagonal blocks
    )
    node_of, va0, vm0, inv_vm0, ibus0, l0, u0, d0 = start
    if shared_first:
        for t in range(nb):
            node_of[nodes[t]] = t
        for i in range(n_bus):
            va0[i] = np.angle(v0[0, i])
            vm0[i] = abs(v0[0, i])
            inv_vm0[i] = 1.0 / vm0[i] if vm0[i] > 0.0 else 1.0
        f0 = np.empty(2 * nb)
        norm0 = block_mismatch(
            indptr, indices, ydata[0], v0[0], sbus[0], vdep, nodes, pqf, ibus0, f0
        )
        jdata = np.empty(4 * b_indices.size)
        work = np.zeros(4 * nb)
        block_jacobian_values(indptr, indices, ydata[0], v0[0], vm0, ibus0, vdep, ypos, pqf, jdata)
        lu_ok = block_numeric_lu(
            b_indptr,
            b_indices,
            jdata,
            l_ptr,
            l_idx,
            u_ptr,
            u_idx,
            PIVOT_TOLERANCE,
            l0,
            u0,
            d0,
            work,
        )
        shared_first = np.isfinite(norm0) and lu_ok

    for i in prange(n_points):
        yrow = ydata[0] if shared_y else ydata[i]
        di = np.int64(0) if dpos.shape[0] == 1 else np.int64(i)  # one row may serve all
        if m > 0:
            y = yrow.copy()
            for j in range(m):
                p = dpos[di, j]
                if p >= 0:
                    y[p] += dval[di, j]
        else:
            y = yrow
        s = sbus[0] if shared_s else sbus[i]
        v = v0[0] if shared_v else v0[i]
        vi = v.copy()
        if shared_first:
            positions = dpos[di]
            it, norm, st = _solve_from_shared_lu(
                system, y, s, vdep, vi, ydata[0], positions, start, tol, max_iter, reuse
            )
        else:
            va = np.empty(n_bus)
            vm = np.empty(n_bus)
            for b in range(n_bus):
                va[b] = np.angle(vi[b])
                vm[b] = abs(vi[b])
            work = block_workspace(system, n_bus)
            it, norm, st = newton_block_kernel(
                system, y, s, vdep, vi, va, vm, np.int64(0), tol, max_iter, reuse, work
            )
        for b in range(n_bus):  # a loop: a slice assignment compiles Numba's shape errors
            v_out[i, b] = vi[b]
        iterations[i] = it
        norms[i] = norm
        status[i] = st
    return v_out, iterations, norms, status


@njit
def _solve_from_shared_lu(
    system, y, s, vdep, v, y0, positions, start, tol, max_iter, reuse
):  # pragma: no cover (jitted)
    """One point of :func:`newton_block_batch` whose first step uses the shared LU
    (``start``: the batch's shared ``node_of, va0, vm0, 1/vm0, ibus0`` and LU of J0),
    from ``v`` (the shared start, updated in place). Returns what
    :func:`~gridsim.solvers.newton.newton_block_kernel` returns."""
    indptr, indices, nodes, pqf = system[0], system[1], system[2], system[3]
    va = start[1].copy()
    vm = start[2].copy()
    work = block_workspace(system, v.size)
    ibus, f = work[0], work[1]
    norm = block_mismatch(indptr, indices, y, v, s, vdep, nodes, pqf, ibus, f)
    if not np.isfinite(norm):
        return 0, norm, NON_FINITE_MISMATCH
    if norm < tol:
        return 0, norm, CONVERGED_OR_LIMIT
    if not compensated_step(system, y, ibus, y0, v, positions, start, f):
        return newton_block_kernel(
            system, y, s, vdep, v, va, vm, np.int64(0), tol, max_iter, reuse, work
        )
    if not block_update(f, nodes, pqf, va, vm, v):
        return 1, norm, NON_FINITE_STEP
    return newton_block_kernel(
        system, y, s, vdep, v, va, vm, np.int64(1), tol, max_iter, reuse, work
    )


@njit
def compensated_step(system, y, ibus, y0, v, positions, start, f):  # pragma: no cover (jitted)
    """The Newton step ``-J^-1 f`` at ``v`` for Ybus values ``y``, from the LU
    (``l0``, ``u0``, ``d0``) of ``J0``, the Jacobian at the same ``v`` for values
    ``y0``; ``f`` is overwritten by the step. ``y`` differs from ``y0`` only at
    ``positions``, so J differs from J0 only in the blocks among the buses those
    entries join (a set A of k buses): ``J = J0 + E D E^T`` with E the 2k block columns
    of the identity at A and D the 2k x 2k change. With ``W = E^T U0^-1``,
    ``P = L0^-1 E`` and ``x = L0^-1 (-f)``, the step is
    ``U0^-1 (x - P D u)`` where ``(I + W P D) u = W x`` (Woodbury's identity, as in
    the compensation method of contingency analysis): two triangular solves plus 2k
    sparse ones, no factorisation. Returns False (``f`` then undefined) when the
    2k x 2k system is singular.

    ``system`` is the block kernels' tuple and ``start`` the batch's shared state
    (``node_of``, angles, magnitudes and their inverses, ``ibus0 = Ybus0 v``, and the LU
    of J0: ``l0``, ``u0``, ``d0``).
    """
    indptr, indices, nodes, pqf, _, _, _, l_ptr, l_idx, u_ptr, u_idx = system
    node_of, _, _, inv_vm, ibus0, l0, u0, d0 = start
    nb = nodes.size
    for k in range(f.size):
        f[k] = -f[k]
    block_forward(l_ptr, l_idx, l0, f)
    # the system buses (blocks) whose Jacobian blocks change
    aff = np.empty(2 * positions.size, dtype=np.int64)
    k = 0
    for j in range(positions.size):
        p = positions[j]
        if p < 0:
            continue
        r = np.searchsorted(indptr, p, side="right") - 1
        for bus in (r, np.int64(indices[p])):  # one type: indices may be unsigned
            t = node_of[bus]
            if t < 0:
                continue
            seen = False
            for a in range(k):
                seen = seen or aff[a] == t
            if not seen:
                aff[k] = t
                k += 1
    if k > 0:
        kk = 2 * k
        w = np.empty((k, 4 * nb))
        pm = np.empty((k, 4 * nb))
        for a in range(k):
            block_row_of_u_inverse(u_ptr, u_idx, u0, d0, aff[a], w[a])
            block_forward_unit(l_ptr, l_idx, l0, aff[a], pm[a])
        # D: the change of the Jacobian blocks among A
        dm = np.zeros((kk, kk))
        for a in range(k):
            ra = nodes[aff[a]]
            for b in range(k):
                rb = nodes[aff[b]]
                y_new = 0j
                y_old = 0j
                for q in range(indptr[ra], indptr[ra + 1]):
                    if indices[q] == rb:
                        y_new = y[q]
                        y_old = y0[q]
                diag = ra == rb
                n0, n1, n2, n3 = jacobian_block(
                    y_new, v[ra], v[rb], inv_vm[ra], inv_vm[rb], ibus[ra], pqf[ra], pqf[rb], diag
                )
                o0, o1, o2, o3 = jacobian_block(
                    y_old, v[ra], v[rb], inv_vm[ra], inv_vm[rb], ibus0[ra], pqf[ra], pqf[rb], diag
                )
                dm[2 * a, 2 * b] = n0 - o0
                dm[2 * a, 2 * b + 1] = n1 - o1
                dm[2 * a + 1, 2 * b] = n2 - o2
                dm[2 * a + 1, 2 * b + 1] = n3 - o3
        # W x and W P (2x2 blocks summed over the block rows where both are nonzero)
        rhs = np.zeros(kk)
        wp = np.zeros((kk, kk))
        for a in range(k):
            wa = w[a]
            for j in range(aff[a], nb):
                rhs[2 * a] += wa[4 * j] * f[2 * j] + wa[4 * j + 1] * f[2 * j + 1]
                rhs[2 * a + 1] += wa[4 * j + 2] * f[2 * j] + wa[4 * j + 3] * f[2 * j + 1]
            for b in range(k):
                pb = pm[b]
                for j in range(max(aff[a], aff[b]), nb):
                    q = 4 * j
                    wp[2 * a, 2 * b] += wa[q] * pb[q] + wa[q + 1] * pb[q + 2]
                    wp[2 * a, 2 * b + 1] += wa[q] * pb[q + 1] + wa[q + 1] * pb[q + 3]
                    wp[2 * a + 1, 2 * b] += wa[q + 2] * pb[q] + wa[q + 3] * pb[q + 2]
                    wp[2 * a + 1, 2 * b + 1] += wa[q + 2] * pb[q + 1] + wa[q + 3] * pb[q + 3]
        mat = np.eye(kk)
        for a in range(kk):
            for b in range(kk):
                for c in range(kk):
                    mat[a, b] += wp[a, c] * dm[c, b]
        if not _dense_solve(mat, rhs):
            return False
        g = np.zeros(kk)
        for a in range(kk):
            for c in range(kk):
                g[a] += dm[a, c] * rhs[c]
        for b in range(k):
            pb = pm[b]
            g0, g1 = g[2 * b], g[2 * b + 1]
            for j in range(aff[b], nb):
                q = 4 * j
                f[2 * j] -= pb[q] * g0 + pb[q + 1] * g1
                f[2 * j + 1] -= pb[q + 2] * g0 + pb[q + 3] * g1
    block_backward(u_ptr, u_idx, u0, d0, f)
    return True


@njit
def _dense_solve(a, b):  # pragma: no cover (jitted)
    """Solve the small dense system ``a x = b`` in place (``b`` becomes ``x``; ``a`` is
    destroyed) by Gaussian elimination with partial pivoting; False when singular."""
    n = b.size
    scale = 0.0
    for i in range(n):
        for j in range(n):
            scale = max(scale, abs(a[i, j]))
    if not (scale > 0.0) or not np.isfinite(scale):
        return False
    for c in range(n):
        piv = c
        for r in range(c + 1, n):
            if abs(a[r, c]) > abs(a[piv, c]):
                piv = r
        if not (abs(a[piv, c]) > 1e-12 * scale):
            return False
        if piv != c:
            for j in range(n):
                a[c, j], a[piv, j] = a[piv, j], a[c, j]
            b[c], b[piv] = b[piv], b[c]
        for r in range(c + 1, n):
            factor = a[r, c] / a[c, c]
            if factor != 0.0:
                for j in range(c, n):
                    a[r, j] -= factor * a[c, j]
                b[r] -= factor * b[c]
    for c in range(n - 1, -1, -1):
        acc = b[c]
        for j in range(c + 1, n):
            acc -= a[c, j] * b[j]
        b[c] = acc / a[c, c]
    return True


@njit(parallel=True)
def branch_flows(v, br_f, br_t, yff, yft, ytf, ytt, outaged):  # pragma: no cover (jitted)
    """Complex power entering each branch at its from and to ends, per point (p.u.).

    ``v`` ``[n_points, n_bus]``; ``outaged[i]`` (or -1) is a branch carrying nothing in
    point ``i``. Returns ``(s_from, s_to)``, ``[n_points, n_branch]``.
    """
    n_points = v.shape[0]
    nbr = br_f.size
    s_from = np.empty((n_points, nbr), dtype=np.complex128)
    s_to = np.empty((n_points, nbr), dtype=np.complex128)
    for i in prange(n_points):
        for k in range(nbr):
            vf = v[i, br_f[k]]
            vt = v[i, br_t[k]]
            s_from[i, k] = vf * np.conj(yff[k] * vf + yft[k] * vt)
            s_to[i, k] = vt * np.conj(ytf[k] * vf + ytt[k] * vt)
        if outaged[i] >= 0:
            s_from[i, outaged[i]] = 0.0
            s_to[i, outaged[i]] = 0.0
    return s_from, s_to


@njit(parallel=True)
def point_injections(
    base, energised, sn_mva, load_bus, load_s0, load_s, inj_bus, inj_p0, inj_p
):  # pragma: no cover (jitted)
    """Scheduled injections per point, p.u.: ``base`` (``[n_bus]``, p.u.) changed by each
    point's load values (``load_s`` complex MVA ``[n_points or 1, n_load]`` against
    ``load_s0``) and injector outputs (``inj_p`` MW ``[n_points or 1, n_inj]`` against
    ``inj_p0``), at energised buses only. Returns ``[n_points, n_bus]``."""
    n_points = max(load_s.shape[0], inj_p.shape[0])
    n_bus = base.size
    out = np.empty((n_points, n_bus), dtype=np.complex128)
    scale = 1.0 / sn_mva
    for i in prange(n_points):
        for b in range(n_bus):
            out[i, b] = base[b]
        ls = load_s[0] if load_s.shape[0] == 1 else load_s[i]
        for j in range(load_bus.size):
            b = load_bus[j]
            if energised[b]:
                out[i, b] += (load_s0[j] - ls[j]) * scale
        ip = inj_p[0] if inj_p.shape[0] == 1 else inj_p[i]
        for j in range(inj_bus.size):
            b = inj_bus[j]
            if energised[b]:
                out[i, b] += (ip[j] - inj_p0[j]) * scale
    return out


def outage_deltas(cn, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``dpos``/``dval`` for :func:`newton_block_batch` taking branches out, one per point.

    Parameters
    ----------
    cn : CompiledNetwork
    positions : ndarray of int
        Compiled branch position of the outage of each point.

    Returns
    -------
    dpos : ndarray of int, ``[n_points, 4]``
        Positions in ``cn.ydata`` of the branch's ``Yff, Yft, Ytf, Ytt``.
    dval : ndarray of complex, ``[n_points, 4]``
        Minus those admittances.
    """
    positions = np.asarray(positions, dtype=np.int64)
    yff, yft, ytf, ytt = cn.branch_y()
    dpos = np.ascontiguousarray(cn.ypos[:, positions].T, dtype=np.int64)
    dval = -np.stack([yff[positions], yft[positions], ytf[positions], ytt[positions]], axis=1)
    return dpos, np.ascontiguousarray(dval, dtype=np.complex128)


@dataclass
class BatchResult:
    """Per-point state after :func:`solve_batch` (arrays, first axis: points).

    Attributes
    ----------
    v : ndarray of complex, ``[n_points, n_bus]``
        Bus voltages, p.u. (the last iterate where a point did not converge).
    converged : ndarray of bool
    iterations : ndarray of int
    max_mismatch : ndarray of float
        Largest bus mismatch at the last iterate, p.u. of the power base (inf where it
        became non-finite).
    status : ndarray of int8
        :mod:`gridsim.solvers.newton`'s codes as the kernel returned them
        (``PIVOT_REJECTED`` for points finished with SuperLU).
    fallback : ndarray of bool
        Points finished in Python with SuperLU after a rejected pivot (every point with
        ``linear_solver="scipy"``).
    messages : dict
        Point index → reason, for points that did not converge.
    """

    v: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    max_mismatch: np.ndarray
    status: np.ndarray
    fallback: np.ndarray
    messages: dict

    @property
    def n_points(self) -> int:
        return self.v.shape[0]


@contextmanager
def numba_threads(threads: int | None) -> Iterator[None]:
    """Run the parallel kernels of the ``with`` block on ``threads`` Numba threads
    (capped at ``NUMBA_NUM_THREADS``; None: leave the setting alone), then restore it."""
    if threads is None:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _rows(a: np.ndarray, n_cols: int, name: str, dtype) -> np.ndarray:
    from gridsim.exceptions import GridsimError

    a = np.asarray(a, dtype=dtype)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != n_cols:
        raise GridsimError(f"{name} must have {n_cols} columns, got shape {a.shape}")
    return np.ascontiguousarray(a)


def solve_batch(
    cn,
    sbus: np.ndarray,
    *,
    ydata: np.ndarray | None = None,
    dpos: np.ndarray | None = None,
    dval: np.ndarray | None = None,
    v0: np.ndarray | None = None,
    bus_type: np.ndarray | None = None,
    tol_mva: float = 1e-8,
    max_iter: int = 30,
    threads: int | None = None,
    linear_solver: str = "numba",
    shared_first_step: bool = True,
    reuse_lu: float = 0.01,
) -> BatchResult:
    """Newton-Raphson power flows of many points sharing ``cn``'s Ybus pattern.

    One parallel Numba call solves every point (see the module docstring); points whose
    LU pivot was rejected are then finished with SuperLU in Python. Bus types are fixed:
    no reactive-limit enforcement.

    Parameters
    ----------
    cn : CompiledNetwork
        Pattern, bus types and ordering; its Newton solver (pattern, symbolic LU) is
        cached on it and shared with :func:`gridsim.run_ac`.
    sbus : ndarray of complex, ``[n_points, n_bus]`` or ``[n_bus]``
        Scheduled injections, p.u. (a 1-D array is shared by every point), without
        the voltage-dependent part of ``cn``'s loads
        (:meth:`~gridsim.model.compile.CompiledNetwork.voltage_dependence`, as
        :meth:`~gridsim.model.compile.CompiledNetwork.sbus`), which every point shares.
    ydata : ndarray of complex, ``[n_points, nnz]`` or ``[nnz]``, optional
        Ybus values on ``cn``'s pattern; default ``cn.ydata`` for every point.
    dpos, dval : ndarray, ``[n_points, m]`` or ``[1, m]``, optional
        Per-point additions to Ybus values (positions, complex values; a position
        below 0 is ignored), e.g. from :func:`outage_deltas`; one row is applied to
        every point.
    v0 : ndarray of complex, ``[n_points, n_bus]`` or ``[n_bus]``, optional
        Start; default a flat start (setpoint magnitudes, slack angles). A given start
        has its PV and slack magnitudes set to the setpoints first, angles kept
        (:func:`~gridsim.solvers.newton.setpoint_start`).
    bus_type : ndarray of int, optional
        Bus types (default ``cn.bus_type``).
    tol_mva : float
        Convergence when the largest bus mismatch is below this, MVA.
    max_iter : int
        Newton iterations allowed per point.
    threads : int, optional
        Numba threads for this call (default: Numba's current setting).
    linear_solver : {"numba", "scipy"}
        ``"numba"``: the parallel kernel (default). ``"scipy"``: every point in turn
        through :class:`~gridsim.solvers.newton.NewtonSolver` with SuperLU (slow; a
        reference).
    shared_first_step : bool
        When the points share one start and one set of Ybus values (before
        ``dpos``/``dval``), take every point's first Newton step with one shared LU
        (see :func:`newton_block_batch`; the default). False: factorise every step of
        every point (the reference the shared step is tested against).
    reuse_lu : float
        A point's next step keeps its last LU (a chord step: no new Jacobian, no
        factorisation) while its last step cut its largest mismatch below ``reuse_lu``
        times what it was (see :func:`~gridsim.solvers.newton.newton_block_kernel`);
        0 gives plain Newton-Raphson. The convergence test is unchanged (the largest
        mismatch below ``tol_mva``); iteration counts include the chord steps. Only
        the Numba kernel reuses LUs.

    Returns
    -------
    BatchResult
    """
    from gridsim.exceptions import GridsimError

    n, nnz = cn.n_bus, cn.indices.size
    if not (tol_mva > 0):
        raise GridsimError(f"tol_mva must be positive, got {tol_mva!r}")
    if not (0.0 <= reuse_lu < 1.0):
        raise GridsimError(f"reuse_lu must be in [0, 1), got {reuse_lu!r}")
    tol = tol_mva / cn.sn_mva
    sb = _rows(sbus, n, "sbus", np.complex128)
    yd = _rows(cn.ydata if ydata is None else ydata, nnz, "ydata", np.complex128)
    bt = cn.bus_type if bus_type is None else bus_type
    if v0 is None:
        vs = _rows(_flat_start(cn, bt), n, "v0", np.complex128)
    else:
        vs = setpoint_start(cn, _rows(v0, n, "v0", np.complex128), bt)
    if dpos is None:
        dp = np.zeros((1, 0), dtype=np.int64)
        dv = np.zeros((1, 0), dtype=np.complex128)
    else:
        dp = np.ascontiguousarray(dpos, dtype=np.int64)
        dv = np.ascontiguousarray(dval, dtype=np.complex128)
        if dp.ndim != 2 or dp.shape != dv.shape:
            raise GridsimError(
                f"dpos and dval must be 2-D of one shape, got {dp.shape}, {dv.shape}"
            )
    counts = {a.shape[0] for a in (sb, yd, vs, dp)} - {1}
    if len(counts) > 1:
        raise GridsimError(f"point counts differ between the inputs: {sorted(counts)}")
    n_points = counts.pop() if counts else 1

    if linear_solver not in ("numba", "scipy"):
        raise GridsimError(f"linear_solver must be 'numba' or 'scipy', got {linear_solver!r}")
    solver = newton_solver(cn, bus_type)
    if n_points == 0:
        empty = np.zeros(0, dtype=bool)
        return BatchResult(
            np.zeros((0, n), dtype=complex),
            empty,
            np.zeros(0, dtype=np.int64),
            np.zeros(0),
            np.zeros(0, dtype=np.int8),
            empty,
            {},
        )
    if solver.pvpq.size == 0:  # nothing to solve: every bus is a slack or de-energised
        v = np.broadcast_to(vs, (n_points, n)).copy()
        zeros = np.zeros(n_points)
        return BatchResult(
            v,
            np.ones(n_points, dtype=bool),
            np.zeros(n_points, dtype=np.int64),
            zeros,
            np.zeros(n_points, dtype=np.int8),
            np.zeros(n_points, dtype=bool),
            {},
        )

    block = None if linear_solver == "scipy" else getattr(solver, "block", None)
    if block is None:  # SuperLU chosen, or the block LU rejected a pivot of this pattern
        v = np.empty((n_points, n), dtype=np.complex128)
        iterations = np.zeros(n_points, dtype=np.int64)
        norms = np.full(n_points, np.inf)
        status = np.full(n_points, PIVOT_REJECTED, dtype=np.int8)  # all through SuperLU
        v[:] = vs
        return _finish_with_superlu(
            cn, bus_type, yd, dp, dv, sb, v, iterations, norms, status, tol, max_iter
        )
    with numba_threads(threads):
        v, iterations, norms, status = newton_block_batch(
            solver.block_system,
            yd,
            dp,
            dv,
            sb,
            cn.voltage_dependence(),
            vs,
            tol,
            max_iter,
            shared_first_step and n_points > 1,
            float(reuse_lu),
        )

    return _finish_with_superlu(
        cn, bus_type, yd, dp, dv, sb, v, iterations, norms, status, tol, max_iter
    )


def _finish_with_superlu(
    cn, bus_type, yd, dp, dv, sb, v, iterations, norms, status, tol, max_iter
) -> BatchResult:
    """Go on with SuperLU for the points whose pivot the Numba LU rejected (from their
    last iterate) and collect the results."""
    converged = (status == CONVERGED_OR_LIMIT) & (norms < tol)
    fallback = status == PIVOT_REJECTED
    bt = cn.bus_type if bus_type is None else bus_type
    stalled = status == STALLED
    messages: dict[int, str] = {}
    if fallback.any():
        scipy_solver = newton_solver(cn, bus_type, "scipy")
        for i in np.flatnonzero(fallback):
            res = scipy_solver.solve(
                _point_ydata(yd, dp, dv, i),
                sb[0 if sb.shape[0] == 1 else i],
                v[i],
                tol=tol,
                max_iter=max_iter - int(iterations[i]),
                vdep=cn.voltage_dependence(),
            )
            v[i] = res.v
            iterations[i] += res.iterations
            norms[i] = res.max_mismatch
            converged[i] = res.converged
            stalled[i] = res.stalled
            if not res.converged:
                messages[int(i)] = res.message
    for i in np.flatnonzero(stalled):
        s = sb[0 if sb.shape[0] == 1 else i]
        messages[int(i)] = stall_message(cn, bt, _point_ydata(yd, dp, dv, i), v[i], s, norms[i])
    for i in np.flatnonzero(~converged & ~fallback & ~stalled):
        messages[int(i)] = MESSAGES.get(int(status[i]), "not converged")
    norms[status == NON_FINITE_MISMATCH] = np.inf
    return BatchResult(v, converged, iterations, norms, status, fallback, messages)


def _point_ydata(yd, dp, dv, i: int) -> np.ndarray:
    """Point ``i``'s Ybus values: its row of ``yd`` plus its ``dpos``/``dval`` additions."""
    y = yd[0 if yd.shape[0] == 1 else i].copy()
    if dp.shape[1]:
        r = 0 if dp.shape[0] == 1 else i
        ok = dp[r] >= 0
        np.add.at(y, dp[r][ok], dv[r][ok])
    return y


def _flat_start(cn, bus_type: np.ndarray) -> np.ndarray:
    """Setpoint magnitudes at voltage-controlled buses, 1 elsewhere; each island's
    slack angle; 0 at de-energised buses (as :func:`gridsim.run_ac`'s ``"flat"``)."""
    from gridsim.model.compile import NONE, PV, REF

    vm = np.where((bus_type == PV) | (bus_type == REF), cn.vm_set, 1.0)
    va = np.zeros(cn.n_bus)
    for members in cn.islands:
        refs = members[bus_type[members] == REF]
        if refs.size:
            va[members] = cn.va_set[refs[0]]
    v = vm * np.exp(1j * va)
    v[bus_type == NONE] = 0.0
    return v
