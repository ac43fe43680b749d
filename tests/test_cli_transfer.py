"""``gridsim transfer``: bad requests give exit 2 and one line; the happy path's JSON,
plot, CSV and the pandapower file of the network at the limit."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error, run_cli, run_pandapower

import gridsim
from gridsim.analysis.transfer import transfer_capability

MODEL = Path(__file__).resolve().parents[1] / "networks" / "caspian_eu.yaml"
BASE = ["transfer", MODEL, "--scenario", "2026"]


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--source", "XX", "--sink", "RS"], ["unknown area 'XX'"]),
        (["--source", "AM", "--sink", "RS"], ["source area 'AM'", "no in-service"]),
        (["--source", "AZ", "--sink", "UPS"], ["overlap", "AZ"]),
        (["--source", "AZ", "--sink", "RS", "--trm", "100000"], ["TRM", "exceed the TTC"]),
        (
            ["--source", "AZ", "--sink", "RS", "--outages", "line:L_RS_05,line:NOPE"],
            ["line:NOPE", "no line with id 'NOPE'"],
        ),
        (["--source", "AZ", "--sink", "RS", "--outages", "bus:X"], ["'bus'", "line, trafo"]),
        (
            ["--source", "AZ", "--sink", "RS", "--hvdc-shares", "DC_NOPE=1"],
            ["no hvdc with id 'DC_NOPE'"],
        ),
        (
            ["--source", "AZ", "--sink", "RS", "--hvdc-shares", "DC_BLACKSEA_1=1"],
            ["hvdc_shares names links", "DC_BLACKSEA_1"],
        ),
    ],
)
def test_bad_requests_exit_2_with_one_line(extra, words, capsys):
    status, out, err = run_cli([*BASE, *extra], capsys)
    assert status == 2, err
    line = one_line_error(err)
    assert str(MODEL) in line  # the file is named
    for word in words:
        assert word in line, line
    assert out == ""


def test_missing_scenario_and_folder_exit_2(tmp_path, capsys):
    status, _, err = run_cli(
        [*BASE, "--source", "AZ", "--sink", "RS", "--save-limit", tmp_path / "no" / "x.json"],
        capsys,
    )
    assert status == 2
    assert "--save-limit" in one_line_error(err)


def test_happy_path_json_plot_csv_and_save_limit(tmp_path, capsys):
    pp = pytest.importorskip("pandapower")
    png, saved, out_dir = tmp_path / "curve.png", tmp_path / "limit.json", tmp_path / "csv"
    args = [*BASE, "--source", "AZ", "--sink", "RS", "--trm", "20", "--json"]
    args += ["--plot", png, "--save-limit", saved, "--out", out_dir]
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    doc = json.loads(out)
    assert doc["ttc_mw"] > 20.0
    assert doc["atc_mw"] == pytest.approx(doc["ttc_mw"] - 20.0)
    assert doc["limit_type"] in ("thermal", "voltage", "hvdc", "generation", "voltage_stability")
    assert doc["voltage_stability_margin"] == 0.05
    assert doc["n_1"] is False and doc["limiting_contingency"] is None
    # the same request through the API gives the same answer
    net = gridsim.load_network(MODEL, scenario="2026")
    api = transfer_capability(net, "AZ", "RS", trm_mw=20.0)
    assert doc["ttc_mw"] == pytest.approx(api.ttc_mw, abs=1e-9)
    assert doc["limiting_element"] == {
        "element": api.limiting_element[0],
        "id": api.limiting_element[1],
    }
    # plot and CSV
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    for name in ("transfer_curve", "transfer_border_flows", "transfer_link_flows"):
        assert (out_dir / f"{name}.csv").stat().st_size > 0
    # the saved network loads in pandapower and re-solves to the reported flows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ppnet = pp.from_json(str(saved))
    run_pandapower(
        ppnet, enforce_q_lims=True, trafo_model=ppnet.user_pf_options.get("trafo_model", "t")
    )
    # the transfer is in it: RS loads raised by the TTC (MW)
    ids = ppnet.load.gridsim_id
    rs = net.load.index[net.load.bus.map(net.bus.zone).eq("RS")]
    added = ppnet.load.p_mw[ids.isin(rs)].sum() - net.load.p_mw[rs].sum()
    assert added == pytest.approx(doc["ttc_mw"], abs=1e-6)
    # HVDC link flows as reported (1e-3 MW)
    links = {row["id"]: row for row in doc["link_flows"]}
    for k, gid in ppnet.dcline.gridsim_id.items():
        if ppnet.dcline.in_service[k]:
            ours = links[gid]["p_from_mw"]
            assert abs(ppnet.res_dcline.p_from_mw[k] - ours) <= 1e-3, gid
    # line flows equal gridsim's at the TTC (1e-3 MW), and the limit holds there
    res = gridsim.run_ac(api.network_at(api.ttc_mw), enforce_q_limits=True)
    ours = res.line.p_from_mw
    theirs = ppnet.res_line.p_from_mw.set_axis(ppnet.line.gridsim_id.to_numpy())
    on = theirs.notna()
    assert np.abs(theirs[on] - ours.reindex(theirs.index[on])).max() <= 1e-3
    # border flows as reported (1e-3 MW): pandapower's branch flows between zones, each
    # taken at its end in the alphabetically first zone of the pair
    zone = ppnet.bus.zone
    totals = {}
    for element, a, b in (("line", "from", "to"), ("trafo", "hv", "lv")):
        table, res_pp = ppnet[element], ppnet[f"res_{element}"]
        for k in table.index[table.in_service]:
            za, zb = zone[table[f"{a}_bus"][k]], zone[table[f"{b}_bus"][k]]
            if za == zb or not za or not zb:
                continue
            key, p = (
                ((za, zb), res_pp[f"p_{a}_mw"][k])
                if za < zb
                else ((zb, za), res_pp[f"p_{b}_mw"][k])
            )
            totals[key] = totals.get(key, 0.0) + p
    reported = {(r["from_zone"], r["to_zone"]): r["p_mw"] for r in doc["border_flows"]}
    assert len(reported) == len(totals)
    for (za, zb), p in totals.items():
        if abs(p) <= 1e-3:  # an idle border: either direction
            assert reported.get((za, zb), reported.get((zb, za))) <= 1e-3
            continue
        key, value = ((za, zb), p) if p >= 0 else ((zb, za), -p)
        assert abs(reported[key] - value) <= 1e-3, key


def test_text_output_names_ttc_atc_limit_and_n_1_counts(capsys):
    status, out, err = run_cli(
        [
            *BASE,
            "--source",
            "AZ",
            "--sink",
            "RS",
            "--outages",
            "line:L_RS_06,hvdc:DC_AKH_B2B",
            "--committed",
            "10",
        ],
        capsys,
    )
    assert status == 0, err
    for word in ("TTC", "ATC", "committed 10.0 MW", "limit:", "losses", "contingencies:"):
        assert word in out, word
    assert "N-1" in out and "DC_AKH_B2B" in out


def test_optimal_method_reports_an_insecure_base_case(capsys):
    """``--method optimal`` on the corridor: the 2026 base case cannot be made N-1 secure
    (ordinary contingencies), so the TTC is not defined and the violations left are listed."""
    args = [*BASE, "--source", "AZ", "--sink", "RS", "--method", "optimal", "--json"]
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    doc = json.loads(out)
    assert doc["status"] == "base case cannot be secured" and doc["ttc_mw"] is None
    assert doc["residual"] and doc["ordinary_contingencies"] > 100
    worst = max(r["excess"] or 0.0 for r in doc["residual"] if r["kind"] == "thermal")
    assert worst > 0  # MW over a rating after an outage, listed
    status, _, err = run_cli([*args, "--outages", "line:L_RS_05"], capsys)
    assert status == 2 and "does not apply to --method optimal" in one_line_error(err)


def test_optimal_method_reports_the_ttc_within_published_limits(tmp_path, capsys):
    """A file's published limit (an ``ntc`` interface) gives the TTC within it beside
    the physical TTC; ``--published-limits hold`` makes it the TTC."""
    example = MODEL.parent / "examples" / "two_area_hvdc.yaml"
    path = tmp_path / "two.yaml"
    path.write_text(
        example.read_text()
        + "interface:\n  - {id: IF_WE, kind: ntc, limit_mw: 550, source: illustrative,\n"
        "     members: [{element: hvdc, id: W2-E1, direction: 1}]}\n"
    )
    args = ["transfer", path, "--source", "W", "--sink", "E", "--method", "optimal"]
    status, out, err = run_cli([*args, "--json"], capsys)
    assert status == 0, err
    doc = json.loads(out)
    assert doc["ttc_mw"] == pytest.approx(200.0, abs=10.0)  # the link's 700 MW rating
    assert doc["ttc_published_mw"] == pytest.approx(50.0, abs=10.0)  # 550 MW published
    assert doc["ttc_published_mw"] <= 50.0 + 1e-6
    assert "IF_WE" in doc["published_message"]
    status, out, err = run_cli(args, capsys)
    assert status == 0 and "TTC within published limits" in out and "IF_WE" in out
    status, out, err = run_cli([*args, "--published-limits", "hold", "--json"], capsys)
    doc = json.loads(out)
    assert doc["ttc_mw"] <= 50.0 + 1e-6 and doc["ttc_published_mw"] is None


def test_optimal_method_secures_the_base_case_at_another_emergency_rating(tmp_path, capsys):
    """``--base-emergency-rating 100 --emergency-rating 110``: the TTC at 110 % from the
    base case secured at 100 % (``secured_base(..., start=...)``), at least the TTC at
    100 % less the search tolerance; said in the JSON."""
    example = MODEL.parent / "examples" / "two_area_hvdc.yaml"
    args = ["transfer", example, "--source", "W", "--sink", "E", "--method", "optimal", "--json"]
    status, out, err = run_cli(args, capsys)
    assert status == 0, err
    at_100 = json.loads(out)
    assert at_100["ttc_mw"] > 0, at_100["message"]
    assert at_100["base_emergency_rating_percent"] is None
    more = ["--emergency-rating", "110", "--base-emergency-rating", "100"]
    status, out, err = run_cli([*args, *more], capsys)
    assert status == 0, err
    doc = json.loads(out)
    assert doc["base_emergency_rating_percent"] == 100.0
    assert doc["ttc_mw"] >= at_100["ttc_mw"] - max(10.0, 0.01 * at_100["ttc_mw"])
