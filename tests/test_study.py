"""``gridsim study``: the report is written, self-contained, and its numbers are those of
direct :func:`gridsim.transfer_capability` calls.

One reduced study (``--quick``) runs end to end through the command line in a subprocess
(as a user would run it); the other tests read what it wrote.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import chromium, one_line_error, run_cli

import gridsim
from gridsim.analysis.ttc import n1_ttc
from gridsim.io.candidates import read_candidates
from gridsim.study import cases, job, runner

REPO = Path(__file__).resolve().parents[1]
NETWORK = REPO / "networks" / "caspian_eu.yaml"  # the quick study runs on the 96-bus model
SUBSTATION = REPO / "networks" / "corridor_substation.yaml"
TOL_MW = 1e-6  # a number in the report against the same call made directly


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Run ``gridsim study --quick`` on the 96-bus model in a fresh process, from the
    repository root (short enough for CI)."""
    out = tmp_path_factory.mktemp("study") / "report"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gridsim.cli",
            "study",
            "--quick",
            "--network",
            str(NETWORK.relative_to(REPO)),
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc, out


def test_cli_runs_and_names_the_report(study):
    proc, out = study
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert str(out / "report.md") in last and str(out / "report.html") in last
    assert "gridsim study" in proc.stderr  # the progress bar
    assert "Traceback" not in proc.stderr
    for name in ("report.md", "report.html", "meta.json"):
        assert (out / name).is_file()
    # written through a temporary folder that is gone now
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["quick"] is True
    assert meta["command"].startswith("gridsim study")
    assert set(meta["versions"]) >= {"gridsim", "numpy", "scipy", "numba", "pandas"}
    import hashlib

    assert meta["network_sha256"] == hashlib.sha256(NETWORK.read_bytes()).hexdigest()
    text = (out / "report.md").read_text()
    for what in (meta["command"], meta["network_sha256"], "numba", "gridsim transfer"):
        assert what in text


def _images(html: str) -> list[str]:
    return re.findall(r"<img[^>]*\ssrc=\"([^\"]+)\"", html)


def test_html_is_self_contained_with_png_pictures(study):
    _, out = study
    html = (out / "report.html").read_text()
    srcs = _images(html)
    figures = sorted((out / "figures").glob("*.png"))
    # every figure is shown once; maps, export curves, heatmaps and the site bars
    assert len(srcs) == len(figures) >= 4
    names = {p.name for p in figures}
    assert {"export_curve_2026.png", "reinforcements_RS.png", "nis_sites.png"} <= names
    import matplotlib.image as mpimg

    for src in srcs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        img = mpimg.imread(io.BytesIO(data), format="png")
        assert img.shape[0] > 100 and img.shape[1] > 100
        assert float(np.std(img)) > 0.01  # not a blank picture
    assert "figures/" not in html.split("<body>", 1)[1].replace("`figures/`", "")


def test_headline_equals_direct_calls(study):
    """N-0 from gridsim.transfer_capability; N-1 from gridsim.analysis.ttc.n1_ttc (the
    planner's method: secured base case, nothing set aside, thermal limits on the CNECs),
    which on the 96-bus model says the base case cannot be secured."""
    _, out = study
    head = pd.read_parquet(out / "data" / "headline.parquet")
    net = gridsim.load_network(NETWORK, scenario="2026")
    row = head[(head.year == "2026") & (head.sink == "RS") & ~head.n_1].iloc[0]
    ref = gridsim.transfer_capability(net, "AZ", "RS")
    assert abs(row.ttc_mw - ref.ttc_mw) <= TOL_MW
    assert row.limit_type == ref.limit_type
    assert row.limiting_element == " ".join(map(str, ref.limiting_element))
    assert abs(row.total_export_mw - (net.export["mw"] + ref.ttc_mw)) <= TOL_MW
    assert f"| 2026 | RS | N-0 | 500 | {ref.ttc_mw:,.1f} |" in (out / "report.md").read_text()
    row = head[(head.year == "2026") & (head.sink == "RS") & head.n_1].iloc[0]
    n1 = n1_ttc(net, "AZ", "RS", **cases.N1_OPTIONS)
    assert not n1.defined and row.status == "not defined: base case cannot be secured"
    assert np.isnan(row.ttc_mw) and row.method == "optimal"
    assert row.residual_violations == len(n1.residual) > 0
    assert row.outside_cnec_violations == len(n1.outside_cnec)
    assert row.excluded_contingencies == 0  # nothing set aside
    assert row.ordinary_contingencies == len(n1.ordinary)


