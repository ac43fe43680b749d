"""The study report: Markdown (pictures as files beside it) and one self-contained HTML
page (pictures embedded as base64 data URIs), converted with the ``markdown`` package.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.analysis.transfer import MARGIN_OUTAGES, VOLTAGE_STABILITY_MARGIN
from gridsim.study import cases, figures

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1200px;
       margin: 2em auto; padding: 0 1.5em; color: #1b1b1b; line-height: 1.45; }
h1 { border-bottom: 2px solid #345; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #ccd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
tr:nth-child(even) td { background: #f8f9fb; }
img { max-width: 100%; height: auto; border: 1px solid #dde; margin: 0.5em 0; }
code, pre { background: #f3f4f7; font-size: 0.9em; }
pre { padding: 0.8em; overflow-x: auto; }
"""


def _fmt(v, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "N-1" if v else "N-0"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{v:,.{digits}f}"
    return str(v).replace("|", "\\|")


def md_table(df: pd.DataFrame, columns: dict[str, str], digits: dict | None = None) -> str:
    """A Markdown table of ``df``'s ``columns`` (name -> header)."""
    digits = digits or {}
    cols = [c for c in columns if c in df.columns]
    lines = [
        "| " + " | ".join(columns[c] for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(_fmt(row[c], digits.get(c, 0)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


SIGNIFICANT_MW = 10.0  # the TTC search tolerance: smaller gains are not findings

LIMIT_NAMES = {
    "thermal": "thermal",
    "voltage": "voltage",
    "reactive": "reactive limit",
    "hvdc": "converter rating",
    "generation": "generator limit",
    "interface": "interface limit",
    "voltage_stability": f"voltage stability, {100 * (1 - VOLTAGE_STABILITY_MARGIN):g} % of nose",
    "max_mw": "cap reached",
}


def _named(label, names: dict | None) -> str:
    """An element's name (``names``: ``"line L_X"`` -> name) and what follows its id in
    ``label`` (``"line L_X (circuit 1 of 2)"``), else the label itself."""
    if not isinstance(label, str) or not label:
        return ""
    parts = label.split(" ", 2)
    name = (names or {}).get(" ".join(parts[:2]))
    if name is None:
        return label
    return " ".join([name, *parts[2:]])


NOT_DEFINED = "not defined: base case cannot be secured"
"""The status of an N-1 row whose base case cannot be secured
(:func:`gridsim.analysis.ttc.n1_ttc`)."""


def _residual(text, names: dict | None = None) -> str:
    """A row's ``worst_residual`` in words, elements by name: ``"thermal line L_X after
    line L_Y"`` -> ``"Reșița–Timișoara 400 kV overloaded after the outage of ..."``."""
    if not isinstance(text, str) or not text:
        return ""
    what, _, cont = text.partition(" after ")
    kind, _, element = what.partition(" ")
    el, cont = _named(element, names), _named(cont, names)
    after = f" after the outage of {cont}" if cont else " in the intact grid"
    if kind == "diverged":
        return f"no AC solution{after}"
    if kind == "islanding":
        return f"the outage of {cont or el} islands more than the bound on lost MW"
    if kind == "thermal":
        return f"{el} overloaded{after}"
    if kind == "voltage":
        return f"voltage out of limits at {el}{after}"
    return f"{kind} limit of {el}{after}"


def _not_defined(row, names: dict | None = None) -> str:
    """``not defined: base case cannot be secured (65 violations remain with no export;
    worst: ...)`` for an N-1 row whose base case cannot be secured."""
    n = int(np.nan_to_num(row.get("residual_violations", 0)))
    worst = _residual(row.get("worst_residual"), names)
    return f"{row['status']} ({n:,} violations remain with no export" + (
        f"; worst: {worst})" if worst else ")"
    )


def _limit(row, names: dict | None = None) -> str:
    """``Niš 2–Kruševac 1 220 kV (thermal) after outage of ...`` (elements by name where
    ``names`` has them), the residual violations of an N-1 TTC that is not defined, or
    the case's status."""
    if row.get("status") == NOT_DEFINED:
        return _not_defined(row, names)
    if row.get("status", "ok") != "ok":
        return str(row.get("status", ""))
    what = LIMIT_NAMES.get(str(row.get("limit_type", "")), str(row.get("limit_type", "")))
    el = _named(row.get("limiting_element"), names)
    cont = _named(row.get("limiting_contingency"), names)
    if el and row.get("limit_type") == "hvdc":
        text = f"{el} at its rating"
    else:
        text = f"{el} ({what})" if el else what
    if cont:
        text += f" after outage of {cont}"
    return text


TARGET_2026_MW = 2000.0
"""The first question's export: 2 GW to Serbia / the EU."""


def _pair(head: pd.DataFrame, year: str, sink: str):
    """The N-0 and N-1 headline rows of ``year`` and ``sink`` (None where missing)."""
    s = head[(head.year == year) & (head.sink == sink)]
    n0 = next((r for _, r in s.iterrows() if not r.n_1), None)
    n1 = next((r for _, r in s.iterrows() if r.n_1), None)
    return n0, n1


def _total(row) -> str:
    if row is None or row.get("status") != "ok":
        return "not found" if row is None else str(row.status)
    return f"**{row.total_export_mw:,.0f} MW**"


def _published(row) -> str:
    """``; **600 MW** within the published limits`` for a row with a finite
    ``total_export_published_mw`` (the total export at the TTC within them), else
    empty; says where the physical figure starts from the base case secured with the
    published limits (``started_from``), and flags a published figure above the physical
    one by more than the search tolerance (the physical search also starts from that
    base case, so this should not happen)."""
    pub = float(np.nan_to_num(row.get("total_export_published_mw", np.nan), nan=np.nan))
    if not np.isfinite(pub):
        return ""
    text = f"; **{pub:,.0f} MW** within the published limits"
    if row.get("started_from", "physical") == "published":
        text += (
            " (the physical figure starts from the base case secured with the published "
            "limits: it exports more from there than from the one secured without them)"
        )
    if pub > float(row.total_export_mw) + SIGNIFICANT_MW:
        text += (
            f" (above the physical figure by more than the search tolerance of "
            f"{SIGNIFICANT_MW:g} MW)"
        )
    return text


def _to(sink: str) -> str:
    return "Serbia" if sink == "RS" else "the EU"


def _n1_answer(n1s: dict, names: dict) -> str:
    """The N-1 part of an answer: per sink the total export (physical and within the
    published limits) and its limit, or why it is not defined (said once where the
    sinks share it)."""
    texts = {}
    for sink, r in n1s.items():
        if r.status == "ok":
            texts[sink] = f"{_total(r)} (limit: {_limit(r, names)}{_published(r)})"
        else:
            texts[sink] = _limit(r, names)
    if len(texts) > 1 and len(set(texts.values())) == 1:
        return "to both, " + next(iter(texts.values()))
    return "; ".join(f"to {_to(sink)} {text}" for sink, text in texts.items())


def _answer_today(head: pd.DataFrame, names: dict, study: cases.StudyCases) -> str:
    year = study.years[0]
    q = f"**Can Azerbaijan export {TARGET_2026_MW / 1000:g} GW to Serbia / the EU in {year}?** "
    if not (head.year == year).any():
        return q + "Not computed in this run."
    pairs = {sink: _pair(head, year, sink) for sink in cases.SINKS}
    pairs = {s: p for s, p in pairs.items() if p[0] is not None and p[1] is not None}
    n0 = "; ".join(
        f"{_total(p[0])} to {_to(sink)} (limit: {_limit(p[0], names)})"
        if p[0].status == "ok"
        else f"to {_to(sink)}: {p[0].status}"
        for sink, p in pairs.items()
    )
    n1s = {sink: p[1] for sink, p in pairs.items()}
    totals = [r.total_export_mw for p in pairs.values() for r in p if r.status == "ok"]
    verdict = "Yes." if max(totals, default=np.nan) >= TARGET_2026_MW else "No."
    text = (
        q + f"{verdict} Intact grid (N-0), total export {n0}. Secure against any single "
        f"outage (N-1): {_n1_answer(n1s, names)}."
    )
    if any(r.status == NOT_DEFINED for r in n1s.values()):
        text += f" It becomes defined once the base case can be secured: with {study.n1_note}."
    return text + f" Confidence: ±{SIGNIFICANT_MW:.0f} MW (search tolerance); nothing set aside."


def _answer_routes(
    head: pd.DataFrame, routes: pd.DataFrame, names: dict, study: cases.StudyCases
) -> str:
    years = [y for y in dict.fromkeys(head.year) if y != study.years[0]]
    q = (
        f"**{' and '.join(years) or 'Later years'}: how much of the planned +8 GW can "
        "leave, per route?** "
    )
    if not years:
        return q + "Not computed in this run (the quick case set has 2026 only)."
    parts = []
    for year in years:
        pairs = {sink: _pair(head, year, sink) for sink in cases.SINKS}
        sched = next(
            (r.scheduled_export_mw for p in pairs.values() for r in p if r is not None), np.nan
        )
        ok = {k: n1 for k, (_, n1) in pairs.items() if n1 is not None and n1.status == "ok"}
        rest = {k: n0 for k, (n0, _) in pairs.items() if k not in ok and n0 is not None}
        shown = []
        if ok:
            shown.append(
                "N-1 total export "
                + ", ".join(f"{_total(r)} to {_to(k)}{_published(r)}" for k, r in ok.items())
            )
        if rest:
            why = dict.fromkeys(
                pairs[k][1].status if pairs[k][1] is not None else "not found" for k in rest
            )
            shown.append(
                f"N-1 to {' and '.join(map(_to, rest))}: {'; '.join(why)}; N-0 total export "
                + ", ".join(f"{_total(r)} to {_to(k)}" for k, r in rest.items())
            )
        text = f"In **{year}** ({sched:,.0f} MW scheduled) " + "; ".join(shown)
        rs = pairs.get("RS", (None, None))[1]
        if rs is not None and rs.status == "ok":
            text += f" (limit to Serbia: {_limit(rs, names)})"
        sel = routes[(routes.year == year) & (routes.sink == "RS") & (routes.route != "all")]
        n1 = sel[sel.n_1.astype(bool) & sel.status.eq("ok")]
        sel = n1 if len(n1) else sel[~sel.n_1.astype(bool)]
        if len(sel):
            security = "N-1" if len(n1) else "N-0"
            text += (
                f"; each route alone to Serbia ({security}), on top of the schedule: "
                + ", ".join(
                    f"{r.route_label} +{r.ttc_mw:,.0f} MW"
                    if r.status == "ok"
                    else f"{r.route_label}: {r.status}"
                    for _, r in sel.iterrows()
                )
            )
        parts.append(text)
    return q + ". ".join(parts) + f". Same ±{SIGNIFICANT_MW:.0f} MW as above."


def read_expansion(out: Path) -> pd.DataFrame | None:
    """``out/data/expansion.csv`` (the least-cost expansion path per export target)
    when the study wrote one, else None."""
    path = out / "data" / "expansion.csv"
    # the year is a label (as in the other tables), not a quantity: no "2,032"
    return pd.read_csv(path, dtype={"year": str, "sink": str}) if path.is_file() else None


def _answer_expansion(exp: pd.DataFrame | None) -> str:
    q = "**Which transmission lines are needed for 2, 4, 6 and 8 GW?** "
    if exp is None or not len(exp):
        return q + (
            "Not computed yet: this run has no expansion path (`data/expansion.csv`). "
            "Section 3 gives what each studied reinforcement gains alone."
        )
    reached = exp.status.astype(str).str.startswith("reached")
    if not reached.any() and exp.binding.nunique() == 1:
        low, high = exp.target_mw.min() / 1e3, exp.target_mw.max() / 1e3
        sinks = " and ".join(dict.fromkeys(exp.sink)) if "sink" in exp.columns else "the sink"
        why = str(exp.binding.iloc[0])
        if "base case cannot be secured" in why:  # the full reason is in section 3b
            why = (
                "even with every candidate built, the N-1 transfer capability is not "
                "defined because the base case cannot be secured (as in answer 1)"
            )
        return q + (
            f"No set of the candidate projects reaches any target ({low:g}–{high:g} GW to "
            f"{sinks}): {why}. Section 3b has the table."
        )
    parts = []
    for _, r in exp.iterrows():
        target = f"{float(r.target_mw):,.0f} MW"
        if "sink" in exp.columns:
            target = f"{target} to {r.sink}"
        status = str(r.get("status", ""))
        if status.startswith("reached"):
            projects = r.get("projects")
            built = projects if isinstance(projects, str) and projects else "nothing new"
            cost = float(r.get("cost_meur", np.nan))
            parts.append(
                f"{target}: {built}" + (f" ({cost:,.0f} MEUR)" if np.isfinite(cost) else "")
            )
        else:
            parts.append(f"{target}: out of reach ({r.get('binding', status)})")
    return q + "; ".join(parts) + ". Section 3b has the table."


_BETTER = {
    "losses_mw": -1,
    "max_loading_rs_percent": -1,
    "n1_worst_loading_connection_percent": -1,
    "n1_worst_loading_plant_percent": -1,
    "secured_redispatch_mw": -1,
    "ttc_n1_rs_mw": 1,
}
"""Which way is better for each Niš metric (-1: lower)."""


def nis_verdict(sites: pd.DataFrame) -> tuple[str, list[str]]:
    """The recommended Niš site (its label) and the deciding differences.

    A site beats the base site (the table's first) on a
    metric of :data:`gridsim.study.figures.NIS_METRICS` in a year when it is better by
    more than the metric's resolution; the site with the most such wins less losses is
    recommended, the base site when none differs by more than the model resolves
    (the list is then empty).

    Parameters
    ----------
    sites : DataFrame
        ``data/nis_sites`` (``year``, ``site``, ``site_label`` and the metric columns;
        sites in the study's order).

    Returns
    -------
    label : str
    deciding : list of str
        ``"<metric> <difference> in <year> (better|worse)"``.
    """
    labels = dict(zip(sites.site, sites.site_label, strict=True))
    base, *others = labels
    b = sites[sites.site == base].set_index("year")
    best, best_score, deciding = labels[base], 0, []
    for site in others:
        s = sites[sites.site == site].set_index("year")
        score, found = 0, []
        for col, name, res, _ in figures.NIS_METRICS:
            if col not in sites.columns:
                continue
            for year in s.index.intersection(b.index):
                d = float(s.at[year, col]) - float(b.at[year, col])
                if np.isfinite(d) and abs(d) > res:
                    win = np.sign(d) == _BETTER[col]
                    score += 1 if win else -1
                    found.append(f"{name} {d:+,.1f} in {year} ({'better' if win else 'worse'})")
        if score > best_score:
            best, best_score, deciding = labels[site], score, found
        elif not deciding and found:
            deciding = [f"{labels[site]}: " + "; ".join(found)]
    return best, deciding


def _answer_nis(sites: pd.DataFrame) -> str:
    q = "**Where should the Niš plant connect?** "
    if not len(sites):
        return q + "Not computed in this run."
    best, deciding = nis_verdict(sites)
    res = ", ".join(
        dict.fromkeys(
            f"{r:g} {unit}"
            for col, _, r, unit in figures.NIS_METRICS
            if col in sites and sites[col].notna().any()
        )
    )
    if not deciding:
        return (
            q + f"**{best}** by default: the three sites differ by less than "
            f"the model resolves ({res}) in every year studied, so the grid does not decide "
            "between them; choose on gas supply, land and cost."
        )
    return q + f"**{best}**: " + "; ".join(deciding) + f" (resolution: {res})."


def first_screen(
    tables: dict, names: dict, expansion: pd.DataFrame | None, study: cases.StudyCases
) -> list[str]:
    """The four answers in a planner's words: the report's first Markdown lines.

    Parameters
    ----------
    tables : dict of str to DataFrame
        The study's tables (``headline``, ``routes``, ``nis_sites``).
    names : dict
        ``"line L_X"`` -> the element's name (ids where missing).
    expansion : DataFrame or None
        The expansion path (:func:`read_expansion`).
    study : StudyCases
        The model's case data.

    Returns
    -------
    list of str
    """
    head = tables["headline"]
    return [
        "1. " + _answer_today(head, names, study),
        "2. " + _answer_routes(head, tables["routes"], names, study),
        "3. " + _answer_expansion(expansion),
        "4. " + _answer_nis(tables["nis_sites"]),
        "",
    ]


def voltage_stability_section(rows: pd.DataFrame, names: list[str]) -> list[str]:
    """The report's voltage-stability lines: the rule, then a table and the P–V figures
    of the cases where voltage stability binds or the nose is near (``names``: the
    figure files written), or one sentence with the smallest nose margin found."""
    near = int(round(100 * cases.PV_NEAR))
    margin = 100 * VOLTAGE_STABILITY_MARGIN
    lines = [
        "### Voltage stability",
        "",
        f"The TTC search keeps {margin:g} % from the nose of the P–V curve: where a "
        "trial's power flow diverges, or where the power flow at the TTC plus that margin "
        f"(TTC / {1 - margin / 100:g}) diverges (intact, or after the "
        f"{MARGIN_OUTAGES} outages whose voltages fell most), a continuation power flow "
        "along the same transfer finds the nose, and the transfer is limited to "
        f"{100 - margin:g} % of it (*voltage stability* in the tables). To show how close "
        "the other cases come, the noses of each case (intact, and after its limiting "
        "outage) are computed along its transfer direction when voltage stability binds "
        f"or the lowest bus voltage at the TTC is below {cases.PV_SCREEN_VM_PU:g} p.u. "
        f"(the screen). A case whose nose lies less than {near} % above its TTC gets a "
        "P–V figure. The nose ignores generator and converter limits (it is where the AC "
        "equations stop having a solution), so it can lie beyond them.",
        "",
    ]
    if not len(rows) or "pv_computed" not in rows.columns:
        return [*lines, "No TTC was computed in this run.", ""]
    computed = rows[rows.pv_computed.eq(True)]
    lines.append(f"{len(computed)} of {len(rows)} cases met the screen.")
    lines.append("")
    if not len(computed):
        vm = float(rows.min_vm_at_ttc_pu.min())
        return [*lines, f"No nose was computed: the lowest voltage at a TTC is {vm:.3f} p.u.", ""]
    shown = computed[computed.pv_near.eq(True)]
    if len(shown):
        table = shown.assign(
            name=shown.apply(figures.case_label, axis=1), limit=shown.apply(_limit, axis=1)
        )
        lines.append(
            md_table(
                table,
                {
                    "name": "case",
                    "ttc_mw": "TTC (MW)",
                    "limit": "limit",
                    "nose_intact_mw": "nose, intact (MW)",
                    "nose_after_outage_mw": "nose after the limiting outage (MW)",
                    "nose_margin_percent": "nose above the TTC (%)",
                },
                {"ttc_mw": 1, "nose_margin_percent": 1},
            )
        )
        for _, row in table.iterrows():
            name = figures.pv_name(row)
            if name in names:
                lines += [f"![P-V curves {row['name']}](figures/{name})", ""]
        return lines
    margins = computed.nose_margin_percent.astype(float)
    if not margins.notna().any():
        return [*lines, "No continuation power flow found a nose.", ""]
    low = computed.loc[margins.idxmin()]
    nose = np.nanmin([low.get("nose_intact_mw", np.nan), low.get("nose_after_outage_mw", np.nan)])
    return [
        *lines,
        f"No case comes within {near} % of its TTC: the smallest nose margin found is "
        f"{low.nose_margin_percent:.1f} % above the TTC ({figures.case_label(low)}: TTC "
        f"{low.ttc_mw:,.0f} MW, nose {nose:,.0f} MW).",
        "",
    ]


MAP_MARKER = (
    "The interactive map (hover a line or a substation; switch case and state) is in `report.html`."
)
"""The Markdown paragraph the HTML page replaces by the interactive map."""


def _markdown(
    tables: dict,
    meta: dict,
    figures: list[str],
    names: dict,
    expansion: pd.DataFrame | None,
    study: cases.StudyCases,
) -> str:
    head = tables["headline"]
    v = meta["versions"]
    n1 = head[head.n_1.astype(bool)]
    undefined = int(n1.status.eq(NOT_DEFINED).sum())
    lines = [
        "# Azerbaijan → Serbia / EU export capability: the gridsim study",
        "",
        *first_screen(tables, names, expansion, study),
        f"*Run {meta['started_utc']}, {meta['cases']} cases"
        + (" (**quick**: reduced case set)" if meta["quick"] else "")
        + f"; network `{Path(meta['network_file']).name}`. Export = scheduled + transfer "
        "capability (TTC), MW, from Azerbaijan's generators to the sink's loads; N-1: also "
        "what the secured base case sends beyond the schedule (Method).*",
        "",
        "## Method",
        "",
        "Each number is the largest transfer on top of the scenario's scheduled export (its "
        "`export` block), from Azerbaijan's generators to the sink's loads, that keeps every "
        "limit in an AC power flow (reactive limits enforced). **N-0** "
        "(`gridsim.transfer_capability`): the intact grid, the transfer split over the HVDC "
        "links joining the Caucasus (UPS) area to continental Europe by their headroom "
        "(`hvdc_links` in `data/headline.csv`; a route figure forces one route); limits: "
        "thermal ratings (100 % of `rate_mva`), bus voltages, converter, generator and "
        "reactive limits and voltage stability "
        f"({100 * VOLTAGE_STABILITY_MARGIN:g} % from the nose of the P–V curve). **N-1** "
        "(`gridsim.analysis.ttc.n1_ttc`, method `optimal`): first the base case, at zero "
        "transfer, is made secure against every ordinary contingency (one circuit of a "
        "line, a transformer, an HVDC link, a generating unit; a lost unit's or link's MW "
        "shared by its area's generators) by the least preventive redispatch (balanced per "
        "synchronous area; `base_redispatch_max_share_percent` is the largest share of a "
        "country's generation it moves; it leaves "
        f"{cases.N1_OPTIONS['base_margin_percent']:g} % of every thermal limit free, a flow "
        "reliability margin, so that it does not stop exactly at the limits of the branches "
        "it relieves) and, where voltages are left, by the least move of "
        "the units' voltage setpoints and the steps of switched shunt banks "
        "(`base_voltage_setpoints_moved`, `base_shunt_banks_switched`); then the "
        "transfer is maximised with the joining HVDC links as free variables, by linear "
        "programs re-linearised until the AC N-1 check holds (a point that breaks voltages "
        "only is held by the same controls again: `voltage_setpoints_moved`, "
        "`shunt_banks_switched`). "
        "Where the redispatch moves the joining HVDC links (units up on the Caucasus side, "
        "down in Europe), the secured base case already exports more than the schedule "
        "(`base_export_change_mw`, the column 'secured base case beyond the schedule'): "
        "the total export at the N-1 TTC is the schedule, that change and the TTC, as "
        "ENTSO-E's TTC = BCE + ΔE. "
        "The physical TTC and the TTC within the published limits (the file's NTC "
        "interfaces) are reported side by side; the base case secured with the published "
        "limits holds the physical ones too, so the physical TTC is searched from both "
        "secured base cases and the larger total export kept (`started_from`), and "
        "relaxing a published limit never lowers the physical figure. "
        "Thermal limits are held, as ENTSO-E's "
        "capacity calculation holds them, on the critical network elements and "
        "contingencies: the (branch, outage) pairs "
        f"whose largest zone-to-zone PTDF is at least {cases.N1_OPTIONS['cnec_threshold']:.0%} "
        "(`gridsim.select_cnecs`); overloads of other pairs, which exchanges hardly touch, "
        "are counted beside (`outside_cnec_violations`); voltage limits and diverging "
        "outages are held everywhere. "
        "A reinforcement case is secured from its scenario's secured base case "
        "(`secured_base(..., start=...)`): the scenario's secured dispatch is kept where it "
        "holds with the project built, and redispatched from there where not, so a project "
        "is compared with the grid it reinforces at the same operating point. "
        f"Where no redispatch secures the base case, the N-1 TTC is *{NOT_DEFINED}*, "
        "with the violations that remain (`residual_violations`, `worst_residual`); "
        f"nothing is set aside. Search tolerance: {SIGNIFICANT_MW:.0f} MW or 1 %.",
        "",
        "## Provenance",
        "",
        f"Network `{Path(meta['network_file']).name}` (SHA-256 "
        f"`{meta['network_sha256'][:16]}…`): "
        "public data, sources per element in its `source` fields and "
        "`networks/README.md`. Country borders: Natural Earth (public domain). Run "
        f"{meta['started_utc']} in {meta['seconds']:.0f} s on {meta['workers']} "
        "process(es) with gridsim " + str(v.get("gridsim", "")) + "; reproduction in "
        "section 5.",
        "",
        "## Known limits",
        "",
        f"- {study.description}; differences below the search tolerance "
        f"({SIGNIFICANT_MW:.0f} MW) are not findings.",
        *(
            [
                f"- The N-1 TTC is not defined in {undefined} of {len(n1)} N-1 cases: their "
                "base case breaks limits after single outages before any export and cannot "
                f"be secured. It becomes defined with {study.n1_note}."
            ]
            if undefined
            else []
        ),
        "- Static security only: no dynamics, no emergency ratings, no redispatch after "
        "an outage (preventive redispatch of the N-1 base case only); the scheduled export "
        "of each scenario is taken as given.",
        "",
        "## 1. Export capability per year",
        "",
        md_table(
            head.assign(
                limit=head.apply(_limit, axis=1, names=names),
                base_redispatch_mw=head.reindex(columns=["base_redispatch_mw"])
                .squeeze(axis=1)
                .where(head.status.eq("ok")),
            ),
            {
                "year": "year",
                "sink": "sink",
                "n_1": "security",
                "scheduled_export_mw": "scheduled (MW)",
                "base_export_change_mw": "secured base case beyond the schedule (MW)",
                "ttc_mw": "TTC (MW)",
                "total_export_mw": "total export (MW)",
                "ttc_published_mw": "TTC within published limits (MW)",
                "limit": "limit",
                "base_redispatch_mw": "base-case redispatch (MW)",
                "losses_increase_mw": "extra losses (MW)",
            },
            {
                "base_export_change_mw": 1,
                "ttc_mw": 1,
                "ttc_published_mw": 1,
                "losses_increase_mw": 1,
            },
        ),
    ]
    for year in dict.fromkeys(head.year):
        name = f"export_curve_{year}.png"
        if name in figures:
            lines += [f"![Export curves {year}](figures/{name})", ""]
    lines += [
        "Export curves: AC power flows at evenly spaced transfers, intact (N-0, solid) and "
        "the worst after one of the N-1 TTC's ordinary contingencies (dashed: the highest "
        "loading of a CNEC, the limits the N-1 TTC holds, and the lowest voltage after any "
        "one circuit, transformer, HVDC link or unit outage, nothing set aside). Where the "
        "N-1 TTC is found, the dashed curve runs from its secured base case to its own "
        "dispatch at the TTC and on along the same direction (HVDC setpoints, redispatch, "
        "voltage controls per MW; both dispatches in `data/n1_dispatch`), so it stays "
        "within 100 % up to the N-1 limit; elsewhere it starts from the scenario's "
        "dispatch. The vertical lines mark the scheduled export and the N-0 / N-1 limits. "
        "Where the dashed loading is already above 100 % with no export, the base case is "
        "not N-1 secure: the panel says so and the N-1 limit is not drawn.",
        "",
        "### Loadings at the limits",
        "",
        "Each map shows the grid at the N-1 limit after the outage that limits it "
        "(crossed out), the limiting element drawn out in black; where the N-1 TTC is not "
        "defined, at the N-0 limit, intact (its title says so).",
        "",
        MAP_MARKER,
        "",
    ]
    for year in dict.fromkeys(head.year):
        for sink in cases.SINKS:
            name = f"map_{year}_{sink}.png"
            if name in figures:
                lines += [f"![Loading map {year} AZ to {sink}](figures/{name})", ""]
    links = tables["hvdc_at_limit"]
    if len(links):
        lines += [
            "HVDC links at the limit (the N-1 optimum's setpoints are `hvdc_links` in "
            "`data/headline.csv`):",
            "",
            md_table(
                links,
                {
                    "year": "year",
                    "sink": "sink",
                    "n_1": "security",
                    "hvdc": "link",
                    "p_from_mw": "P sent (MW)",
                    "max_p_mw": "rating (MW)",
                    "loading_percent": "loading (%)",
                    "moved_mw": "moved by the transfer (MW)",
                },
                {"moved_mw": 1},
            ),
        ]
    lines += voltage_stability_section(tables["voltage_stability"], figures)
    routes = tables["routes"]
    lines += [
        "## 2. Per route",
        "",
        "The whole transfer forced through one HVDC route out of the Caucasus area "
        "(`hvdc_shares`), next to the default allocation over all routes. A route appears "
        "only where it exists in the scenario and is not the only one.",
        "",
    ]
    if (routes.route != "all").any():
        lines.append(
            md_table(
                routes.assign(limit=routes.apply(_limit, axis=1, names=names)),
                {
                    "year": "year",
                    "sink": "sink",
                    "n_1": "security",
                    "route_label": "route",
                    "ttc_mw": "TTC (MW)",
                    "total_export_mw": "total export (MW)",
                    "limit": "limit",
                },
                {"ttc_mw": 1},
            )
        )
    else:
        lines += ["Only one route exists in the studied years.", ""]
    rein = tables["reinforcements"]
    lines += [
        "## 3. Reinforcements",
        "",
        "Each reinforcement alone, then all of those studied in the year together, "
        "added to the scenario; gain = TTC with it − TTC without it (same year, sink and "
        "security). Years where a reinforcement is already in the scenario, or cannot "
        "work yet, are not studied (–). At N-0 a new converter or cable joins the "
        "default allocation, which shares the transfer by headroom, so it also moves "
        "*where* the extra power enters the European grid (a gain can be negative when "
        "the new entry point is worse placed); at N-1 the joining HVDC links are "
        "optimised, and a gain exists only where the N-1 TTC is defined with and without "
        "the reinforcement. The figures show N-1 gains, or N-0 gains where no N-1 gain is "
        "defined (their titles say which).",
        "",
    ]
    for sink in cases.SINKS:
        name = f"reinforcements_{sink}.png"
        if name in figures:
            lines += [f"![Reinforcement gains AZ to {sink}](figures/{name})", ""]
    lines.append(
        md_table(
            rein.assign(limit=rein.apply(_limit, axis=1, names=names)),
            {
                "reinforcement": "reinforcement",
                "year": "year",
                "sink": "sink",
                "n_1": "security",
                "base_ttc_mw": "TTC without (MW)",
                "ttc_mw": "TTC with (MW)",
                "gain_mw": "gain (MW)",
                "limit": "new limit",
            },
            {"ttc_mw": 1, "base_ttc_mw": 1, "gain_mw": 1},
        )
    )
    notes = [
        f"- {r.label}: {r.note}; edits "
        + ", ".join(f"`{e} {i}.{f}={v}`" for e, i, f, v in r.edits)
        + (f"; forwards {r.forward[0]}→{r.forward[1]} over {r.forward[2]}" if r.forward else "")
        for r in study.reinforcements
    ]
    lines += [
        "What each reinforcement changes:",
        "",
        *notes,
        "",
        "",
        "### 3b. Expansion path",
        "",
    ]
    if expansion is not None and len(expansion):
        lines += [
            "The least-cost set of projects reaching each N-1 export target "
            "(`data/expansion.csv`):",
            "",
            md_table(expansion, {c: c.replace("_", " ") for c in expansion.columns}),
        ]
    else:
        lines += ["Not computed yet: this run has no `data/expansion.csv`.", ""]
    sites = tables["nis_sites"]
    lines += ["## 4. Niš plant site comparison", ""]
    if len(sites):
        lines += [
            "The 500 MW Niš CCGT at each candidate site, with the scenario's scheduled "
            "export and no transfer added. Intact grid, at the scenario's dispatch (the "
            "sites differ by the plant's place only): total losses (AC and HVDC), the "
            "plant's connection and the most loaded Serbian line. N-1, at the dispatch that "
            "is operated: the base case made N-1 secure by the least preventive redispatch "
            "(the same secured base case as the site's N-1 TTC; its MW is the site's cost "
            "of security), or the scenario's dispatch where it cannot be secured (column "
            "'N-1 at'); an AC N-1 over the ordinary contingencies (one circuit of each "
            "line, each transformer unit and HVDC link, the largest unit per synchronous "
            "area; reactive limits held). The plant's N-1 figure is the worst post-outage "
            "loading of the branches that carry at least "
            f"{cases.PLANT_DF:.0%} of its output in the intact grid (margin = 100 % − that "
            "loading): what the site changes. The worst N-1 loading anywhere is given beside "
            "it; it does not depend on the site where it sits far from Niš. The last column "
            "is the N-1 TTC AZ → RS with the plant at that site (– where not defined).",
            "",
        ]
        if "nis_sites.png" in figures:
            lines += [
                "![Niš sites](figures/nis_sites.png)",
                "",
                "Each bar: a site's figure minus the base site's (base values under the "
                "years); the grey band is what the model does not resolve.",
                "",
            ]
        lines.append(
            md_table(
                sites.assign(
                    max_loading_rs_name=[
                        _named(f"line {x}", names) for x in sites.max_loading_rs_line
                    ]
                ),
                {
                    "year": "year",
                    "site_label": "site",
                    "losses_mw": "losses (MW)",
                    "connection_loading_percent": "connection line (%)",
                    "max_loading_rs_percent": "max RS line N-0 (%)",
                    "max_loading_rs_name": "which",
                    "n1_dispatch": "N-1 at",
                    "secured_redispatch_mw": "redispatch to secure (MW)",
                    "n1_worst_loading_connection_percent": "connection N-1 (%)",
                    "n1_worst_loading_plant_percent": "plant's branches N-1 (%)",
                    "n1_margin_plant_percent": "plant N-1 margin (%)",
                    "n1_worst_plant_branch": "which",
                    "n1_worst_loading_rs_percent": "worst RS line N-1 (%)",
                    "n1_worst_loading_percent": "worst N-1 anywhere (%)",
                    "n1_overloading_outages": "outages overloading",
                    "ttc_n1_rs_mw": "N-1 TTC to RS (MW)",
                },
                {
                    "losses_mw": 2,
                    "connection_loading_percent": 1,
                    "max_loading_rs_percent": 1,
                    "secured_redispatch_mw": 0,
                    "n1_worst_loading_connection_percent": 1,
                    "n1_worst_loading_plant_percent": 1,
                    "n1_margin_plant_percent": 1,
                    "n1_worst_loading_rs_percent": 1,
                    "n1_worst_loading_percent": 1,
                    "ttc_n1_rs_mw": 1,
                },
            )
        )
    else:
        lines += ["Not computed in this run.", ""]
    first = head[head.n_1.astype(bool)]
    cmd_scen = first.scenario.iloc[0] if len(first) else "2026"
    cmd_sink = first.sink.iloc[0] if len(first) else "RS"
    lines += [
        "## 5. Data, versions and reproduction",
        "",
        "Every number above, and more, is in `data/` as CSV and Parquet: "
        + ", ".join(f"`{n}`" for n in tables)
        + ". `trials` holds every AC trial of every N-0 TTC search; `headline` the N-1 "
        "method, the TTC within published limits, the base-case redispatch and the "
        "residual violations where the N-1 TTC is not defined.",
        "",
        "| item | value |",
        "|---|---|",
        f"| command | `{meta['command']}` |",
        f"| date (UTC) | {meta['started_utc']} |",
        f"| network file | `{meta['network_file']}` |",
        f"| network SHA-256 | `{meta['network_sha256']}` |",
        *(f"| {k} | {val} |" for k, val in v.items()),
        "",
        f"One number again, by itself (the N-1 TTC of {cmd_scen} to {cmd_sink} in section 1; "
        "`gridsim transfer` prints it, the Python call returns it):",
        "",
        "```bash",
        f"gridsim transfer {meta['network_file']} --scenario {cmd_scen} --source AZ "
        f"--sink {cmd_sink} --n-1 --method optimal",
        "```",
        "",
        "```python",
        "import gridsim",
        "from gridsim.analysis.ttc import n1_ttc",
        f"net = gridsim.load_network({meta['network_file']!r}, scenario={cmd_scen!r})",
        f"r = n1_ttc(net, 'AZ', {cmd_sink!r})",
        "r.defined, r.ttc_mw, r.ttc_published_mw, r.residual  # N-0: gridsim.transfer_capability",
        "# a reinforcement case, secured from its scenario's secured base case:",
        "# from gridsim.analysis.ttc import secured_base",
        "# from gridsim.study.cases import N1_OPTIONS",
        "# from gridsim.study.runner import case_network",
        f"# case = case_network({meta['network_file']!r}, {cmd_scen!r}, 'sofia_nis_2')",
        "# start = secured_base(net, **N1_OPTIONS)",
        "# base = secured_base(case, start=start, **N1_OPTIONS)",
        f"# n1_ttc(case, 'AZ', {cmd_sink!r}, base=base, **N1_OPTIONS)",
        "```",
        "",
    ]
    return "\n".join(lines)


MAP_CSS = """
#gm { border: 1px solid #dde; padding: .5em; margin: 1em 0; }
#gm svg { width: 100%; height: auto; background: #dfe9f3; display: block; }
#gm .land { fill: #f4f1ea; stroke: #999; stroke-width: .6; }
#gm [data-id] { cursor: pointer; }
#gm line { stroke-linecap: round; }
#gm-tip { min-height: 2.6em; font-size: .9em; background: #fff8d8; padding: .3em .6em;
          border: 1px solid #e4d9a8; margin-top: .4em; }
"""

MAP_JS = """
(function () {
  var D = JSON.parse(document.getElementById("gm-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var grid = document.getElementById("gm-grid"), tip = document.getElementById("gm-tip");
  var caseSel = document.getElementById("gm-case"), stateSel = document.getElementById("gm-state");
  var geo = null, state = null;
  function xy(bus) { var b = geo.bus[bus]; return b ? D.project(b[0], b[1]) : null; }
  D.project = function (lon, lat) {
    var p = D.proj; return [(lon - p.lon0) * p.kx, (p.lat1 - lat) * p.ky];
  };
  function loadColour(l) {
    if (l === undefined) { return "#999"; }
    var t = Math.max(0, Math.min(1, l / 100));
    return "hsl(" + Math.round(120 * (1 - t)) + ",80%," + (l > 100 ? 30 : 42) + "%)";
  }
  function vmColour(v) {
    if (v === undefined) { return "#ccc"; }
    var d = Math.min(1, Math.abs(v - 1) / 0.1);
    return "hsl(" + (v < 1 ? 30 : 270) + ",80%," + Math.round(95 - 50 * d) + "%)";
  }
  function el(name, attrs) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    grid.appendChild(e); return e;
  }
  function draw() {
    var c = D.cases[caseSel.value];
    geo = D.geometry[c.year];
    grid.textContent = "";
    [["br", ""], ["dc", "6 4"]].forEach(function (kind) {
      Object.keys(geo[kind[0]]).forEach(function (id) {
        var g = geo[kind[0]][id], a = xy(g[0]), b = xy(g[1]);
        if (!a || !b) { return; }
        el("line", {x1: a[0], y1: a[1], x2: b[0], y2: b[1],
                    "stroke-width": kind[0] === "dc" ? 4 : 3.5, "stroke-dasharray": kind[1],
                    "data-id": id, "data-kind": kind[0]});
      });
    });
    Object.keys(geo.bus).forEach(function (id) {
      var a = xy(id);
      el("circle", {cx: a[0], cy: a[1], r: 4.5, stroke: "#222", "stroke-width": 0.8,
                    "data-id": id, "data-kind": "bus"});
    });
    stateSel.textContent = "";
    c.states.forEach(function (s, i) {
      var o = document.createElement("option"); o.value = i; o.textContent = s.label;
      stateSel.appendChild(o);
    });
    paint();
  }
  function paint() {
    state = D.cases[caseSel.value].states[stateSel.value] || {vm: {}, br: {}, dc: {}};
    grid.querySelectorAll("[data-id]").forEach(function (e) {
      var id = e.getAttribute("data-id"), kind = e.getAttribute("data-kind");
      var label = (kind === "dc" ? "hvdc " : kind === "bus" ? "bus " : "") + id;
      var limiting = label === state.limiting, out = label === state.outage;
      if (kind === "bus") {
        e.setAttribute("fill", vmColour(state.vm[id]));
        e.setAttribute("r", limiting ? 9 : 4.5);
        e.setAttribute("stroke-width", limiting ? 3 : 0.8);
        return;
      }
      var v = state[kind][id];
      e.setAttribute("stroke", out ? "#000" : v ? loadColour(v[0]) : "#777");
      e.setAttribute("stroke-opacity", v || out ? 1 : 0.5);
      e.setAttribute("stroke-width", limiting ? 8 : kind === "dc" ? 4 : 3.5);
      e.setAttribute("stroke-dasharray", out ? "3 3" : kind === "dc" ? "6 4" : "");
    });
  }
  function fmt(x, d) { return x.toLocaleString("en-GB", {maximumFractionDigits: d}); }
  grid.addEventListener("mouseover", function (ev) {
    var e = ev.target, id = e.getAttribute("data-id"), kind = e.getAttribute("data-kind");
    if (!id) { return; }
    var text;
    if (kind === "bus") {
      var v = state.vm[id];
      text = geo.bus[id][2] + ": |V| = " + (v === undefined ? "not solved" : fmt(v, 3) + " p.u.");
    } else {
      var g = geo[kind][id], v2 = state[kind][id];
      text = g[2] + " (" + geo.bus[g[0]][2] + " → " + geo.bus[g[1]][2] + "): " +
        (v2 ? "loading " + fmt(v2[0], 1) + " %, P " + fmt(v2[1], 0) + " MW" : "out of service");
    }
    var label = (kind === "dc" ? "hvdc " : kind === "bus" ? "bus " : "") + id;
    if (label === state.limiting) { text += " (the limiting element)"; }
    if (label === state.outage) { text += " (the outage)"; }
    tip.textContent = text;
  });
  D.cases.forEach(function (c, i) {
    var o = document.createElement("option"); o.value = i; o.textContent = c.label;
    caseSel.appendChild(o);
  });
  caseSel.addEventListener("change", draw);
  stateSel.addEventListener("change", paint);
  draw();
})();
"""


def interactive_map(map_data: dict) -> str:
    """The HTML of the interactive map: an inline SVG with country borders and the grid
    of each case, a selector for the case (year and sink) and one for its state (at
    the N-1 limit intact or after the limiting outage, at the N-0 limit), and a line
    that shows the name, loading and flow of the line, or the voltage of the bus,
    under the pointer. Offline: data and JavaScript are embedded.

    Parameters
    ----------
    map_data : dict
        ``geometry`` (year -> ``bus``: id -> [lon, lat, name]; ``br`` and ``dc``: id ->
        [from bus, to bus, name]) and ``cases`` (``year``, ``label``, ``states``: each a
        ``label``, ``vm`` (bus -> p.u.), ``br`` and ``dc`` (id -> [loading %, P MW]),
        ``limiting`` and ``outage`` (``"line L_X"``, drawn out; optional)).
    """
    import json

    from gridsim.plot import borders

    points = [b for g in map_data["geometry"].values() for b in g["bus"].values()]
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    lon0, lon1 = min(lons) - 1.0, max(lons) + 1.0
    lat0, lat1 = min(lats) - 0.8, max(lats) + 0.8
    kx = 1000.0 / (lon1 - lon0)
    ky = kx / np.cos(np.deg2rad((lat0 + lat1) / 2))
    height = (lat1 - lat0) * ky
    paths = []
    for country in borders():
        for ring in country["rings"]:
            xy = " ".join(f"{(x - lon0) * kx:.1f},{(lat1 - y) * ky:.1f}" for x, y in ring)
            name = html.escape(country["name"])
            paths.append(f'<polygon class="land" points="{xy}"><title>{name}</title></polygon>')
    data = {**map_data, "proj": {"lon0": lon0, "lat1": lat1, "kx": kx, "ky": ky}}
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        '<div id="gm">\n<label>Case <select id="gm-case"></select></label> '
        '<label>State <select id="gm-state"></select></label>\n'
        f'<svg id="gm-svg" viewBox="0 0 1000 {height:.0f}" role="img" '
        'aria-label="interactive grid map">'
        f'<g id="gm-borders">{"".join(paths)}</g><g id="gm-grid"></g></svg>\n'
        '<div id="gm-tip">Hover a line or a substation for its name, loading, flow and '
        "voltage. Lines: green (unloaded) to red (100 %), thick: the limiting element, "
        "black dotted: the outage; substations: orange below, purple above 1 p.u.; "
        "dashed: HVDC.</div>\n</div>\n"
        f'<script type="application/json" id="gm-data">{payload}</script>\n'
        f"<script>{MAP_JS}</script>\n"
    )


def write(
    out: Path,
    tables: dict,
    meta: dict,
    map_data: dict | None = None,
    names: dict | None = None,
    study: cases.StudyCases | None = None,
) -> None:
    """Write ``out/report.md`` and the self-contained ``out/report.html``.

    Parameters
    ----------
    out : Path
        The report folder (``figures/`` and ``data/`` already written; an
        ``data/expansion.csv`` there is reported).
    tables : dict of str to DataFrame
    meta : dict
    map_data : dict, optional
        The interactive map's data (:func:`interactive_map`); no map without it or
        without cases.
    names : dict, optional
        ``"element id"`` -> the element's name, for the text (ids where missing).
    study : StudyCases, optional
        The model's case data (default: that of ``meta["network_file"]``).
    """
    import markdown

    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    expansion = read_expansion(out)
    study = study or cases.for_network(meta["network_file"])
    text = _markdown(tables, meta, figures, names or {}, expansion, study)
    (out / "report.md").write_text(text, encoding="utf-8")
    body = markdown.markdown(text, extensions=["tables", "fenced_code"])
    marker = markdown.markdown(MAP_MARKER)
    body = body.replace(marker, interactive_map(map_data) if map_data and map_data["cases"] else "")

    def embed(match: re.Match) -> str:
        data = (out / "figures" / match.group(1)).read_bytes()
        return 'src="data:image/png;base64,' + base64.b64encode(data).decode("ascii") + '"'

    body = re.sub(r'src="figures/([^"/]+\.png)"', embed, body)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape('gridsim study: Azerbaijan → Serbia / EU')}</title>\n"
        f"<style>{CSS}{MAP_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
    (out / "report.html").write_text(page, encoding="utf-8")
