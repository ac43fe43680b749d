"""N-1 transfer capability as successive security-constrained LPs verified in AC.

The method a planner signs (issue 17, items 3 and 4), in two phases:

1. **Base case first.** At zero transfer the AC power flow and the AC post-contingency
   state of every studied outage are solved (:func:`gridsim.analysis.outages.solve_outage`,
   with the participation response; an islanding outage is solved and its lost load
   counts as a violation above ``max_lost_mw``). Where a limit is broken, the least
   preventive redispatch (:func:`gridsim.analysis.scopf.secure_base_case`, HVDC setpoints
   free) is found on a :class:`~gridsim.analysis.scopf.LinearisedGrid` built at the AC
   point with the AC post-contingency results as the N-1 constants, applied, and the AC
   N-1 check repeated, until the base case holds every limit or ``max_rounds`` rounds are
   spent. If it cannot be secured, the TTC is not defined (NaN): the status says
   ``"base case cannot be secured"`` and the residual violations are listed. Setting the
   offending outages aside is only done with ``set_aside_insecure=True``, and then the
   status, the message and :attr:`TtcResult.set_aside` say so. The redispatch balances
   each synchronous area, or keeps each zone's net position
   (``base_redispatch_balance="zone"``), within a bound per zone where
   ``base_redispatch_limit_percent`` is given (the moves of every round counted).
   The AC checks between the rounds are screened as the transfer's (below): the first
   and the last are complete, and a round whose screened check holds is checked against
   every outage before it counts as secure. Where a round's dispatch does not converge
   in AC (the DC LP can move more over a weak tie than AC carries), its move from the
   last converged dispatch is halved, up to ``DAMPING_STEPS`` times, and the rounds go
   on from the first that converges; where none does, the base case is not secured and
   the message says so (iterations and largest mismatch).
2. **Transfer.** From the secured point, :func:`gridsim.analysis.scopf.max_transfer`
   maximises the transfer ``t`` (source units up and sink loads up by their shift keys)
   with the joining HVDC links free and optional preventive redispatch inside
   ``redispatch_areas``; its solution is applied and checked in AC (N-0 and N-1:
   thermal at the emergency rating after an outage, voltage limits, unit and converter
   limits, interfaces). Where the AC check holds, or fails on a limit the LP models
   (thermal, interface, unit, converter), the grid is re-linearised at the new AC point
   and the LP solved again; this stops when the LP moves ``t`` by less than the search
   tolerance ``max(tol_mw, rel_tol t)``. Where the AC check fails on a limit the LP does
   not model (voltage, a diverged or islanding outage), or the rounds run out, ``t`` is
   bisected between the last AC-secure point and the failing one along that direction
   (same HVDC split and redispatch per MW). Last, a step of ``max(tol_mw, rel_tol t)``
   more along the same direction is checked in AC: it must break a limit
   (:attr:`TtcResult.next_step`); where it does not, the search goes on along that
   direction. So the reported TTC holds every limit in AC (within ``THERMAL_TOL`` of a
   thermal limit and ``VOLTAGE_TOL_PU`` of a voltage limit).

   The AC checks on the way are screened: the base case's are complete, but at a
   transfer point only the outages that may come near a limit are solved in AC. Each
   outage is predicted from its last AC solution: its post-contingency flows moved by
   the change of the AC base-case flows since and by its LODF and response terms on
   that change, its voltages by the change of the base-case voltages. An outage is
   solved where the predicted loading plus ``SCREEN_ERROR`` (30 %) of the predicted
   change reaches ``SCREEN_LOADING`` (98 %) of its limit, or the predicted voltage less
   30 % of its change comes within ``SCREEN_VOLTAGE_PU`` (0.002 p.u.) of a limit; those
   never solved, that diverged, islanded or cut load off are always solved. The others'
   predicted flows are the next LP's N-1 constants. The TTC found is then checked
   against every outage; where one passed over breaks a limit there, the search runs
   again with complete checks. The compiled post-contingency networks of HVDC and
   islanding outages are kept between checks
   (:func:`~gridsim.analysis.outages.solve_outage`'s ``reuse``), and the AC results of
   the first and the last dispatch checked serve the published-limits TTC and the
   outages set aside.

With ``cnec_threshold``, thermal limits are held only on the CNECs
(:func:`gridsim.analysis.cnec.select_cnecs`, selected once per base case) in both
phases: in the LPs' rows and in the AC checks, whose thermal violations of other pairs
are kept apart (:attr:`TtcResult.outside_cnec`, counted in the message), never dropped.
Voltage limits, diverged and islanding outages are checked everywhere.

The base case does not depend on the sink or the route: :func:`secured_base` makes it
once (a :class:`SecuredBase`, with the AC checks' state it ends with), and every
``n1_ttc(..., base=...)`` with the same network and base-case options starts its transfer
from a copy of that state, with the same result as securing it again. A variant of a
network starts from its parent's: ``secured_base(variant, start=parent_base)`` checks the
parent's secured dispatch mapped onto the variant and goes on with LP rounds only where
it breaks a limit.

The transfer LPs hold a thermal row that the AC check accepts (over its limit by at most
``THERMAL_TOL`` at the operating point) at its flow there (``max_transfer``'s
``thermal_tol``): the LP is then feasible, not degenerate, where the AC check holds, and
at a TTC of 0 it names the row that stops the transfer, with its price. The step beyond
a TTC of 0 goes along the last LP's direction, or along the shift keys alone (links and
units held) where that LP does not move.

``ttc_mw`` is the transfer added to the secured base case; ``atc_mw = ttc_mw - trm_mw -
committed_mw``. The shadow prices (MW of TTC per MW of each binding row's limit;
:attr:`TtcResult.rating_prices` per MVA of an element's rating) are those of the LP
re-linearised at the AC optimum, AC-corrected: the DC sensitivities can be 20 % off the
AC flow's response, so for each line or transformer with a priced thermal row the LP is
solved again with its rating raised by ``PRICE_STEP`` (1 %), both solutions are applied
in AC, and the dual is scaled by (limit change) / (AC loading change of the row) along
that change of dispatch: the rating raise the TTC actually follows. The LP's own dual
stays in ``shadow_price_dc``. :func:`verify_shadow_price` re-solves the whole TTC with
one rating raised.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import time
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from gridsim.analysis.cnec import CnecSelection, select_cnecs
from gridsim.analysis.outages import (
    Outage,
    OutageResult,
    exceptional_contingencies,
    ordinary_contingencies,
    solve_outage,
)
from gridsim.analysis.powerflow import run_ac
from gridsim.analysis.scopf import (
    Interface,
    LinearisedGrid,
    ScopfResult,
    _joining_links,
    _shift_keys,
    max_transfer,
    secure_base_case,
)
from gridsim.exceptions import ConvergenceError, GridsimError
from gridsim.model.compile import NONE
from gridsim.model.network import Network, plain
from gridsim.model.schema import ELEMENTS
from gridsim.results import PowerFlowResult

__all__ = [
    "SecuredBase",
    "TtcError",
    "TtcResult",
    "n1_ttc",
    "network_fingerprint",
    "secured_base",
    "verify_shadow_price",
]

THERMAL_TOL = 0.005  # a thermal limit holds within this fraction of it
# the screen of the AC checks on the way to the TTC (_Checker._suspects); the TTC found
# is checked against every outage
SCREEN_LOADING = 0.98  # an outage predicted to load a branch this much of its limit,
SCREEN_VOLTAGE_PU = 0.002  # or to bring a voltage this close to a limit, is solved,
SCREEN_ERROR = 0.3  # the predictions' error taken as this fraction of their change
VOLTAGE_TOL_PU = 1e-3  # a voltage limit holds within this
SETPOINT_TOL_MW = 1e-3  # unit and converter limits, interfaces
DEFAULT_MAX_LOST_MW = 1000.0  # load an outage may cut off before it is a violation
BASE_MAX_ITER = 30
DAMPING_STEPS = 4  # a base round's move is halved at most this often where AC diverges
PRICE_STEP = 0.01  # rating raise of the AC finite difference of a shadow price
VIOLATION_COLUMNS = ["kind", "element", "id", "contingency", "value", "limit", "excess"]


class TtcError(GridsimError, ValueError):
    """Bad input to :func:`n1_ttc` (unknown options, negative margins, a secured base case
    made from another network or with other options)."""


@dataclasses.dataclass
class TtcResult:
    """Outcome of :func:`n1_ttc`.

    Attributes
    ----------
    ttc_mw, atc_mw : float
        Total transfer capability (transfer added to the secured base case) and
        ``ttc_mw - trm_mw - committed_mw``; NaN where the base case cannot be secured.
    trm_mw, committed_mw : float
    status : str
        ``"optimal"``; ``"base case cannot be secured"``; either followed by
        ``" (insecure outages set aside)"`` when ``set_aside_insecure`` set some aside.
    message : str
        The outcome in words.
    binding : dict or None
        The LP's binding limit with the largest shadow price at the optimum: ``kind``,
        ``element``, ``id``, ``contingency``, ``shadow_price``.
    binding_rows : pandas.DataFrame
        Every binding row of the LP at the AC optimum (:attr:`ScopfResult.binding`), the
        thermal rows' ``shadow_price`` AC-corrected (module docstring) and the LP's dual
        in ``shadow_price_dc``.
    rating_prices : pandas.Series
        MW of TTC per MVA of each binding branch's ``rate_mva`` (AC-corrected).
    next_step : pandas.DataFrame
        The AC violations one step (``max(tol_mw, rel_tol ttc)``) beyond the TTC along
        the same direction (columns ``kind``, ``element``, ``id``, ``contingency``,
        ``value``, ``limit``, ``excess``).
    next_step_mw : float
        The transfer of that step.
    hvdc : pandas.DataFrame
        Per joining link: ``base_mw`` (secured base case), ``p_mw`` at the TTC,
        ``max_p_mw``.
    redispatch_mw, redispatch_zone
        Preventive redispatch of the transfer (per unit; per zone ``up_mw``,
        ``down_mw``, ``net_mw``), the transfer's own shift excluded.
    base_redispatch_mw, base_redispatch_zone, base_hvdc_change_mw
        What securing the base case moved (per unit, per zone, per link).
    base_violations_removed : pandas.DataFrame
        The AC violations at zero transfer before securing.
    residual : pandas.DataFrame
        Where the base case cannot be secured: the AC violations left.
    outside_cnec : pandas.DataFrame
        With ``cnec_threshold``: the AC thermal violations of (branch, contingency) pairs
        that are not CNECs, not held, at the TTC (at the base case where the TTC is not
        defined); same columns as ``residual``. Empty without a CNEC selection.
    cnecs : CnecSelection or None
        With ``cnec_threshold``: the selection held.
    ordinary, exceptional : list of Outage
        The contingencies studied, the exceptional ones separately.
    set_aside : list of Outage
        Outages set aside (only with ``set_aside_insecure=True``).
    rounds, base_rounds, ac_checks : int
        Transfer LPs, base-case LPs, AC N-1 checks done.
    elapsed_s : float
    network : Network
        The dispatch at the TTC (the secured base case where the TTC is not defined).
    published : TtcResult or None
        With ``published_limits="both"`` and a network with published limits
        (``network.interfaces`` of kind ``ntc``): the same TTC with them held
        (:attr:`ttc_published_mw`), beside this physical one.
    """

    ttc_mw: float
    atc_mw: float
    trm_mw: float
    committed_mw: float
    status: str
    message: str
    binding: dict | None
    binding_rows: pd.DataFrame
    rating_prices: pd.Series
    next_step: pd.DataFrame
    next_step_mw: float
    hvdc: pd.DataFrame
    redispatch_mw: pd.Series
    redispatch_zone: pd.DataFrame
    base_redispatch_mw: pd.Series
    base_redispatch_zone: pd.DataFrame
    base_hvdc_change_mw: pd.Series
    base_violations_removed: pd.DataFrame
    residual: pd.DataFrame
    outside_cnec: pd.DataFrame
    cnecs: CnecSelection | None
    ordinary: list
    exceptional: list
    set_aside: list
    rounds: int
    base_rounds: int
    ac_checks: int
    elapsed_s: float
    network: Network = dataclasses.field(repr=False)
    options: dict = dataclasses.field(repr=False, default_factory=dict)
    published: TtcResult | None = None

    @property
    def defined(self) -> bool:
        return bool(np.isfinite(self.ttc_mw))

    @property
    def ttc_published_mw(self) -> float:
        """The TTC within the published limits (the network's ``ntc`` interfaces) beside
        the physical :attr:`ttc_mw`; NaN where none were studied."""
        return self.published.ttc_mw if self.published is not None else np.nan


# -- the AC check ---------------------------------------------------------------------------
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
        return bool(self.violations.kind.isin(["thermal", "interface", "generation", "hvdc"]).all())


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
            self.post_cnec = {_key(o): row for o, row in zip(self.outages, post, strict=True)}
        self.max_lost = max_lost_mw
        self.q_limits = q_limits
        self.interfaces = interfaces
        self.units = pd.Index(units)
        self.priority: dict = {}
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
            kept = [o for o in order if _key(o) in near or _key(o) in solved]
            estimates = [(o, *guess[_key(o)]) for o in order if o not in kept]
            skipped, order = len(estimates), kept
        for o in order:
            post = solved.get(_key(o))
            if post is None:
                post = solve_outage(
                    net, o, base=res, enforce_q_limits=self.q_limits, reuse=self.reuse
                )
                solved[_key(o)] = post
                self._remember(post, res)
            posts.append(post)
            found = self._n1(net, post, outside)
            worst = max((r[6] / max(_tol_row(r), 1e-9) for r in found), default=0.0)
            self.priority[o] = worst
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
        new.reuse, new.solved, new.last = shared["reuse"], shared["solved"], shared["last"]
        return new

    def _remember(self, post: OutageResult, base: PowerFlowResult) -> None:
        """Keep what the screen needs of a solved outage: its post-contingency voltages,
        active flows and reactive offsets (base branch order), and the base-case
        voltages, flows and injections they were solved from (None where it did not
        converge or cut load off: then it is always solved again)."""
        pf = post.power_flow
        same = pf.cn.bus_ids is self.bus_ids or pf.cn.bus_ids.equals(self.bus_ids)
        if not (post.converged and same) or post.de_energised_buses:
            self.last[_key(post.outage)] = None
            return
        vm = np.where(pf.cn.bus_type != NONE, np.abs(pf.v), np.nan)
        pos = self._positions(pf.cn)
        found = pos >= 0
        p = np.where(found, pf.branch_p_from_mw[np.maximum(pos, 0)], np.nan)
        s = np.maximum(np.abs(pf._s_from), np.abs(pf._s_to))[np.maximum(pos, 0)]
        offset = np.where(found, np.maximum(s - np.abs(p), 0.0), 0.0)
        self.last[_key(post.outage)] = (
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
        the islanding ones are always solved.
        """
        cn, gcn = res.cn, grid.cn
        keys = [_key(o) for o in grid.outages]
        if (
            cn.n_branch != gcn.n_branch
            or cn.inj_kind.size != gcn.inj_kind.size
            or keys != [_key(o) for o in self.outages]
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
        key = b"".join(a.tobytes() for a in (cn.inj_p, cn.inj_q, cn.load_s, cn.hvdc_p))
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
        held = self.post_cnec.get(_key(o))
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


def _key(o: Outage) -> tuple:
    return (o.element, o.id, o.circuits)


def _distinct(outages: list[Outage]) -> list[Outage]:
    """One outage per (element, id, circuits lost): identical circuits give identical
    results."""
    seen, out = set(), []
    for o in outages:
        key = _key(o)
        if key not in seen:
            seen.add(key)
            out.append(o)
    return out


# -- dispatch helpers -------------------------------------------------------------------------


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


def _blend(lo: Network, hi: Network, s: float) -> Network:
    """``lo + s (hi - lo)`` in every setpoint a transfer moves (units, links, loads)."""
    net = lo.copy()
    for element, cols in (("gen", ("p_mw",)), ("hvdc", ("p_mw",)), ("load", ("p_mw", "q_mvar"))):
        if not len(net[element]):
            continue
        table = net[element]
        for col in cols:
            a, b = lo[element][col].to_numpy(dtype=float), hi[element][col].to_numpy(dtype=float)
            table[col] = a + s * (b - a)
    net.invalidate()
    return net


def _zones(net: Network, moves: pd.Series) -> pd.DataFrame:
    zone = net.bus["zone"].astype(str).reindex(net.gen.bus.reindex(moves.index)).to_numpy()
    table = pd.DataFrame(
        {"zone": zone, "up_mw": np.maximum(moves, 0.0), "down_mw": np.maximum(-moves, 0.0)}
    )
    table = table.groupby("zone", sort=True).sum()
    table["net_mw"] = table.up_mw - table.down_mw
    return table


def _outside(table: pd.DataFrame) -> str:
    """The thermal violations outside the CNECs, counted in words ("" where none)."""
    if not len(table):
        return ""
    return f"; {len(table)} thermal violation(s) outside the CNECs, not held (outside_cnec)"


def _within(options: dict) -> str:
    """The redispatch bound of the base case, in words ("" where none)."""
    bound = options["base_redispatch_limit_percent"]
    return "" if bound is None else f" within {bound:g} % redispatch per zone"


def _zone_generation(net: Network, res: PowerFlowResult) -> pd.Series:
    """Per zone, the in-service units' AC output (``res``, MW; positive parts)."""
    p = res.gen.p_mw.clip(lower=0.0)
    zone = net.bus["zone"].astype(str).reindex(net.gen.bus.reindex(p.index)).to_numpy()
    return p.groupby(zone).sum().rename("generation_mw")


def _zone_shares(table: pd.DataFrame, generation: pd.Series) -> pd.DataFrame:
    """``table`` (per zone ``up_mw``, ``down_mw``, ``net_mw``) with each zone's
    ``generation_mw`` and ``share_percent``: ``(up + down) / generation`` in percent."""
    table = table.copy()
    table["generation_mw"] = generation.reindex(table.index).fillna(0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 100.0 * (table.up_mw + table.down_mw) / table.generation_mw
    table["share_percent"] = share.where(table.generation_mw > 0)
    return table


def _moves(before: Network, after: Network, units: pd.Index) -> pd.Series:
    diff = after.gen.p_mw.loc[units] - before.gen.p_mw.loc[units]
    return diff[np.abs(diff) > 1e-6].rename("redispatch_mw")


# -- the method -----------------------------------------------------------------------------
def n1_ttc(
    network: Network,
    source,
    sink,
    *,
    contingencies: str | Iterable[Outage] = "ordinary",
    units: str | None = "all",
    exceptional: bool = False,
    emergency_rating_percent: float = 100.0,
    redispatch_areas: Iterable[str] | str | Mapping | None = None,
    base_redispatch: Iterable[str] | str | Mapping | None = "all",
    base_redispatch_balance: str = "area",
    base_redispatch_limit_percent: float | None = None,
    cnec_threshold: float | None = None,
    secure_base: bool = True,
    interfaces: Iterable | None = None,
    sink_element: str = "load",
    trm_mw: float = 0.0,
    committed_mw: float = 0.0,
    tol_mw: float = 10.0,
    rel_tol: float = 0.01,
    max_mw: float | None = None,
    enforce_q_limits: bool = True,
    max_lost_mw: float = DEFAULT_MAX_LOST_MW,
    set_aside_insecure: bool = False,
    max_rounds: int = 6,
    published_limits: str = "both",
    hvdc: Iterable | None = None,
    base: SecuredBase | None = None,
) -> TtcResult:
    """N-1 total transfer capability with optimal HVDC setpoints and redispatch,
    verified in AC (see the module docstring for the method).

    Parameters
    ----------
    network : Network
        Not modified.
    source, sink : str or iterable of ids
        Zone codes or group names, or id lists (as :func:`gridsim.transfer_capability`).
    contingencies : "ordinary" or iterable of Outage
        ``"ordinary"``: :func:`gridsim.analysis.outages.ordinary_contingencies` with
        ``units``.
    units : {"all", "largest_per_area"} or None
        Unit outages in the ordinary set.
    exceptional : bool
        Also hold the exceptional contingencies (all circuits of multi-circuit lines).
    emergency_rating_percent : float
        Post-contingency thermal limit, percent of ``rate_mva``.
    redispatch_areas : iterable of zone/group names, mapping gen id -> cost, or None
        Where the transfer may use preventive redispatch (each zone's redispatch nets
        to zero); None: none.
    base_redispatch : "all", iterable of names, mapping or None
        Units that may move to secure the base case (default every unit).
    base_redispatch_balance : {"area", "zone"}
        ``"area"`` (default): the base-case redispatch balances each synchronous area
        (AC island), across borders; ``"zone"``: each zone's (country's) net position is
        kept, as in ENTSO-E's base case: the units' moves and the moves of the links
        with an end in the zone net to zero there.
    base_redispatch_limit_percent : float, optional
        Bound on each zone's base-case redispatch: ``sum |move|`` over its units at
        most this percent of the zone's generation in the base case (the units' AC
        output before securing), held in every LP round (issue 19: e.g. 5). A base case
        that cannot be secured within it says so, with the residual. Default: unbounded.
    cnec_threshold : float, optional
        Hold thermal limits only on the CNECs: the (branch, contingency) pairs whose
        largest zone-to-zone PTDF is at least this (0.05: ENTSO-E's 5 %;
        :func:`gridsim.analysis.cnec.select_cnecs`), in the base-case security and the
        transfer. The thermal violations of the other pairs are not held but never
        dropped: :attr:`TtcResult.outside_cnec` lists those at the TTC and the message
        counts them. Voltage limits, diverged and islanding outages stay monitored
        everywhere. Default None: every rated branch is held (no selection).
    secure_base : bool
        Secure the base case first (default); False: start from it as it is.
    interfaces : iterable of Interface or dict, optional
        Flowgates held in the base case and at the TTC, besides the network's own
        (``network.interfaces``, from the file's ``interface`` table): those of kind
        ``thermal`` and ``stability`` are always held, the published ones (``ntc``) as
        ``published_limits`` says.
    published_limits : {"both", "ignore", "hold"}
        ``"both"`` (default): the TTC is the physical one, and where the network has
        published limits the TTC within them is solved too (:attr:`TtcResult.published`,
        side by side); ``"ignore"``: the physical TTC only; ``"hold"``: the TTC holds
        them.
    hvdc : iterable of link ids, optional
        The joining links the transfer may move (a route); default every in-service link
        joining the source's AC island to the sink's. The others keep their setpoints.
    sink_element : {"load", "gen"}
    trm_mw, committed_mw : float
        Reliability margin and committed transfers, MW (``atc = ttc - trm - committed``).
    tol_mw, rel_tol : float
        Search tolerance ``max(tol_mw, rel_tol * ttc)``: the LP rounds stop when ``t``
        moves less, bisection stops that close, and it is the size of the step that
        must break a limit.
    max_mw : float, optional
        Largest transfer studied.
    enforce_q_limits : bool
        Reactive limits of voltage controllers in every AC solve.
    max_lost_mw : float
        Load an islanding outage may cut off before it counts as a violation, MW.
    set_aside_insecure : bool
        Where the base case cannot be secured, set the outages left violated aside and
        go on (every output says so). Default False: the TTC is then not defined.
    max_rounds : int
        LP rounds per phase.
    base : SecuredBase, optional
        The base case secured before (:func:`secured_base`) from this network with the
        same base-case options (:data:`BASE_OPTIONS`): phase 1 is skipped and the result
        is the same as without it. Default: secured here.

    Returns
    -------
    TtcResult

    Raises
    ------
    TtcError
        For bad options, or a ``base`` made from another network or with other options.
    ConvergenceError
        When the AC power flow of the base case (or of a dispatch) does not converge.
    """
    start = time.perf_counter()
    if not isinstance(network, Network):
        raise TtcError("n1_ttc needs a Network (not a compiled one)")
    for name, value in (("trm_mw", trm_mw), ("committed_mw", committed_mw)):
        if not (np.isfinite(value) and value >= 0):
            raise TtcError(f"{name} must be a non-negative number of MW, got {value!r}")
    if not (tol_mw > 0 and rel_tol >= 0):
        raise TtcError("tol_mw must be positive, rel_tol non-negative")
    base_options = _base_options(
        contingencies=contingencies,
        units=units,
        exceptional=exceptional,
        emergency_rating_percent=emergency_rating_percent,
        base_redispatch=base_redispatch,
        base_redispatch_balance=base_redispatch_balance,
        base_redispatch_limit_percent=base_redispatch_limit_percent,
        cnec_threshold=cnec_threshold,
        secure_base=secure_base,
        interfaces=interfaces,
        enforce_q_limits=enforce_q_limits,
        max_lost_mw=max_lost_mw,
        set_aside_insecure=set_aside_insecure,
        max_rounds=max_rounds,
        published_limits=published_limits,
    )
    options = dict(
        base_options,
        redispatch_areas=redispatch_areas,
        sink_element=sink_element,
        trm_mw=trm_mw,
        committed_mw=committed_mw,
        tol_mw=tol_mw,
        rel_tol=rel_tol,
        max_mw=max_mw,
        hvdc=None if hvdc is None else list(hvdc),
    )
    if base is None:
        base = _secured_base(network, base_options)
    else:
        _check_base(base, network, base_options)
    result = _transfer(network, base, source, sink, options, start)
    if base.published is not None:
        result.published = (
            result
            if base.published is base
            else _transfer(
                network,
                base.published,
                source,
                sink,
                {**options, "published_limits": "hold"},
                time.perf_counter(),
            )
        )
    return result


# -- phase 1: the secured base case, made once and reused -------------------------------------
BASE_OPTIONS = (
    "contingencies",
    "units",
    "exceptional",
    "emergency_rating_percent",
    "base_redispatch",
    "base_redispatch_balance",
    "base_redispatch_limit_percent",
    "cnec_threshold",
    "secure_base",
    "interfaces",
    "enforce_q_limits",
    "max_lost_mw",
    "set_aside_insecure",
    "max_rounds",
    "published_limits",
)


@dataclasses.dataclass
class SecuredBase:
    """Outcome of :func:`secured_base`: the base case of :func:`n1_ttc` secured once, for
    every transfer (sink, route) studied from it (``n1_ttc(..., base=...)``).

    Attributes
    ----------
    network : Network
        The secured dispatch (units and HVDC setpoints moved by the redispatch).
    secured : bool
        The base case holds every limit in AC (where not, the TTC is not defined).
    base_redispatch_mw, base_redispatch_zone, base_hvdc_change_mw
        What securing moved (per unit, per zone: ``up_mw``, ``down_mw``, ``net_mw``, the
        zone's ``generation_mw`` before securing and ``share_percent``, ``(up + down) /
        generation``; per link).
    base_violations_removed : pandas.DataFrame
        The AC violations at zero transfer before securing (empty where not secured).
    residual : pandas.DataFrame
        Where not secured: the AC violations left.
    cnecs : CnecSelection or None
        With ``cnec_threshold``: the CNECs whose thermal limits are held.
    outside_cnec : pandas.DataFrame
        With ``cnec_threshold``: the thermal violations of pairs that are not CNECs at
        the (secured) base case, not held (same columns as ``residual``).
    ordinary, exceptional, set_aside : list of Outage
    base_rounds : int
    ac_checks : int
        AC N-1 checks done (the published one's not counted).
    options : dict
        The options it was made with (:data:`BASE_OPTIONS` of :func:`n1_ttc`).
    fingerprint : str
        :func:`network_fingerprint` of the network it was secured from.
    elapsed_s : float
        Seconds taken (the published one's included).
    published : SecuredBase or None
        With ``published_limits="both"`` and a network with published limits: the base
        case secured with them held (itself where this one cannot be secured and nothing
        was set aside: more limits cannot secure it).
    """

    network: Network = dataclasses.field(repr=False)
    secured: bool
    base_redispatch_mw: pd.Series
    base_redispatch_zone: pd.DataFrame
    base_hvdc_change_mw: pd.Series
    base_violations_removed: pd.DataFrame
    residual: pd.DataFrame
    ordinary: list
    exceptional: list
    set_aside: list
    base_rounds: int
    options: dict
    fingerprint: str
    elapsed_s: float
    ac_checks: int = 0
    cnecs: CnecSelection | None = dataclasses.field(default=None, repr=False)
    outside_cnec: pd.DataFrame = dataclasses.field(default_factory=lambda: _table([]))
    published: SecuredBase | None = dataclasses.field(default=None, repr=False)
    # what the transfer phase starts from: the faces held, the last AC check, the checker
    # and what its checks kept (copied for each transfer), the notes of the message
    _faces: list = dataclasses.field(default_factory=list, repr=False)
    _chk: _Check | None = dataclasses.field(default=None, repr=False)
    _check: _Checker | None = dataclasses.field(default=None, repr=False)
    _shared: dict = dataclasses.field(default_factory=dict, repr=False)
    _notes: tuple = ("", "")


def network_fingerprint(network: Network) -> str:
    """A digest of everything ``network`` holds (tables, interfaces, groups, settings):
    equal for networks that solve alike."""
    digest = hashlib.sha256()
    settings = (network.sn_mva, network.f_hz, network.trafo_model, network.q_limit_rule)
    extra = (network.unsupplied_islands, network.interfaces, sorted(network.groups.items()))
    digest.update(repr((settings, extra)).encode())
    for element in ELEMENTS:
        table = network.columns(element)
        digest.update(repr((element, list(table.index), sorted(table.cols))).encode())
        for name in sorted(table.cols):
            a = np.asarray(table.cols[name])
            digest.update(a.tobytes() if a.dtype.kind in "biufc" else repr(a.tolist()).encode())
    return digest.hexdigest()


def secured_base(
    network: Network,
    *,
    contingencies: str | Iterable[Outage] = "ordinary",
    units: str | None = "all",
    exceptional: bool = False,
    emergency_rating_percent: float = 100.0,
    base_redispatch: Iterable[str] | str | Mapping | None = "all",
    base_redispatch_balance: str = "area",
    base_redispatch_limit_percent: float | None = None,
    cnec_threshold: float | None = None,
    secure_base: bool = True,
    interfaces: Iterable | None = None,
    enforce_q_limits: bool = True,
    max_lost_mw: float = DEFAULT_MAX_LOST_MW,
    set_aside_insecure: bool = False,
    max_rounds: int = 6,
    published_limits: str = "both",
    start: SecuredBase | None = None,
) -> SecuredBase:
    """The base-case phase of :func:`n1_ttc` alone (module docstring, item 1), to be
    given to every :func:`n1_ttc` call on ``network`` with the same options
    (``base=``): the sink and the route do not change it.

    With ``start``, the secured base case of another network (a parent, of which
    ``network`` is a variant: a reinforcement, another link), the phase starts from the
    parent's secured dispatch mapped onto ``network``: the units' and HVDC links'
    setpoints by id (the elements the parent lacks keep their own). That dispatch is
    checked in AC against every outage of ``network``; where it holds every limit it is
    the secured base case (no LP round, one AC check), else the LP rounds go on from
    it. The redispatch is reported against ``network``'s own dispatch, and
    ``base_violations_removed`` lists the violations of the mapped dispatch; a
    ``base_redispatch_limit_percent`` bound is taken of the zones' generation there.

    Parameters
    ----------
    network : Network
        Not modified.
    contingencies, units, exceptional, emergency_rating_percent, base_redispatch
        As :func:`n1_ttc`'s.
    base_redispatch_balance, base_redispatch_limit_percent, cnec_threshold
        As :func:`n1_ttc`'s.
    secure_base, interfaces, enforce_q_limits, max_lost_mw, set_aside_insecure
        As :func:`n1_ttc`'s.
    max_rounds, published_limits
        As :func:`n1_ttc`'s.
    start : SecuredBase, optional
        A parent's secured base case made with the same options (above).

    Returns
    -------
    SecuredBase

    Raises
    ------
    TtcError
        For bad options, or a ``start`` made with other options.
    ConvergenceError
        When the AC power flow of the base case does not converge.
    """
    if not isinstance(network, Network):
        raise TtcError("secured_base needs a Network (not a compiled one)")
    options = _base_options(
        contingencies=contingencies,
        units=units,
        exceptional=exceptional,
        emergency_rating_percent=emergency_rating_percent,
        base_redispatch=base_redispatch,
        base_redispatch_balance=base_redispatch_balance,
        base_redispatch_limit_percent=base_redispatch_limit_percent,
        cnec_threshold=cnec_threshold,
        secure_base=secure_base,
        interfaces=interfaces,
        enforce_q_limits=enforce_q_limits,
        max_lost_mw=max_lost_mw,
        set_aside_insecure=set_aside_insecure,
        max_rounds=max_rounds,
        published_limits=published_limits,
    )
    if start is not None:
        _check_options(start, options, "start")
    return _secured_base(network, options, start)


def _base_options(**options) -> dict:
    """The base-case options checked; contingencies kept as a list."""
    if options["max_rounds"] < 1:
        raise TtcError(f"max_rounds must be at least 1, got {options['max_rounds']!r}")
    percent = options["emergency_rating_percent"]
    if not (np.isfinite(percent) and percent > 0):
        raise TtcError(f"emergency_rating_percent must be positive, got {percent!r}")
    if options["published_limits"] not in ("both", "ignore", "hold"):
        raise TtcError(
            "published_limits must be 'both', 'ignore' or 'hold', got "
            f"{options['published_limits']!r}"
        )
    if options["base_redispatch_balance"] not in ("area", "zone"):
        raise TtcError(
            "base_redispatch_balance must be 'area' or 'zone', got "
            f"{options['base_redispatch_balance']!r}"
        )
    bound = options["base_redispatch_limit_percent"]
    if bound is not None and not (np.isfinite(bound) and bound >= 0):
        raise TtcError(
            f"base_redispatch_limit_percent must be a non-negative number or None, got {bound!r}"
        )
    threshold = options["cnec_threshold"]
    if threshold is not None and not (np.isfinite(threshold) and threshold >= 0):
        raise TtcError(f"cnec_threshold must be a non-negative number or None, got {threshold!r}")
    contingencies = options["contingencies"]
    if isinstance(contingencies, str):
        if contingencies != "ordinary":
            raise TtcError(
                f"contingencies must be 'ordinary' or a list of Outage, got {contingencies!r}"
            )
    else:
        options["contingencies"] = list(contingencies)
    if options["interfaces"] is not None:
        options["interfaces"] = list(options["interfaces"])
    return options


def _check_base(base: SecuredBase, network: Network, options: dict) -> None:
    """Raise TtcError where ``base`` was not made from ``network`` with ``options``."""
    _check_options(base, options, "base")
    if base.fingerprint != network_fingerprint(network):
        raise TtcError("the secured base case was made from another network (or dispatch)")


def _check_options(base: SecuredBase, options: dict, name: str) -> None:
    """Raise TtcError where ``base`` (argument ``name``) is not a SecuredBase made with
    the base-case ``options``."""
    if not isinstance(base, SecuredBase):
        raise TtcError(
            f"{name} must be a SecuredBase (from secured_base), got {type(base).__name__}"
        )
    differ = [k for k in BASE_OPTIONS if not _same(base.options[k], options[k])]
    if differ:
        raise TtcError(
            f"the secured base case was made with other options ({', '.join(differ)}): "
            "make it with secured_base and the same options"
        )


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _secured_base(network: Network, options: dict, start: SecuredBase | None = None) -> SecuredBase:
    """:func:`secured_base` with checked ``options`` (and ``start``)."""
    began = time.perf_counter()
    fingerprint = network_fingerprint(network)
    own = [Interface.parse(i) for i in network.interfaces]
    ntc = [f for f in own if f.kind == "ntc"]
    faces = [Interface.parse(i) for i in options["interfaces"] or []]
    faces += [f for f in own if f.kind != "ntc"]
    mode = options["published_limits"]
    shared: dict = {}  # what the AC checks keep, carried from the first base case on
    held = faces + ntc if mode == "hold" else faces
    base = _secure(network, options, held, shared, fingerprint, start)
    if ntc and mode == "both":
        # more limits cannot secure a base case that cannot be secured without them
        published = None if start is None else start.published or start
        base.published = (
            _secure(network, options, faces + ntc, shared, fingerprint, published)
            if base.secured or base.set_aside
            else base
        )
    base.elapsed_s = time.perf_counter() - began
    return base


def _secure(
    network: Network,
    options: dict,
    faces: list,
    shared: dict,
    fingerprint: str,
    start: SecuredBase | None = None,
) -> SecuredBase:
    """Phase 1 of :func:`n1_ttc` with the interfaces ``faces`` held, from ``network``'s
    dispatch or from ``start``'s mapped onto it (:func:`_mapped`)."""
    began = time.perf_counter()
    emergency_rating_percent, max_rounds = (
        options["emergency_rating_percent"],
        options["max_rounds"],
    )
    contingencies, units = options["contingencies"], options["units"]
    if isinstance(contingencies, str):
        ordinary = ordinary_contingencies(network, units=units)
    else:
        ordinary = list(contingencies)
    extra = exceptional_contingencies(network) if options["exceptional"] else []
    studied = ordinary + extra
    units_checked = list(network.gen.index)  # a unit that has not moved never violates
    threshold = options["cnec_threshold"]
    cnecs = None if threshold is None else select_cnecs(network, studied, threshold)

    def checker(outages):
        return _Checker(
            network,
            outages,
            emergency_rating_percent / 100.0,
            options["max_lost_mw"],
            options["enforce_q_limits"],
            faces,
            units_checked,
            shared,
            cnecs,
        )

    check = checker(studied)
    grid_args = dict(emergency_rating_percent=emergency_rating_percent, reuse=shared, cnecs=cnecs)
    net = network.copy() if start is None else _mapped(network, start.network)
    first = check(net)
    chk = first
    base_rounds = 0
    set_aside: list = []
    secured_note = lp_note = ""
    generation = _zone_generation(network, first.result)
    bound = options["base_redispatch_limit_percent"]
    limit_mw = None if bound is None else (generation * bound / 100.0).to_dict()
    balance = "island" if options["base_redispatch_balance"] == "area" else "zone"
    while not chk.ok and options["secure_base"] and base_rounds < max_rounds:
        base_rounds += 1
        grid = _grid_at(net, chk, check, grid_args)
        fix = secure_base_case(
            grid,
            redispatch=options["base_redispatch"],
            interfaces=faces,
            redispatch_balance=balance,
            redispatch_limit_mw=limit_mw,
            redispatched_mw=_moves(network, net, pd.Index(units_checked)),
        )
        if fix.status != "optimal":
            lp_note = f"; the redispatch LP: {fix.message}"
            break
        if fix.redispatch_total_mw + fix.hvdc.change_mw.abs().sum() < 1e-6:
            lp_note = "; the redispatch LP moves nothing (what is left is not thermal)"
            break
        damped = _converging(check, net, fix.apply(net), grid)  # screened: those near a limit
        if isinstance(damped, ConvergenceError):
            lp_note = (
                f"; the AC power flow of LP round {base_rounds}'s dispatch did not converge, "
                f"even with its move halved {DAMPING_STEPS} times ({damped})"
            )
            break
        net, chk = damped
        if chk.ok and chk.skipped:
            chk = check(net)  # and the others: secure only when all hold
    if chk.skipped:
        chk = check(net)  # the last round checked against every outage
    if not chk.ok and options["set_aside_insecure"]:
        bad = set(chk.violations.contingency.dropna())
        keys = {_key(o) for o in check.outages if o.label in bad}
        set_aside = [o for o in studied if _key(o) in keys]
        if set_aside:
            check = checker([o for o in studied if _key(o) not in keys])
            chk = check(net)
            secured_note = " (insecure outages set aside)"
    base_moves = _moves(network, net, pd.Index(units_checked))
    hv_change = (
        (net.hvdc.p_mw - network.hvdc.p_mw).rename("change_mw")
        if len(net.hvdc)
        else pd.Series(dtype=float)
    )
    kept = _kept(shared)
    return SecuredBase(
        network=net,
        secured=chk.ok,
        base_redispatch_mw=base_moves,
        base_redispatch_zone=_zone_shares(_zones(network, base_moves), generation),
        base_hvdc_change_mw=hv_change[np.abs(hv_change) > 1e-6],
        base_violations_removed=first.violations if chk.ok else first.violations.iloc[:0],
        residual=_table([]) if chk.ok else chk.violations,
        ordinary=ordinary,
        exceptional=extra,
        set_aside=set_aside,
        base_rounds=base_rounds,
        options=options,
        fingerprint=fingerprint,
        elapsed_s=time.perf_counter() - began,
        ac_checks=check.count,
        cnecs=cnecs,
        outside_cnec=chk.outside,
        _faces=faces,
        _chk=chk,
        _check=check.fork(kept),
        _shared=kept,
        _notes=(secured_note, lp_note),
    )


def _mapped(network: Network, parent: Network) -> Network:
    """A copy of ``network`` with ``parent``'s unit and HVDC setpoints, by id (the
    elements ``parent`` lacks keep their own)."""
    net = network.copy()
    for element in ("gen", "hvdc"):
        if len(net[element]) and len(parent[element]):
            ids = net[element].index.intersection(parent[element].index)
            net[element].loc[ids, "p_mw"] = parent[element].p_mw.loc[ids].to_numpy(dtype=float)
    net.invalidate()
    return net


def _converging(check, net: Network, moved: Network, grid: LinearisedGrid):
    """``(dispatch, check)`` of an LP round's dispatch ``moved`` from the AC-converged
    ``net``, screened at ``grid``; where its AC power flow does not converge, the move
    halved (up to ``DAMPING_STEPS`` times) and that dispatch taken. Returns the
    ConvergenceError of the last try where none converges."""
    scale = 1.0
    for _ in range(DAMPING_STEPS + 1):
        trial = moved if scale == 1.0 else _blend(net, moved, scale)
        try:
            return trial, check(trial, grid=grid)
        except ConvergenceError as error:
            failed = error
        scale /= 2.0
    return failed


def _kept(shared: dict) -> dict:
    """A copy of what the AC checks keep (:class:`_Checker`) that later checks may
    change: the AC solutions kept and the screen's last solves; the compiled
    post-contingency networks and PTDF rows (the same for every dispatch) are shared."""
    solved = {k: (res, dict(posts)) for k, (res, posts) in shared.get("solved", {}).items()}
    return {**shared, "solved": solved, "last": dict(shared.get("last", {}))}


# -- phase 2: the transfer ------------------------------------------------------------------
def _transfer(network: Network, base: SecuredBase, source, sink, options: dict, start: float):
    """The TTC from the secured ``base`` (its checker state copied)."""
    redispatch_areas, sink_element, hvdc = (
        options[k] for k in ("redispatch_areas", "sink_element", "hvdc")
    )
    trm_mw, committed_mw, tol_mw, rel_tol, max_mw = (
        options[k] for k in ("trm_mw", "committed_mw", "tol_mw", "rel_tol", "max_mw")
    )
    max_rounds = options["max_rounds"]
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
            **common,
        )

    secured = base.network
    src, snk = _shift_keys(secured, source, sink, sink_element)
    first_grid = _grid_at(secured, chk, check, grid_args)
    links = _joining_links(first_grid, src, snk, sink_element)
    if hvdc is not None:
        links = [j for j in links if j in set(hvdc)]

    def step_of(t):
        return max(tol_mw, rel_tol * abs(t))

    def search(screen: bool):
        """The LP rounds, the bisection and the step beyond; with ``screen``, the AC
        checks on the way solve only the outages the screen (:meth:`_Checker._suspects`)
        finds near a limit, and the TTC found is then checked against every outage.
        Returns ``(best, lp, rounds, nxt)``, or None where that last check fails."""
        best = (secured, 0.0, chk)
        now = (secured, 0.0, chk)
        lp: ScopfResult | None = None
        grid = first_grid
        rounds = 0
        failing = None  # (net, t) of the last failing point
        while rounds < max_rounds:
            rounds += 1
            net_k, t_k, chk_k = now
            if rounds > 1:
                grid = _grid_at(net_k, chk_k, check, grid_args)
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
            )
            if lp.status != "optimal":
                break
            cand, t_c = lp.apply(net_k), t_k + lp.transfer_mw
            if abs(lp.transfer_mw) < step_of(t_k) / 2 and chk_k.ok:
                break  # the LP stands still at an AC-secure point
            chk_c = check(cand, grid=grid if screen else None)
            if chk_c.ok:
                now = (cand, t_c, chk_c)
                best = now if t_c >= best[1] else best
                failing = None
            elif chk_c.lp_fixable and rounds < max_rounds:
                now, failing = (cand, t_c, chk_c), (cand, t_c)
            else:
                failing = (cand, t_c)
                break
        if failing is not None and failing[1] > best[1]:
            best, _ = _bisect(check, best, failing, step_of, grid if screen else None)
        # the step beyond the TTC along the same direction must break a limit
        net_b, t_b, _ = best
        nxt = None
        if t_b > 0:
            direction = (secured, 0.0)
        elif lp.transfer_mw > 0:  # no transfer: the direction of the last LP,
            direction = (lp.apply(secured), lp.transfer_mw)
        else:  # or of the shift keys alone (the links and the units held)
            along = dataclasses.replace(
                lp, transfer_mw=1.0, hvdc=lp.hvdc.iloc[:0], redispatch_mw=lp.redispatch_mw.iloc[:0]
            )
            direction = (along.apply(secured), 1.0)
        for _ in range(8):
            if t_b > 0:
                t_n = t_b + step_of(t_b)
                probe = _blend(secured, net_b, t_n / t_b)
            else:
                t_n = step_of(0.0)
                probe = _blend(secured, direction[0], t_n / direction[1])
            if max_mw is not None and t_n > max_mw:
                break
            nxt = (t_n, check(probe, fail_fast=True, grid=grid if screen else None))
            if nxt[1].broken or not nxt[1].complete:
                break
            best = (probe, t_n, nxt[1])  # it holds every limit
            net_b, t_b, _ = best
            nxt = None
        if best[2].skipped:
            full = check(best[0])
            if not full.ok:
                return None
            best = (best[0], best[1], full)
        return best, lp, rounds, nxt

    found = search(screen=True)
    if found is None:  # an outage the screen passed over breaks a limit: check them all
        found = search(screen=False)
    best, lp, rounds, nxt = found
    net_b, t_b, chk_b = best
    ttc = float(best[1])
    if lp is not None and ttc > 0:
        # the shadow prices of the LP re-linearised at the AC optimum, AC-corrected
        at_best = _grid_at(net_b, chk_b, check, grid_args)
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
            ),
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
        residual=_table([]),
        outside_cnec=chk_b.outside,
        rounds=rounds,
        ac_checks=check.count,
        elapsed_s=time.perf_counter() - start,
        network=net_b if net_b is not secured else secured.copy(),  # the base is kept
        **common,
    )