def test_reinforcement_cases_are_secured_from_their_scenario(monkeypatch):
    """An N-1 reinforcement case starts from its scenario's secured base case (secured
    once and kept beside the case's); a case that forwards a scheduled export moves the
    dispatch itself and is secured from its own. A worker keeps one whole secured base
    case (the last network's) and its parent's as a start only (``as_start``)."""
    made, returned = [], []

    class Base:  # a stand-in secured base case with its light copy
        def __init__(self):
            self.light = object()

        def as_start(self):
            return self.light

    def fake(network, *, start=None, **options):
        assert options == cases.N1_OPTIONS
        made.append((network, start))
        returned.append(Base())
        return returned[-1]

    monkeypatch.setattr(runner, "secured_base", fake)
    monkeypatch.setattr(runner, "_BASE", {})
    monkeypatch.setattr(runner, "_START", {})
    parent = runner.case_network(NETWORK, "2030")
    one = runner.case_network(NETWORK, "2030", "sofia_nis_2")
    two = runner.case_network(NETWORK, "2030", "tr_bg_3")
    first = runner._secured(one, parent)
    assert made[0][0] is parent and made[0][1] is None
    assert made[1][0] is one and made[1][1] is returned[0].light  # the parent's, as a start
    assert list(runner._BASE.values()) == [first]  # one whole base case kept
    assert runner._secured(one, parent) is first  # kept
    runner._secured(two, parent)
    assert len(made) == 3 and made[2][1] is made[1][1]  # the scenario's, not secured again
    path = str(NETWORK)
    net_2032 = runner.case_network(NETWORK, "2032")
    assert runner._forwards(path, net_2032, "ro_hu_dc", None)
    assert runner._forwards(path, net_2032, cases.PACKAGE_KEY, None)
    assert not runner._forwards(path, net_2032, "sofia_nis_2", None)
    assert not runner._forwards(path, net_2032, cases.PACKAGE_KEY, ("sofia_nis_2",))


def test_reinforcement_equals_the_same_edit_made_by_hand(study):
    _, out = study
    rein = pd.read_parquet(out / "data" / "reinforcements.parquet")
    row = rein[
        (rein.case == "sofia_nis_2") & (rein.year == "2026") & (rein.sink == "EU") & ~rein.n_1
    ].iloc[0]
    net = gridsim.load_network(NETWORK, scenario="2026")
    net.set("line", "L_BGRS_02", "in_service", True)  # the second Sofia-Niš circuit
    ref = gridsim.transfer_capability(net, "AZ", "EU")
    assert abs(row.ttc_mw - ref.ttc_mw) <= TOL_MW
    base = gridsim.transfer_capability(gridsim.load_network(NETWORK, scenario="2026"), "AZ", "EU")
    assert abs(row.gain_mw - (ref.ttc_mw - base.ttc_mw)) <= TOL_MW


def test_csv_and_parquet_hold_the_same_numbers(study):
    _, out = study
    data = out / "data"
    names = {p.stem for p in data.glob("*.parquet")}
    assert names == {p.stem for p in data.glob("*.csv")}
    assert {"headline", "routes", "reinforcements", "nis_sites", "export_curve", "trials"} <= names
    for name in names:
        pq = pd.read_parquet(data / f"{name}.parquet")
        if pq.shape[1] == 0:  # an empty table (e.g. no outage set aside)
            assert not (data / f"{name}.csv").read_text().strip(), name
            continue
        csv = pd.read_csv(data / f"{name}.csv", keep_default_na=True)
        assert pq.shape == csv.shape, name
        assert list(pq.columns) == list(csv.columns), name
        for col in pq.columns:
            if pd.api.types.is_float_dtype(pq[col]):
                np.testing.assert_allclose(
                    csv[col].to_numpy(float),
                    pq[col].to_numpy(float),
                    rtol=1e-12,
                    atol=0,
                    equal_nan=True,
                    err_msg=name,
                )


