"""Reactive limits of voltage controllers in the AC power flow: the state the limit
rounds change (:class:`_LimitState`), one round (:func:`_apply_q_limits`: every
controller outside its limits held at it, its bus PQ, as MATPOWER's ``ENFORCE_Q_LIMS``),
and the warm start from an earlier solution's limits (:func:`_warm_limits`,
:func:`_release`: ``run_ac``'s ``q_start``). :func:`gridsim.run_ac` runs the rounds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gridsim.analysis.dispatch import injector_q_share, slack_share
from gridsim.model.compile import PQ, PV, REF, CompiledNetwork
from gridsim.model.network import plain
from gridsim.results import PowerFlowResult

MATPOWER_Q_VIOLATION = 5e-6  # Mvar, MATPOWER's mpopt.opf.violation


def _loads_at(cn: CompiledNetwork, v: np.ndarray) -> CompiledNetwork:
    """``cn`` with each load drawing what it draws at voltages ``v`` at constant
    power (``cn`` itself where every load draws constant power): what the results and
    the reactive-limit shares at ``v`` are worked out from."""
    if cn.load_z is None:
        return cn
    return replace(cn, load_s=cn.loads_at(v), load_z=None, load_i=None)


class _LimitState:
    """What Q-limit enforcement changes: bus types, injectors held at fixed Q (and, for
    a limited slack, fixed P), which injectors are slack, and the original bus types.

    Until :meth:`change` (``changed`` False) the arrays are the compiled network's own
    (and a shared read-only NaN array): read them, never write them.
    """

    def __init__(self, cn: CompiledNetwork):
        self.bus_type = cn.bus_type
        self.q_fixed = self.p_fixed = cn.memo("inj-unset", (cn.inj_kind,), lambda: _unset(cn))
        self.slack = cn.inj_slack
        self.original_type = cn.bus_type
        self.va_set = cn.va_set
        self.island = cn.island
        self.changed = False

    def change(self) -> None:
        """Take copies of the arrays a limit changes (once, before the first change)."""
        if not self.changed:
            self.bus_type = self.bus_type.copy()
            self.q_fixed = self.q_fixed.copy()
            self.p_fixed = self.p_fixed.copy()
            self.slack = self.slack.copy()
            self.changed = True

    def restore_angles(self, v: np.ndarray) -> np.ndarray:
        """Turn each island whose reference moved so its original slack keeps its angle."""
        if not self.changed:
            return v
        original_ref = np.flatnonzero(self.original_type == REF)
        for r, va in zip(original_ref, self.va_set[original_ref], strict=True):
            if self.bus_type[r] != REF:
                members = self.island == self.island[r]
                v = v.copy()
                v[members] *= np.exp(1j * (va - np.angle(v[r])))
        return v


_NO_BUS = np.zeros(0, dtype=np.int64)
VM_RELEASE_TOL = 1e-9  # p.u.: a held bus this far on its controllers' side is released
PINNED_MARGIN_PU = 1e-3  # p.u.: one already that side in q_start, this much further


def _warm_limits(cn: CompiledNetwork, state: _LimitState, start: PowerFlowResult):
    """Hold the voltage controllers that ``start`` (run_ac's ``q_start``) ended held at
    the same reactive outputs, and make their buses PQ. A bus is held only where it
    controls its voltage in ``cn`` and every controller at it was held in ``start`` (as
    :func:`_apply_q_limits` leaves them).

    Returns
    -------
    held : ndarray of int
        The buses held.
    threshold : ndarray of float
        Per held bus, how far (p.u.) its voltage must lie on its release side
        (:func:`_release_side`) for :func:`_release` to free it: ``VM_RELEASE_TOL``, or,
        where its voltage in ``start`` already lay that side (held in a round that fixed
        several at once and then pushed past its setpoint by the others: freed at once,
        it only finds its limit again), ``PINNED_MARGIN_PU`` beyond where it lay."""
    plan = _warm_plan(cn, start)
    if plan is None:
        return _NO_BUS, np.zeros(0)
    fixed, q, buses, threshold = plan
    state.change()
    state.q_fixed[fixed] = q
    state.bus_type[buses] = PQ
    return buses, threshold


def _warm_plan(cn: CompiledNetwork, start: PowerFlowResult):
    """What :func:`_warm_limits` sets on ``cn`` from ``start``: the injectors held, their
    reactive outputs, the buses held and their release thresholds (None: nothing to
    hold). Kept on ``start`` per set of ``cn``'s arrays where ``cn`` shares ``start``'s
    injectors (every branch outage of a base case: one plan); worked out afresh for
    others (a unit's outage has its own arrays, which a kept plan would keep alive)."""
    limits = getattr(start, "_limits", None)
    if limits is None or start.kind != "ac":
        return None
    if cn.inj_id is not start.cn.inj_id:
        return _plan(cn, start, *limits)
    deps = (cn.inj_kind, cn.inj_id, cn.inj_bus, cn.inj_pv, cn.bus_type, cn.bus_ids, cn.vm_set)
    deps += (cn.inj_qmin, cn.inj_qmax)
    key = tuple(map(id, deps))
    plans = start.__dict__.setdefault("_warm_plans", {})
    if key in plans:
        return plans[key][1]
    plan = _plan(cn, start, *limits)
    plans[key] = (deps, plan)  # the arrays held: their ids stay theirs
    return plan


def _plan(cn: CompiledNetwork, start: PowerFlowResult, q_then, p_then):
    if not np.isnan(p_then).all():  # a slack at a limit: not carried over
        return None
    if np.isnan(q_then).all():
        return None
    scn = start.cn
    pos = _injector_map(scn, cn)
    q = q_then if pos is None else np.where(pos >= 0, q_then[np.maximum(pos, 0)], np.nan)
    ctrl = cn.inj_pv & (cn.bus_type[cn.inj_bus] == PV)
    fixed = ctrl & ~np.isnan(q)
    if not fixed.any():
        return None
    partly = np.unique(cn.inj_bus[ctrl & np.isnan(q)])
    buses = np.setdiff1d(np.unique(cn.inj_bus[fixed]), partly)
    if buses.size == 0:
        return None
    fixed = np.flatnonzero(fixed & _at(cn, buses))
    q_fixed = np.full(cn.inj_kind.size, np.nan)
    q_fixed[fixed] = q[fixed]
    at = buses if scn.bus_ids is cn.bus_ids else scn.bus_ids.get_indexer(cn.bus_ids[buses])
    v_then = np.where(at >= 0, start.v[np.maximum(at, 0)], np.nan)
    side = _release_side(cn, v_then, q_fixed, buses)
    threshold = np.where(side > VM_RELEASE_TOL, side + PINNED_MARGIN_PU, VM_RELEASE_TOL)
    for a in (fixed, q_fixed, buses, threshold):
        a.flags.writeable = False
    return fixed, q_fixed[fixed], buses, threshold


def _injector_map(old: CompiledNetwork, new: CompiledNetwork) -> np.ndarray | None:
    """Position in ``old`` of each injector of ``new`` (by kind and id; -1: not there),
    or None where both hold the same injectors in the same order. Fast where ``new``
    lacks one of ``old``'s (a unit's outage)."""
    a_kind, a_id, b_kind, b_id = old.inj_kind, old.inj_id, new.inj_kind, new.inj_id
    if a_id is b_id and a_kind is b_kind:
        return None
    n, m = a_id.size, b_id.size
    if n == m and np.array_equal(a_kind, b_kind) and np.array_equal(a_id, b_id):
        return None
    if n == m + 1:  # one taken out: the first position where they part
        differ = np.flatnonzero((a_kind[:m] != b_kind) | (a_id[:m] != b_id))
        k = int(differ[0]) if differ.size else m
        if np.array_equal(a_kind[k + 1 :], b_kind[k:]) and np.array_equal(a_id[k + 1 :], b_id[k:]):
            return np.concatenate([np.arange(k), np.arange(k + 1, n)])
    index = old.memo("inj-index", (a_kind, a_id), lambda: _index(a_kind, a_id))
    keys = zip(b_kind.tolist(), b_id.tolist(), strict=True)
    return np.array([index.get(key, -1) for key in keys], dtype=np.int64)


def _index(kind: np.ndarray, ids: np.ndarray) -> dict:
    return {key: n for n, key in enumerate(zip(kind.tolist(), ids.tolist(), strict=True))}


def _at(cn: CompiledNetwork, buses: np.ndarray) -> np.ndarray:
    """Per injector: whether its bus is one of ``buses``."""
    mask = np.zeros(cn.n_bus, dtype=bool)
    mask[buses] = True
    return mask[cn.inj_bus]


def _release_side(cn: CompiledNetwork, v: np.ndarray, q_fixed: np.ndarray, buses: np.ndarray):
    """Per bus of ``buses`` (held at ``q_fixed``, voltages ``v`` in that order): how far
    (p.u.) its voltage lies on the side of its setpoint where its held controllers regain
    control: above it with one at its upper reactive limit, below it at its lower
    (negative on the other side; -inf where no held controller has a reactive range)."""
    inj = np.flatnonzero(cn.inj_pv & _at(cn, buses))
    inj = inj[cn.inj_qmax[inj] > cn.inj_qmin[inj]]
    q = q_fixed[inj]
    at_max = np.zeros(cn.n_bus, dtype=bool)
    at_min = np.zeros(cn.n_bus, dtype=bool)
    at_max[cn.inj_bus[inj[q >= cn.inj_qmax[inj]]]] = True
    at_min[cn.inj_bus[inj[q <= cn.inj_qmin[inj]]]] = True
    dev = np.abs(v) - cn.vm_set[buses]
    side = np.where(at_min[buses], -dev, -np.inf)
    return np.where(at_max[buses], np.fmax(dev, side), side)


def _release(cn, v: np.ndarray, state: _LimitState, held: np.ndarray, threshold: np.ndarray):
    """Which of the ``held`` buses (from ``q_start``) to free: still PQ, with the
    voltage at ``v`` past ``threshold`` on its release side (:func:`_release_side`).
    They turn PV again, their controllers free; returns the mask over ``held``."""
    back = state.bus_type[held] == PQ
    if back.any():
        with np.errstate(invalid="ignore"):
            back &= _release_side(cn, v[held], state.q_fixed, held) > threshold
    if back.any():
        freed = held[back]
        state.q_fixed[cn.inj_pv & _at(cn, freed)] = np.nan
        state.bus_type[freed] = PV
    return back


def _unset(cn: CompiledNetwork) -> np.ndarray:
    """All NaN per injector, read-only: no output fixed."""
    unset = np.full(cn.inj_kind.size, np.nan)
    unset.flags.writeable = False
    return unset


def _apply_q_limits(
    cn: CompiledNetwork, v, state: _LimitState, one_at_a_time: bool, limit_slack: bool
):
    """Fix violating voltage controllers at their limit and make their buses PQ.

    Updates ``state`` in place; returns the buses switched and an error message (empty
    unless a limited slack left its island without a PV bus to take over).
    """
    cn = _loads_at(cn, v)
    q, s_calc = injector_q_share(cn, v, state.bus_type, state.q_fixed)
    bt = state.bus_type[cn.inj_bus]
    candidates = cn.inj_pv & np.isnan(state.q_fixed) & ((bt == PV) | (limit_slack & (bt == REF)))
    margin = MATPOWER_Q_VIOLATION if limit_slack else 0.0
    over = candidates & (q > cn.inj_qmax + margin)
    under = candidates & (q < cn.inj_qmin - margin)
    hit = np.flatnonzero(over | under)
    if hit.size == 0:
        return hit, ""
    state.change()
    if one_at_a_time:
        excess = np.where(over, q - cn.inj_qmax, 0.0) + np.where(under, cn.inj_qmin - q, 0.0)
        worst = int(np.argmax(excess))
        keep = np.zeros_like(over)
        keep[worst] = True
        over, under, hit = over & keep, under & keep, np.array([worst])
    buses = np.unique(cn.inj_bus[hit])
    lost_ref = buses[state.bus_type[buses] == REF]
    if lost_ref.size:  # freeze the slack's active output at what it supplies now
        p_now = slack_share(cn, s_calc.real, state)
        at = np.isin(cn.inj_bus, lost_ref) & state.slack
        state.p_fixed[at] = p_now[at]
        state.slack[at] = False
    state.q_fixed[over] = cn.inj_qmax[over]
    state.q_fixed[under] = cn.inj_qmin[under]
    # every other voltage controller at those buses is held at its share as well
    others = np.flatnonzero(_at(cn, buses) & cn.inj_pv & np.isnan(state.q_fixed))
    state.q_fixed[others] = q[others]
    state.bus_type[buses] = PQ
    for b in lost_ref:  # MATPOWER's bustypes: the island's first PV bus becomes the slack
        candidates_pv = np.flatnonzero((state.island == state.island[b]) & (state.bus_type == PV))
        if candidates_pv.size == 0:
            return buses, (
                f"every voltage controller of the island of bus "
                f"{plain(cn.bus_ids[b])!r} is at a reactive limit; no slack left"
            )
        new = candidates_pv[0]
        state.bus_type[new] = REF
        state.slack |= (cn.inj_bus == new) & cn.inj_pv & np.isnan(state.q_fixed)
    return buses, ""
