"""Phase 2 of :func:`~gridsim.analysis.ttc.n1_ttc`: the transfer from the secured base case
(the package docstring, item 2).

:func:`_transfer` runs the LP rounds (:func:`gridsim.analysis.scopf.max_transfer`,
re-linearised at each AC-checked point), the bisection (:func:`_bisect`) where AC fails
on a limit the LP does not model, and the step beyond the TTC that must break a limit,
with screened AC checks first; it prices the TTC (:mod:`gridsim.analysis.ttc.prices`)
and returns the :class:`~gridsim.analysis.ttc.result.TtcResult`, or the one of a base
case that cannot be secured."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from gridsim.analysis.scopf import ScopfResult, max_transfer
from gridsim.analysis.scopf.problems import _joining_signs, _shift_keys
from gridsim.analysis.ttc.base import SecuredBase, _kept, _step_change, _voltage_only
from gridsim.analysis.ttc.check import (
    LP_KINDS,
    SCREEN_RETRIES,
    THERMAL_TOL,
    VOLTAGE_TOL_PU,
    _grid_at,
    _table,
    _tolerance,
)
from gridsim.analysis.ttc.dispatch import _blend, _moves, _zones
from gridsim.analysis.ttc.joint import _proposal
from gridsim.analysis.ttc.prices import _ac_prices
from gridsim.analysis.ttc.result import TtcResult
from gridsim.analysis.ttc.voltage import voltage_round
from gridsim.model.network import Network, plain


def _outside(table: pd.DataFrame) -> str:
    """The thermal violations outside the CNECs, counted in words ("" where none)."""
    if not len(table):
        return ""
    return f"; {len(table)} thermal violation(s) outside the CNECs, not held (outside_cnec)"


def _within(options: dict) -> str:
    """The redispatch bound of the base case, in words ("" where none)."""
    bound = options["base_redispatch_limit_percent"]
    return "" if bound is None else f" within {bound:g} % redispatch per zone"


def _transfer(network: Network, base: SecuredBase, source, sink, options: dict, start: float):
    """The TTC from the secured ``base`` (its checker state copied)."""
    redispatch_areas, sink_element, hvdc = (
        options[k] for k in ("redispatch_areas", "sink_element", "hvdc")
    )
    trm_mw, committed_mw, tol_mw, rel_tol, max_mw = (
        options[k] for k in ("trm_mw", "committed_mw", "tol_mw", "rel_tol", "max_mw")
    )
    max_rounds = options["max_rounds"]
    voltage_control, voltage_rows = options["voltage_control"], options["voltage_rows"]
    faces = base._faces
    shared = _kept(base._shared)
    check = base._check.fork(shared)
    chk = base._chk
    grid_args = dict(
        emergency_rating_percent=options["emergency_rating_percent"],
        reuse=shared,
        cnecs=base.cnecs,
    )
    secured_note, lp_note = base._notes
    base_units = pd.Index(network.gen.index)
    base_moves = base.base_redispatch_mw
    common = dict(
        trm_mw=float(trm_mw),
        committed_mw=float(committed_mw),
        base_redispatch_mw=base_moves,
        base_redispatch_zone=base.base_redispatch_zone,
        base_hvdc_change_mw=base.base_hvdc_change_mw,
        base_voltage_change_pu=base.base_voltage_change_pu,
        base_shunt_step_change=base.base_shunt_step_change,
        base_violations_removed=base.base_violations_removed,
        ordinary=base.ordinary,
        exceptional=base.exceptional,
        set_aside=base.set_aside,
        base_rounds=base.base_rounds,
        cnecs=base.cnecs,
        options=options,
    )
    if not base.secured:
        worst = chk.violations.iloc[0]
        after = f" after the outage of {worst.contingency}" if worst.contingency else ""
        message = (
            f"N-1 TTC not defined: base case cannot be secured{_within(options)}: "
            f"{len(chk.violations)} AC "
            f"violation(s) remain after {base.base_rounds} redispatch LP(s); worst: {worst.kind} "
            f"{worst.element} {str(worst.id)!r}{after}{lp_note}{_outside(base.outside_cnec)}"
        )
        return TtcResult(
            ttc_mw=np.nan,
            atc_mw=np.nan,
            status="base case cannot be secured" + secured_note,
            message=message + secured_note,
            binding=None,
            binding_rows=pd.DataFrame(),
            rating_prices=pd.Series(dtype=float),
            next_step=_table([]),
            next_step_mw=np.nan,
            hvdc=pd.DataFrame(),
            redispatch_mw=pd.Series(dtype=float),
            redispatch_zone=_zones(network, pd.Series(dtype=float)),
            residual=base.residual,
            outside_cnec=base.outside_cnec,
            rounds=0,
            ac_checks=check.count,
            elapsed_s=time.perf_counter() - start,
            network=base.network.copy(),
            secured_network=base.network,
            **common,
        )

    secured = base.network
    src, snk = _shift_keys(secured, source, sink, sink_element)
    first_grid = _grid_at(secured, chk, check, grid_args)
    signs = _joining_signs(first_grid, src, snk, sink_element)
    moved = base.base_hvdc_change_mw
    exchange = float(sum(signs[j] * float(mw) for j, mw in moved.items() if j in signs))
    links = list(signs)
    if hvdc is not None:
        links = [j for j in links if j in set(hvdc)]

    def step_of(t):
        return max(tol_mw, rel_tol * abs(t))

    # the voltages an AC check of this search found out of their limits: rows of every
    # later LP (linearised at each AC point on the AC sensitivities), so that the LP
    # turns away from a direction that breaks them instead of the search stopping on it
    watch: set = set()
    outages = check.outages

    def grid_at(net_k, chk_k):
        return _grid_at(net_k, chk_k, check, dict(grid_args, voltage_watch=frozenset(watch)))

    def search(screen: bool, start=None, restarts: int = 0):
        """The LP rounds, the bisection and the step beyond; with ``screen``, the AC
        checks on the way solve only the outages the screen (:meth:`_Checker._suspects`)
        finds near a limit, and the TTC found is then checked against every outage.
        ``start``: an AC-secure point ``(net, t, check)`` to go on from (default the
        secured base case). Returns ``(best, lp, rounds, nxt)``; where that last check
        fails, None (the outages it found broken now solved at every screened check,
        :meth:`~gridsim.analysis.ttc.check._Checker.force`), or False where they were
        already."""
        best = now = (secured, 0.0, chk) if start is None else start
        lp: ScopfResult | None = None
        grid = first_grid if start is None else grid_at(start[0], start[2])
        rounds = rooms = 0
        failing = None  # (net, t) of the last failing point
        while rounds < max_rounds + rooms:
            rounds += 1
            net_k, t_k, chk_k = now
            if rounds > 1:
                grid = grid_at(net_k, chk_k)
            lp = max_transfer(
                grid,
                src,
                snk,
                sink_element=sink_element,
                hvdc=links,
                redispatch=redispatch_areas,
                interfaces=faces,
                min_mw=-t_k,
                max_mw=None if max_mw is None else max_mw - t_k,
                thermal_tol=THERMAL_TOL,
                voltage_tol=VOLTAGE_TOL_PU,
            )
            if lp.status != "optimal":
                break
            cand, t_c = lp.apply(net_k), t_k + lp.transfer_mw
            if abs(lp.transfer_mw) < step_of(t_k) / 2 and chk_k.ok:
                # the LP stands still at an AC-secure point: where a voltage row binds
                # it, the voltage control gives that voltage room and the LPs go on
                lifted = None
                if voltage_rows and voltage_control and rooms < MAX_ROOMS:
                    lifted = _room(net_k, chk_k, lp, check, grid if screen else None)
                if lifted is None:
                    break
                rooms += 1
                now = best = (lifted[0], t_k, lifted[1])
                continue
            chk_c = check(cand, grid=grid if screen else None)
            if voltage_control and not voltage_rows and _voltage_only(chk_c, lp_kinds=True):
                moved, _ = voltage_round(cand, chk_c, check)
                if moved is not None:  # the units' voltage setpoints hold the voltages
                    chk_m = check(moved, grid=grid if screen else None)
                    if chk_m.ok or chk_m.lp_fixable:  # what is left, the next LP holds
                        cand, chk_c = moved, chk_m
            if chk_c.ok:
                now = (cand, t_c, chk_c)
                best = now if t_c >= best[1] else best
                failing = None
            elif rounds < max_rounds + rooms and _lp_rows(chk_c, watch, outages):
                # what is broken, the next LP holds: linearised again here
                now, failing = (cand, t_c, chk_c), (cand, t_c)
            elif voltage_rows and rounds < max_rounds + rooms and t_c > best[1]:
                # a limit the LP does not model (a voltage, an outage that does not
                # solve): back to the last AC-secure point along this direction, and
                # where a voltage broke there (or here), the LPs go on from that point
                # with it as a row
                best, _, last = _bisect(
                    check, best, (cand, t_c), step_of, grid if screen else None, voltage_control
                )
                now, failing = best, None
                known = len(watch)
                for c in (chk_c, last):
                    if c is not None:
                        _watched(c, watch, outages)
                if len(watch) == known:
                    break
            else:
                failing = (cand, t_c)
                break
        if failing is not None and failing[1] > best[1]:
            best, _, _ = _bisect(
                check, best, failing, step_of, grid if screen else None, voltage_control
            )
        # the step beyond the TTC along the same direction must break a limit
        net_b, t_b, _ = best
        nxt = None
        if t_b > 0:
            direction = (secured, 0.0)
        elif lp.transfer_mw >= step_of(0.0):  # no transfer: the direction of the last LP,
            direction = (lp.apply(secured), lp.transfer_mw)
        else:  # or of the shift keys alone (the links and the units held)
            along = dataclasses.replace(
                lp, transfer_mw=1.0, hvdc=lp.hvdc.iloc[:0], redispatch_mw=lp.redispatch_mw.iloc[:0]
            )
            direction = (along.apply(secured), 1.0)
        for _ in range(STEPS_BEYOND):
            if t_b > 0:
                t_n = t_b + step_of(t_b)
                probe = _blend(secured, net_b, t_n / t_b)
            else:
                t_n = step_of(0.0)
                probe = _blend(secured, direction[0], t_n / direction[1])
            if max_mw is not None and t_n > max_mw:
                break
            nxt = (t_n, check(probe, fail_fast=True, grid=grid if screen else None))
            if voltage_control and nxt[1].broken:  # held by the voltage setpoints?
                probe, held = _held_voltages(check, probe, nxt[1], grid if screen else None)
                nxt = (t_n, held)
            if nxt[1].broken or not nxt[1].complete:
                break
            best = (probe, t_n, nxt[1])  # it holds every limit
            net_b, t_b, _ = best
            nxt = None
        else:
            if t_b > 0 and restarts < RESTARTS:
                # every step held (the voltage setpoints that held the first step gave
                # room): the LP rounds go on from there, as from the base case
                more = search(screen, best, restarts + 1)
                if not more:
                    return more
                best, lp_more, more_rounds, nxt = more
                return best, lp_more or lp, rounds + more_rounds, nxt
        if best[2].skipped:
            full = check(best[0])
            if not full.ok:
                return None if check.force(full) else False
            best = (best[0], best[1], full)
        return best, lp, rounds, nxt

    # where outages the screen passed over break a limit at the TTC found, the screened
    # search runs again with them solved at every check, and, as a last resort (or where
    # nothing new was found), unscreened
    for _ in range(SCREEN_RETRIES + 1):
        found = search(screen=True)
        if found is not None:  # found, or nothing new to force (False)
            break
    if not found:
        found = search(screen=False)
    best, lp, rounds, nxt = found
    net_b, t_b, chk_b = best
    ttc = float(best[1])
    at_best = first_grid if ttc <= 0 else None
    if lp is not None and ttc > 0:
        # the shadow prices of the LP re-linearised at the AC optimum, AC-corrected
        at_best = grid_at(net_b, chk_b)
        lp = _ac_prices(
            check,
            at_best,
            net_b,
            lp,
            dict(
                source=src,
                sink=snk,
                sink_element=sink_element,
                hvdc=links,
                redispatch=redispatch_areas,
                interfaces=faces,
                min_mw=-ttc,
                max_mw=None if max_mw is None else max_mw - ttc,
                thermal_tol=THERMAL_TOL,
                voltage_tol=VOLTAGE_TOL_PU,
            ),
        )
    proposal = (None, 0.0)
    if options["joint_base"] and at_best is not None:
        # the base case chosen with the transfer: tried by n1_ttc where it gains
        proposal = _proposal(
            base,
            first_grid,
            at_best,
            src,
            snk,
            {j: signs[j] for j in links},
            ttc,
            exchange,
            options,
        )
    binding_rows = lp.binding if lp is not None else pd.DataFrame()
    binding = None
    if len(binding_rows):
        top = binding_rows.iloc[0]
        binding = {k: top[k] for k in ("kind", "element", "id", "contingency", "shadow_price")}
    hv = pd.DataFrame(
        {
            "base_mw": secured.hvdc.p_mw.reindex(links).to_numpy(dtype=float),
            "p_mw": net_b.hvdc.p_mw.reindex(links).to_numpy(dtype=float),
            "max_p_mw": secured.hvdc.max_p_mw.reindex(links).to_numpy(dtype=float),
        },
        index=pd.Index([plain(i) for i in links], name="hvdc"),
    )
    shift = pd.Series(0.0, index=base_units).add(ttc * src, fill_value=0.0).reindex(base_units)
    if sink_element == "gen":
        shift = shift.sub(ttc * snk, fill_value=0.0).reindex(base_units)
    moves = _moves(secured, net_b, base_units).sub(shift, fill_value=0.0)
    moves = moves[np.abs(moves) > 1e-6].rename("redispatch_mw")
    v_change = (net_b.gen.vm_pu - secured.gen.vm_pu).rename("change_pu")
    next_table = nxt[1].violations if nxt is not None else _table([])
    limit = (
        f"; a step more ({nxt[0]:.6g} MW) breaks {next_table.kind.iloc[0]} "
        f"{next_table.element.iloc[0]} {str(next_table.id.iloc[0])!r}"
        + (
            f" after the outage of {next_table.contingency.iloc[0]}"
            if next_table.contingency.iloc[0]
            else ""
        )
        if nxt is not None and len(next_table)
        else ""
    )
    base_note = (
        f" from a base case secured by {base_moves.abs().sum():.6g} MW of redispatch"
        if len(base_moves)
        else ""
    )
    return TtcResult(
        ttc_mw=ttc,
        atc_mw=ttc - trm_mw - committed_mw,
        status="optimal" + secured_note,
        message=f"N-1 TTC {ttc:.6g} MW{base_note}{limit}{_outside(chk_b.outside)}{secured_note}",
        binding=binding,
        binding_rows=binding_rows,
        rating_prices=lp.rating_prices() if lp is not None else pd.Series(dtype=float),
        next_step=next_table,
        next_step_mw=nxt[0] if nxt is not None else np.nan,
        hvdc=hv,
        redispatch_mw=moves,
        redispatch_zone=_zones(network, moves),
        voltage_change_pu=v_change[np.abs(v_change) > 1e-9],
        shunt_step_change=_step_change(secured, net_b),
        residual=_table([]),
        outside_cnec=chk_b.outside,
        rounds=rounds,
        ac_checks=check.count,
        elapsed_s=time.perf_counter() - start,
        network=net_b if net_b is not secured else secured.copy(),  # the base is kept
        base_exchange_change_mw=exchange,
        secured_network=secured,
        _proposal=proposal,
        **common,
    )


def _broken_voltages(chk, outages: list) -> set:
    """``(outage, bus)`` of the voltages ``chk`` finds out of their limits beyond the
    tolerance (``outage``: the :class:`Outage` of ``outages`` after which, None intact;
    its key, which of identical circuits aside)."""
    v = chk.violations
    bad = v[(v.kind == "voltage") & (v.excess > _tolerance(v))]
    by_label = {o.label: o for o in outages}
    out = set()
    for c, b in zip(bad.contingency, bad.id, strict=True):
        if not c:
            out.add((None, b))
            continue
        o = by_label.get(c)
        out.add((o.key if o is not None else ("?", c, 0), b))
    return out


def _lp_rows(chk, watch: set, outages: list) -> bool:
    """Every limit ``chk`` finds broken is of a kind the LPs model, or a voltage they
    hold as a row (in ``watch``)."""
    v = chk.violations
    bad = v[v.excess > _tolerance(v)]
    volts = bad.kind == "voltage"
    if not bad.kind[~volts].isin(LP_KINDS).all():
        return False
    return not volts.any() or _broken_voltages(chk, outages) <= watch


def _watched(chk, watch: set, outages: list) -> bool:
    """Add the voltages ``chk`` finds broken (intact or after one of ``outages``) to
    ``watch``; True where there are any."""
    broken = {(c, b) for c, b in _broken_voltages(chk, outages) if c is None or c[0] != "?"}
    watch |= broken
    return bool(broken)


def _room(net: Network, chk, lp: ScopfResult, check, grid):
    """``(net, check)`` with the voltages of ``lp``'s binding voltage rows given room by
    the voltage control: :func:`voltage_round` asked to hold each ``ROOM_PU`` inside
    its limit (at the state the row is of); None where it cannot or the moved dispatch
    breaks a limit in AC."""
    b = lp.binding
    rows = b[(b.kind == "voltage") & (b.shadow_price > 0)]
    if not len(rows):
        return None
    tight = net.copy()
    bus = tight.bus
    wanted = []
    for r in rows.itertuples():
        lo, hi = float(bus.at[r.id, "min_vm_pu"]), float(bus.at[r.id, "max_vm_pu"])
        if np.nan_to_num(r.flow_mw - lo, nan=np.inf) <= np.nan_to_num(hi - r.flow_mw, nan=np.inf):
            # at its lower limit
            bus.at[r.id, "min_vm_pu"] = limit = max(lo, r.flow_mw) + ROOM_PU
        else:
            bus.at[r.id, "max_vm_pu"] = limit = min(hi, r.flow_mw) - ROOM_PU
        row = ("voltage", "bus", r.id, r.contingency, r.flow_mw, limit, ROOM_PU)
        wanted.append(row)
    tight.invalidate()
    moved, _ = voltage_round(tight, dataclasses.replace(chk, violations=_table(wanted)), check)
    if moved is None:
        return None
    out = net.copy()
    out.gen["vm_pu"] = moved.gen.vm_pu
    if len(out.shunt):
        out.shunt["step"] = moved.shunt.step
    out.invalidate()
    c = check(out, grid=grid)
    return (out, c) if c.ok else None


ROOM_PU = 0.03  # a binding voltage row's room asked of the voltage control (_room)
MAX_ROOMS = 6  # times per search (each with its LP rounds beside max_rounds)
STEPS_BEYOND = 8  # steps of the search tolerance past the TTC before the LPs go on
RESTARTS = 3  # times the LP rounds go on from a point where every step beyond held


def _held_voltages(check, trial: Network, c, grid):
    """``(trial, c)`` with the voltages ``c`` finds broken (and nothing else) held by the
    units' voltage setpoints (:func:`voltage_round`) where that holds every limit, else
    as given."""
    if c.ok or not _voltage_only(c):
        return trial, c
    moved, _ = voltage_round(trial, c, check)
    if moved is None:
        return trial, c
    c_moved = check(moved, fail_fast=True, grid=grid)
    return (moved, c_moved) if c_moved.ok else (trial, c)


def _bisect(check, ok, bad, step_of, grid, voltage_control: bool = False):
    """Bisection on ``t`` between AC-secure ``ok = (net, t, check)`` and failing ``bad =
    (net, t)`` along the line joining them (with ``voltage_control``, a point that breaks
    voltages only is held by the units' voltage setpoints where they can); returns
    ``(last secure, last failing t, its check)`` (the check None where no midpoint
    failed)."""
    (net_lo, t_lo, _), (net_hi, t_hi) = ok, bad
    span = t_hi - t_lo
    lo_s, hi_s = 0.0, 1.0
    failed = None
    while (hi_s - lo_s) * span > step_of(t_lo + lo_s * span):
        mid = 0.5 * (lo_s + hi_s)
        trial = _blend(net_lo, net_hi, mid)
        c = check(trial, fail_fast=True, grid=grid)
        if voltage_control:
            trial, c = _held_voltages(check, trial, c, grid)
        if c.ok:
            lo_s, ok = mid, (trial, t_lo + mid * span, c)
        else:
            hi_s, failed = mid, c
    return ok, t_lo + hi_s * span, failed
