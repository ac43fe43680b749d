"""Runs the study: builds the tasks, evaluates them on a few processes, assembles the
tables, draws the figures and writes the report atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.exceptions import GridsimError
from gridsim.study import cases, figures, report, runner
from gridsim.study.runner import (
    BASE_CASE,
    Task,
    _init_worker,
    _scenario_network,
    evaluate_many,
    joining_links,
    reinforcements_of,
)

NETWORK_NAME = "caspian_eu.yaml"
LIMIT_CURVE_POINTS = 7
"""Transfers of each N-1 export curve (a full AC N-1 at each)."""


def default_network() -> Path:
    """The bundled corridor network file.

    Looked for, in order: ``networks/caspian_eu.yaml`` under the current directory (a
    checkout), next to the package's source tree (an editable install), then in
    ``<prefix>/share/gridsim/networks/`` (where a regular install puts it).

    Raises
    ------
    GridsimError
        When none of them exists (give the file with ``--network``).
    """
    package = Path(__file__).resolve().parents[2]
    candidates = [
        Path.cwd() / "networks" / NETWORK_NAME,
        package / "networks" / NETWORK_NAME,
        Path(sys.prefix) / "share" / "gridsim" / "networks" / NETWORK_NAME,
    ]
    for c in candidates:
        if c.is_file():
            return c
    raise GridsimError(
        f"{NETWORK_NAME}: the bundled corridor network was not found (looked in "
        f"{', '.join(str(c.parent) for c in candidates)}); give it with --network FILE"
    )


@dataclasses.dataclass
class StudyResult:
    """What :func:`run_study` wrote and computed.

    Attributes
    ----------
    out_dir : Path
        The report folder (``report.md``, ``report.html``, ``figures/``, ``data/``).
    report_md, report_html : Path
    tables : dict of str to DataFrame
        Every table of ``data/`` by name (``headline``, ``routes``, ``reinforcements``,
        ``nis_sites``, ``voltage_stability``, ``export_curve``, ``export_curve_n1``, ``pv_curves``,
        ``trials``, ``excluded_contingencies``, ``hvdc_at_limit``,
        ``borders_at_limit``, ``n1_dispatch``).
    meta : dict
        Command, versions, date, network file and its SHA-256, run time.
    seconds : float
        Wall time of the whole study.
    """

    out_dir: Path
    report_md: Path
    report_html: Path
    tables: dict
    meta: dict
    seconds: float


def _tasks(path: str, study: cases.StudyCases, quick: bool) -> list[Task]:
    years = study.quick_years if quick else study.years
    only = study.quick_reinforcements if quick else None
    tasks: list[Task] = []
    for year in years:
        for sink in cases.SINKS:
            tasks.append(Task("curve", year, year, sink, False, weight=WEIGHTS["curve"]))
            tasks.append(Task("ttc", year, year, sink, True, weight=WEIGHTS["n1"]))
            net = _scenario_network(path, year)
            joining = joining_links(net, sink)
            for route in study.routes:
                mine = [link for link in route.links if link in joining]
                if mine and len(mine) < len(joining):  # else the same as "all"
                    for n_1 in (False, True):
                        tasks.append(
                            Task(
                                "ttc",
                                year,
                                year,
                                sink,
                                n_1,
                                route=route.key,
                                weight=WEIGHTS["n1" if n_1 else "n0"],
                            )
                        )
            keys = [r.key for r in reinforcements_of(study, year, only)]
            if not quick:
                keys.append(cases.PACKAGE_KEY)
            for key in keys:
                for n_1 in (False, True):
                    tasks.append(
                        Task(
                            "ttc",
                            year,
                            year,
                            sink,
                            n_1,
                            case=key,
                            weight=WEIGHTS["n1_reinforced" if n_1 else "n0"],
                        )
                    )
    site_years = study.nis_years[:1] if quick else study.nis_years
    for year in site_years:
        for site in study.nis_sites:
            scen = study.site_scenario(site, year)
            tasks.append(Task("site", scen, year, site=site.key, weight=WEIGHTS["site"]))
            if not quick and scen != year:  # a site of the year's scenario: the headline
                for n_1 in (False, True):
                    tasks.append(
                        Task(
                            "ttc",
                            scen,
                            year,
                            "RS",
                            n_1,
                            site=site.key,
                            weight=WEIGHTS["n1" if n_1 else "n0"],
                        )
                    )
    return tasks


def _warm_up(path: str, year: str) -> None:
    from gridsim.analysis.contingency import ac_outage
    from gridsim.analysis.powerflow import run_ac

    net = _scenario_network(path, year).copy()
    res = run_ac(net, enforce_q_limits=True)
    line = net.line.index[net.line.in_service.to_numpy(dtype=bool)][0]
    if res.converged:
        ac_outage(net, ("line", line), init=res, enforce_q_limits=True)


def _versions() -> dict:
    import matplotlib
    import numba
    import scipy

    import gridsim

    return {
        "gridsim": gridsim.__version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "pandas": pd.__version__,
        "matplotlib": matplotlib.__version__,
    }


WEIGHTS = {
    "n0": 1.0,
    "n1": 5.0,
    "n1_reinforced": 3.5,
    "curve": 2.0,
    "site": 3.0,
    "limits": 8.0,
}
"""Expected cost of each kind of task relative to an N-0 TTC (as measured on the bundled
network): the progress bar advances by these, so its ETA follows the work left."""


def _task_label(task: Task) -> str:
    """``2030, AZ → RS, N-1, via Black Sea cables → Romania``: what the bar says."""
    row = dataclasses.asdict(task)
    if task.kind == "site":
        return f"{task.year}, Niš plant at {cases.labels()[task.site]}"
    text = figures.case_label(row)
    return text + ", export curve" if task.kind == "curve" else text


def _run(calls: list[tuple], pool, bar) -> list:
    """Evaluate ``calls`` (``(function, args, label, weight)``), the heaviest first, on
    ``pool`` (or here when None), advancing ``bar`` by each one's weight; an error names
    the call's label."""
    results: list = [None] * len(calls)
    order = sorted(range(len(calls)), key=lambda i: -calls[i][3])

    def done(i: int, value) -> None:
        results[i] = value
        count = sum(r is not None for r in results)
        bar.set_postfix_str(f"{count}/{len(calls)} done: {calls[i][2]}", refresh=False)
        bar.update(calls[i][3])

    def named(i: int, get):
        try:
            return get()
        except GridsimError as exc:  # say which case it was
            raise GridsimError(f"{calls[i][2]}: {exc}") from exc

    if pool is None:
        for i in order:
            done(i, named(i, lambda i=i: calls[i][0](*calls[i][1])))
    else:
        futures = {pool.submit(calls[i][0], *calls[i][1]): i for i in order}
        for fut in as_completed(futures):
            done(futures[fut], named(futures[fut], fut.result))
    return results


