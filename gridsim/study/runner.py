"""The study's computations: tasks, their evaluation (in worker processes) and tables.

Every number of the report comes from one call on the scenario's network with the case's
edits (see :func:`case_network`), so any of them can be reproduced by the same call: an
N-0 TTC from :func:`gridsim.transfer_capability`, an N-1 TTC from
:func:`gridsim.analysis.ttc.n1_ttc` (base case secured first, or "not defined: base
case cannot be secured"; nothing set aside), the Niš sites from :func:`gridsim.run_ac`
and :func:`gridsim.solve_outage` over the ordinary contingencies.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.analysis.outages import ordinary_contingencies, solve_outage
from gridsim.analysis.powerflow import run_ac
from gridsim.analysis.sensitivity import zone_ptdf
from gridsim.analysis.sweep.params import parse_parameter, set_field
from gridsim.analysis.transfer import (
    VOLTAGE_STABILITY,
    TransferError,
    TransferResult,
    apply_transfer,
    transfer_capability,
)
from gridsim.analysis.ttc import (
    SecuredBase,
    TtcError,
    n1_ttc,
    network_fingerprint,
    secured_base,
)
from gridsim.exceptions import GridsimError
from gridsim.io import load_network
from gridsim.model.network import Network, plain
from gridsim.study import cases

BASE_CASE = "base"
PV_STEP_MAX = 0.1  # largest continuation step of the study's P–V curves (finer figures)


@dataclasses.dataclass(frozen=True)
class Task:
    """One unit of work (picklable)."""

    kind: str  # "ttc", "curve" (N-0 TTC plus a dense export curve) or "site"
    scenario: str
    year: str
    sink: str = ""
    n_1: bool = False
    case: str = BASE_CASE  # reinforcement key, "package" or "base"
    route: str = "all"  # route key or "all" (default HVDC allocation)
    site: str = ""
    map_path: str = ""  # write a loading map at the TTC here
    weight: float = 1.0  # expected cost, for scheduling


_NETWORKS: dict[tuple[str, str], Network] = {}
"""Scenario networks read in this process (or handed over by the parent), by path and
scenario: each is read once and copied for every case."""


def _scenario_network(path: str, scenario: str) -> Network:
    key = (path, scenario)
    if key not in _NETWORKS:
        _NETWORKS[key] = load_network(path, scenario=scenario)
    return _NETWORKS[key]


def reinforcements_of(
    study: cases.StudyCases, year: str, only: tuple[str, ...] | None = None
) -> list:
    """The reinforcements of ``study`` studied in ``year`` (restricted to the keys in
    ``only``)."""
    return [r for r in study.reinforcements if year in r.years and (only is None or r.key in only)]


def case_network(
    path: str | os.PathLike,
    scenario: str,
    case: str = BASE_CASE,
    *,
    only: tuple[str, ...] | None = None,
) -> Network:
    """The network a study case is computed on: the scenario plus the case's edits.

    Parameters
    ----------
    path : path-like
        The corridor network file (a model of :data:`gridsim.study.cases.MODELS`).
    scenario : str
        Scenario name (``"2032"``, ``"2030_nis_trupale"``, ...).
    case : str
        ``"base"``, a reinforcement key of the model's
        :class:`~gridsim.study.cases.StudyCases`, or ``"package"`` (every reinforcement
        studied in the scenario's year, restricted to ``only`` when given).
    only : tuple of str, optional
        Reinforcement keys the package is made of (``--quick`` uses fewer).

    Returns
    -------
    Network
        A fresh copy; the cached scenario network is not modified.
    """
    net = _scenario_network(str(path), scenario).copy()
    if case == BASE_CASE:
        return net
    study = cases.for_network(path)
    year = str(net.scenario_info["year"])
    if case == cases.PACKAGE_KEY:
        chosen = reinforcements_of(study, year, only)
    else:
        chosen = [r for r in study.reinforcements if r.key == case]
        if not chosen:
            raise GridsimError(f"study: unknown reinforcement {case!r}")
    for r in chosen:
        for element, eid, field, value in r.edits:
            p = parse_parameter(net, f"{element}:{eid}:{field}", [value])
            set_field(net, p, p.values[0])
    for r in chosen:
        if r.forward is not None:
            net = _forward(net, *r.forward)
    return net


def _forwards(path: str, net: Network, case: str, only) -> bool:
    """Whether case ``case`` forwards a scheduled export (moves the dispatch itself)."""
    study = cases.for_network(path)
    if case == cases.PACKAGE_KEY:
        chosen = reinforcements_of(study, str(net.scenario_info["year"]), only)
    else:
        chosen = [r for r in study.reinforcements if r.key == case]
    return any(r.forward is not None for r in chosen)


def _forward(net: Network, from_zone: str, to_zone: str, link: str) -> Network:
    """Send the export's scheduled delivery in ``from_zone`` on to ``to_zone``."""
    delivered = float((net.export or {}).get("sinks_mw", {}).get(from_zone, 0.0))
    if delivered <= 0:
        return net
    mw = min(delivered, float(net.hvdc.max_p_mw[link]))
    out = apply_transfer(net, from_zone, to_zone, mw, sink_element="gen")
    out.set("hvdc", link, "p_mw", mw)
    return out


def route_shares(net: Network, sink: str, route: str) -> dict | None:
    """``hvdc_shares`` forcing a transfer through one route (None: default allocation).

    Only links in service and joining the source's island to the sink's are named; a
    route with none of them returns ``{}`` (not available in this case).
    """
    if route == "all":
        return None
    r = next(x for x in cases.for_network(net.source).routes if x.key == route)
    joining = joining_links(net, sink)
    return {link: 1.0 for link in r.links if link in joining}


def joining_links(net: Network, sink: str) -> list[str]:
    """In-service HVDC links joining the source's AC island to the sink's (the links a
    transfer moves; empty when both lie in one island)."""
    cn = net.compile()
    zones = net.bus["zone"].astype(str)
    groups = getattr(net, "groups", None) or {}

    def islands(element: str, area: str) -> set[int]:
        members = set(groups.get(area, [area]))
        table = net[element]
        on = table.in_service.to_numpy(dtype=bool, copy=True)  # never a view: it is edited
        if element == "gen":
            on &= ~table.slack.to_numpy(dtype=bool)
        buses = table.bus[on & zones.reindex(table.bus).isin(members).to_numpy()]
        pos = cn.bus_ids.get_indexer(buses)
        return {int(i) for i in cn.island[pos[pos >= 0]] if i >= 0}

    src, snk = islands("gen", cases.SOURCE), islands("load", sink)
    if len(src) != 1 or len(snk) != 1 or src == snk:
        return []
    a, b = src.pop(), snk.pop()
    isl_f, isl_t = cn.island[cn.hvdc_from], cn.island[cn.hvdc_to]
    join = ((isl_f == a) & (isl_t == b)) | ((isl_f == b) & (isl_t == a))
    return [str(i) for i in np.asarray(cn.hvdc_id)[join]]


def _label(element) -> str:
    if element is None:
        return ""
    return f"{element[0]} {plain(element[1])}"


def _run_ttc(path: str, task: Task, only) -> dict:
    net = case_network(path, task.scenario, task.case, only=only)
    export_mw = float((net.export or {}).get("mw", 0.0))
    row = {
        "year": task.year,
        "scenario": task.scenario,
        "sink": task.sink,
        "n_1": task.n_1,
        "case": task.case,
        "route": task.route,
        "site": task.site,
        "scheduled_export_mw": export_mw,
    }
    shares = route_shares(net, task.sink, task.route)
    if shares == {}:
        row.update(status="route not available", ttc_mw=np.nan)
        return {"row": row}
    if task.n_1:
        parent = None
        if task.case != BASE_CASE and not _forwards(path, net, task.case, only):
            parent = case_network(path, task.scenario)
        return _run_n1(net, task, row, shares, parent)
    t0 = time.perf_counter()
    try:
        r = transfer_capability(net, cases.SOURCE, task.sink, n_1=task.n_1, hvdc_shares=shares)
    except TransferError as exc:
        row.update(status=f"not studied: {exc}", ttc_mw=np.nan, seconds=time.perf_counter() - t0)
        return {"row": row}
    row.update(
        status="ok",
        ttc_mw=r.ttc_mw,
        total_export_mw=export_mw + r.ttc_mw,
        limit_type=r.limit_type,
        limiting_element=_label(r.limiting_element),
        limiting_contingency=_label(r.limiting_contingency),
        excluded_contingencies=len(r.excluded_contingencies),
        skipped_contingencies=len(r.skipped_contingencies),
        losses_mw=r.losses_mw,
        losses_increase_mw=r.losses_increase_mw,
        hvdc_capacity_mw=r.hvdc_capacity_mw,
        hvdc_links=" ".join(f"{k}:{v:.3g}" for k, v in r.hvdc_shares.items()),
        seconds=time.perf_counter() - t0,
    )
    stability, pv = voltage_stability(r)
    row.update(stability)
    key = {k: row[k] for k in ("year", "sink", "n_1", "case", "route", "site")}
    out = {"row": row}
    if len(pv):
        for k, v in key.items():
            pv.insert(0, k, v)
        out["pv"] = pv
    curve = r.curve.copy()
    for k, v in key.items():
        curve.insert(0, k, v)
    out["trials"] = curve
    out["excluded"] = pd.DataFrame(
        [{**key, "outage_element": e, "outage_id": str(i)} for e, i in r.excluded_contingencies]
    )
    if task.case == BASE_CASE and task.route == "all" and not task.site:
        links = r.link_flows.reset_index(names="hvdc")
        borders = r.border_flows.copy()
        for k, v in key.items():
            links.insert(0, k, v)
            borders.insert(0, k, v)
        out["links"] = links
        out["borders"] = borders
        if task.map_path:
            from gridsim.plot import plot_map

            title = (
                f"{task.scenario}: AZ → {task.sink} at the {'N-1' if task.n_1 else 'N-0'} "
                f"limit ({export_mw:.0f} + {r.ttc_mw:.0f} MW)"
            )
            plot_map(r.network_at(r.ttc_mw), r.result, task.map_path, title=title)
    return out


_BASE: dict[str, SecuredBase] = {}  # this process's last secured base case, by network
_START: dict[str, SecuredBase] = {}  # the last parent's, as a start only (as_start)


def _secured(net: Network, parent: Network | None = None) -> SecuredBase:
    """The base case of ``net`` secured for :func:`_run_n1`, kept for the next N-1 cases
    of the same network (the sink and the route do not change it; only the last
    network's is kept whole, and its parent's as a start).

    A reinforcement case is secured from its scenario's secured base case ``parent``
    (``secured_base(..., start=...)``): the scenario's secured dispatch where it holds
    every limit with the reinforcement built, LP rounds from it where not. So a case is
    compared with its scenario at the same operating point, and a project that only adds
    capacity or control cannot come out worse for a different securing dispatch. The
    parent is kept as a start only (:meth:`SecuredBase.as_start`: its dispatch, not
    its AC checks' state, about 2 GB on the substation model), so a worker holds one
    whole secured base case at a time."""
    key = network_fingerprint(net)
    if key not in _BASE:
        start = None
        if parent is not None:
            pkey = network_fingerprint(parent)
            start = _START.get(pkey) or _secured(parent).as_start()
            _START.clear()
            _START[pkey] = start
        _BASE.clear()  # before securing: one whole base case in memory
        _BASE[key] = secured_base(net, start=start, **cases.N1_OPTIONS)
    return _BASE[key]


DISPATCH_FIELDS = (
    ("gen", "p_mw"),
    ("gen", "vm_pu"),
    ("hvdc", "p_mw"),
    ("shunt", "step"),
    ("load", "p_mw"),
    ("load", "q_mvar"),
)
"""The setpoints :func:`dispatch_table` records: what securing and the transfer move (the
sink's loads go up with the transfer)."""


def dispatch_table(**states: Network) -> pd.DataFrame:
    """The setpoints of each named dispatch (``state=network``), long: ``state``,
    ``element``, ``id``, ``field``, ``value`` (:data:`DISPATCH_FIELDS`, in-service
    elements)."""
    parts = []
    for state, net in states.items():
        for element, field in DISPATCH_FIELDS:
            table = net[element]
            on = table[table.in_service.to_numpy(dtype=bool)]
            parts.append(
                pd.DataFrame(
                    {
                        "state": state,
                        "element": element,
                        "id": on.index.astype(str),
                        "field": field,
                        "value": on[field].to_numpy(dtype=float),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def _max_share(zones: pd.DataFrame) -> float:
    """The largest share of a zone's generation the base-case redispatch moved, percent."""
    if "share_percent" not in zones or not len(zones):
        return 0.0
    return float(zones.share_percent.max())


def _run_n1(
    net: Network, task: Task, row: dict, shares: dict | None, parent: Network | None = None
) -> dict:
    """The N-1 TTC as a planner signs it (:func:`gridsim.analysis.ttc.n1_ttc`): from a
    base case secured by redispatch, ordinary contingencies, the joining HVDC links (the
    route's where one is forced) free, published limits reported beside; or "not
    defined: base case cannot be secured" with the violations left. Nothing is set
    aside. ``limit_type``, ``limiting_element`` and ``limiting_contingency`` are the AC
    violation one step beyond the TTC. The base case is secured once per network
    (:func:`_secured`, from the scenario's, ``parent``, for a reinforcement case): the
    first case of a network counts its time in ``seconds``."""
    t0 = time.perf_counter()
    try:
        base = _secured(net, parent)
        r = n1_ttc(
            net,
            cases.SOURCE,
            task.sink,
            hvdc=None if shares is None else list(shares),
            base=base,
            **cases.N1_OPTIONS,
        )
    except TtcError as exc:
        row.update(status=f"not studied: {exc}", ttc_mw=np.nan, seconds=time.perf_counter() - t0)
        return {"row": row}
    worst = r.residual.iloc[0] if len(r.residual) else None
    step = r.next_step.iloc[0] if len(r.next_step) else None
    # TTC = BCE + dE: the secured base case's joining-link moves beyond the schedule
    change = r.base_exchange_change_mw
    pub = r.published or r
    pub_change = pub.base_exchange_change_mw
    row.update(
        status="ok" if r.defined else "not defined: base case cannot be secured",
        method="optimal",
        ttc_mw=r.ttc_mw,
        ttc_published_mw=r.ttc_published_mw,
        total_export_published_mw=row["scheduled_export_mw"] + pub_change + r.ttc_published_mw,
        base_export_change_mw=change,
        started_from=r.started_from,
        total_export_mw=row["scheduled_export_mw"] + change + r.ttc_mw,
        limit_type=step.kind if step is not None else "",
        limiting_element=f"{step.element} {step.id}" if step is not None else "",
        limiting_contingency=(step.contingency or "") if step is not None else "",
        excluded_contingencies=len(r.set_aside),
        skipped_contingencies=0,
        ordinary_contingencies=len(r.ordinary),
        base_redispatch_mw=float(r.base_redispatch_mw.abs().sum()),
        base_redispatch_max_share_percent=_max_share(r.base_redispatch_zone),
        base_voltage_setpoints_moved=len(r.base_voltage_change_pu),
        voltage_setpoints_moved=len(r.voltage_change_pu),
        base_shunt_banks_switched=len(r.base_shunt_step_change),
        shunt_banks_switched=len(r.shunt_step_change),
        outside_cnec_violations=len(r.outside_cnec),
        residual_violations=len(r.residual),
        worst_residual=(
            f"{worst.kind} {worst.element} {worst.id}"
            + (f" after {worst.contingency}" if worst.contingency else "")
            if worst is not None
            else ""
        ),
        hvdc_links=" ".join(f"{k}:{v:.4g}" for k, v in r.hvdc.p_mw.items()) if len(r.hvdc) else "",
        seconds=time.perf_counter() - t0,
        # no P-V screen here (the AC N-1 check includes the voltage limits)
        min_vm_at_ttc_pu=np.nan,
        pv_computed=False,
        nose_intact_mw=np.nan,
        nose_after_outage_mw=np.nan,
        nose_margin_percent=np.nan,
        pv_near=False,
    )
    out = {"row": row}
    if r.defined:  # the operating points of the study's figures (job._limits)
        key = {k: row[k] for k in ("year", "sink", "case", "route", "site")}
        out["dispatch"] = dispatch_table(secured_base=r.secured_network, ttc=r.network).assign(
            **key
        )
    return out


def voltage_stability(r: TransferResult) -> tuple[dict, pd.DataFrame]:
    """The voltage-stability check of one TTC result (see
    :data:`gridsim.study.cases.PV_SCREEN_VM_PU`).

    Returns
    -------
    row : dict
        ``min_vm_at_ttc_pu`` (intact, at the TTC), ``pv_computed`` (the screen let the
        noses be computed), ``nose_intact_mw`` and ``nose_after_outage_mw`` (MW of
        transfer at the nose, intact and after the limiting outage; NaN when not
        computed or no nose was found), ``nose_margin_percent`` (the lowest nose above
        the TTC, percent of the TTC) and ``pv_near`` (voltage stability binds, or that
        margin is below :data:`gridsim.study.cases.PV_NEAR`).
    curves : DataFrame
        The P–V curves computed: ``outage`` (label, empty for the intact network),
        ``transfer_mw``, ``point``, ``bus`` and ``vm_pu`` for the weakest buses.
    """
    vm = float(np.nanmin(r.result.bus.vm_pu))
    binds = r.limit_type == VOLTAGE_STABILITY
    row = {
        "min_vm_at_ttc_pu": vm,
        "pv_computed": False,
        "nose_intact_mw": np.nan,
        "nose_after_outage_mw": np.nan,
        "nose_margin_percent": np.nan,
        "pv_near": binds,
    }
    if not (binds or vm < cases.PV_SCREEN_VM_PU):
        return row, pd.DataFrame()
    row["pv_computed"] = True
    parts = []
    todo = [(None, "nose_intact_mw")]
    if r.limiting_contingency is not None:
        todo.append((r.limiting_contingency, "nose_after_outage_mw"))
    for outage, column in todo:
        cpf = r.pv_curve(outage, step_max=PV_STEP_MAX)
        if cpf.converged:
            row[column] = cpf.transfer_nose_mw
        curve = cpf.curve.drop(columns="lambda").melt(
            id_vars=["transfer_mw", "point"], var_name="bus", value_name="vm_pu"
        )
        curve.insert(0, "outage", _label(outage))
        parts.append(curve.assign(bus=curve.bus.astype(str)))
    noses = [row[c] for _, c in todo if np.isfinite(row[c])]
    if noses and r.ttc_mw > 0:
        row["nose_margin_percent"] = 100.0 * (min(noses) / r.ttc_mw - 1.0)
        row["pv_near"] = binds or row["nose_margin_percent"] < 100.0 * cases.PV_NEAR
    return row, pd.concat(parts, ignore_index=True)


def _run_curve(path: str, task: Task) -> dict:
    """N-0 TTC plus AC power flows at evenly spaced transfers (the export curve)."""
    out = _run_ttc(path, task, None)
    row = out["row"]
    if row.get("status") != "ok":
        return out
    net = case_network(path, task.scenario)
    top = max(1.3 * row["ttc_mw"], 200.0)
    points = []
    for t in np.linspace(0.0, top, cases.EXPORT_CURVE_POINTS):
        moved = apply_transfer(net, cases.SOURCE, task.sink, float(t))
        res = run_ac(moved, enforce_q_limits=True, max_iter=50)
        ok = bool(res.converged)
        loading = res.branch.loading_percent if ok else None
        points.append(
            {
                "year": task.year,
                "sink": task.sink,
                "transfer_mw": float(t),
                "total_export_mw": row["scheduled_export_mw"] + float(t),
                "converged": ok,
                "max_loading_percent": float(np.nanmax(loading)) if ok else np.nan,
                "max_loading_branch": " ".join(map(str, loading.idxmax())) if ok else "",
                "min_vm_pu": float(np.nanmin(res.bus.vm_pu)) if ok else np.nan,
                "losses_mw": (res.losses_mw + float(res.hvdc.pl_mw.sum())) if ok else np.nan,
            }
        )
    out["curve"] = pd.DataFrame(points)
    return out


def _run_site(path: str, task: Task) -> dict:
    """Losses, loadings and N-1 margins of one Niš plant site (no transfer added).

    N-0 (losses, loadings) at the site scenario's dispatch, so that the sites differ by
    the plant's place only. N-1 at the dispatch a planner would operate: the scenario's
    base case secured by :func:`_secured` (the least preventive redispatch that makes it
    N-1 secure, the same secured base case as the site's N-1 TTC); the MW it moves is the
    site's cost of security. Where the base case cannot be secured the N-1 figures are
    at the scenario's dispatch (``n1_dispatch`` says which). The N-1 is over the ordinary
    contingencies (:func:`gridsim.ordinary_contingencies`: one circuit of each line, each
    transformer unit and HVDC link, the largest unit of each synchronous area), each
    solved in AC with reactive limits and the post-contingency response. The plant's own
    margin is taken over the branches that carry at least
    :data:`gridsim.study.cases.PLANT_DF` of its output in the intact grid (its
    distribution factor to the Serbian load, :func:`gridsim.zone_ptdf` with the plant's
    bus as the source zone): what the site changes, not what is insecure anywhere in the
    grid whatever the site. The connection's own N-1 loading (the site's lines: after the
    loss of one half of an in-out the other carries the plant and the through flow) is
    taken apart: it is what the connection option itself decides.
    """
    site = next(s for s in cases.for_network(path).nis_sites if s.key == task.site)
    net = case_network(path, task.scenario)
    res = run_ac(net, enforce_q_limits=True)
    if not res.converged:
        raise GridsimError(f"study: scenario {task.scenario!r} does not converge ({res.message})")
    br = res.branch.loading_percent
    rs_lines = net.line.index[
        net.line.in_service
        & net.line.from_bus.map(net.bus.zone).eq("RS")
        & net.line.to_bus.map(net.bus.zone).eq("RS")
    ]
    rs_loading = res.line.loading_percent.reindex(rs_lines)
    zones = net.bus.zone.copy()
    zones[site.bus] = "_plant"
    df = zone_ptdf(net, "_plant", "RS", zones=zones)
    near = df.index[df.abs().to_numpy() >= cases.PLANT_DF]
    try:
        base = _secured(net)
    except TtcError:
        base = None
    secured = base is not None and base.secured
    at, at_res = net, res
    if secured:
        at = base.network
        at_res = run_ac(at, enforce_q_limits=True)
        if not at_res.converged:
            raise GridsimError(
                f"study: the secured base case of {task.scenario!r} does not converge "
                f"({at_res.message})"
            )
    n1 = _site_n1(at, at_res, near, rs_lines, pd.Index(site.lines))
    row = {
        "year": task.year,
        "scenario": task.scenario,
        "site": site.key,
        "site_label": site.label,
        "connection_bus": site.bus,
        "losses_mw": res.losses_mw + float(res.hvdc.pl_mw.sum()),
        "max_loading_percent": float(np.nanmax(br)),
        "max_loading_branch": " ".join(map(str, br.idxmax())),
        "max_loading_rs_percent": float(rs_loading.max()),
        "max_loading_rs_line": str(rs_loading.idxmax()),
        "connection_loading_percent": float(res.line.loading_percent[list(site.lines)].max()),
        "plant_branches": len(near),
        "n1_dispatch": "secured" if secured else "scenario (base case cannot be secured)",
        "secured_redispatch_mw": (
            float(base.base_redispatch_mw.abs().sum()) if secured else np.nan
        ),
        **n1,
    }
    return {"row": row}


def _site_n1(net: Network, res, near: pd.Index, rs_lines: pd.Index, connection: pd.Index) -> dict:
    """The site table's N-1 columns: the worst post-outage loading of the plant's
    connection lines ``connection`` (the site's own: a spur's circuits, the halves of
    an in-out), of its branches ``near``, of the Serbian lines and anywhere, over the
    ordinary contingencies of ``net`` solved from ``res``."""
    rs_rows = pd.MultiIndex.from_tuples([("line", i) for i in rs_lines])
    own = pd.MultiIndex.from_tuples([("line", i) for i in connection])
    worst = {k: (-np.inf, "", "") for k in ("all", "rs", "plant", "connection")}
    over = diverged = 0
    min_vm = np.inf
    reuse: dict = {}
    for outage in ordinary_contingencies(net, units="largest_per_area"):
        r = solve_outage(net, outage, base=res, enforce_q_limits=True, reuse=reuse)
        if not r.converged:
            diverged += 1
            continue
        load = r.power_flow.branch.loading_percent
        over += bool((load > 100.0).any())
        min_vm = min(min_vm, float(r.power_flow.bus.vm_pu.min()))
        parts = (("all", load.index), ("rs", rs_rows), ("plant", near), ("connection", own))
        for key, rows in parts:
            part = load.reindex(rows).dropna()
            if len(part) and part.max() > worst[key][0]:
                b = part.idxmax()
                worst[key] = (float(part.max()), f"{b[0]} {b[1]}", outage.label)
    value = {k: v[0] if np.isfinite(v[0]) else np.nan for k, v in worst.items()}
    return {
        "n1_worst_loading_connection_percent": value["connection"],
        "n1_worst_connection_branch": worst["connection"][1],
        "n1_worst_connection_outage": worst["connection"][2],
        "n1_worst_loading_plant_percent": value["plant"],
        "n1_worst_plant_branch": worst["plant"][1],
        "n1_worst_plant_outage": worst["plant"][2],
        "n1_margin_plant_percent": 100.0 - value["plant"],
        "n1_worst_loading_percent": value["all"],
        "n1_worst_branch": worst["all"][1],
        "n1_worst_outage": worst["all"][2],
        "n1_worst_loading_rs_percent": value["rs"],
        "n1_overloading_outages": over,
        "n1_diverged_outages": diverged,
        "n1_min_vm_pu": min_vm if np.isfinite(min_vm) else np.nan,
    }


_PATH: str | None = None
_ONLY: tuple[str, ...] | None = None


def _init_worker(path: str, only, networks: dict) -> None:
    """A worker's start: the study's file and reinforcements, and the scenario networks
    the parent has read and compiled (so no worker reads the file again)."""
    global _PATH, _ONLY
    _PATH, _ONLY = path, only
    _NETWORKS.update(networks)


def evaluate(task: Task, path: str | None = None, only=None) -> dict:
    """Run one task; returns ``{"row": dict, ...tables}``. Errors become the row's status."""
    path = path or _PATH
    only = only if only is not None else _ONLY
    try:
        if task.kind == "curve":
            return _run_curve(path, task)
        if task.kind == "site":
            return _run_site(path, task)
        return _run_ttc(path, task, only)
    except GridsimError as exc:  # one failed case must not lose the others
        row = dataclasses.asdict(task)
        row.pop("map_path")
        row.pop("weight")
        row.update(status=f"failed: {' '.join(str(exc).split())}", ttc_mw=np.nan)
        return {"row": row}


def evaluate_many(tasks: list[Task], path: str | None = None, only=None) -> list[dict]:
    """:func:`evaluate` of each task in turn, here: the N-1 cases of one network share its
    secured base case."""
    return [evaluate(task, path, only) for task in tasks]


def rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