def test_tables_are_consistent(study):
    _, out = study
    head = pd.read_parquet(out / "data" / "headline.parquet")
    ok = head[head.status == "ok"]
    # quick: 2026, both sinks; N-0 defined, N-1 not (the base case cannot be secured)
    assert len(ok) == len(cases.SINKS) and not ok.n_1.any()
    assert (head[head.n_1].status == "not defined: base case cannot be secured").all()
    np.testing.assert_allclose(ok.total_export_mw, ok.scheduled_export_mw + ok.ttc_mw, atol=TOL_MW)
    curve = pd.read_parquet(out / "data" / "export_curve.parquet")
    assert curve.converged.all()
    # losses grow with the transfer along the curve (AC power flows, MW)
    for sink in cases.SINKS:
        c = curve[curve.sink == sink].sort_values("transfer_mw")
        assert (np.diff(c.losses_mw.to_numpy()) > 0).all()
    sites = pd.read_parquet(out / "data" / "nis_sites.parquet")
    assert set(sites.site) == {s.key for s in cases.NIS_SITES}


def test_site_n1_figure_re_derived_independently(study):
    """The plant's branches (distribution factor >= 5 %) from DC re-solves with the
    plant's 500 MW moved onto the Serbian loads, and its worst N-1 loading from a fresh
    AC solve of the outage the table names."""
    _, out = study
    sites = pd.read_parquet(out / "data" / "nis_sites.parquet")
    row = sites[sites.site == "trupale"].iloc[0]
    net = gridsim.load_network(NETWORK, scenario=row.scenario)
    base = gridsim.run_dc(net).branch.p_from_mw
    moved = net.copy()
    p = float(net.gen.p_mw["G_RS_NIS_CCGT"])
    moved.gen.loc["G_RS_NIS_CCGT", "p_mw"] = 0.0
    rs = moved.load.bus.map(net.bus.zone).eq("RS") & moved.load.in_service
    moved.load.loc[rs, "p_mw"] -= p * moved.load.p_mw[rs] / moved.load.p_mw[rs].sum()
    df = (base - gridsim.run_dc(moved).branch.p_from_mw) / p
    assert int((df.abs() >= cases.PLANT_DF).sum()) == row.plant_branches > 0
    branch = tuple(row.n1_worst_plant_branch.split())
    assert abs(df[branch]) >= cases.PLANT_DF
    outage = next(
        o
        for o in gridsim.ordinary_contingencies(net, units="largest_per_area")
        if o.label == row.n1_worst_plant_outage
    )
    res = gridsim.solve_outage(net, outage, enforce_q_limits=True)
    got = float(res.power_flow.branch.loading_percent[branch])
    assert abs(got - row.n1_worst_loading_plant_percent) <= 1e-6  # percent
    assert row.n1_margin_plant_percent == pytest.approx(100.0 - got, abs=1e-6)


def test_site_losses_equal_a_direct_power_flow(study):
    _, out = study
    sites = pd.read_parquet(out / "data" / "nis_sites.parquet")
    row = sites[sites.site == "trupale"].iloc[0]
    net = gridsim.load_network(NETWORK, scenario=row.scenario)
    assert net.gen.bus["G_RS_NIS_CCGT"] == "RS_NISCCGT_TRUPALE"
    res = gridsim.run_ac(net, enforce_q_limits=True)
    losses = float(res.line.pl_mw.sum() + res.trafo.pl_mw.sum() + res.hvdc.pl_mw.sum())
    assert abs(row.losses_mw - losses) <= 1e-6  # MW


