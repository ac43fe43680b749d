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
    "voltage_stability": f"voltage stability, {100 * (1 - VOLTAGE_STABILITY_MARGIN):g} % of nose",
    "max_mw": "cap reached",
}


def _limit(row) -> str:
    """``line L_X (thermal) after outage of line L_Y`` or the case's status."""
    if row.get("status", "ok") != "ok":
        return str(row.get("status", ""))
    what = LIMIT_NAMES.get(str(row.get("limit_type", "")), str(row.get("limit_type", "")))
    el = row.get("limiting_element") or ""
    cont = row.get("limiting_contingency") or ""
    text = f"{el} ({what})" if el else what
    if cont:
        text += f" after outage of {cont}"
    return text


def _outage_kinds() -> str:
    """What the installed :func:`gridsim.transfer_capability` takes out with ``n_1``."""
    import inspect

    from gridsim.analysis.transfer import transfer_capability

    p = inspect.signature(transfer_capability).parameters.get("hvdc_contingencies")
    if p is not None and p.default:
        return "line, transformer or HVDC link"
    return "line or transformer"


def _summary(tables: dict) -> list[str]:
    head = tables["headline"]
    rein = tables["reinforcements"]
    out = []
    for year in dict.fromkeys(head.year):
        h = head[head.year == year]
        sched = float(h.scheduled_export_mw.iloc[0])
        parts = []
        for sink in dict.fromkeys(h.sink):
            s = h[h.sink == sink]
            n0 = next((r for _, r in s.iterrows() if not r.n_1), None)
            n1 = next((r for _, r in s.iterrows() if r.n_1), None)
            text = f"to **{sink}**: "
            if n0 is not None and n0.status == "ok":
                text += f"N-0 +{n0.ttc_mw:,.0f} MW ({_limit(n0)})"
            if n1 is not None and n1.status == "ok":
                text += (
                    f"; N-1 +{n1.ttc_mw:,.0f} MW, i.e. **{n1.total_export_mw:,.0f} MW** in all "
                    f"({_limit(n1)}; {int(n1.excluded_contingencies)} outages already "
                    "violating without the transfer set aside)"
                )
            elif n1 is not None:
                text += f"; N-1: {n1.status}"
            parts.append(text)
        line = f"- **{year}** (scheduled export {sched:,.0f} MW): " + "; ".join(parts) + "."
        r = rein[(rein.year == year) & rein.n_1 & (rein.case != cases.PACKAGE_KEY)]
        best = []
        for sink in dict.fromkeys(r.sink):
            rs = r[(r.sink == sink) & r.gain_mw.notna()]
            if len(rs):
                b = rs.loc[rs.gain_mw.idxmax()]
                if b.gain_mw >= SIGNIFICANT_MW:
                    best.append(f"to {sink} {b.reinforcement} (+{b.gain_mw:,.0f} MW)")
                else:
                    best.append(
                        f"to {sink} none gains more than the {SIGNIFICANT_MW:.0f} MW search "
                        "tolerance"
                    )
        p = rein[(rein.year == year) & rein.n_1 & (rein.case == cases.PACKAGE_KEY)]
        pk = ", ".join(
            f"{s.sink} {s.gain_mw:+,.0f} MW" for _, s in p.iterrows() if np.isfinite(s.gain_mw)
        )
        if best:
            line += " Best single reinforcement (N-1): " + "; ".join(best) + "."
        if pk:
            line += f" All together: {pk}."
        out.append(line)
    return out


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
    nose = np.nanmin([low.nose_intact_mw, low.nose_after_outage_mw])
    return [
        *lines,
        f"No case comes within {near} % of its TTC: the smallest nose margin found is "
        f"{low.nose_margin_percent:.1f} % above the TTC ({figures.case_label(low)}: TTC "
        f"{low.ttc_mw:,.0f} MW, nose {nose:,.0f} MW).",
        "",
    ]


