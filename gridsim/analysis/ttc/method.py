""":func:`n1_ttc`, the N-1 TTC (the method: the package docstring), and
:func:`verify_shadow_price`, which re-solves it with one rating raised.

:func:`n1_ttc` checks its options, secures the base case (phase 1,
:mod:`gridsim.analysis.ttc.base`; or takes the ``base`` given), searches the transfer
(phase 2, :mod:`gridsim.analysis.ttc.search`) and, with published limits, the TTC within
them beside it."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Iterable, Mapping

import numpy as np

from gridsim.analysis.outages import Outage
from gridsim.analysis.ttc.base import (
    DEFAULT_MAX_LOST_MW,
    SecuredBase,
    _base_options,
    _check_base,
    _secured_base,
    network_fingerprint,
)
from gridsim.analysis.ttc.joint import _joint_base
from gridsim.analysis.ttc.result import TtcError, TtcResult
from gridsim.analysis.ttc.search import _transfer
from gridsim.model.network import Network


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
    base_margin_percent: float = 0.0,
    cnec_threshold: float | None = None,
    voltage_control: bool = True,
    voltage_rows: bool = True,
    joint_base: bool = False,
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
    verified in AC (see the package docstring for the method).

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
    base_margin_percent : float
        Flow reliability margin of the base-case redispatch: its LPs hold every thermal
        row at ``100 - base_margin_percent`` % of its limit (ENTSO-E's ``Fmax - FRM`` on
        a CNEC), so that the least redispatch does not leave the branches it relieves
        exactly at their limits, where any transfer that loads them finds a TTC of 0.
        The AC checks hold the limits themselves. Default 0.
    cnec_threshold : float, optional
        Hold thermal limits only on the CNECs: the (branch, contingency) pairs whose
        largest zone-to-zone PTDF is at least this (0.05: ENTSO-E's 5 %;
        :func:`gridsim.analysis.cnec.select_cnecs`), in the base-case security and the
        transfer. The thermal violations of the other pairs are not held but never
        dropped: :attr:`TtcResult.outside_cnec` lists those at the TTC and the message
        counts them. Voltage limits, diverged and islanding outages stay monitored
        everywhere. Default None: every rated branch is held (no selection).
    voltage_control : bool
        Where the base case, or a transfer LP's optimum, breaks voltage limits only, move
        the units' voltage setpoints and the switched shunt banks' steps least to hold
        them (preventive voltage control, a mixed-integer program over AC sensitivities:
        :mod:`gridsim.analysis.ttc.voltage`); reported in
        :attr:`TtcResult.base_voltage_change_pu`, :attr:`TtcResult.voltage_change_pu`,
        :attr:`TtcResult.base_shunt_step_change` and
        :attr:`TtcResult.shunt_step_change`. Default True.
    voltage_rows : bool
        Hold the voltages the transfer's AC checks find broken as rows of the later LPs
        (linearised on AC sensitivities), and where such a row stops the LP, ask the
        voltage control (``voltage_control``) for room at it and go on (package
        docstring, item 2). Default True. False: only bisect along the direction that
        met a voltage (the method before these rows: on the substation model's 2026
        AZ->EU case, published limits ignored, it stops at 217.5 MW of export beyond
        the schedule where the rows find 749.3 MW; with a 110 % emergency rating in
        2030 at 120.4 MW where they find 860.1).
    joint_base : bool
        Also choose the base case's redispatch with the transfer: after the search, one
        LP over both states (:func:`gridsim.analysis.scopf.joint.secure_for_transfer`)
        moves the secured base case's units and links, each zone within the volume
        securing moved there (or within ``base_redispatch_limit_percent`` where given;
        the AC securing of the base case it proposes may add to that)
        and the base case's export not raised above the schedule (or the least
        securing's, where that is more), to let the most
        through; where that gains more than the search tolerance, the base case it
        proposes is secured in AC, the transfer searched from it too and the larger
        total kept (:attr:`TtcResult.started_from` ``"joint"``). It measures how much
        the TTC depends on which of the many least securing redispatches phase 1
        picked (the corridor's 2032 summer peak, AZ->EU: 142.6 MW of export beyond the
        schedule from the least securing, 431.5 MW with the same 1,274 MW of
        redispatch arranged for the transfer). Default False: the transfer from the
        least securing redispatch, as ENTSO-E's capacity calculation uses redispatch
        (for security, not to raise capacity).
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
        side by side), from the base case secured with them held; that base case holds
        the physical limits too, so the physical TTC is also searched from it and kept
        where its total (:attr:`TtcResult.total_change_mw`) is larger by more than the
        search tolerance (:attr:`TtcResult.started_from`); ``"ignore"``: the physical
        TTC only; ``"hold"``: the TTC holds them.
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
        voltage_rows=bool(voltage_rows),
        joint_base=bool(joint_base),
    )
    if base is None:
        base = _secured_base(network, base_options)
    else:
        _check_base(base, network, base_options)
    result = _transfer(network, base, source, sink, options, start)
    pub = base.published
    if pub is None:
        return _joint(network, base, result, source, sink, options, start)
    if pub is base:
        result = _joint(network, base, result, source, sink, options, start)
        result.published = result
        return result
    published = _transfer(
        network, pub, source, sink, {**options, "published_limits": "hold"}, time.perf_counter()
    )
    published.started_from = "published"
    published = _joint(
        network, pub, published, source, sink, {**options, "published_limits": "hold"}, start
    )
    if result.defined and pub.secured and _moved(pub, base):
        # the base case secured with the published limits holds the physical ones too,
        # and the physical TTC from there may export more (each securing is the least
        # redispatch for its own limits: not nested); kept where it exports more by more
        # than the search tolerance (within it the two are one answer, and the base case
        # secured without them moves less)
        alt = _transfer(network, _physical(pub, base), source, sink, options, start)
        gain = alt.total_change_mw - result.total_change_mw
        if alt.defined and gain > max(tol_mw, rel_tol * abs(result.total_change_mw)):
            alt.started_from = "published"
            alt.message += (
                f" (from the base case secured with the published limits held, which "
                f"exports {gain:.3g} MW more than the "
                "physical TTC from the base case secured without them)"
            )
            result = alt
    start_base = _physical(pub, base) if result.started_from == "published" else base
    result = _joint(network, start_base, result, source, sink, options, start)
    result.published = published
    return result


def _joint(network, base: SecuredBase, result: TtcResult, source, sink, options, start):
    """``result``, or the TTC from the base case the two-state LP proposed
    (``result._proposal``, package :mod:`~gridsim.analysis.ttc.joint`) where that base
    case is secure in AC and its total is larger by more than the search tolerance."""
    proposal, gain = result._proposal
    tol = max(options["tol_mw"], options["rel_tol"] * abs(result.total_change_mw))
    if proposal is None or not result.defined or gain <= tol:
        return result
    joint = _joint_base(network, base, proposal)
    if not joint.secured:
        return result
    alt = _transfer(network, joint, source, sink, {**options, "joint_base": False}, start)
    more = alt.total_change_mw - result.total_change_mw
    if not (alt.defined and more > tol):
        return result
    alt.started_from = "joint"
    alt.options = options
    alt.message += (
        f" (from the base case whose redispatch was chosen with the transfer, which "
        f"exports {more:.3g} MW more than from the least securing redispatch)"
    )
    return alt


def _moved(a: SecuredBase, b: SecuredBase) -> bool:
    """Whether the two secured base cases' dispatches differ."""
    return network_fingerprint(a.network) != network_fingerprint(b.network)


def _physical(pub: SecuredBase, base: SecuredBase) -> SecuredBase:
    """The base case ``pub`` (secured with the published limits too) as a start for the
    physical TTC: its dispatch and AC checks' state, ``base``'s interfaces held."""
    check = copy.copy(pub._check)
    check.interfaces = base._faces
    return dataclasses.replace(pub, _faces=base._faces, _check=check, published=None)


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
    if options["published_limits"] == "both" and result.started_from == "physical":
        options["published_limits"] = "ignore"  # result.ttc_mw is the physical TTC
    again = n1_ttc(raised, source, sink, **options)
    delta = rating * percent / 100
    predicted = price * delta
    observed = again.total_change_mw - result.total_change_mw  # the bases may differ
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