def _screenshot(page: Path, shot: Path) -> np.ndarray:
    proc = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1280,4000",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file(), proc.stderr[-2000:]
    import matplotlib.colors as mcolors
    import matplotlib.image as mpimg

    hsv = mcolors.rgb_to_hsv(mpimg.imread(shot)[..., :3])
    return (hsv[..., 1] > 0.4) & (hsv[..., 2] > 0.2)  # saturated, not dark: colour


@pytest.mark.skipif(chromium() is None, reason="no chromium/google-chrome on PATH")
def test_html_renders_in_headless_chromium_with_pictures(study, tmp_path):
    _, out = study
    page = out / "report.html"
    colour = _screenshot(page, tmp_path / "report.png").mean()
    # the same page without its pictures: text and tables are grey, hardly any colour
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<img[^>]*>|<svg.*?</svg>", "", page.read_text(), flags=re.S))
    colour_bare = _screenshot(bare, tmp_path / "bare.png").mean()
    assert colour_bare < 5e-4, f"{colour_bare:.5f} of the bare page in colour"
    assert colour > 10 * max(colour_bare, 2e-4), f"{colour:.5f} of the page in colour"


def test_the_limit_curves_follow_a_split_of_the_hvdc_links():
    """The N-1 export curve's transfer direction: N-1's link setpoints where they split
    a transfer, else N-0's shares (an N-1 TTC of 0 with a link at 0 or reversed gave
    ``apply_transfer`` an all-zero split, which stopped the substation study), else
    the default allocation."""
    n1 = {"hvdc_links": "DC_A:350 DC_B:150"}
    n0 = {"hvdc_links": "DC_A:0.6 DC_B:0.4"}
    assert job._split([n1, n0]) == {"DC_A": 350.0, "DC_B": 150.0}
    for bad in ("DC_A:0 DC_B:0", "DC_A:-200 DC_B:500", "", np.nan):
        assert job._split([{"hvdc_links": bad}, n0]) == {"DC_A": 0.6, "DC_B": 0.4}
        assert job._split([{"hvdc_links": bad}]) is None


def test_an_error_in_a_study_call_names_its_case():
    """A gridsim error raised while evaluating one of the study's calls says which."""
    from gridsim.analysis._areas import TransferError
    from gridsim.exceptions import GridsimError

    class Bar:
        def set_postfix_str(self, *args, **kwargs):
            pass

        def update(self, *args):
            pass

    def fails():
        raise TransferError("hvdc_shares must be non-negative with a positive sum")

    with pytest.raises(GridsimError, match=r"^limits 2026 RS: hvdc_shares must be"):
        job._run(
            [(len, ([1],), "n-0 2026 RS", 1.0), (fails, (), "limits 2026 RS", 2.0)], None, Bar()
        )


def test_bad_network_is_one_line_exit_2(tmp_path, capsys):
    status, _, err = run_cli(
        ["study", "--network", tmp_path / "missing.yaml", "--out", tmp_path / "out"], capsys
    )
    assert status == 2
    assert "missing.yaml" in one_line_error(err)
    assert not (tmp_path / "out").exists()


def test_an_interrupted_study_leaves_the_old_report(tmp_path, monkeypatch):
    out = tmp_path / "study"
    out.mkdir()
    (out / "report.md").write_text("old")
    (out / ".gridsim-output").write_text('{"written": ["report.md"]}')

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(job, "_evaluate_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        job.run_study(NETWORK, out, quick=True, progress=False, workers=1)
    assert (out / "report.md").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]


def test_a_worker_killed_by_the_os_is_a_one_line_error_and_writes_nothing(
    tmp_path, monkeypatch, capsys
):
    """A worker process that ends abruptly (as the kernel's out-of-memory killer ends
    one: the full study on the substation model with 2 workers on a 24 GB machine) is
    one line naming the cause and what to do, exit 2, and the old report is kept."""
    out = tmp_path / "study"
    out.mkdir()
    (out / "report.md").write_text("old")
    (out / ".gridsim-output").write_text('{"written": ["report.md"]}')

    def killed(tasks, path, only, pool, bar):
        assert pool is not None  # real worker processes
        return pool.submit(os._exit, 9).result()

    monkeypatch.setattr(job, "_evaluate_all", killed)
    status, _, err = run_cli(
        ["study", "--quick", "--no-progress", "--network", NETWORK, "--out", out, "--workers", "2"],
        capsys,
    )
    assert status == 2
    line = one_line_error(err)
    assert "worker process ended abruptly" in line and "--workers 1" in line
    assert (out / "report.md").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]


