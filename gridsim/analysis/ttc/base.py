"""Phase 1 of :func:`~gridsim.analysis.ttc.n1_ttc`: the secured base case, made once and
reused (the package docstring, item 1).

:func:`secured_base` checks the base case in AC against every studied outage and
redispatches it in LP rounds (:func:`gridsim.analysis.scopf.secure_base_case`, a round's
move halved up to ``DAMPING_STEPS`` times where AC diverges) until it holds every limit,
optionally from a parent network's secured dispatch (``start``). The
:class:`SecuredBase` it returns keeps the AC checks' state for every transfer studied
from it; :data:`BASE_OPTIONS` are the options it depends on and
:func:`network_fingerprint` ties it to its network."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from gridsim.analysis.cnec import CnecSelection, select_cnecs
from gridsim.analysis.outages import (
    Outage,
    exceptional_contingencies,
    ordinary_contingencies,
)
from gridsim.analysis.scopf import Interface, LinearisedGrid, secure_base_case
from gridsim.analysis.ttc.check import (
    LP_KINDS,
    _Check,
    _Checker,
    _grid_at,
    _table,
    _tolerance,
)
from gridsim.analysis.ttc.dispatch import _blend, _moves, _zone_generation, _zone_shares, _zones
from gridsim.analysis.ttc.result import TtcError
from gridsim.analysis.ttc.voltage import voltage_round
from gridsim.exceptions import ConvergenceError
from gridsim.model.network import Network
from gridsim.model.schema import ELEMENTS

DEFAULT_MAX_LOST_MW = 1000.0  # load an outage may cut off before it is a violation
DAMPING_STEPS = 4  # a base round's move is halved at most this often where AC diverges


BASE_OPTIONS = (
    "contingencies",
    "units",
    "exceptional",
    "emergency_rating_percent",
    "base_redispatch",
    "base_redispatch_balance",
    "base_redispatch_limit_percent",
    "base_margin_percent",
    "cnec_threshold",
    "voltage_control",
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
        The secured dispatch (units and HVDC setpoints moved by the redispatch, units'
        voltage setpoints by the preventive voltage control).
    secured : bool
        The base case holds every limit in AC (where not, the TTC is not defined).
    base_redispatch_mw, base_redispatch_zone, base_hvdc_change_mw
        What securing moved (per unit, per zone: ``up_mw``, ``down_mw``, ``net_mw``, the
        zone's ``generation_mw`` before securing and ``share_percent``, ``(up + down) /
        generation``; per link).
    base_voltage_change_pu : pandas.Series
        Per unit whose voltage setpoint securing moved (``voltage_control``), the
        change, p.u.
    base_shunt_step_change : pandas.Series
        Per switched shunt bank (``shunt.max_step``) securing switched
        (``voltage_control``), the change of its steps in service.
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
    base_voltage_change_pu: pd.Series = dataclasses.field(
        default_factory=lambda: pd.Series(dtype=float, name="change_pu")
    )
    base_shunt_step_change: pd.Series = dataclasses.field(
        default_factory=lambda: pd.Series(dtype=float, name="change_steps")
    )
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
    _limit_mw: dict | None = dataclasses.field(default=None, repr=False)  # zone bounds, MW

    def as_start(self) -> SecuredBase:
        """This base case with only what ``secured_base(..., start=...)`` reads (the
        secured dispatch, the options and the published base case's), without the AC
        checks' state it keeps for a TTC (the compiled post-contingency networks and
        outage results: about 2 GB on the 816-bus corridor model). It can start the
        securing of a variant, not a TTC (``n1_ttc(..., base=...)`` refuses it)."""
        light = dataclasses.replace(self, _chk=None, _check=None, _shared={}, published=None)
        if self.published is self:
            light.published = light
        elif self.published is not None:
            light.published = self.published.as_start()
        return light


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
    base_margin_percent: float = 0.0,
    cnec_threshold: float | None = None,
    voltage_control: bool = True,
    secure_base: bool = True,
    interfaces: Iterable | None = None,
    enforce_q_limits: bool = True,
    max_lost_mw: float = DEFAULT_MAX_LOST_MW,
    set_aside_insecure: bool = False,
    max_rounds: int = 6,
    published_limits: str = "both",
    start: SecuredBase | None = None,
) -> SecuredBase:
    """The base-case phase of :func:`n1_ttc` alone (package docstring, item 1), to be
    given to every :func:`n1_ttc` call on ``network`` with the same options
    (``base=``): the sink and the route do not change it.

    With ``start``, the secured base case of another network (a parent, of which
    ``network`` is a variant: a reinforcement, another link), the phase starts from the
    parent's secured dispatch mapped onto ``network``: the units' and HVDC links'
    setpoints by id (the elements the parent lacks or has out of service keep their
    own). That dispatch is
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
    base_redispatch_balance, base_redispatch_limit_percent, base_margin_percent
        As :func:`n1_ttc`'s.
    cnec_threshold
        As :func:`n1_ttc`'s.
    voltage_control
        As :func:`n1_ttc`'s.
    secure_base, interfaces, enforce_q_limits, max_lost_mw, set_aside_insecure
        As :func:`n1_ttc`'s.
    max_rounds, published_limits
        As :func:`n1_ttc`'s.
    start : SecuredBase, optional
        A parent's secured base case made with the same options (above), but for the
        limits (:data:`START_FREE`: ``emergency_rating_percent`` and ``interfaces``):
        its dispatch is checked against this call's, so a case with a raised emergency
        rating or a relaxed interface can start from the reference case's secured
        dispatch, as a reinforcement does (where that holds the looser limits, the base
        case is the same, and the TTCs compare the limits, not two securing
        redispatches: on the corridor's 2032 summer peak, AZ->EU, the 110 % rating
        secured on its own moves 625 MW where the 100 % one moved 1,274 MW, and its
        export falls from 142.6 to -0.7 MW beyond the schedule).

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
        base_margin_percent=base_margin_percent,
        cnec_threshold=cnec_threshold,
        voltage_control=voltage_control,
        secure_base=secure_base,
        interfaces=interfaces,
        enforce_q_limits=enforce_q_limits,
        max_lost_mw=max_lost_mw,
        set_aside_insecure=set_aside_insecure,
        max_rounds=max_rounds,
        published_limits=published_limits,
    )
    if start is not None:
        _check_options(start, options, "start", free=START_FREE)
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
    margin = options["base_margin_percent"]
    if not (np.isfinite(margin) and 0.0 <= margin < 100.0):
        raise TtcError(f"base_margin_percent must be in [0, 100), got {margin!r}")
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