def _evaluate_all(tasks: list[Task], path: str, only, pool, bar) -> list[dict]:
    """Evaluate the study's tasks (:func:`gridsim.study.runner.evaluate`, see
    :func:`_run`), the N-1 cases of one network (scenario and case) in one call, so that
    they share its secured base case (:func:`gridsim.study.runner.evaluate_many`)."""
    groups: dict = {}
    for i, t in enumerate(tasks):
        groups.setdefault((t.scenario, t.case) if t.kind == "ttc" and t.n_1 else i, []).append(i)
    calls = []
    for group in groups.values():
        label = _task_label(tasks[group[0]])
        if len(group) > 1:
            label += f" and {len(group) - 1} more"
        weight = sum(tasks[i].weight for i in group)
        calls.append((evaluate_many, ([tasks[i] for i in group], path, only), label, weight))
    results: list = [None] * len(tasks)
    for group, outs in zip(groups.values(), _run(calls, pool, bar), strict=True):
        for i, out in zip(group, outs, strict=True):
            results[i] = out
    return results


def _say(progress: bool, text: str) -> None:
    """One progress message on stderr (with the bar on)."""
    if progress:
        print(f"gridsim study: {text}", file=sys.stderr, flush=True)


def _element(label) -> tuple | None:
    """``("line", "L_X")`` of a table's ``"line L_X"`` label (anything after the id, such
    as ``"(circuit 1 of 2)"``, left out; None when empty)."""
    parts = _text(label).split()
    return (parts[0], parts[1]) if len(parts) >= 2 else None


def _n1_outages(net, units: str | None = "all") -> list:
    """The study's N-1 contingencies of ``net``: :func:`gridsim.n1_ttc`'s ordinary ones
    (its default ``units``)."""
    from gridsim.analysis.outages import ordinary_contingencies

    return ordinary_contingencies(net, units=units)


def _post(net, outage, base, reuse: dict, q_limits: bool = True):
    """The AC state after ``outage`` (an :class:`~gridsim.analysis.outages.Outage`) from
    the solved ``base``, or None where it does not converge."""
    from gridsim.analysis.outages import solve_outage

    post = solve_outage(net, outage, base=base, enforce_q_limits=q_limits, reuse=reuse)
    return post.power_flow if post.converged else None