def _markdown(tables: dict, meta: dict, figures: list[str]) -> str:
    head = tables["headline"]
    v = meta["versions"]
    lines = [
        "# Azerbaijan → Serbia / EU export capability: the gridsim study",
        "",
        f"Network `{meta['network_file']}` (SHA-256 `{meta['network_sha256'][:16]}…`), "
        f"run {meta['started_utc']} in {meta['seconds']:.0f} s on {meta['workers']} "
        f"process(es), {meta['cases']} cases"
        + (" (**quick**: reduced case set)" if meta["quick"] else "")
        + ".",
        "",
        "## Findings",
        "",
        *_summary(tables),
        "",
        "How to read these figures: the **TTC** is the transfer *added* on top of the "
        "scenario's scheduled export (its `export` block), from Azerbaijan's generators "
        "(raised by headroom) to the sink's loads, with the HVDC links joining the "
        "Caucasus (UPS) area to continental Europe moved by headroom (or all through one "
        "route); **total export** = scheduled + TTC. Every limit holds in AC at the TTC: "
        "thermal ratings (100 % of `rate_mva`, no emergency rating), bus voltage limits, "
        "converter ratings, generator limits, reactive limits, and voltage stability "
        f"({100 * VOLTAGE_STABILITY_MARGIN:g} % from the nose of the P–V curve, section "
        "1, *Voltage stability*). **N-1**: also "
        f"after each single {_outage_kinds()} outage (outages that island part of the "
        "grid are skipped); outages that already violate a limit *with no transfer* are "
        "set aside and counted (`excluded`): the TTC does not hold them, so an N-1 TTC "
        "with many exclusions is not a guarantee of N-1 security. Search tolerance: "
        "10 MW or 1 %. Data and assumptions: `networks/README.md`.",
        "",
        "## 1. Export capability per year",
        "",
        md_table(
            head.assign(limit=head.apply(_limit, axis=1)),
            {
                "year": "year",
                "sink": "sink",
                "n_1": "security",
                "scheduled_export_mw": "scheduled (MW)",
                "ttc_mw": "TTC (MW)",
                "total_export_mw": "total export (MW)",
                "limit": "limit",
                "excluded_contingencies": "excluded outages",
                "losses_increase_mw": "extra losses (MW)",
            },
            {"ttc_mw": 1, "losses_increase_mw": 1},
        ),
    ]
    for year in dict.fromkeys(head.year):
        name = f"export_curve_{year}.png"
        if name in figures:
            lines += [f"![Export curves {year}](figures/{name})", ""]
    lines += [
        "Export curves: AC power flows (N-0, reactive limits enforced) at evenly spaced "
        "transfers; the vertical lines mark the scheduled export and the N-0 / N-1 limits. "
        "The N-1 limit is usually well below the N-0 crossing because post-outage loadings "
        "bind first.",
        "",
        "### Loadings at the N-1 limit",
        "",
    ]
    for year in dict.fromkeys(head.year):
        for sink in cases.SINKS:
            name = f"map_{year}_{sink}.png"
            if name in figures:
                lines += [f"![Loading map {year} AZ to {sink}](figures/{name})", ""]
    links = tables["hvdc_at_limit"]
    if len(links):
        sel = links[links.n_1.astype(bool)]
        lines += [
            "HVDC links at the N-1 limit:",
            "",
            md_table(
                sel,
                {
                    "year": "year",
                    "sink": "sink",
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
                routes.assign(limit=routes.apply(_limit, axis=1)),
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
        "work yet, are not studied (–). Read the gains with two effects in mind: a new "
        "converter or cable joins the default allocation, which shares the transfer by "
        "headroom, so it also moves *where* the extra power enters the European grid "
        "(a gain can be negative when the new entry point is worse placed); and the set "
        "of outages already violating without the transfer (set aside) changes with the "
        "grid. A reinforcement that itself overloads a branch with no transfer is "
        "reported as not studied, naming the branch.",
        "",
    ]
    for sink in cases.SINKS:
        name = f"reinforcements_{sink}.png"
        if name in figures:
            lines += [f"![Reinforcement gains AZ to {sink}](figures/{name})", ""]
    sel = rein[rein.n_1.astype(bool)]
    lines.append(
        md_table(
            sel.assign(limit=sel.apply(_limit, axis=1)),
            {
                "reinforcement": "reinforcement",
                "year": "year",
                "sink": "sink",
                "base_ttc_mw": "N-1 TTC without (MW)",
                "ttc_mw": "N-1 TTC with (MW)",
                "gain_mw": "gain (MW)",
                "limit": "new limit",
                "excluded_contingencies": "excluded outages",
            },
            {"ttc_mw": 1, "base_ttc_mw": 1, "gain_mw": 1},
        )
    )
    notes = [
        f"- {r.label}: {r.note}; edits "
        + ", ".join(f"`{e} {i}.{f}={v}`" for e, i, f, v in r.edits)
        + (f"; forwards {r.forward[0]}→{r.forward[1]} over {r.forward[2]}" if r.forward else "")
        for r in cases.REINFORCEMENTS
    ]
    lines += [
        "What each reinforcement changes:",
        "",
        *notes,
        "",
        "N-0 gains are in `data/reinforcements.csv` too.",
        "",
    ]
    sites = tables["nis_sites"]
    lines += ["## 4. Niš plant site comparison", ""]
    if len(sites):
        lines += [
            "The 500 MW Niš CCGT (dispatched at 350 MW) at each candidate site, with the "
            "scenario's scheduled export and no transfer added: total losses (AC and HVDC), "
            "the most loaded Serbian line, and an AC N-1 over every line and transformer "
            "(worst post-outage loading; margin = 100 % − worst loading). The last column "
            "is the N-1 TTC AZ → RS with the plant at that site.",
            "",
        ]
        if "nis_sites.png" in figures:
            lines += ["![Niš sites](figures/nis_sites.png)", ""]
        lines.append(
            md_table(
                sites,
                {
                    "year": "year",
                    "site_label": "site",
                    "losses_mw": "losses (MW)",
                    "connection_loading_percent": "connection line (%)",
                    "max_loading_rs_percent": "max RS line N-0 (%)",
                    "max_loading_rs_line": "which",
                    "n1_worst_loading_rs_percent": "worst RS line N-1 (%)",
                    "n1_margin_rs_percent": "RS N-1 margin (%)",
                    "n1_worst_loading_percent": "worst N-1 anywhere (%)",
                    "n1_overloading_outages": "outages overloading",
                    "ttc_n1_rs_mw": "N-1 TTC to RS (MW)",
                },
                {
                    "losses_mw": 2,
                    "connection_loading_percent": 1,
                    "max_loading_rs_percent": 1,
                    "n1_worst_loading_rs_percent": 1,
                    "n1_margin_rs_percent": 1,
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
        + ". `trials` holds every AC trial of every TTC search, `excluded_contingencies` "
        "the outages set aside per case.",
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
        f"--sink {cmd_sink} --n-1",
        "```",
        "",
        "```python",
        "import gridsim",
        f"net = gridsim.load_network({meta['network_file']!r}, scenario={cmd_scen!r})",
        f"r = gridsim.transfer_capability(net, 'AZ', {cmd_sink!r}, n_1=True)",
        "r.ttc_mw, r.limit_type, r.limiting_element, r.limiting_contingency",
        "# a reinforcement case: gridsim.study.runner.case_network(path, '2030', 'sofia_nis_2')",
        "```",
        "",
    ]
    return "\n".join(lines)


def write(out: Path, tables: dict, meta: dict) -> None:
    """Write ``out/report.md`` and the self-contained ``out/report.html``."""
    import markdown

    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    text = _markdown(tables, meta, figures)
    (out / "report.md").write_text(text, encoding="utf-8")
    body = markdown.markdown(text, extensions=["tables", "fenced_code"])

    def embed(match: re.Match) -> str:
        data = (out / "figures" / match.group(1)).read_bytes()
        return 'src="data:image/png;base64,' + base64.b64encode(data).decode("ascii") + '"'

    body = re.sub(r'src="figures/([^"/]+\.png)"', embed, body)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape('gridsim study: Azerbaijan → Serbia / EU')}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
    (out / "report.html").write_text(page, encoding="utf-8")
