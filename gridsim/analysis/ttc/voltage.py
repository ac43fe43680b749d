"""Preventive voltage control of :func:`~gridsim.analysis.ttc.n1_ttc`.

Where the AC check of a base case, or of a transfer LP's optimum, finds only voltages
out of their limits (the LPs move active power only), the voltage setpoints of the
generators are the operator's preventive control. :func:`voltage_round` moves them least: a linear
program (HiGHS)

    min  sum_c |d_c|
    s.t. lo_b <= V_sb + sum_c S_sbc d_c <= hi_b     every bus b, in the intact state and
                                                   after each outage with a violation
         vmin_c <= vset_c + d_c <= vmax_c, |d_c| <= MAX_MOVE_PU

over the setpoint moves ``d_c`` of the voltage-controlling buses within ``MAX_HOPS``
branches of a violated bus (every unit on a bus moves together). The sensitivities
``S_sbc`` are AC finite differences: each control moved by ``STEP_PU`` and the intact
state and the violated outages solved again (reactive limits as in the check, so a unit
at its limit shows no effect). Violated voltages are aimed ``MARGIN_PU`` inside their
limit; the others may not leave theirs (nor go further where already outside within the
check's tolerance). The setpoints stay within the bus's own voltage limits. The caller
checks the moved dispatch in AC against every outage and calls again while voltages
are left: the sensitivities are re-taken at each round's point.
"""

from __future__ import annotations

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from gridsim.analysis.outages import Outage, solve_outage
from gridsim.analysis.powerflow import run_ac
from gridsim.analysis.scopf.lp import _highs_model
from gridsim.analysis.ttc.check import BASE_MAX_ITER, _Check, _Checker, _tolerance
from gridsim.model.compile import NONE, PV, REF
from gridsim.model.network import Network

STEP_PU = 0.005  # finite-difference step of a setpoint
MARGIN_PU = 0.002  # a violated voltage is aimed this far inside its limit
MAX_HOPS = 6  # controls: voltage-controlling buses this close to a violated bus
MAX_CONTROLS = 24  # the nearest ones, at most
MAX_MOVE_PU = 0.05  # largest move of one setpoint per round
MIN_SENSITIVITY = 1e-4  # p.u. per p.u.: smaller entries are taken as zero


def voltage_round(net: Network, chk: _Check, check: _Checker) -> tuple[Network | None, str]:
    """One round of preventive voltage control at the checked dispatch ``chk`` of
    ``net`` (module docstring).

    Returns
    -------
    (Network or None, str)
        The dispatch with its units' ``vm_pu`` moved, and ``""``; or None and why no
        move was found (no control near, or no setpoints hold every voltage).
    """
    v = chk.violations
    bad = v[(v.kind == "voltage") & (v.excess > _tolerance(v))]
    cn = net.compile()
    pos = cn.bus_ids.get_indexer(bad.id.tolist())
    controls = _controls(net, cn, np.unique(pos[pos >= 0]))
    if not controls.size:
        return None, f"no voltage-controlling unit within {MAX_HOPS} branches"
    by_label = {o.label: o for o in check.outages}
    outages = [by_label[c] for c in dict.fromkeys(bad.contingency.dropna())]
    states = _states(net, chk.result, outages, check)  # [(vm, lo, hi, fix)] per state
    if states is None:
        return None, "the outages of the violated voltages did not solve"
    sens = []
    for c in controls:
        moved = _moved(net, cn, {c: STEP_PU})
        after = _states(moved, None, outages, check)
        if after is None:
            sens.append([np.zeros_like(s[0]) for s in states])
            continue
        sens.append([_diff(a[0], s[0]) / STEP_PU for a, s in zip(after, states, strict=True)])
    vm = np.concatenate([s[0] for s in states])
    lo = np.concatenate([s[1] for s in states])
    hi = np.concatenate([s[2] for s in states])
    fix = np.concatenate([s[3] for s in states])
    coef = np.column_stack([np.concatenate(rows) for rows in sens])
    coef[np.abs(coef) < MIN_SENSITIVITY] = 0.0
    with np.errstate(invalid="ignore"):
        want_lo = np.where(fix & (vm < lo), lo + MARGIN_PU, np.fmin(lo, vm))
        want_hi = np.where(fix & (vm > hi), hi - MARGIN_PU, np.fmax(hi, vm))
    keep = np.isfinite(vm) & (np.abs(coef).sum(axis=1) > 0)
    if (fix & ~keep & np.isfinite(vm)).any():
        return None, "a violated voltage is not moved by any unit's setpoint near it"
    d = _solve(coef[keep], vm[keep], want_lo[keep], want_hi[keep], _bounds(net, cn, controls))
    if d is None:
        return None, "no setpoints of the units near them hold every voltage"
    move = {c: x for c, x in zip(controls, d, strict=True) if abs(x) > 1e-6}
    if not move:
        return None, "the voltage setpoints need not move (linearised)"
    return _moved(net, cn, move), ""