def _n1_worst(net, outages: list, cnecs, reuse: dict, q_limits: bool = True) -> list[tuple]:
    """Per converged outage of ``net``'s dispatch: ``(largest loading of a CNEC after it,
    "element id" of that branch, lowest voltage, the outage's label)``; empty where the
    intact grid does not converge. The thermal limits are those the N-1 TTC holds (the
    CNECs of ``cnecs``); the voltages are every bus's; reactive limits as the study's
    N-1 TTC (``q_limits``)."""
    from gridsim.analysis.powerflow import run_ac

    base = run_ac(net, enforce_q_limits=q_limits, max_iter=50)
    if not base.converged:
        return []
    cn = net.compile()
    names = pd.MultiIndex.from_arrays(
        [np.where(cn.br_kind == 0, "line", "trafo"), cn.br_id.astype(object)]
    )
    _, held = cnecs.masks(outages, names)
    rows = []
    for outage, mask in zip(outages, held, strict=True):
        res = _post(net, outage, base, reuse, q_limits)
        if res is None:
            continue
        loading = res.branch.loading_percent
        watched = pd.Series(mask, index=names).reindex(loading.index, fill_value=True)
        loading = loading[watched.to_numpy(dtype=bool) & np.isfinite(loading.to_numpy())]
        low = float(np.nanmin(np.where(res.bus.vm_pu > 0, res.bus.vm_pu, np.nan)))
        if not len(loading):  # no CNEC after it: its voltages only
            rows.append((np.nan, "", low, outage.label))
            continue
        where = loading.idxmax()
        rows.append((float(loading.max()), f"{where[0]} {where[1]}", low, outage.label))
    return rows


def _worst(rows: list[tuple]) -> tuple:
    """The row of :func:`_n1_worst` with the largest loading (NaN rows last)."""
    return max(rows, key=lambda r: r[0] if np.isfinite(r[0]) else -np.inf, default=None)


def _with_dispatch(net, dispatch: pd.DataFrame):
    """A copy of ``net`` with the setpoints of ``dispatch`` (rows ``element``, ``id``,
    ``field``, ``value``: units' ``p_mw`` and ``vm_pu``, links' ``p_mw``, banks'
    ``step``, loads' ``p_mw`` and ``q_mvar``; :data:`runner.DISPATCH_FIELDS`)."""
    out = net.copy()
    for (element, field), part in dispatch.groupby(["element", "field"], sort=False):
        table = out[element]
        ids = table.index[table.index.astype(str).isin(part.id.astype(str))]
        values = part.set_index(part.id.astype(str)).value
        table.loc[ids, field] = values.reindex(ids.astype(str)).to_numpy(dtype=float)
    out.invalidate()
    return out


def _along(start, end, s: float):
    """The dispatch ``start + s (end - start)`` (``s`` > 1 goes on past ``end``), the
    units within their limits and the links within their ratings."""
    from gridsim.analysis.ttc.dispatch import _blend

    net = _blend(start, end, s)
    if s >= 1.0 and len(net.shunt):  # the banks the TTC's voltage control switched
        net.shunt["step"] = end.shunt.step.to_numpy(dtype=float)
    gen = net.gen
    lo = gen.min_p_mw.fillna(-np.inf).to_numpy(dtype=float)
    hi = gen.max_p_mw.fillna(np.inf).to_numpy(dtype=float)
    gen["p_mw"] = np.clip(gen.p_mw.to_numpy(dtype=float), np.minimum(lo, hi), hi)
    if len(net.hvdc):
        cap = net.hvdc.max_p_mw.fillna(np.inf).to_numpy(dtype=float)
        net.hvdc["p_mw"] = np.clip(net.hvdc.p_mw.to_numpy(dtype=float), -cap, cap)
    net.invalidate()
    return net


def _state(res) -> dict:
    """A solved state for the interactive map: voltages, branch and link loadings and
    flows (rounded)."""
    br = res.branch
    return {
        "vm": {str(b): round(float(v), 4) for b, v in res.bus.vm_pu.items() if np.isfinite(v)},
        "br": {
            f"{e} {i}": [round(float(r.loading_percent), 1), round(float(r.p_from_mw), 1)]
            for (e, i), r in br.iterrows()
            if np.isfinite(r.loading_percent)
        },
        "dc": {
            str(i): [round(float(r.loading_percent), 1), round(float(r.p_from_mw), 1)]
            for i, r in res.hvdc.iterrows()
            if np.isfinite(r.loading_percent)
        },
    }


def _geometry(net) -> dict:
    """Where the interactive map draws each bus, branch and link, and their names."""
    from gridsim.plot import branch_ends, element_name

    bus = net.bus
    on = bus.in_service & np.isfinite(bus.lon) & np.isfinite(bus.lat)
    return {
        "bus": {
            str(b): [float(bus.lon[b]), float(bus.lat[b]), element_name(net, "bus", b)]
            for b in bus.index[on]
        },
        "br": {
            f"{e} {i}": [*map(str, branch_ends(net, e, i)), element_name(net, e, i)]
            for e in ("line", "trafo")
            for t in [net[e]]
            for i in t.index[t.in_service.to_numpy(dtype=bool)]
        },
        "dc": {
            str(i): [str(net.hvdc.from_bus[i]), str(net.hvdc.to_bus[i]), str(i)]
            for i in net.hvdc.index[net.hvdc.in_service.to_numpy(dtype=bool)]
        },
    }