def test_the_bundled_network_is_found_from_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert job.default_network().resolve() == NETWORK.resolve()


def test_a_network_without_case_data_is_one_line_exit_2(tmp_path, capsys):
    other = tmp_path / "my_corridor.yaml"
    other.write_bytes(NETWORK.read_bytes())  # a valid network, but no study cases for it
    status, _, err = run_cli(
        ["study", "--quick", "--network", other, "--out", tmp_path / "out"], capsys
    )
    assert status == 2
    line = one_line_error(err)
    assert "my_corridor.yaml" in line and "no case data" in line
    assert "corridor_substation" in line and "caspian_eu" in line  # the models that have
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", sorted(cases.MODELS))
def test_each_model_s_cases_name_its_own_scenarios_and_elements(model):
    """Every scenario, HVDC route link, reinforcement edit, Niš site and candidate project
    of a model's case data exists in that model's file."""
    study = cases.MODELS[model]
    path = REPO / "networks" / f"{model}.yaml"
    assert cases.for_network(path) is study
    for year in study.years:
        net = gridsim.load_network(path, scenario=year)
        assert str(net.scenario_info["year"]) == year
        for route in study.routes:
            assert set(route.links) <= set(net.hvdc.index), route.key
        for r in runner.reinforcements_of(study, year):
            edited = runner.case_network(path, year, r.key)
            for element, eid, field, value in r.edits:
                if field == "circuits":
                    assert edited[element].parallel[eid] == value
                    ratio = edited[element].rate_mva[eid] / net[element].rate_mva[eid]
                    assert ratio == pytest.approx(value / net[element].parallel[eid], rel=1e-12)
                elif not (r.forward and field == "p_mw"):  # a forward sets the setpoint
                    assert edited[element][field][eid] == value, (r.key, eid, field)
    for year in study.nis_years:
        for site in study.nis_sites:
            net = gridsim.load_network(path, scenario=study.site_scenario(site, year))
            assert net.gen.bus["G_RS_NIS_CCGT"] == site.bus
            assert net.line.in_service[list(site.lines)].all(), site.key
    table = read_candidates(path.with_name(model + cases.CANDIDATES_SUFFIX))
    net = gridsim.load_network(path, scenario=study.expansion_year)
    for project in table.candidates:
        assert gridsim.run_ac(project.apply(net), enforce_q_limits=True).converged, project.id


def test_joining_links_are_the_links_between_the_source_and_sink_islands():
    """The links a transfer to RS moves: every in-service link with one end in the
    Caucasus island and the other in continental Europe's (the signed base-case exchange
    over them is :attr:`gridsim.TtcResult.base_exchange_change_mw`, tested in test_ttc)."""
    net = runner.case_network(NETWORK, "2032")
    cn = net.compile()
    island = dict(zip(cn.bus_ids, cn.island, strict=True))
    src = island[net.gen.bus[net.gen.bus.map(net.bus.zone).eq("AZ")].iloc[0]]
    snk = island[net.load.bus[net.load.bus.map(net.bus.zone).eq("RS")].iloc[0]]
    on = net.hvdc[net.hvdc.in_service]
    ends = {(island[f], island[t]) for f, t in zip(on.from_bus, on.to_bus, strict=True)}
    want = [
        i
        for i, f, t in zip(on.index, on.from_bus, on.to_bus, strict=True)
        if {island[f], island[t]} == {src, snk}
    ]
    assert (src, snk) in ends or (snk, src) in ends
    assert sorted(runner.joining_links(net, "RS")) == sorted(map(str, want))
    assert {"DC_AKH_B2B", "DC_BLACKSEA_1"} <= set(runner.joining_links(net, "RS"))


