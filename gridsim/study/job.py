"""Runs the study: builds the tasks, evaluates them on a few processes, assembles the
tables, draws the figures and writes the report atomically."""

from __future__ import annotations

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
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.exceptions import GridsimError
from gridsim.study import cases, figures, report
from gridsim.study.runner import (
    BASE_CASE,
    Task,
    _init_worker,
    _scenario_network,
    evaluate,
    joining_links,
    reinforcements_of,
)

NETWORK_NAME = "caspian_eu.yaml"


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
        ``nis_sites``, ``voltage_stability``, ``export_curve``, ``pv_curves``,
        ``trials``, ``excluded_contingencies``, ``hvdc_at_limit``,
        ``borders_at_limit``).
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


def _tasks(path: str, quick: bool, fig_dir: Path) -> list[Task]:
    years = cases.QUICK_YEARS if quick else cases.YEARS
    only = cases.QUICK_REINFORCEMENTS if quick else None
    tasks: list[Task] = []
    for year in years:
        for sink in cases.SINKS:
            tasks.append(Task("curve", year, year, sink, False, weight=1))
            tasks.append(
                Task(
                    "ttc",
                    year,
                    year,
                    sink,
                    True,
                    weight=10,
                    map_path=str(fig_dir / f"map_{year}_{sink}.png"),
                )
            )
            net = _scenario_network(path, year)
            joining = joining_links(net, sink)
            for route in cases.ROUTES:
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
                                weight=10 if n_1 else 1,
                            )
                        )
            keys = [r.key for r in reinforcements_of(year, only)]
            if not quick:
                keys.append(cases.PACKAGE_KEY)
            for key in keys:
                for n_1 in (False, True):
                    tasks.append(
                        Task("ttc", year, year, sink, n_1, case=key, weight=12 if n_1 else 1)
                    )
    site_years = cases.NIS_YEARS[:1] if quick else cases.NIS_YEARS
    for year in site_years:
        for site in cases.NIS_SITES:
            scen = year + site.suffix
            tasks.append(Task("site", scen, year, site=site.key, weight=3))
            if not quick and site.suffix:  # the base site's TTCs are the headline ones
                for n_1 in (False, True):
                    tasks.append(
                        Task("ttc", scen, year, "RS", n_1, site=site.key, weight=10 if n_1 else 1)
                    )
    return tasks


def _warm_up(path: str) -> None:
    from gridsim.analysis.contingency import ac_outage
    from gridsim.analysis.powerflow import run_ac

    net = _scenario_network(path, cases.YEARS[0]).copy()
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


def _evaluate_all(tasks, path, only, workers, progress) -> list[dict]:
    from tqdm import tqdm

    order = sorted(range(len(tasks)), key=lambda i: -tasks[i].weight)
    results: list[dict | None] = [None] * len(tasks)
    bar = tqdm(
        total=len(tasks),
        desc="gridsim study",
        unit="case",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    try:
        if workers <= 1:
            for i in order:
                results[i] = evaluate(tasks[i], path, only)
                bar.update()
        else:
            # spawn, not fork: a parent that ran OpenMP-threaded kernels cannot fork safely
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=_init_worker, initargs=(path, only)
            ) as pool:
                futures = {pool.submit(evaluate, tasks[i]): i for i in order}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    t = tasks[futures[fut]]
                    bar.set_postfix_str(f"{t.kind} {t.scenario} {t.sink} {t.case}", refresh=False)
                    bar.update()
    finally:
        bar.close()
    return results