def _limits(
    path: str,
    n0: dict,
    n1: dict,
    excluded: list,
    map_path: str,
    dispatch: pd.DataFrame | None = None,
) -> dict:
    """At one year and sink, what explains the limits: the worst post-outage loading and
    lowest voltage at evenly spaced transfers (the N-1 export curve), the map at the N-1
    limit after the limiting outage (at the N-0 limit where the N-1 TTC was not found;
    ``map_path``), and the states of the interactive map (where the N-1 TTC was not
    found, first the outage with the worst loading at no added export).

    The curve checks what the N-1 TTC holds: its ordinary contingencies, the thermal
    limits of the CNECs (``cases.N1_OPTIONS``), every bus voltage. Where the N-1 TTC was
    found and ``dispatch`` gives its secured base case and its dispatch at the TTC
    (``state`` ``"secured_base"`` and ``"ttc"``, :func:`runner.dispatch_table`), the
    curve runs from the one to the other and on past the TTC along the same direction
    (HVDC setpoints, redispatch and voltage controls per MW): the operating points the
    TTC was found on, so that its loadings stay within the limits up to the TTC.
    Otherwise it runs from the scenario's dispatch with the transfer's shift keys and
    HVDC split (``n0`` and ``n1`` are the headline rows: the split of ``hvdc_links``,
    N-1's where found and a split, else N-0's, see :func:`_split`); ``excluded`` the
    outages the N-1 search set aside (left out here too).
    """
    from gridsim.analysis.cnec import select_cnecs
    from gridsim.analysis.powerflow import run_ac
    from gridsim.analysis.transfer import apply_transfer
    from gridsim.plot import plot_map

    found = [(r, s) for r, s in ((n1, "N-1"), (n0, "N-0")) if r.get("status") == "ok"]
    net = runner.case_network(path, n0["scenario"])
    sink = n0["sink"]
    shares = _split([r for r, _ in found])
    sched = float(n0["scheduled_export_mw"])
    top = max(1.3 * max(float(r["ttc_mw"]) for r, _ in found), 200.0)
    skip = {tuple(x) for x in excluded}
    outages = [o for o in _n1_outages(net) if (o.element, o.id) not in skip]
    by_label = {o.label: o for o in outages}
    cnecs = select_cnecs(net, outages, cases.N1_OPTIONS["cnec_threshold"])
    reuse: dict = {}
    start = end = None
    if n1.get("status") == "ok" and dispatch is not None and len(dispatch):
        start = _with_dispatch(net, dispatch[dispatch.state == "secured_base"])
        end = _with_dispatch(net, dispatch[dispatch.state == "ttc"])
    ttc1 = float(n1["ttc_mw"]) if start is not None else np.nan
    if start is not None:  # the secured base case's exchange beyond the schedule
        sched += float(n1.get("base_export_change_mw", 0.0))

    def operating_point(t: float):
        if start is not None and ttc1 > 0:
            return _along(start, end, t / ttc1)
        return apply_transfer(
            net if start is None else start, cases.SOURCE, sink, t, hvdc_shares=shares
        )

    points = []
    for t in np.linspace(0.0, top, LIMIT_CURVE_POINTS):
        rows = _n1_worst(operating_point(float(t)), outages, cnecs, reuse)
        w = _worst(rows) or (np.nan, "", np.nan, "")
        points.append(
            {
                "year": n0["year"],
                "sink": sink,
                "transfer_mw": float(t),
                "total_export_mw": sched + float(t),
                "n1_worst_loading_percent": float(w[0]),
                "n1_worst": f"{w[1]} after outage of {w[3]}" if w[1] else "",
                "n1_min_vm_pu": float(min((r[2] for r in rows), default=np.nan)),
                "from_secured_base": start is not None,
            }
        )
    out = {
        "year": str(n0["year"]),
        "sink": sink,
        "curve": pd.DataFrame(points),
        "geometry": _geometry(net),
        "states": [],
    }
    worst = points[0]["n1_worst"].split(" after outage of ")
    if n1.get("status") != "ok" and len(worst) == 2 and worst[1] in by_label:
        outage = by_label[worst[1]]  # N-1 not defined: show why
        res = _post(net, outage, run_ac(net, enforce_q_limits=True), reuse)
        if res is not None:
            loading = points[0]["n1_worst_loading_percent"]
            out["states"].append(
                {
                    "label": f"no added export ({sched:,.0f} MW), after the outage of "
                    f"{_outage_name(net, outage)}: worst post-outage loading {loading:,.0f} % "
                    "(N-1 not defined)",
                    "limiting": worst[0],
                    "outage": f"{outage.element} {outage.id}",
                    **_state(res),
                }
            )
    for row, security in found:
        ttc = float(row["ttc_mw"])
        if security == "N-1" and end is not None:
            at = end  # the TTC's own dispatch
        else:
            at = apply_transfer(net, cases.SOURCE, sink, ttc, hvdc_shares=shares)
        res = run_ac(at, enforce_q_limits=True)
        if not res.converged:
            continue
        where = f"at the {security} limit ({sched + ttc:,.0f} MW)"
        limiting = _element(row.get("limiting_element"))
        outage = by_label.get(_text(row.get("limiting_contingency")))
        mark = {"limiting": " ".join(limiting or ())}
        out["states"].append({"label": f"{where}, intact grid", **mark, **_state(res)})
        drawn = None
        if outage is not None:
            after = _post(at, outage, res, reuse)
            if after is not None:
                out["states"].append(
                    {
                        "label": f"{where}, after the outage of {_outage_name(net, outage)}",
                        "outage": f"{outage.element} {outage.id}",
                        **mark,
                        **_state(after),
                    }
                )
                res = after
                drawn = (outage.element, outage.id)
        if (row, security) == found[0]:  # the PNG: the N-1 limit where found
            title = (
                f"{row['year']}: {cases.SOURCE} → {sink} at the {security} limit "
                f"({sched:,.0f} scheduled + {ttc:,.0f} MW)"
            )
            if security == "N-0":
                title += f"; N-1: {n1.get('status')}"
            plot_map(
                at,
                res,
                map_path,
                title=title,
                highlight=limiting,
                outage=drawn,
                metadata={
                    "gridsim:security": security,
                    "gridsim:limiting_element": " ".join(limiting or ()),
                },
            )
    return out


