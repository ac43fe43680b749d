"""The AC check of :func:`~gridsim.analysis.ttc.n1_ttc`: a dispatch's N-0 and N-1 states
solved in AC and the limits they break.

:class:`_Checker` checks dispatches of one network against the studied outages
(:func:`gridsim.analysis.outages.solve_outage`), with the screen of the checks on the way
to the TTC (:meth:`_Checker._suspects`: only the outages predicted near a limit are
solved) and the state kept between checks; :class:`_Check` is one check's outcome, its
violations a table of ``VIOLATION_COLUMNS`` (:func:`_table`). The tolerances within which
a limit holds (``THERMAL_TOL``, ``VOLTAGE_TOL_PU``, ``SETPOINT_TOL_MW``) and the screen's
thresholds are defined here. :func:`_grid_at` linearises the grid at a checked point, the
check's post-contingency states (solved or predicted) as the N-1 constants."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd

from gridsim.analysis.cnec import CnecSelection
from gridsim.analysis.outages import Outage, OutageResult, solve_outage
from gridsim.analysis.powerflow import run_ac
from gridsim.analysis.scopf import LinearisedGrid
from gridsim.exceptions import ConvergenceError
from gridsim.model.compile import NONE
from gridsim.model.network import Network, plain
from gridsim.results import PowerFlowResult

THERMAL_TOL = 0.005  # a thermal limit holds within this fraction of it
# the screen of the AC checks on the way to the TTC (_Checker._suspects); the TTC found
# is checked against every outage
SCREEN_LOADING = 0.98  # an outage predicted to load a branch this much of its limit,
SCREEN_VOLTAGE_PU = 0.002  # or to bring a voltage this close to a limit, is solved,
SCREEN_ERROR = 0.3  # the predictions' error taken as this fraction of their change
SCREEN_RETRIES = 2  # screened searches again, the outages it missed forced (_Checker.force)
VOLTAGE_TOL_PU = 1e-3  # a voltage limit holds within this
SETPOINT_TOL_MW = 1e-3  # unit and converter limits, interfaces
BASE_MAX_ITER = 30
VIOLATION_COLUMNS = ["kind", "element", "id", "contingency", "value", "limit", "excess"]
LP_KINDS = ("thermal", "interface", "generation", "hvdc")  # the limits the LPs model


@dataclasses.dataclass
class _Check:
    result: PowerFlowResult
    posts: list
    violations: pd.DataFrame
    complete: bool
    skipped: int = 0  # outages the screen passed over (not solved in AC)
    estimates: list = dataclasses.field(default_factory=list)  # theirs, see _suspects
    # thermal violations of elements that are not CNECs (with a CNEC selection): not held
    outside: pd.DataFrame = dataclasses.field(default_factory=lambda: _table([]))

    @property
    def ok(self) -> bool:
        """Every limit holds within its tolerance."""
        v = self.violations
        return self.complete and not (v.excess > _tolerance(v)).any()

    @property
    def broken(self) -> bool:
        """Some limit is exceeded at all (no tolerance)."""
        v = self.violations
        return bool((v.excess > 1e-9 * np.maximum(1.0, np.abs(v.limit.fillna(1.0)))).any())

    @property
    def lp_fixable(self) -> bool:
        """Every violation is of a kind the LP models."""
        return bool(self.violations.kind.isin(LP_KINDS).all())


def _tolerance(v: pd.DataFrame) -> np.ndarray:
    limit = np.abs(v.limit.to_numpy(dtype=float))
    return np.select(
        [v.kind == "thermal", v.kind == "voltage"],
        [THERMAL_TOL * limit, VOLTAGE_TOL_PU],
        SETPOINT_TOL_MW,
    )


class _Checker:
    """AC N-0 and N-1 verification of a dispatch of ``network`` (same tables)."""

    def __init__(
        self,
        network,
        outages,
        emergency,
        max_lost_mw,
        q_limits,
        interfaces,
        units,
        shared,
        cnecs: CnecSelection | None = None,
    ):
        cn = network.compile()
        self.p0 = network.gen.p_mw.copy()
        self.hvdc0 = network.hvdc.p_mw.copy() if len(network.hvdc) else pd.Series(dtype=float)
        self.br_key = pd.MultiIndex.from_arrays([cn.br_kind, cn.br_id])
        self.br_kind, self.br_id = cn.br_kind, cn.br_id
        self.br_label = [("line" if k == 0 else "trafo", plain(i)) for k, i in self.br_key]
        self.rate = np.where(cn.br_rate_mva > 0, cn.br_rate_mva, np.nan)
        self.emergency = emergency
        self.bus_ids = cn.bus_ids
        self.vm_lo = network.bus.min_vm_pu.reindex(cn.bus_ids).to_numpy(dtype=float)
        self.vm_hi = network.bus.max_vm_pu.reindex(cn.bus_ids).to_numpy(dtype=float)
        self.bus = network.bus
        self.outages = _distinct(outages)
        # thermal limits held: every rated branch, or the CNECs (intact, per outage)
        self.n0_cnec, self.post_cnec = None, {}
        if cnecs is not None:
            names = pd.MultiIndex.from_arrays([[e for e, _ in self.br_label], cn.br_id])
            self.n0_cnec, post = cnecs.masks(self.outages, names)
            self.post_cnec = {o.key: row for o, row in zip(self.outages, post, strict=True)}
        self.max_lost = max_lost_mw
        self.q_limits = q_limits
        self.interfaces = interfaces
        self.units = pd.Index(units)
        self.priority: dict = {}
        # outages a full check found broken after the screen passed over them: solved in
        # every screened check from then on (see force)
        self.forced: set = set()
        # outages that broke a limit (by any excess) at a check of this checker or the
        # one it was forked from: solved at every screened check from then on (the
        # screen's linear prediction passes over some of them near their limit)
        self.broke: set = set()
        # kept for every check of this network's dispatches (and the other TTC solves of
        # it): compiled post-contingency networks (solve_outage's reuse), and the AC
        # solutions of the first and the last dispatch checked (by their injections)
        self.reuse = shared.setdefault("reuse", {})
        self.solved = shared.setdefault("solved", {})
        self.last = shared.setdefault("last", {})  # per outage: see _remember
        self.count = 0

    def __call__(
        self, net: Network, *, fail_fast: bool = False, grid: LinearisedGrid | None = None
    ) -> _Check:
        """Check ``net``; with ``grid`` (a linearisation at an earlier AC point of the
        same network), solve only the outages :meth:`_suspects` finds near a limit."""
        self.count += 1
        res, solved = self._solved(net)
        outside: list = []
        rows = self._n0(net, res, outside)
        posts = []
        complete = True
        if fail_fast and _any_over(rows):
            return _Check(res, posts, _table(rows), False, outside=_table(outside))
        order = sorted(self.outages, key=lambda o: -self.priority.get(o, 0.0))
        skipped, estimates = 0, []
        if grid is not None:
            near, guess = self._suspects(res, grid)
            near |= self.forced | self.broke
            kept = [o for o in order if o.key in near or o.key in solved]
            estimates = [(o, *guess[o.key]) for o in order if o not in kept]
            skipped, order = len(estimates), kept
        for o in order:
            post = solved.get(o.key)
            if post is None:
                post = solve_outage(
                    net, o, base=res, enforce_q_limits=self.q_limits, reuse=self.reuse
                )
                solved[o.key] = post
                self._remember(post, res)
            posts.append(post)
            found = self._n1(net, post, outside)
            worst = max((r[6] / max(_tol_row(r), 1e-9) for r in found), default=0.0)
            self.priority[o] = worst
            if worst > 0.0:
                self.broke.add(o.key)
            rows += found
            if fail_fast and _any_over(found):
                complete = len(posts) == len(order)
                break
        return _Check(
            res, posts, _table(rows), complete, skipped, estimates, outside=_table(outside)
        )

    def fork(self, shared: dict) -> _Checker:
        """A copy of this checker that keeps its state in ``shared`` (a copy of its own,
        see :func:`_kept`), so that its checks leave this one as it is."""
        new = copy.copy(self)
        new.priority = dict(self.priority)
        new.forced = set(self.forced)
        new.broke = set(self.broke)
        new.reuse, new.solved, new.last = shared["reuse"], shared["solved"], shared["last"]
        return new

    def force(self, check: _Check) -> int:
        """Solve the outages whose post-contingency state breaks a limit in ``check`` (a
        full check) in every screened check from now on; returns how many were new."""
        broken = {p.outage.key for p in check.posts if self.priority.get(p.outage, 0.0) > 1.0}
        new = broken - self.forced
        self.forced |= new
        return len(new)

    def _remember(self, post: OutageResult, base: PowerFlowResult) -> None:
        """Keep what the screen needs of a solved outage: its post-contingency voltages,
        active flows and reactive offsets (base branch order), and the base-case
        voltages, flows and injections they were solved from (None where it did not
        converge or cut load off: then it is always solved again)."""
        pf = post.power_flow
        same = pf.cn.bus_ids is self.bus_ids or pf.cn.bus_ids.equals(self.bus_ids)
        if not (post.converged and same) or post.de_energised_buses:
            self.last[post.outage.key] = None
            return
        vm = np.where(pf.cn.bus_type != NONE, np.abs(pf.v), np.nan)
        pos = self._positions(pf.cn)
        found = pos >= 0
        p = np.where(found, pf.branch_p_from_mw[np.maximum(pos, 0)], np.nan)
        s = np.maximum(np.abs(pf._s_from), np.abs(pf._s_to))[np.maximum(pos, 0)]
        offset = np.where(found, np.maximum(s - np.abs(p), 0.0), 0.0)
        self.last[post.outage.key] = (
            vm,
            np.abs(base.v),
            p,
            offset,
            np.asarray(base.branch_p_from_mw, dtype=float),
            np.asarray(base.injector_p_mw, dtype=float),
        )

    def _suspects(self, res: PowerFlowResult, grid: LinearisedGrid) -> tuple[set, dict]:
        """Keys of the outages that may break a limit at the dispatch solved in ``res``,
        and the others' predicted post-contingency flows and reactive offsets (by key;
        the N-1 constants of the next linearisation).

        Each outage is predicted from its last AC solve: its post-contingency flows
        there moved by the change of the AC base-case flows since and by its outage
        terms at ``grid`` (LODF, response) on that change; its post-contingency
        voltages moved by the change of the base-case voltages. It is solved where the
        predicted loading (reactive part held) plus ``SCREEN_ERROR`` of the predicted
        change reaches ``SCREEN_LOADING`` of a limit, or where the predicted voltage,
        less ``SCREEN_ERROR`` of its change, comes within ``SCREEN_VOLTAGE_PU`` of a
        limit. Outages never solved, or that diverged or cut load off last time, and
        the islanding ones are always solved (and, by the caller, those forced and
        those that broke a limit before: ``forced``, ``broke``).
        """
        cn, gcn = res.cn, grid.cn
        keys = [o.key for o in grid.outages]
        if (
            cn.n_branch != gcn.n_branch
            or cn.inj_kind.size != gcn.inj_kind.size
            or keys != [o.key for o in self.outages]
        ):
            return set(keys), {}
        last = [self.last.get(k) for k in keys]
        known = np.array([x is not None for x in last], dtype=bool) & ~grid.islanding
        idx = np.flatnonzero(known)
        hot = ~known
        if idx.size:
            vm, vm_then, p, offset, f_then, inj_then = (
                np.stack([last[i][n] for i in idx]) for n in range(6)
            )
            flow, inj = res.branch_p_from_mw, res.injector_p_mw
            row = np.full(len(keys), -1)
            row[idx] = np.arange(idx.size)
            sel = row[grid.term_out] >= 0
            t_row, t_ref = row[grid.term_out[sel]], grid.term_ref[sel]
            on_branch = grid.term_kind[sel] == 0
            d_g = np.where(
                on_branch,
                flow[np.where(on_branch, t_ref, 0)] - f_then[t_row, np.where(on_branch, t_ref, 0)],
                inj[np.where(on_branch, 0, t_ref)] - inj_then[t_row, np.where(on_branch, 0, t_ref)],
            )
            change = flow - f_then
            np.add.at(change, t_row, grid.term_a[sel] * d_g[:, None])
            limit = self.emergency * grid.rate * grid.rating_scale[idx]
            with np.errstate(invalid="ignore"):
                load = np.abs(p + change) + offset + SCREEN_ERROR * np.abs(change)
                over = grid.monitored[idx] & ~(load < SCREEN_LOADING * limit)
                dv = np.abs(res.v) - vm_then
                v = vm + dv
                margin = np.fmin(v - self.vm_lo, self.vm_hi - v) - SCREEN_ERROR * np.abs(dv)
            low = np.nanmin(np.where(np.isnan(margin), np.inf, margin), axis=1)
            hot[idx] = over.any(axis=1) | (low < SCREEN_VOLTAGE_PU)
            guess = {keys[i]: (p[n] + change[n], offset[n]) for n, i in enumerate(idx)}
        else:
            guess = {}
        return {k for k, h in zip(keys, hot, strict=True) if h}, guess

    def _solved(self, net: Network) -> tuple[PowerFlowResult, dict]:
        """The AC solution of ``net`` and its outage results so far (by outage key),
        solved before where the dispatch is the first or the last one checked."""
        cn = net.compile()
        parts = (cn.inj_p, cn.inj_q, cn.load_s, cn.hvdc_p, cn.vm_set, cn.ysh)
        key = b"".join(a.tobytes() for a in parts)
        kept = self.solved.get(key)
        if kept is not None:
            return kept
        res = run_ac(net, enforce_q_limits=self.q_limits, max_iter=BASE_MAX_ITER)
        if not res.converged:
            raise ConvergenceError(
                f"the AC power flow of the dispatch did not converge after {res.iterations} "
                f"iterations ({res.message}); largest mismatch {res.max_mismatch_mva:.4g} MVA",
                res.iterations,
                res.max_mismatch_mva,
            )
        for old in list(self.solved)[1:]:
            del self.solved[old]
        self.solved[key] = (res, {})
        return self.solved[key]

    def _positions(self, cn) -> np.ndarray:
        """Position in ``cn`` of each base branch (-1: not there)."""
        kind, ids = self.br_kind, self.br_id
        if cn.n_branch == kind.size and (cn.br_kind == kind).all() and (cn.br_id == ids).all():
            return np.arange(cn.n_branch)  # a scaled view keeps the base order
        return pd.MultiIndex.from_arrays([cn.br_kind, cn.br_id]).get_indexer(self.br_key)

    def _thermal(self, res, keep, contingency, factor, held, outside: list) -> list:
        """Thermal rows of ``res`` mapped onto the base branch order: those of the
        branches ``held`` (a mask; None: all), the others appended to ``outside``."""
        pos = self._positions(res.cn)
        s = np.maximum(np.abs(res._s_from), np.abs(res._s_to))
        load = np.where(pos >= 0, s[np.maximum(pos, 0)], np.nan)
        limit = self.rate * factor * keep
        with np.errstate(invalid="ignore"):
            over = np.flatnonzero(load > limit)
        rows = [
            ("thermal", *self.br_label[k], contingency, load[k], limit[k], load[k] - limit[k])
            for k in over
        ]
        if held is None:
            return rows
        outside += [r for k, r in zip(over, rows, strict=True) if not held[k]]
        return [r for k, r in zip(over, rows, strict=True) if held[k]]

    def _voltage(self, res, contingency) -> list:
        cn = res.cn
        vm = np.abs(res.v)
        live = cn.bus_type != NONE
        if cn.bus_ids is self.bus_ids or cn.bus_ids.equals(self.bus_ids):
            lo, hi = self.vm_lo, self.vm_hi
        else:
            lo = self.bus.min_vm_pu.reindex(cn.bus_ids).to_numpy(dtype=float)
            hi = self.bus.max_vm_pu.reindex(cn.bus_ids).to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(live & ((vm < lo) | (vm > hi)))
        limit = np.where(vm < lo, lo, hi)
        return [
            (
                "voltage",
                "bus",
                plain(cn.bus_ids[k]),
                contingency,
                vm[k],
                limit[k],
                abs(vm[k] - limit[k]),
            )
            for k in bad
        ]

    def _n0(self, net: Network, res: PowerFlowResult, outside: list) -> list:
        rows = self._thermal(res, 1.0, None, 1.0, self.n0_cnec, outside)
        rows += self._voltage(res, None)
        gen = net.gen.loc[self.units]
        p, p0 = gen.p_mw.to_numpy(dtype=float), self.p0.loc[self.units].to_numpy(dtype=float)
        hi = np.maximum(np.nan_to_num(gen.max_p_mw.to_numpy(dtype=float), nan=np.inf), p0)
        lo = np.minimum(np.nan_to_num(gen.min_p_mw.to_numpy(dtype=float), nan=0.0), p0)
        for gid, pk, lk, hk in zip(self.units, p, lo, hi, strict=True):
            if pk > hk + 1e-9 or pk < lk - 1e-9:
                limit = hk if pk > hk else lk
                rows.append(("generation", "gen", plain(gid), None, pk, limit, abs(pk - limit)))
        if len(net.hvdc):
            hv = net.hvdc
            cap = np.maximum(hv.max_p_mw.to_numpy(dtype=float), np.abs(self.hvdc0.to_numpy()))
            for lid, pk, ck in zip(hv.index, hv.p_mw.to_numpy(dtype=float), cap, strict=True):
                if abs(pk) > ck + 1e-9:
                    rows.append(("hvdc", "hvdc", plain(lid), None, pk, ck, abs(pk) - ck))
        if self.interfaces:
            flows = pd.Series(res.branch_p_from_mw, index=self.br_key)
            kinds = {"line": 0, "trafo": 1}
            for face in self.interfaces:
                total = 0.0
                for element, eid, direction in face.members:
                    if element == "hvdc":
                        on = bool(net.hvdc.in_service.loc[eid])
                        total += direction * float(net.hvdc.p_mw.loc[eid]) * on
                    else:
                        total += direction * float(flows.get((kinds[element], eid), 0.0))
                if total > face.limit_mw:
                    excess = total - face.limit_mw
                    rows.append(
                        ("interface", "interface", face.id, None, total, face.limit_mw, excess)
                    )
        return rows

    def _n1(self, net: Network, post: OutageResult, outside: list) -> list:
        o = post.outage
        label = o.label
        if post.status == "diverged":
            return [("diverged", o.element, plain(o.id), label, np.nan, np.nan, np.inf)]
        rows = []
        if post.lost_load_mw > self.max_lost:
            lost = post.lost_load_mw
            rows.append(
                (
                    "islanding",
                    o.element,
                    plain(o.id),
                    label,
                    lost,
                    self.max_lost,
                    lost - self.max_lost,
                )
            )
        keep = np.ones(len(self.br_key))
        if o.element in ("line", "trafo"):
            k = self.br_key.get_loc((0 if o.element == "line" else 1, o.id))
            keep[k] = (o.parallel - o.circuits) / o.parallel
        held = self.post_cnec.get(o.key)
        rows += self._thermal(post.power_flow, keep, label, self.emergency, held, outside)
        return rows + self._voltage(post.power_flow, label)


def _tol_row(r) -> float:
    kind, limit = r[0], r[5]
    if kind == "thermal":
        return THERMAL_TOL * abs(limit)
    return VOLTAGE_TOL_PU if kind == "voltage" else SETPOINT_TOL_MW


def _any_over(rows) -> bool:
    return any(r[6] > _tol_row(r) for r in rows)


def _table(rows: list) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=VIOLATION_COLUMNS)
    return table.sort_values("excess", ascending=False, ignore_index=True)


def _distinct(outages: list[Outage]) -> list[Outage]:
    """One outage per (element, id, circuits lost): identical circuits give identical
    results."""
    seen, out = set(), []
    for o in outages:
        key = o.key
        if key not in seen:
            seen.add(key)
            out.append(o)
    return out


def _grid_at(net: Network, chk, check, grid_args: dict) -> LinearisedGrid:
    """The linearisation at an AC-checked operating point ``chk`` of ``net``, with the
    post-outage states (solved or predicted) of that check."""
    return LinearisedGrid(
        net,
        chk.result,
        outages=check.outages,
        post_results=chk.posts,
        post_estimates=chk.estimates,
        **grid_args,
    )