def _ac_prices(check, grid: LinearisedGrid, net: Network, fallback: ScopfResult, lp_args):
    """The transfer LP re-linearised at the AC optimum ``net`` (``grid``), its thermal
    shadow prices corrected by a finite difference in AC.

    For each line or transformer with a priced thermal row, the LP is solved again with
    its rating raised by ``PRICE_STEP`` (a fraction): the change ``du`` of the solution
    moves the row's linearised flow by the limit change ``dL`` and ``t`` by ``dt``. Both
    solutions are applied to ``net`` and the element's AC loading (after the row's
    outage) compared: where AC moves it by ``dS``, holding the limit needs ``du`` scaled
    by ``dL / dS``, so the row's price is scaled by that factor. ``shadow_price_dc``
    keeps the LP's dual. Returns ``fallback`` (the last LP) where this LP fails.
    """
    lp0 = max_transfer(grid, **lp_args)
    if lp0.status != "optimal":
        return fallback
    table = lp0.binding.copy()
    table["shadow_price_dc"] = table.shadow_price
    thermal = table.kind.isin(["n-0", "n-1"]) & (table.shadow_price > 0)
    keys = pd.MultiIndex.from_arrays([grid.cn.br_kind, grid.cn.br_id])
    outages = {o.label: o for o in check.outages}
    base0 = run_ac(lp0.apply(net), enforce_q_limits=check.q_limits, max_iter=BASE_MAX_ITER)
    for (element, eid), rows in table[thermal].groupby(["element", "id"], sort=False):
        k = keys.get_loc((0 if element == "line" else 1, eid))
        raised = copy.copy(grid)
        raised.rate = grid.rate.copy()
        raised.rate[k] *= 1.0 + PRICE_STEP
        lp1 = max_transfer(raised, **lp_args)
        dt = lp1.transfer_mw - lp0.transfer_mw
        if lp1.status != "optimal" or not dt > 0:
            continue
        row = rows.iloc[0]  # its row with the largest price
        net1 = lp1.apply(net)
        base1 = run_ac(net1, enforce_q_limits=check.q_limits, max_iter=BASE_MAX_ITER)
        if not (base0.converged and base1.converged):
            continue
        outage = outages.get(row.contingency)
        ds = _loading(net1, base1, outage, (k, keys), check) - _loading(
            lp0.apply(net), base0, outage, (k, keys), check
        )
        dl = grid.rate[k] * PRICE_STEP * row.limit_per_rating
        if np.isfinite(ds) and ds > 0:
            table.loc[rows.index, "shadow_price"] = rows.shadow_price * dl / ds
    lp0.binding = table.sort_values("shadow_price", ascending=False, ignore_index=True)
    return lp0