def _outage_name(net, outage) -> str:
    """An outage in words: its element's name, and which circuit where it is one of
    several."""
    from gridsim.plot import element_name

    name = element_name(net, outage.element, outage.id)
    circuit = outage.label[len(f"{outage.element} {outage.id}") :].strip()
    return f"{name} {circuit}".strip()


def _split(rows: list[dict]) -> dict | None:
    """The HVDC split of a transfer: the first of the headline ``rows`` whose
    ``hvdc_links`` (``"id:MW id:MW"``: N-0's shares, N-1's setpoints at the TTC) is one;
    None where none is (empty, a link negative, or nothing positive: an N-1 TTC of 0
    with the links at 0 or reversed), the default allocation."""
    for row in rows:
        pairs = (p.split(":") for p in _text(row.get("hvdc_links")).split())
        shares = {k: float(v) for k, v in pairs}
        if shares and min(shares.values()) >= 0 and sum(shares.values()) > 0:
            return shares
    return None


def _text(value) -> str:
    """``value`` where it is a string, else empty (NaN, None)."""
    return value if isinstance(value, str) else ""


def _progress_bar(tasks: list[Task], n_limits: int, progress: bool):
    """The study's progress bar: advances by each task's expected cost (:data:`WEIGHTS`),
    shows the finished count and the case last done."""
    from tqdm import tqdm

    return tqdm(
        total=sum(t.weight for t in tasks) + n_limits * WEIGHTS["limits"],
        desc="gridsim study",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]{postfix}",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0,  # the ETA from the average rate: the tasks' weights vary the pace
    )


def _pool(workers: int, path: Path, only, scenarios):
    """Worker processes (spawned: a parent that ran OpenMP-threaded kernels cannot fork
    safely), handed the parent's networks of ``scenarios`` (read once, here), or a null
    context giving None for one worker."""
    if workers <= 1:
        return contextlib.nullcontext(None)
    networks = {(str(path), s): _scenario_network(str(path), s) for s in scenarios}
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(str(path), only, networks),
    )


def _limit_calls(tables: dict, path: str, fig_dir: Path) -> list[tuple]:
    """One :func:`_limits` call per year and sink whose N-0 or N-1 TTC was found."""
    head = tables["headline"]
    excl = tables["excluded_contingencies"]
    dispatch = tables.get("n1_dispatch", pd.DataFrame())
    calls = []
    for (year, sink), rows in head.groupby(["year", "sink"], sort=False):
        n0 = rows[~rows.n_1.astype(bool)]
        n1 = rows[rows.n_1.astype(bool)]
        if not len(n0) or not len(n1) or "ok" not in (n0.status.iloc[0], n1.status.iloc[0]):
            continue
        excluded = []
        if len(excl):
            mine = excl[
                (excl.year == year)
                & (excl.sink == sink)
                & excl.n_1.astype(bool)
                & (excl.case == BASE_CASE)
                & (excl.route == "all")
                & (excl.site == "")
            ]
            excluded = list(zip(mine.outage_element, mine.outage_id, strict=True))
        points = None
        if len(dispatch):
            points = dispatch[(dispatch.year == year) & (dispatch.sink == sink)]
        args = (path, n0.iloc[0].to_dict(), n1.iloc[0].to_dict(), excluded)
        label = f"{year}, {cases.SOURCE} → {sink}, N-1 export curve and maps"
        map_path = str(fig_dir / f"map_{year}_{sink}.png")
        calls.append((_limits, (*args, map_path, points), label, WEIGHTS["limits"]))
    return calls