def test_substation_reinforcement_is_one_more_circuit_on_the_map_line():
    """Sofia West–Niš 2 second circuit on the substation model: L14699 with two circuits
    and twice the rating; the cached scenario network is left as it was."""
    base = runner.case_network(SUBSTATION, "2026")
    net = runner.case_network(SUBSTATION, "2026", "sofia_nis_2")
    assert base.line.parallel["L14699"] == 1.0 and net.line.parallel["L14699"] == 2.0
    assert net.line.rate_mva["L14699"] == pytest.approx(2 * base.line.rate_mva["L14699"])
    assert runner.case_network(SUBSTATION, "2026").line.parallel["L14699"] == 1.0
    package = runner.case_network(SUBSTATION, "2032", cases.PACKAGE_KEY)
    assert package.hvdc.in_service[["DC_BLACKSEA_2", "DC_BLACKSEA_3"]].all()
    assert package.line.parallel[["L14699", "L14722"]].tolist() == [2.0, 2.0]


def test_substation_sites_are_scenarios_each_with_its_own_ttc():
    """The substation model's winter peaks have no Niš plant, so every site's scenario
    gets its own N-0 and N-1 TTC to Serbia (none is the headline's)."""
    study = cases.CORRIDOR_SUBSTATION
    tasks = job._tasks(str(SUBSTATION), study, quick=False)
    sites = {(t.scenario, t.n_1) for t in tasks if t.kind == "ttc" and t.site}
    expected = {
        (f"{year}_nis_{key}", n_1)
        for year in study.nis_years
        for key in ("krusce", "trupale", "niskabanja")
        for n_1 in (False, True)
    }
    assert sites == expected
    assert all(t.sink == "RS" for t in tasks if t.site and t.kind == "ttc")


def test_substation_site_row_equals_a_direct_power_flow():
    """A Niš site's losses and connection loading (the more loaded half of the in-out)
    at the scenario's dispatch; its N-1 figures at the secured base case (the site's
    N-1 TTC's): the redispatch it moved, and the plant's worst N-1 loading re-solved
    from that dispatch for the outage the row names (AC, fresh)."""
    task = runner.Task("site", "2030_nis_trupale", "2030", site="trupale")
    row = runner.evaluate(task, str(SUBSTATION))["row"]
    net = gridsim.load_network(SUBSTATION, scenario="2030_nis_trupale")
    res = gridsim.run_ac(net, enforce_q_limits=True)
    losses = float(res.line.pl_mw.sum() + res.trafo.pl_mw.sum() + res.hvdc.pl_mw.sum())
    assert abs(row["losses_mw"] - losses) <= 1e-6  # MW
    halves = res.line.loading_percent[["L4236_trupale_from", "L4236_trupale_to"]]
    assert row["connection_loading_percent"] == pytest.approx(halves.max(), abs=1e-9)
    assert halves.min() < halves.max() - 1.0  # the halves differ: the max is the one taken
    assert row["n1_dispatch"] == "secured"
    base = runner._secured(runner.case_network(SUBSTATION, "2030_nis_trupale"))  # cached
    assert base.secured
    moved = float(base.base_redispatch_mw.abs().sum())
    assert row["secured_redispatch_mw"] == pytest.approx(moved, abs=1e-9) and moved > 0
    secured = base.network
    assert secured.gen.p_mw["G_RS_NIS_CCGT"] <= 500.0 + 1e-6
    outage = next(
        o
        for o in gridsim.ordinary_contingencies(secured, units="largest_per_area")
        if o.label == row["n1_worst_plant_outage"]
    )
    post = gridsim.solve_outage(secured, outage, enforce_q_limits=True)
    branch = tuple(row["n1_worst_plant_branch"].split())
    got = float(post.power_flow.branch.loading_percent[branch])
    assert got == pytest.approx(row["n1_worst_loading_plant_percent"], abs=1e-6)  # percent
    assert row["n1_margin_plant_percent"] == pytest.approx(100.0 - got, abs=1e-6)
    # the connection's own N-1: one half of the in-out after the outage the row names
    outage = next(
        o
        for o in gridsim.ordinary_contingencies(secured, units="largest_per_area")
        if o.label == row["n1_worst_connection_outage"]
    )
    post = gridsim.solve_outage(secured, outage, enforce_q_limits=True)
    branch = tuple(row["n1_worst_connection_branch"].split())
    assert branch[1] in ("L4236_trupale_from", "L4236_trupale_to")
    got = float(post.power_flow.branch.loading_percent[branch])
    assert got == pytest.approx(row["n1_worst_loading_connection_percent"], abs=1e-6)
    halves = post.power_flow.line.loading_percent[["L4236_trupale_from", "L4236_trupale_to"]]
    assert got == pytest.approx(halves.max(), abs=1e-9)


