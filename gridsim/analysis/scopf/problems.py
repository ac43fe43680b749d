"""The two problems of :mod:`gridsim.analysis.scopf`: :func:`secure_base_case` and
:func:`max_transfer`, and the shift keys and joining links they are given."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from gridsim.analysis._areas import _plan, _zones_of
from gridsim.analysis.scopf.grid import Interface, LinearisedGrid, ScopfError
from gridsim.analysis.scopf.lp import _Lp
from gridsim.analysis.scopf.result import ScopfResult, _outcome
from gridsim.model.compile import GEN, NONE
from gridsim.model.network import Network, plain


def _unit_ids(network: Network, areas) -> pd.Series:
    """Redispatch costs per unit from ``areas``: None (no unit), an iterable of zone or
    group names (every in-service, energised non-slack unit there, cost 1) or a mapping
    gen id -> cost per MW."""
    if areas is None:
        return pd.Series(dtype=float)
    if isinstance(areas, Mapping):
        costs = pd.Series(dict(areas), dtype=float)
        if (costs < 0).any() or not np.isfinite(costs).all():
            raise ScopfError("redispatch costs must be finite and non-negative")
        return costs

    if isinstance(areas, str):
        areas = [areas]
    zones = set()
    for area in areas:
        zones.update(_zones_of(network, area))
    cn = network.compile()
    on = (cn.inj_kind == GEN) & ~cn.inj_slack & (cn.bus_type[cn.inj_bus] != NONE)
    bus_zone = network.bus["zone"].astype(str).reindex(cn.bus_ids).to_numpy()
    pick = on & np.isin(bus_zone[cn.inj_bus], list(zones))
    return pd.Series(1.0, index=pd.Index(cn.inj_id[pick]), dtype=float)


def _shift_keys(network: Network, source, sink, sink_element: str):
    """``(source shares, sink shares)``: Series as given, or transfer's plan of an area
    or id list (source units by headroom, sink loads by size)."""
    if isinstance(source, pd.Series) and isinstance(sink, pd.Series):
        return source.astype(float), sink.astype(float)

    if not isinstance(source, str | pd.Series):
        source = list(source)
    if not isinstance(sink, str | pd.Series):
        sink = list(sink)
    plan = _plan(
        network,
        list(source.index) if isinstance(source, pd.Series) else source,
        list(sink.index) if isinstance(sink, pd.Series) else sink,
        sink_element,
        None,
        None,
    )
    src = source if isinstance(source, pd.Series) else pd.Series(plan.gen_share, plan.gen_ids)
    snk = sink if isinstance(sink, pd.Series) else pd.Series(plan.sink_share, plan.sink_ids)
    return src.astype(float), snk.astype(float)


def _joining_links(grid: LinearisedGrid, source: pd.Series, sink: pd.Series, sink_element):
    """In-service links with one end in the source's AC island and one in the sink's."""
    return list(_joining_signs(grid, source, sink, sink_element))


def _joining_signs(
    grid: LinearisedGrid, source: pd.Series, sink: pd.Series, sink_element
) -> dict[str, float]:
    """:func:`_joining_links`, each with its direction: +1 where its from end lies in the
    source's island (its ``p_mw`` counts towards the sink), -1 where in the sink's."""
    cn, net = grid.cn, grid.network
    src_bus = net.gen.bus.reindex(source.index)
    snk_bus = net[sink_element].bus.reindex(sink.index)
    isl_src = set(cn.island[cn.bus_ids.get_indexer(src_bus)].tolist())
    isl_snk = set(cn.island[cn.bus_ids.get_indexer(snk_bus)].tolist())
    if isl_src == isl_snk:
        return {}
    f, t = cn.island[cn.hvdc_from], cn.island[cn.hvdc_to]
    from_src = np.isin(f, list(isl_src))
    join = (from_src & np.isin(t, list(isl_snk))) | (
        np.isin(f, list(isl_snk)) & np.isin(t, list(isl_src))
    )
    return {i: 1.0 if s else -1.0 for i, s in zip(cn.hvdc_id[join], from_src[join], strict=True)}


def _balance(value: str) -> str:
    if value not in ("zone", "island"):
        raise ScopfError(f"redispatch_balance must be 'zone' or 'island', got {value!r}")
    return value


def _run(lp: _Lp, problem: str, cost: np.ndarray, maximise: bool, then_cost=None):
    """Solve ``lp`` (then, when ``then_cost`` has an entry, minimise it at the optimal
    ``t``); on infeasibility solve the elastic LP for the residual violations."""
    start = time.perf_counter()
    sense = 1.0 if maximise else -1.0
    status, h, rows, position, x = lp.solve(cost, maximise)
    if status == "Optimal":
        sol = h.getSolution()
        duals = (rows, np.asarray(sol.row_dual)[position], np.asarray(sol.col_dual))
        objective = float(h.getInfo().objective_function_value)
        if then_cost is not None and np.any(then_cost):
            t_lower = x[0] - 1e-9 * max(1.0, abs(x[0]))
            second, _, _, _, x2 = lp.solve(then_cost, False, rows=rows, t_lower=t_lower)
            if second == "Optimal":
                x = x2
            status = f"{status}; then {second}"
        if problem == "max_transfer":
            message = f"largest transfer {x[0]:.6g} MW"
        else:
            message = f"secure with a remedial action cost of {objective:.6g}"
        solve_s = time.perf_counter() - start
        return _outcome(lp, problem, x, objective, status, message, duals, None, solve_s, sense)
    if status == "Infeasible":
        e_status, _, _, _, x = lp.solve(np.zeros(lp.nv), False, elastic=True)
        x = x[: lp.nv] if x is not None else np.zeros(lp.nv)
        residual = lp.violations(lp.activity(x))
        bound = " within the zones' redispatch bounds" if lp.zone_bounded else ""
        message = (
            f"base case cannot be secured: {len(residual)} limit(s) stay violated with every "
            f"control used{bound} ({residual.excess_mw.sum():.6g} MW over in all)"
        )
        if len(residual):
            worst = residual.iloc[0]
            after = f" after the outage of {worst.contingency}" if worst.contingency else ""
            message += (
                f"; worst: {worst.kind} {worst.element} {str(worst.id)!r}{after}, "
                f"{worst.excess_mw:.4g} MW over"
            )
        if problem == "max_transfer":
            message = "transfer capability not defined: " + message
        status = f"{status}; elastic {e_status}"
        solve_s = time.perf_counter() - start
        return _outcome(lp, problem, x, np.nan, status, message, None, residual, solve_s, sense)
    message = f"the LP could not be solved: HiGHS says {status}"
    if status == "Unbounded" and problem == "max_transfer":
        message += " (no limit bounds the transfer: give max_mw)"
    solve_s = time.perf_counter() - start
    out = _outcome(
        lp, problem, np.zeros(lp.nv), np.nan, status, message, None, None, solve_s, sense
    )
    out.status = "failed"
    return out


def secure_base_case(
    grid: LinearisedGrid,
    *,
    redispatch: Iterable[str] | str | Mapping | None = "all",
    hvdc: Iterable | None = None,
    interfaces: Iterable | None = None,
    redispatch_balance: str = "island",
    redispatch_limit_mw: Mapping | None = None,
    redispatched_mw: pd.Series | None = None,
    hvdc_cost: float | Mapping = 1.0,
    margin_percent: float = 0.0,
) -> ScopfResult:
    """The least preventive redispatch that makes the operating point N-1 secure.

    Minimises ``sum cost_g |r_g| + sum c_j |h_j|`` over the redispatchable units and the
    free HVDC links' setpoint changes (within their ratings), subject to every N-0 and
    N-1 row of ``grid``, the interfaces, unit limits and each island's balance (module
    docstring). Where no dispatch holds every row, the result says the base case cannot
    be secured and lists the rows a least-violation dispatch (min total MW over) leaves
    violated.

    A link's schedule is part of the operating point as the units' outputs are (a
    market result in the base case), so moving it is a remedial action with a cost, by
    default 1 per MW as a unit's move: without one the LP would take any vertex of the
    links' free moves, circulating power through several links (out on one, back on
    another) at no cost wherever that relieves an AC row by a little, and such loops
    change reactive flows and voltages that the LP does not see (issue 19: a 2032
    base case whose Nakhchivan voltages fell to 0.77 p.u. after free link moves).

    Parameters
    ----------
    grid : LinearisedGrid
    redispatch : "all", iterable of area names, mapping or None
        The units that may move: ``"all"`` every in-service non-slack unit, zone codes or
        group names (every such unit there), a mapping gen id -> cost per MW, or None.
        Costs default to 1 per MW (the objective is then the MW moved, up plus down).
    hvdc : iterable of link ids, optional
        The links whose setpoints are free; default every in-service link.
    interfaces : iterable of Interface or dict, optional
        Flowgates held in the base case.
    redispatch_balance : {"island", "zone"}
        The redispatch (with the HVDC moves) balances each AC island (default:
        cross-border redispatch allowed), or also each zone: the redispatch and the
        moves of the links with an end in the zone (lossless) net to zero there, so
        that every zone's net position is kept.
    redispatch_limit_mw : mapping zone -> MW, optional
        Bound on each named zone's redispatch: ``sum |move|`` over its units, the
        moves already made (``redispatched_mw``) included, as LP rows held also by
        the least-violation LP (a base case that cannot be secured within the bounds
        says so, with the residual). Default: unbounded.
    redispatched_mw : pandas.Series, optional
        Per unit, the redispatch made before this operating point (a successive-LP
        step), counted in ``redispatch_limit_mw``.
    hvdc_cost : float or mapping link id -> float
        Cost per MW of a free link's setpoint change (>= 0; a mapping's missing links
        cost 1 per MW). 0 makes the moves free.
    margin_percent : float
        Every thermal row (N-0 and N-1) is held at ``100 - margin_percent`` % of its
        limit (a flow reliability margin, as ENTSO-E's capacity calculation keeps on a
        CNEC: ``Fmax - FRM``), so that the redispatch does not stop exactly at a limit.
        Default 0.

    Returns
    -------
    ScopfResult
        ``status`` ``"optimal"`` (secured; ``violations_before`` lists what the
        redispatch removed) or ``"cannot be secured"`` (with ``residual``).
    """
    if not 0.0 <= margin_percent < 100.0:
        raise ScopfError(f"margin_percent must be in [0, 100), got {margin_percent!r}")
    net = grid.network
    if isinstance(redispatch, str) and redispatch == "all":
        redispatch = sorted(set(net.bus["zone"].astype(str)))
    costs = _unit_ids(net, redispatch)
    links = list(grid.cn.hvdc_id) if hvdc is None else list(hvdc)
    if isinstance(hvdc_cost, Mapping):
        link_cost = [float(hvdc_cost.get(plain(j), 1.0)) for j in links]
    else:
        link_cost = [float(hvdc_cost)] * len(links)
    lp = _Lp(
        grid,
        source=None,
        sink=None,
        sink_element="load",
        hvdc=links,
        redispatch=costs,
        interfaces=[Interface.parse(i) for i in interfaces or []],
        max_mw=None,
        transfer=False,
        redispatch_balance=_balance(redispatch_balance),
        redispatch_limit=redispatch_limit_mw,
        redispatched=redispatched_mw,
        link_cost=np.array(link_cost),
        margin=margin_percent / 100.0,
    )
    cost = np.concatenate([np.zeros(1 + lp.m), costs.to_numpy(), costs.to_numpy()])
    return _run(lp, "secure_base_case", cost, maximise=False)


def max_transfer(
    grid: LinearisedGrid,
    source,
    sink,
    *,
    sink_element: str = "load",
    hvdc: Iterable | None = None,
    redispatch: Iterable[str] | str | Mapping | None = None,
    interfaces: Iterable | None = None,
    max_mw: float | None = None,
    redispatch_balance: str = "zone",
    min_mw: float = 0.0,
    thermal_tol: float = 0.0,
    voltage_tol: float = 0.0,
) -> ScopfResult:
    """The largest transfer from ``source`` to ``sink`` with optimal HVDC setpoints.

    Maximises ``t`` (source units up by ``share t``, sink loads up by ``share t``, or sink
    units down with ``sink_element="gen"``) with the free links' setpoints and the
    redispatch as further variables, subject to every N-0 and N-1 row of ``grid``, the
    interfaces, unit and converter limits and each island's balance; then, at that
    ``t``, minimises the redispatch. The duals of the first LP are the shadow prices.

    Parameters
    ----------
    grid : LinearisedGrid
    source, sink : str, iterable of ids or pandas.Series
        Area names or id lists (shift keys as :func:`gridsim.transfer_capability`'s:
        units by headroom, loads by size), or Series of shares indexed by gen (load) id.
    sink_element : {"load", "gen"}
    hvdc : iterable of link ids, optional
        Free links; default those joining the source's AC island to the sink's.
    redispatch : iterable of area names, mapping gen id -> cost, or None
        Units that may be redispatched (none by default).
    interfaces : iterable of Interface or dict, optional
    max_mw : float, optional
        Upper bound of ``t``.
    min_mw : float
        Lower bound of ``t`` (default 0). A successive-LP step re-linearised at an
        earlier solution ``t_k`` passes ``-t_k`` so that it may back off.
    redispatch_balance : {"zone", "island"}
        ``"zone"`` (default): the redispatch nets to zero in each zone, so that the
        transfer alone changes the zones' net positions (otherwise the sink's own
        units, redispatched up, would serve the sink's extra load and count as
        transfer); ``"island"``: it only balances each AC island.
    thermal_tol : float
        A thermal row over its limit at the operating point by at most this fraction
        of its rating is held at its flow there instead (an AC check that accepts
        loadings within a tolerance, e.g. :data:`gridsim.analysis.ttc.THERMAL_TOL`,
        then never meets an infeasible, degenerate LP at a point it accepted).
        Default 0: every row at its limit.
    voltage_tol : float
        The same for the voltage rows of ``grid`` (its ``voltage_watch``: the voltage
        magnitudes intact or after an outage, linearised on the AC sensitivities,
        p.u.): one outside its limit by at most this is held where it is.

    Returns
    -------
    ScopfResult
        ``status`` ``"optimal"``, ``"cannot be secured"`` (no secure dispatch even at
        ``t = 0``: the transfer capability is not defined) or ``"failed"``.
    """
    net = grid.network
    if sink_element not in ("load", "gen"):
        raise ScopfError(f"sink_element must be 'load' or 'gen', got {sink_element!r}")
    if not (np.isfinite(min_mw) and min_mw <= 0):
        raise ScopfError(f"min_mw must be zero or negative, got {min_mw!r}")
    if max_mw is not None and not max_mw >= min_mw:
        raise ScopfError(f"max_mw must be at least min_mw, got {max_mw!r}")
    src, snk = _shift_keys(net, source, sink, sink_element)
    links = _joining_links(grid, src, snk, sink_element) if hvdc is None else list(hvdc)
    costs = _unit_ids(net, redispatch)
    lp = _Lp(
        grid,
        source=src,
        sink=snk,
        sink_element=sink_element,
        hvdc=links,
        redispatch=costs,
        interfaces=[Interface.parse(i) for i in interfaces or []],
        max_mw=max_mw,
        transfer=True,
        min_mw=min_mw,
        redispatch_balance=_balance(redispatch_balance),
        thermal_tol=thermal_tol,
        voltage_tol=voltage_tol,
    )
    cost = np.zeros(lp.nv)
    cost[0] = 1.0
    then = np.concatenate([np.zeros(1 + lp.m), costs.to_numpy(), costs.to_numpy()])
    return _run(lp, "max_transfer", cost, maximise=True, then_cost=then)