def _map_data(limits: list[dict]) -> dict:
    """The interactive map's data: per year the geometry, per year and sink the states."""
    return {
        "geometry": {r["year"]: r["geometry"] for r in limits},
        "cases": [
            {
                "year": r["year"],
                "label": f"{r['year']}: {cases.SOURCE} → {r['sink']}",
                "states": r["states"],
            }
            for r in limits
        ],
    }


def _names(path: str, years) -> dict[str, str]:
    """``"line L_X"`` -> the element's name (:func:`gridsim.plot.element_name`) for every
    bus, line, transformer, HVDC link and generator of the studied years' scenarios, and
    ``"interface IF_X"`` -> its name, limit and kind (``"AZ->GE Mukhrani Valley 500 kV,
    700 MW stability"``)."""
    from gridsim.plot import element_name

    names = {}
    for year in years:
        net = _scenario_network(path, year)
        for element in ("bus", "line", "trafo", "hvdc", "gen"):
            for eid in net[element].index:
                names.setdefault(f"{element} {eid}", element_name(net, element, eid))
        for face in net.interfaces:
            label = face.get("name") or face["id"]
            names.setdefault(
                f"interface {face['id']}", f"{label}, {face['limit_mw']:,.0f} MW {face['kind']}"
            )
    return names


def _frame(parts: list) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _assemble(
    tasks: list[Task], results: list[dict], study: cases.StudyCases
) -> dict[str, pd.DataFrame]:
    rows = pd.DataFrame([r["row"] for r in results])
    for col in ("site", "case", "route"):
        rows[col] = rows[col].fillna("")
    rows["kind"] = [t.kind for t in tasks]
    ttc = rows[rows.kind.isin(["ttc", "curve"])].drop(columns="kind").dropna(axis=1, how="all")
    ttc["n_1"] = ttc.n_1.astype(bool)
    sink_order = ttc.sink.map({s: i for i, s in enumerate(cases.SINKS)})
    ttc = ttc.assign(_order=sink_order).sort_values(["year", "_order", "n_1"], kind="stable")
    ttc = ttc.drop(columns="_order")
    is_headline = (ttc.case == BASE_CASE) & (ttc.route == "all") & (ttc.site == "")
    headline = ttc[is_headline].reset_index(drop=True)
    # routes: the overall figure next to each forced route
    routes = ttc[(ttc.route != "all") | is_headline]
    routes = routes[(routes.case == BASE_CASE) & (routes.site == "")]
    labels = {r.key: r.label for r in study.routes} | {"all": "all routes (default allocation)"}
    routes = routes.assign(route_label=routes.route.map(labels))
    routes = routes.reset_index(drop=True)
    # reinforcements: gain against the same year, sink and N-0/N-1 without them
    rein = ttc[(ttc.site == "") & (ttc.route == "all")].copy()
    base = rein[rein.case == BASE_CASE].set_index(["year", "sink", "n_1"]).ttc_mw
    rein = rein[rein.case != BASE_CASE].copy()
    key = pd.MultiIndex.from_frame(rein[["year", "sink", "n_1"]])
    rein["base_ttc_mw"] = base.reindex(key).to_numpy()
    rein["gain_mw"] = rein.ttc_mw - rein.base_ttc_mw
    rlabel = {r.key: r.label for r in study.reinforcements} | {
        cases.PACKAGE_KEY: cases.PACKAGE_LABEL
    }
    rnote = {r.key: r.note for r in study.reinforcements}
    rein["reinforcement"] = rein.case.map(rlabel)
    rein["note"] = rein.case.map(rnote).fillna("")
    order = {k: i for i, k in enumerate(list(rlabel))}
    rein = rein.iloc[np.argsort(rein.case.map(order).to_numpy(), kind="stable")]
    rein = rein.reset_index(drop=True)
    # Niš sites: power flow figures plus the N-1 TTC to RS (a site of the year's scenario:
    # the headline's)
    sites = rows[rows.kind == "site"].dropna(axis=1, how="all").drop(columns="kind")
    in_year = [s.key for s in study.nis_sites if s.scenario == "{year}"]
    if len(sites):
        for n_1, col in ((False, "ttc_n0_rs_mw"), (True, "ttc_n1_rs_mw")):
            t = ttc[
                (ttc.sink == "RS")
                & (ttc.n_1 == n_1)
                & (ttc.route == "all")
                & (ttc.case == BASE_CASE)
            ]
            t = t.assign(site=t.site.replace("", in_year[0] if in_year else ""))
            m = t.set_index(["year", "site"]).ttc_mw
            sites[col] = m.reindex(pd.MultiIndex.from_frame(sites[["year", "site"]])).to_numpy()
        sites = sites.drop(columns=[c for c in ("case", "route") if c in sites.columns])
        sites = sites.reset_index(drop=True)
    # every TTC case's voltage-stability check (runner.voltage_stability)
    ok = ttc[ttc.status == "ok"] if "status" in ttc.columns else ttc.iloc[:0]
    columns = [
        *figures.KEY,
        "scheduled_export_mw",
        "ttc_mw",
        "limit_type",
        "limiting_element",
        "limiting_contingency",
        "min_vm_at_ttc_pu",
        "pv_computed",
        "nose_intact_mw",
        "nose_after_outage_mw",
        "nose_margin_percent",
        "pv_near",
    ]
    stability = ok[[c for c in columns if c in ok.columns]].reset_index(drop=True)
    tables = {
        "headline": headline,
        "routes": routes,
        "reinforcements": rein,
        "nis_sites": sites,
        "voltage_stability": stability,
        "export_curve": _frame([r.get("curve") for r in results]),
        "pv_curves": _frame([r.get("pv") for r in results]),
        "trials": _frame([r.get("trials") for r in results]),
        "excluded_contingencies": _frame([r.get("excluded") for r in results]),
        "hvdc_at_limit": _frame([r.get("links") for r in results]),
        "borders_at_limit": _frame([r.get("borders") for r in results]),
        "n1_dispatch": _headline_dispatch(results),
    }
    return tables