def _controls(net: Network, cn, violated: np.ndarray) -> np.ndarray:
    """Compiled positions of the voltage-controlling buses with an in-service unit, by
    distance (branches) from the ``violated`` buses, at most ``MAX_CONTROLS``."""
    n = cn.bus_ids.size
    graph = sp.coo_matrix((np.ones(cn.br_f.size), (cn.br_f, cn.br_t)), shape=(n, n)).tocsr()
    hops = shortest_path(graph, directed=False, unweighted=True, indices=violated)
    dist = np.min(np.atleast_2d(hops), axis=0)
    gen = net.gen[net.gen.in_service.to_numpy(dtype=bool)]
    has_unit = np.zeros(n, dtype=bool)
    at = cn.bus_ids.get_indexer(gen.bus.tolist())
    has_unit[at[at >= 0]] = True
    ok = has_unit & np.isin(cn.bus_type, (PV, REF)) & (dist <= MAX_HOPS)
    found = np.flatnonzero(ok)
    return found[np.argsort(dist[found], kind="stable")][:MAX_CONTROLS]


def _states(net: Network, res, outages: list[Outage], check: _Checker):
    """Per state (intact, then each outage): bus voltages (compiled bus order of
    ``net``; NaN where de-energised), their limits and which are out of them."""
    if res is None:
        res = run_ac(net, enforce_q_limits=check.q_limits, max_iter=BASE_MAX_ITER)
        if not res.converged:
            return None
    cn = res.cn
    lo = net.bus.min_vm_pu.reindex(cn.bus_ids).to_numpy(dtype=float)
    hi = net.bus.max_vm_pu.reindex(cn.bus_ids).to_numpy(dtype=float)
    out = [_state(res, cn.bus_ids, lo, hi)]
    for o in outages:
        post = solve_outage(net, o, base=res, enforce_q_limits=check.q_limits, reuse=check.reuse)
        if not post.converged:
            return None
        out.append(_state(post.power_flow, cn.bus_ids, lo, hi))
    return out


def _state(res, bus_ids: pd.Index, lo, hi):
    vm = np.where(res.cn.bus_type != NONE, np.abs(res.v), np.nan)
    if not res.cn.bus_ids.equals(bus_ids):
        vm = pd.Series(vm, index=res.cn.bus_ids).reindex(bus_ids).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        fix = (vm < lo - 1e-12) | (vm > hi + 1e-12)
    return vm, lo, hi, fix


def _diff(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    return np.nan_to_num(after - before, nan=0.0)


def _moved(net: Network, cn, move: dict) -> Network:
    """``net`` with the units at compiled buses ``move`` (position: change, p.u.) moved."""
    out = net.copy()
    gen = out.gen
    on = gen.in_service.to_numpy(dtype=bool)
    for c, d in move.items():
        at = on & (gen.bus.to_numpy() == cn.bus_ids[c])
        gen.loc[at, "vm_pu"] = gen.vm_pu[at].to_numpy(dtype=float) + d
    out.invalidate()
    return out


def _bounds(net: Network, cn, controls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each control's move bounds: its setpoint within its bus's voltage limits and
    ``MAX_MOVE_PU``."""
    vset = cn.vm_set[controls]
    ids = cn.bus_ids[controls]
    lo = net.bus.min_vm_pu.reindex(ids).to_numpy(dtype=float)
    hi = net.bus.max_vm_pu.reindex(ids).to_numpy(dtype=float)
    down = np.maximum(np.nan_to_num(lo, nan=-np.inf) - vset, -MAX_MOVE_PU)
    up = np.minimum(np.nan_to_num(hi, nan=np.inf) - vset, MAX_MOVE_PU)
    return np.minimum(down, 0.0), np.maximum(up, 0.0)


def _solve(coef, vm, lo, hi, bounds) -> np.ndarray | None:
    """The LP of the module docstring: ``d = d_up - d_down``, minimal sum of both."""
    n = coef.shape[1]
    a = sp.csr_matrix(np.hstack([coef, -coef]))
    inf = highspy.kHighsInf
    h = _highs_model(
        a,
        np.ones(2 * n),
        np.zeros(2 * n),
        np.concatenate([bounds[1], -bounds[0]]),
        np.where(np.isfinite(lo), lo - vm, -inf),
        np.where(np.isfinite(hi), hi - vm, inf),
    )
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value, dtype=float)
    return x[:n] - x[n:]