def _loading(net: Network, base: PowerFlowResult, outage, branch, check) -> float:
    """AC loading (``max(|S_from|, |S_to|)``, MVA) of ``branch = (position, keys)`` in
    ``net`` (solved ``base``), after ``outage`` where it is not None."""
    k, keys = branch
    res = base
    if outage is not None:
        post = solve_outage(net, outage, base=base, enforce_q_limits=check.q_limits)
        if post.status == "diverged":
            return np.nan
        res = post.power_flow
    pos = pd.MultiIndex.from_arrays([res.cn.br_kind, res.cn.br_id]).get_indexer([keys[k]])[0]
    if pos < 0:
        return np.nan
    return float(max(abs(res._s_from[pos]), abs(res._s_to[pos])))


def _bisect(check, ok, bad, step_of, grid):
    """Bisection on ``t`` between AC-secure ``ok = (net, t, check)`` and failing ``bad =
    (net, t)`` along the line joining them; returns ``(last secure, last failing t)``."""
    (net_lo, t_lo, _), (net_hi, t_hi) = ok, bad
    span = t_hi - t_lo
    lo_s, hi_s = 0.0, 1.0
    while (hi_s - lo_s) * span > step_of(t_lo + lo_s * span):
        mid = 0.5 * (lo_s + hi_s)
        trial = _blend(net_lo, net_hi, mid)
        c = check(trial, fail_fast=True, grid=grid)
        if c.ok:
            lo_s, ok = mid, (trial, t_lo + mid * span, c)
        else:
            hi_s = mid
    return ok, t_lo + hi_s * span