def _headline_dispatch(results: list[dict]) -> pd.DataFrame:
    """The secured base case and the dispatch at the N-1 TTC of each headline case
    (``year``, ``sink``, ``state``, ``element``, ``id``, ``field``, ``value``):
    :func:`runner.dispatch_table` of the N-1 TTCs found."""
    table = _frame([r.get("dispatch") for r in results])
    if not len(table):
        return table
    for col in ("site", "case", "route"):
        table[col] = table[col].fillna("")
    mine = (table.case == BASE_CASE) & (table.route == "all") & (table.site == "")
    columns = ["year", "sink", "state", "element", "id", "field", "value"]
    return table.loc[mine, columns].reset_index(drop=True)


def _expansion(path: str, study: cases.StudyCases, candidates: Path) -> pd.DataFrame:
    """The least-cost expansion path to each export target of the study, per sink, in its
    expansion year."""
    from gridsim.analysis.expansion import expansion_path

    net = _scenario_network(path, study.expansion_year)
    parts = []
    for sink in cases.SINKS:
        result = expansion_path(
            net,
            cases.SOURCE,
            sink,
            study.expansion_targets_mw,
            candidates,
            year=int(study.expansion_year),
            assume_monotone=True,
            **cases.N1_OPTIONS,
        )
        table = result.table.reset_index()
        table.insert(0, "sink", sink)
        table.insert(0, "year", study.expansion_year)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def _write_table(df: pd.DataFrame, data_dir: Path, name: str) -> None:
    df = df.copy()
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = df[col].map(
                lambda v: (
                    v
                    if v is None or isinstance(v, str)
                    else (None if isinstance(v, float) and np.isnan(v) else str(v))
                )
            )
    df.to_csv(data_dir / f"{name}.csv", index=False)
    df.to_parquet(data_dir / f"{name}.parquet", index=False)


