"""The study report's first screen, its interactive map and its figures (issue 21).

One reduced study (``quick``) is run in-process; the tests read what it wrote. The
browser test renders ``report.html`` in headless Chromium (skipped where there is none).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import chromium

import gridsim
from gridsim.plot import label_name
from gridsim.study import cases, figures, job, report


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "study"
    job.run_study(job.default_network(), out, quick=True, progress=False)
    return out


def _png_text(path: Path) -> dict:
    """A PNG's text chunks (matplotlib's ``savefig(metadata=...)``), after checking it
    decodes to a picture that is not blank."""
    import matplotlib.image as mpimg
    from PIL import Image

    img = mpimg.imread(path)
    assert img.shape[0] > 100 and img.shape[1] > 100, path.name
    assert float(np.std(img[..., :3])) > 0.01, f"{path.name} is blank"
    with Image.open(path) as im:
        return dict(im.text)


def test_first_screen_gives_the_four_answers_with_names_and_numbers(study):
    text = (study / "report.md").read_text()
    head = pd.read_parquet(study / "data" / "headline.parquet")
    answers = re.findall(r"^(\d)\. (.*)$", text.split("## Method", 1)[0], flags=re.M)
    assert [a[0] for a in answers] == ["1", "2", "3", "4"]
    first, _, third, fourth = (a[1] for a in answers)
    # 2026, both sinks: the N-0 and N-1 total exports of data/headline, by name
    ok = head[(head.year == "2026") & head.status.eq("ok")]
    net = gridsim.load_network(job.default_network(), scenario="2026")
    for _, row in ok.iterrows():
        assert f"**{row.total_export_mw:,.0f} MW**" in first
        name = label_name(net, row.limiting_element)  # "Niš 2–Kruševac 1 220 kV"
        assert name in first
        if not row.limiting_element.startswith("hvdc"):  # a link's name ends in its id
            assert row.limiting_element.split()[1] not in first
    for _, row in head[(head.year == "2026") & head.status.ne("ok")].iterrows():
        assert row.status in first  # "not defined: base case cannot be secured"
        if row.status == report.NOT_DEFINED:  # the residual violations, the worst by name
            assert f"{int(row.residual_violations):,} violations remain" in first
            worst = row.worst_residual.split(" after ")[0].split(" ", 1)[1]  # "gen G_X"
            assert label_name(net, worst) in first and worst.split()[1] not in first
            assert "issue 19" in first  # what would make it defined
    assert "Confidence" in first and "nothing set aside" in first
    assert "upper bounds" not in text and "are set aside" not in text  # no stale wording
    # no expansion path in this run: said plainly
    assert "Not computed yet" in third
    # Niš: a named site, and the resolution the comparison is made at
    site, deciding = report.nis_verdict(pd.read_parquet(study / "data" / "nis_sites.parquet"))
    assert f"**{site}**" in fourth
    assert ("differ by less than the model resolves" in fourth) == (not deciding)


def test_expansion_table_is_reported_when_the_study_wrote_one(study, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(study, out)
    pd.DataFrame(
        {
            "year": 2032,
            "sink": "RS",
            "target_mw": [2000.0, 8000.0],
            "status": ["reached", "unreachable"],
            "projects": ["Sofia West–Niš 2 second circuit", ""],
            "cost_meur": [45.0, np.nan],
            "ttc_mw": [2010.0, 5200.0],
            "binding": ["thermal", "no set reaches it"],
        }
    ).to_csv(out / "data" / "expansion.csv", index=False)
    tables = {p.stem: pd.read_parquet(p) for p in (out / "data").glob("*.parquet")}
    meta = json.loads((out / "meta.json").read_text())
    report.write(out, tables, meta)
    text = (out / "report.md").read_text()
    third = re.search(r"^3\. (.*)$", text, flags=re.M).group(1)
    assert "2,000 MW to RS: Sofia West–Niš 2 second circuit (45 MEUR)" in third
    assert "8,000 MW to RS: out of reach (no set reaches it)" in third
    assert "| 2032 | RS | 8,000 | unreachable |" in text.split("### 3b.", 1)[1]


def test_expansion_out_of_reach_everywhere_is_said_once():
    exp = pd.DataFrame(
        {
            "year": "2032",
            "sink": ["RS", "RS", "EU", "EU"],
            "target_mw": [1000.0, 8000.0, 1000.0, 8000.0],
            "status": "unreachable",
            "projects": "",
            "cost_meur": np.nan,
            "ttc_mw": np.nan,
            "binding": "base case cannot be secured",
        }
    )
    answer = report._answer_expansion(exp)
    assert "No set of the candidate projects reaches any target (1–8 GW to RS and EU)" in answer
    assert "even with every candidate built" in answer
    exp.loc[0, ["status", "projects", "cost_meur"]] = ("reached", "Sofia West–Niš 2", 45.0)
    answer = report._answer_expansion(exp)
    assert "1,000 MW to RS: Sofia West–Niš 2 (45 MEUR)" in answer
    assert "8,000 MW to EU: out of reach (base case cannot be secured)" in answer


def test_published_total_and_the_physical_base_case_are_said():
    """The figure within the published limits follows the physical one; where the
    physical figure starts from the base case secured with the published limits the
    first screen says so, and a published figure above the physical one by more than the
    search tolerance (which the physical search from both base cases rules out) is
    flagged, not passed over."""
    row = pd.Series({"status": "ok", "total_export_mw": 240.0, "total_export_published_mw": 200.0})
    assert report._published(row) == "; **200 MW** within the published limits"
    row["started_from"] = "published"
    assert "starts from the base case secured with the published limits" in report._published(row)
    row["started_from"] = "physical"
    row["total_export_published_mw"] = 240.0 + report.SIGNIFICANT_MW  # within the tolerance
    assert "above the physical" not in report._published(row)
    row["total_export_published_mw"] = 240.0 + 2 * report.SIGNIFICANT_MW
    assert "above the physical figure by more than the search tolerance" in report._published(row)
    row["total_export_published_mw"] = np.nan
    assert report._published(row) == ""


def test_every_figure_decodes_and_carries_what_it_shows(study):
    head = pd.read_parquet(study / "data" / "headline.parquet")
    rein = pd.read_parquet(study / "data" / "reinforcements.parquet")
    sites = pd.read_parquet(study / "data" / "nis_sites.parquet")
    stab = pd.read_parquet(study / "data" / "voltage_stability.parquet")
    n1 = head[head.n_1 & head.status.eq("ok")]
    pngs = sorted((study / "figures").glob("*.png"))
    checked = set()
    for (year, sink), rows in head.groupby(["year", "sink"]):  # a map per year and sink
        row = rows.sort_values("n_1", ascending=False)  # the N-1 limit where found
        row = row[row.status == "ok"].iloc[0]
        name = f"map_{year}_{sink}.png"
        meta = _png_text(study / "figures" / name)
        assert meta["gridsim:security"] == ("N-1" if row.n_1 else "N-0")
        assert meta["gridsim:limiting_element"] == row.limiting_element
        outage = " ".join((row.limiting_contingency or "").split()[:2])
        assert meta["gridsim:outage"] == outage  # its outage crossed out
        checked.add(name)
    for year in dict.fromkeys(head.year):  # the N-1 limits marked on the export curves
        name = f"export_curve_{year}.png"
        limits = _png_text(study / "figures" / name)["gridsim:n1_limits_mw"]
        sel = n1[n1.year == year]
        assert limits == " ".join(
            f"{s}={t:.0f}" for s, t in zip(sel.sink, sel.total_export_mw, strict=True)
        )
        checked.add(name)
    undefined = head[head.n_1 & head.status.eq(report.NOT_DEFINED)]
    for year in dict.fromkeys(undefined.year):  # N-1 not defined: marked, with the loading
        meta = _png_text(study / "figures" / f"export_curve_{year}.png")
        curve = pd.read_parquet(study / "data" / "export_curve_n1.parquet")
        first = curve[curve.transfer_mw == 0.0].set_index("sink").n1_worst_loading_percent
        sinks = undefined[undefined.year == year].sink
        assert meta["gridsim:n1_not_defined"] == " ".join(f"{s}={first[s]:.0f}" for s in sinks)
        assert (first[sinks] > 100.0).all()  # already above 100 % with no added export
    for sink in cases.SINKS:  # the heatmap's scale: the largest change, at least 100 MW
        name = f"reinforcements_{sink}.png"
        shown = rein[(rein.sink == sink) & rein.n_1]  # N-1 gains, N-0 where none is defined
        security = "N-1" if shown.gain_mw.notna().any() else "N-0"
        shown = shown if security == "N-1" else rein[(rein.sink == sink) & ~rein.n_1]
        largest = np.nan_to_num(shown.gain_mw.abs().max())
        meta = _png_text(study / "figures" / name)
        assert meta["gridsim:security"] == security
        scale = float(meta["gridsim:scale_mw"])
        assert scale == pytest.approx(max(largest, 10 * report.SIGNIFICANT_MW), abs=0.5)
        checked.add(name)
    _, deciding = report.nis_verdict(sites)  # the Niš figure: the same resolved metrics
    resolved = _png_text(study / "figures" / "nis_sites.png")["gridsim:resolved"]
    assert bool(resolved) == bool(deciding)
    checked.add("nis_sites.png")
    for p in pngs:
        if p.name.startswith("pv_"):
            case = _png_text(p)["gridsim:case"]
            assert case in set(stab.apply(figures.case_label, axis=1))
            checked.add(p.name)
    assert {p.name for p in pngs} == checked  # no figure left unchecked


def test_n1_export_curve_starts_at_a_direct_n1_analysis(study):
    """With no added export the N-1 curve gives the worst loading of a CNEC (a pair the
    N-1 TTC holds, :func:`gridsim.select_cnecs` at the study's threshold) after any of
    the N-1 TTC's ordinary contingencies, solved here one by one (``solve_outage``), from
    the scenario's dispatch where the N-1 TTC is not defined."""
    from gridsim.analysis.cnec import select_cnecs
    from gridsim.analysis.outages import ordinary_contingencies

    head = pd.read_parquet(study / "data" / "headline.parquet")
    curve = pd.read_parquet(study / "data" / "export_curve_n1.parquet")
    row = head[(head.sink == "RS") & head.n_1].iloc[0]
    c = curve[curve.sink == "RS"].sort_values("transfer_mw")
    assert len(c) == job.LIMIT_CURVE_POINTS and c.transfer_mw.iloc[0] == 0.0
    assert c.total_export_mw.iloc[-1] > head[head.sink == "RS"].total_export_mw.max()
    assert row.status == report.NOT_DEFINED and not c.from_secured_base.any()
    net = gridsim.load_network(job.default_network(), scenario=row.scenario)
    outages = ordinary_contingencies(net, units="all")
    pairs = select_cnecs(net, outages, cases.N1_OPTIONS["cnec_threshold"]).table()
    held = set(zip(pairs.element, pairs.id.astype(str), pairs.contingency, strict=True))
    base = gridsim.run_ac(net, enforce_q_limits=True)
    worst = -np.inf
    for o in outages:
        post = gridsim.solve_outage(net, o, base=base, enforce_q_limits=True)
        if not post.converged:
            continue
        for (e, i), loading in post.power_flow.branch.loading_percent.items():
            if (e, str(i), o.label) in held and np.isfinite(loading):
                worst = max(worst, float(loading))
    assert c.n1_worst_loading_percent.iloc[0] == pytest.approx(worst, abs=1e-6)  # percent


def test_interactive_map_is_embedded_offline(study):
    page = (study / "report.html").read_text()
    assert '<svg id="gm-svg"' in page and 'id="gm-data"' in page
    assert not re.search(r"""(src|href)=["']https?://""", page)  # nothing to download
    data = json.loads(re.search(r'id="gm-data">(.*?)</script>', page, re.S).group(1))
    head = pd.read_parquet(study / "data" / "headline.parquet")
    assert [c["label"] for c in data["cases"]] == [
        f"2026: AZ → {s}" for s in dict.fromkeys(head.sink)
    ]
    first = head[head.year == "2026"].iloc[:2]  # the first case: N-0 and N-1 rows
    labels = [s["label"] for s in data["cases"][0]["states"]]
    if first.status.iloc[1] == report.NOT_DEFINED:  # the N-1 row: why not defined
        curve = pd.read_parquet(study / "data" / "export_curve_n1.parquet").iloc[0]
        assert labels[0].startswith("no added export") and labels[0].endswith(
            f"worst post-outage loading {curve.n1_worst_loading_percent:,.0f} % (N-1 not defined)"
        )
    for _, row in first[first.status == "ok"].iterrows():
        security = "N-1" if row.n_1 else "N-0"
        where = f"at the {security} limit ({row.total_export_mw:,.0f} MW)"
        assert f"{where}, intact grid" in labels
        if isinstance(row.limiting_contingency, str) and row.limiting_contingency:
            assert any(s.startswith(f"{where}, after the outage of") for s in labels)
    names = {g[2] for g in data["geometry"]["2026"]["br"].values()}
    assert "Niš 2–Kruševac 1 220 kV" in names  # lines by name, not id (L_RS220_01)


PROBE = """<script>
window.addEventListener("load", function () {
  var out = {height: window.innerHeight, width: window.innerWidth};
  out.answers = Array.prototype.map.call(document.querySelector("body > ol").children,
    function (li) { return {bottom: li.getBoundingClientRect().bottom,
                            text: li.textContent.slice(0, 120)}; });
  var tip = document.getElementById("gm-tip");
  out.before = tip.textContent;
  var line = document.querySelector("#gm-grid line[data-id]");
  out.id = line.getAttribute("data-id");
  line.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
  out.after = tip.textContent;
  var state = document.getElementById("gm-state");
  out.states = state.options.length;
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


@pytest.mark.skipif(
    chromium() is None,
    reason="no chromium/google-chrome on PATH (Debian: apt-get install -y chromium)",
)
def test_first_screen_and_hover_in_headless_chromium(study, tmp_path):
    page = tmp_path / "probe.html"
    page.write_text((study / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    proc = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1400,900",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stderr[-2000:]
    out = json.loads(html.unescape(found.group(1)))
    assert out["width"] == 1400 and out["height"] >= 800
    # the four answers, above the fold of a 1400 x 900 window
    words = ("2 GW", "per route", "2, 4, 6 and 8 GW", "Niš plant")
    assert len(out["answers"]) == 4
    for answer, what in zip(out["answers"], words, strict=True):
        assert what in answer["text"], answer
        assert answer["bottom"] <= out["height"], out["answers"]
    # hovering a line of the map names it in the tooltip, with its loading and flow
    assert out["after"] != out["before"]
    assert "loading" in out["after"] and " MW" in out["after"], out["after"]
    assert out["states"] >= 1


def test_an_interface_limit_is_named_with_its_limit_and_kind():
    """An N-1 TTC bound by an interface reads as the interface's name, its limit and its
    kind (from the network file's ``interface`` records), not its id."""
    model = Path(__file__).parents[1] / "networks" / "corridor_substation.yaml"
    names = job._names(str(model), ["2026"])
    row = pd.Series(
        {
            "status": "ok",
            "limit_type": "interface",
            "limiting_element": "interface IF_AZ_GE_500KV",
            "limiting_contingency": "",
        }
    )
    assert report._limit(row, names) == (
        "AZ->GE Mukhrani Valley 500 kV Samukh-Gardabani, 700 MW stability (interface limit)"
    )