def _frame(parts: list) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _assemble(tasks: list[Task], results: list[dict], quick: bool) -> dict[str, pd.DataFrame]:
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
    labels = {r.key: r.label for r in cases.ROUTES} | {"all": "all routes (default allocation)"}
    routes = routes.assign(route_label=routes.route.map(labels))
    routes = routes.reset_index(drop=True)
    # reinforcements: gain against the same year, sink and N-0/N-1 without them
    rein = ttc[(ttc.site == "") & (ttc.route == "all")].copy()
    base = rein[rein.case == BASE_CASE].set_index(["year", "sink", "n_1"]).ttc_mw
    rein = rein[rein.case != BASE_CASE].copy()
    key = pd.MultiIndex.from_frame(rein[["year", "sink", "n_1"]])
    rein["base_ttc_mw"] = base.reindex(key).to_numpy()
    rein["gain_mw"] = rein.ttc_mw - rein.base_ttc_mw
    rlabel = {r.key: r.label for r in cases.REINFORCEMENTS} | {
        cases.PACKAGE_KEY: cases.PACKAGE_LABEL
    }
    rnote = {r.key: r.note for r in cases.REINFORCEMENTS}
    rein["reinforcement"] = rein.case.map(rlabel)
    rein["note"] = rein.case.map(rnote).fillna("")
    order = {k: i for i, k in enumerate(list(rlabel))}
    rein = rein.iloc[np.argsort(rein.case.map(order).to_numpy(), kind="stable")]
    rein = rein.reset_index(drop=True)
    # Niš sites: power flow figures plus the N-1 TTC to RS (the base site's is the headline)
    sites = rows[rows.kind == "site"].dropna(axis=1, how="all").drop(columns="kind")
    if len(sites):
        for n_1, col in ((False, "ttc_n0_rs_mw"), (True, "ttc_n1_rs_mw")):
            t = ttc[
                (ttc.sink == "RS")
                & (ttc.n_1 == n_1)
                & (ttc.route == "all")
                & (ttc.case == BASE_CASE)
            ]
            t = t.assign(site=t.site.replace("", cases.NIS_SITES[0].key))
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
    }
    return tables


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
        The corridor network (default: the bundled ``networks/caspian_eu.yaml``, see
        :func:`default_network`).
    out_dir : path-like
        Report folder: a new or empty folder, or an earlier report (a folder holding
        only what gridsim wrote, listed by its ``.gridsim-output`` marker), checked before
        anything is computed. It is replaced as a whole when the study succeeds (written
        to a temporary folder beside it first, so an interrupted run leaves no half
        report); nothing else is touched.
    quick : bool
        A reduced case set (2026 only, one reinforcement, one year of sites) for tests.
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
        When ``out_dir`` holds anything gridsim did not write, or cannot be written.
    """
    from gridsim.cli._common import check_out_dir, mark_out_dir

    t_start = time.perf_counter()
    check_out_dir(out_dir, None)
    path = Path(path) if path is not None else default_network()
    if not path.is_file():
        raise GridsimError(f"{path}: no such network file")
    out_dir = Path(out_dir)
    target = Path(os.path.abspath(out_dir))
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    command = command or (
        f'python -c "import gridsim.study as s; s.run_study({str(path)!r}, {str(out_dir)!r}'
        + (", quick=True" if quick else "")
        + ')"'
    )
    started = _dt.datetime.now(_dt.UTC)
    for year in cases.YEARS:  # fail early, naming the file, on a bad network
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
        only = cases.QUICK_REINFORCEMENTS if quick else None
        tasks = _tasks(str(path), quick, fig_dir)
        if workers > 1:  # compile the kernels once (disk cache) before the workers start
            _warm_up(str(path))
        results = _evaluate_all(tasks, str(path), only, workers, progress)
        tables = _assemble(tasks, results, quick)
        years = list(dict.fromkeys(tables["headline"].year))
        for year in years:
            figures.export_curves(
                tables["export_curve"][tables["export_curve"].year == year],
                tables["headline"][tables["headline"].year == year],
                year,
                fig_dir / f"export_curve_{year}.png",
            )
        rein = tables["reinforcements"]
        for sink in cases.SINKS:
            sel = rein[(rein.sink == sink) & rein.n_1]
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
                    f"N-1 TTC gained, AZ → {sink} (MW)",
                    fig_dir / f"reinforcements_{sink}.png",
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
            "network_sha256": hashlib.sha256(network_bytes).hexdigest(),
            "quick": quick,
            "workers": workers,
            "cases": len(tasks),
            "versions": _versions(),
            "seconds": round(time.perf_counter() - t_start, 1),
        }
        report.write(tmp, tables, meta)
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