def run_study(
    path: str | os.PathLike | None = None,
    out_dir: str | os.PathLike = "out/study",
    *,
    quick: bool = False,
    progress: bool = True,
    workers: int | None = None,
    command: str | None = None,
) -> StudyResult:
    """The main job: N-1 export capability of the corridor, routes, reinforcements and
    the Niš site comparison, written as a report.

    Parameters
    ----------
    path : path-like, optional
        The corridor network, a model with case data
        (:data:`gridsim.study.cases.MODELS`; default: the bundled
        ``networks/caspian_eu.yaml``, see :func:`default_network`).
    out_dir : path-like
        Report folder: a new or empty folder, or an earlier report (a folder holding
        only what gridsim wrote, listed by its ``.gridsim-output`` marker), checked before
        anything is computed. It is replaced as a whole when the study succeeds (written
        to a temporary folder beside it first, so an interrupted run leaves no half
        report); nothing else is touched.
    quick : bool
        A reduced case set (the model's quick years and reinforcements, one year of
        sites) for tests.
    progress : bool
        A progress bar on stderr.
    workers : int, optional
        Processes (default: the CPU count, at most 2).
    command : str, optional
        The command line recorded in the report (default: this Python call).

    Returns
    -------
    StudyResult

    Raises
    ------
    GridsimError
        When ``out_dir`` holds anything gridsim did not write, or cannot be written, or
        the network has no case data.
    """
    from gridsim.cli._common import check_out_dir, mark_out_dir

    t_start = time.perf_counter()
    check_out_dir(out_dir, None)
    path = Path(path) if path is not None else default_network()
    if not path.is_file():
        raise GridsimError(f"{path}: no such network file")
    study = cases.for_network(path)
    out_dir = Path(out_dir)
    target = Path(os.path.abspath(out_dir))
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    command = command or (
        f'python -c "import gridsim.study as s; s.run_study({str(path)!r}, {str(out_dir)!r}'
        + (", quick=True" if quick else "")
        + ')"'
    )
    started = _dt.datetime.now(_dt.UTC)
    for year in study.years:  # fail early, naming the file, on a bad network
        _scenario_network(str(path), year)
    tmp = _beside(target, "tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        msg = f"{out_dir}: cannot write beside it in {target.parent} ({exc.strerror})"
        raise GridsimError(msg) from None
    try:
        fig_dir, data_dir = tmp / "figures", tmp / "data"
        fig_dir.mkdir()
        data_dir.mkdir()
        only = study.quick_reinforcements if quick else None
        tasks = _tasks(str(path), study, quick)
        if workers > 1:  # compile the kernels once (disk cache) before the workers start
            _warm_up(str(path), study.years[0])
        n_limits = len(study.quick_years if quick else study.years) * len(cases.SINKS)
        scenarios = dict.fromkeys(t.scenario for t in tasks)
        try:
            with (
                _progress_bar(tasks, n_limits, progress) as bar,
                _pool(workers, path, only, scenarios) as pool,
            ):
                results = _evaluate_all(tasks, str(path), only, pool, bar)
                tables = _assemble(tasks, results, study)
                limits = _run(_limit_calls(tables, str(path), fig_dir), pool, bar)
        except BrokenProcessPool:
            raise GridsimError(
                f"study of {path.name}: a worker process ended abruptly, as one out of "
                "memory does (5 GB or more each on the substation model): rerun with "
                f"--workers 1; nothing was written to {out_dir}"
            ) from None
        n1_curve = _frame([r["curve"] for r in limits])
        tables["export_curve_n1"] = n1_curve
        candidates = path.with_name(path.stem + cases.CANDIDATES_SUFFIX)
        if not quick and candidates.is_file():
            _say(progress, f"expansion path {study.expansion_year} ({candidates.name})")
            tables["expansion"] = _expansion(str(path), study, candidates)
        years = list(dict.fromkeys(tables["headline"].year))
        _say(progress, "drawing the figures")
        for year in years:
            figures.export_curves(
                tables["export_curve"][tables["export_curve"].year == year],
                tables["headline"][tables["headline"].year == year],
                year,
                fig_dir / f"export_curve_{year}.png",
                n1_curve[n1_curve.year == year] if len(n1_curve) else None,
            )
        rein = tables["reinforcements"]
        for sink in cases.SINKS:
            sel = rein[(rein.sink == sink) & rein.n_1]
            security = "N-1"
            if not sel.gain_mw.notna().any():  # no N-1 gain defined: show the N-0 ones
                sel, security = rein[(rein.sink == sink) & ~rein.n_1], "N-0"
            if len(sel):
                gains = sel.pivot_table(
                    index="reinforcement",
                    columns="year",
                    values="gain_mw",
                    aggfunc="first",
                    dropna=False,
                )
                gains = gains.reindex(list(dict.fromkeys(sel.reinforcement)))
                gains = gains.reindex(columns=years)
                figures.heatmap(
                    gains,
                    f"{security} TTC gained, AZ → {sink} (MW)"
                    + ("; N-1 TTC not defined" if security == "N-0" else ""),
                    fig_dir / f"reinforcements_{sink}.png",
                    report.SIGNIFICANT_MW,
                    security=security,
                )
        if len(tables["nis_sites"]):
            figures.site_bars(tables["nis_sites"], fig_dir / "nis_sites.png")
        if len(tables["pv_curves"]):
            figures.pv_figures(tables["voltage_stability"], tables["pv_curves"], fig_dir)
        for name, df in tables.items():
            _write_table(df, data_dir, name)
        network_bytes = path.read_bytes()
        meta = {
            "command": command,
            "started_utc": started.isoformat(timespec="seconds"),
            "network_file": str(path),
            "model": study.model,
            "network_sha256": hashlib.sha256(network_bytes).hexdigest(),
            "quick": quick,
            "workers": workers,
            "cases": len(tasks),
            "versions": _versions(),
            "seconds": round(time.perf_counter() - t_start, 1),
        }
        _say(progress, "writing the report")
        names = _names(str(path), years)
        report.write(tmp, tables, meta, _map_data(limits), names, study)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        mark_out_dir(tmp, command)
        check_out_dir(out_dir, None)  # again: something may have been put there meanwhile
        _replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return StudyResult(
        out_dir=out_dir,
        report_md=out_dir / "report.md",
        report_html=out_dir / "report.html",
        tables=tables,
        meta=meta,
        seconds=time.perf_counter() - t_start,
    )


def _beside(target: Path, what: str) -> Path:
    """A new hidden name next to ``target`` (random, so nothing there is overwritten)."""
    return target.parent / f".{target.name}.{what}-{uuid.uuid4().hex[:12]}"


def _replace_dir(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``, a path in the same folder (renames: an
    earlier ``target`` is moved aside and removed only once ``new`` is in place; it is
    put back if that fails)."""
    if not (target.exists() or target.is_symlink()):
        new.rename(target)
        return
    old = _beside(target, "old")
    target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
