"""Preventive voltage control of :func:`~gridsim.analysis.ttc.n1_ttc`.

Where the AC check of a base case, or of a transfer LP's optimum, finds only voltages
out of their limits (the LPs move active power only), the voltage setpoints of the
generators and the steps of switched shunt banks (``shunt.max_step``: capacitor banks,
converter filters, reactors) are the operator's preventive controls.
:func:`voltage_round` moves them least: a mixed-integer linear program (HiGHS)

    min  sum_c |d_c| + BANK_STEP_COST sum_k |s_k|
    s.t. lo_b <= V_sb + sum_c S_sbc d_c + sum_k T_sbk s_k <= hi_b
                                    every bus b, in the intact state and after each
                                    outage with a violation
         vmin_c <= vset_c + d_c <= vmax_c, |d_c| <= MAX_MOVE_PU
         0 <= step_k + s_k <= max_step_k, s_k integer

(the outages: the ``MAX_OUTAGES`` whose violations are the largest; a bus out of its
limits after hundreds of outages, as a converter's terminal can be, would otherwise cost
hundreds of solves per control) over the setpoint moves ``d_c`` of the
voltage-controlling buses within ``MAX_HOPS`` branches of a violated bus (every unit on
a bus moves together; the ``MAX_CONTROLS`` nearest) and the step changes ``s_k`` of the
switched banks as near (the ``MAX_BANKS`` nearest). A step costs as much as moving a
setpoint by ``BANK_STEP_COST`` p.u. (the least switching; a unit at its reactive limit
cannot hold its setpoint, a bank always gives its Mvar at the voltage). The
sensitivities ``S_sbc`` and ``T_sbk`` are AC finite differences: each setpoint moved by
``STEP_PU``, each bank by one step, and the intact state and the violated outages solved
again (reactive limits as in the check, so a unit at its limit shows no effect).
Violated voltages are aimed ``MARGIN_PU`` inside their limit; the others may not leave
theirs (nor go further where already outside within the check's tolerance). The
setpoints stay within the bus's own voltage limits. The caller checks the moved dispatch
in AC against every outage and calls again while voltages are left: the sensitivities
are re-taken at each round's point.
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
MIN_SENSITIVITY = 1e-4  # p.u. per p.u. (or per step): smaller entries are taken as zero
MAX_BANKS = 8  # switched shunt banks: the nearest ones with a step to switch, at most
BANK_STEP_COST = 0.01  # one bank step costs as much as this setpoint move (p.u.)
MAX_OUTAGES = 12  # post-contingency states linearised: those of the worst violations


def voltage_round(net: Network, chk: _Check, check: _Checker) -> tuple[Network | None, str]:
    """One round of preventive voltage control at the checked dispatch ``chk`` of
    ``net`` (module docstring).

    Returns
    -------
    (Network or None, str)
        The dispatch with its units' ``vm_pu`` and its banks' ``step`` moved, and
        ``""``; or None and why no move was found (no control near, or none holds every
        voltage).
    """
    v = chk.violations
    bad = v[(v.kind == "voltage") & (v.excess > _tolerance(v))]
    cn = net.compile()
    pos = cn.bus_ids.get_indexer(bad.id.tolist())
    dist = _hops(cn, np.unique(pos[pos >= 0]))
    controls = [("unit", c) for c in _controls(net, cn, dist)]
    controls += [("shunt", k) for k in _banks(net, dist, cn.bus_ids)]
    if not controls:
        return None, f"no voltage-controlling unit or switched bank within {MAX_HOPS} branches"
    by_label = {o.label: o for o in check.outages}
    worst = bad.sort_values("excess", ascending=False, kind="stable").contingency.dropna()
    outages = [by_label[c] for c in list(dict.fromkeys(worst))[:MAX_OUTAGES]]
    states = _states(net, chk.result, outages, check)  # [(vm, lo, hi, fix)] per state
    if states is None:
        return None, "the outages of the violated voltages did not solve"
    sens = []
    for c in controls:
        step = _probe(net, c)
        after = _states(_moved(net, cn, {c: step}), None, outages, check)
        if after is None:
            sens.append([np.zeros_like(s[0]) for s in states])
            continue
        sens.append([_diff(a[0], s[0]) / step for a, s in zip(after, states, strict=True)])
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
        return None, "a violated voltage is not moved by any control near it"
    banks = np.array([kind == "shunt" for kind, _ in controls])
    bounds = _bounds(net, cn, controls)
    d = _solve(coef[keep], vm[keep], want_lo[keep], want_hi[keep], bounds, banks)
    if d is None:
        return None, "no setpoints or bank steps near them hold every voltage"
    move = {c: x for c, x in zip(controls, d, strict=True) if abs(x) > 1e-6}
    if not move:
        return None, "the controls need not move (linearised)"
    return _moved(net, cn, move), ""


def _hops(cn, violated: np.ndarray) -> np.ndarray:
    """Per compiled bus, its distance (branches) from the nearest ``violated`` bus."""
    n = cn.bus_ids.size
    graph = sp.coo_matrix((np.ones(cn.br_f.size), (cn.br_f, cn.br_t)), shape=(n, n)).tocsr()
    hops = shortest_path(graph, directed=False, unweighted=True, indices=violated)
    return np.min(np.atleast_2d(hops), axis=0)


def _controls(net: Network, cn, dist: np.ndarray) -> np.ndarray:
    """Compiled positions of the voltage-controlling buses with an in-service unit, by
    distance ``dist`` (branches, :func:`_hops`), at most ``MAX_CONTROLS``."""
    n = cn.bus_ids.size
    gen = net.gen[net.gen.in_service.to_numpy(dtype=bool)]
    has_unit = np.zeros(n, dtype=bool)
    at = cn.bus_ids.get_indexer(gen.bus.tolist())
    has_unit[at[at >= 0]] = True
    ok = has_unit & np.isin(cn.bus_type, (PV, REF)) & (dist <= MAX_HOPS)
    found = np.flatnonzero(ok)
    return found[np.argsort(dist[found], kind="stable")][:MAX_CONTROLS]


def _banks(net: Network, dist: np.ndarray, bus_ids: pd.Index) -> list:
    """Ids of the in-service switched banks (finite ``max_step``, a step to switch in or
    out) on energised buses within ``MAX_HOPS`` of a violated one, nearest first, at most
    ``MAX_BANKS``."""
    sh = net.shunt
    if not len(sh):
        return []
    top = sh.max_step.to_numpy(dtype=float)
    step = sh.step.to_numpy(dtype=float)
    at = bus_ids.get_indexer(sh.bus.tolist())
    hop = np.where(at >= 0, dist[np.maximum(at, 0)], np.inf)
    ok = sh.in_service.to_numpy(dtype=bool) & np.isfinite(top) & (top > 0) & (hop <= MAX_HOPS)
    ok &= (step < top) | (step >= 1)
    found = np.flatnonzero(ok)
    order = found[np.argsort(hop[found], kind="stable")][:MAX_BANKS]
    return [sh.index[i] for i in order]


def _probe(net: Network, control) -> float:
    """The finite-difference step of a control: ``STEP_PU`` for a setpoint; one step
    of a bank, in if it has one left, else out."""
    kind, key = control
    if kind == "unit":
        return STEP_PU
    return 1.0 if net.shunt.step[key] + 1 <= net.shunt.max_step[key] else -1.0


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
    """``net`` with its controls moved: ``("unit", compiled bus)``: the units there by a
    change of setpoint (p.u.); ``("shunt", id)``: the bank by a number of steps."""
    out = net.copy()
    gen = out.gen
    on = gen.in_service.to_numpy(dtype=bool)
    for (kind, key), d in move.items():
        if kind == "unit":
            at = on & (gen.bus.to_numpy() == cn.bus_ids[key])
            gen.loc[at, "vm_pu"] = gen.vm_pu[at].to_numpy(dtype=float) + d
        else:
            out.shunt.loc[key, "step"] = float(out.shunt.step[key] + round(d))
    out.invalidate()
    return out


def _bounds(net: Network, cn, controls: list) -> tuple[np.ndarray, np.ndarray]:
    """Each control's move bounds: a setpoint within its bus's voltage limits and
    ``MAX_MOVE_PU``; a bank's steps within 0 and ``max_step``."""
    down, up = np.zeros(len(controls)), np.zeros(len(controls))
    for i, (kind, key) in enumerate(controls):
        if kind == "unit":
            vset, bus = cn.vm_set[key], cn.bus_ids[key]
            lo, hi = net.bus.min_vm_pu.get(bus, np.nan), net.bus.max_vm_pu.get(bus, np.nan)
            down[i] = max(np.nan_to_num(lo - vset, nan=-np.inf), -MAX_MOVE_PU)
            up[i] = min(np.nan_to_num(hi - vset, nan=np.inf), MAX_MOVE_PU)
        else:
            step = float(net.shunt.step[key])
            down[i], up[i] = -np.floor(step), np.floor(float(net.shunt.max_step[key]) - step)
    return np.minimum(down, 0.0), np.maximum(up, 0.0)


def _solve(coef, vm, lo, hi, bounds, banks: np.ndarray) -> np.ndarray | None:
    """The program of the module docstring: ``d = d_up - d_down``, least weighted sum
    of both; the banks' (``banks``: boolean per control) integer."""
    n = coef.shape[1]
    a = sp.csr_matrix(np.hstack([coef, -coef]))
    inf = highspy.kHighsInf
    weight = np.where(banks, BANK_STEP_COST, 1.0)
    h = _highs_model(
        a,
        np.concatenate([weight, weight]),
        np.zeros(2 * n),
        np.concatenate([bounds[1], -bounds[0]]),
        np.where(np.isfinite(lo), lo - vm, -inf),
        np.where(np.isfinite(hi), hi - vm, inf),
    )
    integer = np.flatnonzero(np.concatenate([banks, banks])).astype(np.int32)
    if integer.size:
        h.changeColsIntegrality(
            integer.size, integer, np.full(integer.size, highspy.HighsVarType.kInteger)
        )
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value, dtype=float)
    return x[:n] - x[n:]