def test_the_n1_curve_runs_along_the_ttc_dispatch_and_holds_up_to_it():
    """The N-1 export curve's operating points where the N-1 TTC is found: from the
    secured base case to the TTC's own dispatch (both read back from
    ``runner.dispatch_table``, as the study writes ``data/n1_dispatch``), every point
    holding what the TTC holds in AC: CNEC loadings within the check's 0.5 % of the
    rating after every ordinary contingency, voltages within 0.001 p.u. of their limits
    (two islands of case14 joined by HVDC links, from ``test_ttc``)."""
    from gridsim.analysis.cnec import select_cnecs
    from gridsim.analysis.ttc import secured_base

    sys.path.insert(0, str(Path(__file__).parent))
    from test_ttc import case

    net = case(0)
    # the options of test_ttc's case (no unit trips, no reactive limits: case14's line
    # 1-2 does not solve after its outage with them); one zone per island has no
    # zone-to-zone PTDF, so every pair is a CNEC (threshold 0)
    opts = dict(cnec_threshold=0.0, units=None)
    opts |= dict(enforce_q_limits=False)
    base = secured_base(net, **opts)
    r = n1_ttc(net, "A", "B", base=base, **opts)
    assert base.secured and r.defined and r.ttc_mw > 10.0
    table = runner.dispatch_table(secured_base=base.network, ttc=r.network)
    start = job._with_dispatch(net, table[table.state == "secured_base"])
    end = job._with_dispatch(net, table[table.state == "ttc"])
    assert (r.network.load.p_mw != net.load.p_mw).any()  # the sink's loads went up
    for got, want in ((start, base.network), (end, r.network)):
        np.testing.assert_allclose(got.gen.p_mw, want.gen.p_mw, atol=1e-9)
        np.testing.assert_allclose(got.gen.vm_pu, want.gen.vm_pu, atol=1e-12)
        np.testing.assert_allclose(got.hvdc.p_mw, want.hvdc.p_mw, atol=1e-9)
        np.testing.assert_allclose(got.load.p_mw, want.load.p_mw, atol=1e-9)
        np.testing.assert_allclose(got.load.q_mvar, want.load.q_mvar, atol=1e-9)
        # the same operating point: the same AC state
        a, b = gridsim.run_ac(got), gridsim.run_ac(want)
        np.testing.assert_allclose(a.v, b.v, atol=1e-9)
    outages = job._n1_outages(net, units=None)
    cnecs = select_cnecs(net, outages, opts["cnec_threshold"])
    reuse: dict = {}
    lo = net.bus.min_vm_pu.min()
    for s in (0.0, 0.5, 1.0):
        rows = job._n1_worst(job._along(start, end, s), outages, cnecs, reuse, False)
        assert len(rows) == len(outages)  # every outage solved
        assert np.isfinite([w[0] for w in rows]).all()  # every outage: its CNECs
        assert max(w[0] for w in rows) <= 100.5  # percent
        assert min(w[2] for w in rows) >= lo - 1e-3  # p.u.
    moved = job._along(start, end, 0.5)  # halfway: the mean of the two dispatches
    np.testing.assert_allclose(moved.hvdc.p_mw, (start.hvdc.p_mw + end.hvdc.p_mw) / 2, atol=1e-9)