START_FREE = ("emergency_rating_percent", "interfaces")
"""The options of :func:`secured_base` in which its ``start`` may differ: the limits the
start's dispatch is checked against."""


def _check_base(base: SecuredBase, network: Network, options: dict) -> None:
    """Raise TtcError where ``base`` was not made from ``network`` with ``options``."""
    _check_options(base, options, "base")
    if base._check is None:
        raise TtcError(
            "the secured base case was made by as_start(): it can start the securing of a "
            "variant (secured_base(..., start=...)), not a TTC"
        )
    if base.fingerprint != network_fingerprint(network):
        raise TtcError("the secured base case was made from another network (or dispatch)")


def _check_options(base: SecuredBase, options: dict, name: str, free: tuple = ()) -> None:
    """Raise TtcError where ``base`` (argument ``name``) is not a SecuredBase made with
    the base-case ``options`` (those in ``free`` may differ)."""
    if not isinstance(base, SecuredBase):
        raise TtcError(
            f"{name} must be a SecuredBase (from secured_base), got {type(base).__name__}"
        )
    differ = [k for k in BASE_OPTIONS if k not in free and not _same(base.options[k], options[k])]
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
        if options["voltage_control"] and _voltage_only(chk, diverged=True):
            moved, why = voltage_round(net, chk, check)
            if moved is None:
                lp_note = f"; preventive voltage control: {why}"
                break
            chk_moved = check(moved)
            if not (
                chk_moved.ok
                or chk_moved.lp_fixable
                or _voltage_only(chk_moved, lp_kinds=True)
                or _fewer_diverged(chk_moved, chk)
            ):
                worst = chk_moved.violations.iloc[0]
                after = f" after {worst.contingency}" if worst.contingency else ""
                lp_note = (
                    "; preventive voltage control: its setpoints break what no round holds "
                    f"({worst.kind} {worst.element} {worst.id}{after}), so they are not kept"
                )
                break
            net, chk = moved, chk_moved
            continue
        grid = _grid_at(net, chk, check, grid_args)
        fix = secure_base_case(
            grid,
            redispatch=options["base_redispatch"],
            interfaces=faces,
            redispatch_balance=balance,
            redispatch_limit_mw=limit_mw,
            redispatched_mw=_moves(network, net, pd.Index(units_checked)),
            margin_percent=options["base_margin_percent"],
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
        keys = {o.key for o in check.outages if o.label in bad}
        set_aside = [o for o in studied if o.key in keys]
        if set_aside:
            check = checker([o for o in studied if o.key not in keys])
            chk = check(net)
            secured_note = " (insecure outages set aside)"
    base_moves = _moves(network, net, pd.Index(units_checked))
    hv_change = (
        (net.hvdc.p_mw - network.hvdc.p_mw).rename("change_mw")
        if len(net.hvdc)
        else pd.Series(dtype=float)
    )
    v_change = (net.gen.vm_pu - network.gen.vm_pu).rename("change_pu")
    kept = _kept(shared)
    return SecuredBase(
        network=net,
        secured=chk.ok,
        base_redispatch_mw=base_moves,
        base_redispatch_zone=_zone_shares(_zones(network, base_moves), generation),
        base_hvdc_change_mw=hv_change[np.abs(hv_change) > 1e-6],
        base_voltage_change_pu=v_change[np.abs(v_change) > 1e-9],
        base_shunt_step_change=_step_change(network, net),
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
        _limit_mw=limit_mw,
    )


def _voltage_only(chk: _Check, lp_kinds: bool = False, diverged: bool = False) -> bool:
    """Every limit ``chk`` finds broken (beyond its tolerance) is a bus voltage (with
    ``lp_kinds``: some are, and the others are of the kinds the LPs model; with
    ``diverged``: or outages that did not solve, which voltage support may let solve)."""
    v = chk.violations
    bad = v[v.excess > _tolerance(v)]
    kinds = ("voltage", *LP_KINDS) if lp_kinds else ("voltage",)
    if diverged:
        kinds = (*kinds, "diverged")
    return bool((bad.kind == "voltage").any()) and bool(bad.kind.isin(kinds).all())


def _fewer_diverged(after: _Check, before: _Check) -> bool:
    """``after`` leaves fewer outages unsolved than ``before`` and breaks nothing the
    rounds cannot handle (voltages, the LPs' kinds, outages that do not solve)."""
    v = after.violations
    bad = v[v.excess > _tolerance(v)]
    handled = bad.kind.isin(("voltage", "diverged", *LP_KINDS)).all()
    n_after = int((v.kind == "diverged").sum())
    return bool(handled) and n_after < int((before.violations.kind == "diverged").sum())


def _step_change(before: Network, after: Network) -> pd.Series:
    """Per shunt bank whose steps in service differ from ``before`` to ``after``, the
    change (steps)."""
    change = (after.shunt.step - before.shunt.step).rename("change_steps")
    return change[np.abs(change) > 1e-9]


def _mapped(network: Network, parent: Network) -> Network:
    """A copy of ``network`` with ``parent``'s unit (active power and voltage) and HVDC
    setpoints, by id (the elements ``parent`` lacks or has out of service keep their
    own: a link a variant switches in keeps the setpoint the variant gives it)."""
    net = network.copy()
    for element, fields in (("gen", ["p_mw", "vm_pu"]), ("hvdc", ["p_mw"]), ("shunt", ["step"])):
        if len(net[element]) and len(parent[element]):
            on = parent[element].index[parent[element].in_service.to_numpy(dtype=bool)]
            ids = net[element].index.intersection(on)
            for field in fields:
                values = parent[element][field].loc[ids].to_numpy(dtype=float)
                net[element].loc[ids, field] = values
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