def verify_shadow_price(
    network: Network, source, sink, result: TtcResult, k: int = 0, *, percent: float = 1.0
) -> dict:
    """Re-solve the whole TTC with binding row ``k``'s element rating raised by
    ``percent`` and compare the TTC change with ``shadow_price * limit_per_rating *
    rating change``.

    Only thermal rows (``n-0``, ``n-1``) of lines and transformers and HVDC converter
    limits are supported.

    Returns
    -------
    dict
        ``element``, ``id``, ``kind``, ``contingency``, ``rating``, ``delta_rating``,
        ``predicted_mw``, ``observed_mw``, ``ratio`` (observed / predicted).
    """
    row = result.binding_rows.iloc[k]
    raised = network.copy()
    if row.element in ("line", "trafo"):
        rating = float(raised[row.element].at[row.id, "rate_mva"])
        raised[row.element].at[row.id, "rate_mva"] = rating * (1 + percent / 100)
        price = float(result.rating_prices.loc[(row.element, row.id)])
    elif row.element == "hvdc":
        rating = float(raised.hvdc.at[row.id, "max_p_mw"])
        raised.hvdc.at[row.id, "max_p_mw"] = rating * (1 + percent / 100)
        price = float(row.shadow_price)
    else:
        raise TtcError(f"cannot raise the rating of a {row.kind} row ({row.element})")
    raised.invalidate()
    options = dict(result.options)
    if options["published_limits"] == "both":
        options["published_limits"] = "ignore"  # result.ttc_mw is the physical TTC
    again = n1_ttc(raised, source, sink, **options)
    delta = rating * percent / 100
    predicted = price * delta
    observed = again.ttc_mw - result.ttc_mw
    return {
        "element": row.element,
        "id": row.id,
        "kind": row.kind,
        "contingency": row.contingency,
        "rating": rating,
        "delta_rating": delta,
        "predicted_mw": predicted,
        "observed_mw": observed,
        "ratio": observed / predicted if predicted else np.nan,
        "result": again,
    }
