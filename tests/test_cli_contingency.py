"""``gridsim contingency``: AC and DC N-1 from the command line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from conftest import one_line_error
from conftest import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
CASPIAN = ROOT / "networks" / "caspian_eu.yaml"


@pytest.fixture(scope="module")
def case14(tmp_path_factory):
    pp = pytest.importorskip("pandapower")
    import pandapower.networks as pn

    path = tmp_path_factory.mktemp("case") / "case14.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.to_json(pn.case14(), str(path))
    return path


def test_ac_all_branches_sorted_worst_first(case14, capsys):
    status, out, _ = run(["contingency", case14, "--top", "5"], capsys)
    assert status == 0
    assert "AC N-1 contingency analysis, 20 outage(s)" in out and "islanded" in out
    status, out, _ = run(["contingency", case14, "--json", "--top", "50"], capsys)
    doc = json.loads(out)
    assert status == 0 and doc["kind"] == "ac" and doc["outages"] == 20
    assert doc["status"] == {"converged": 19, "islanded": 1}
    loadings = [r["max_loading_percent"] for r in doc["top"] if r["status"] == "converged"]
    assert loadings == sorted(loadings, reverse=True)
    assert doc["top"][-1]["status"] == "islanded" and doc["top"][-1]["min_vm_pu"] is None


def test_ac_selected_outages_and_csv(case14, tmp_path, capsys):
    out_dir = tmp_path / "res"
    args = ["contingency", case14, "--outages", "line:3,trafo:0", "--json", "--out", out_dir]
    status, out, _ = run(args, capsys)
    doc = json.loads(out)
    assert status == 0 and doc["outages"] == 2
    assert {(r["outage_element"], r["outage_id"]) for r in doc["top"]} == {
        ("line", 3),
        ("trafo", 0),
    }
    assert sorted(p.name for p in out_dir.iterdir()) == [
        ".gridsim-output",
        "contingency_summary.csv",
        "contingency_violations.csv",
    ]
    assert len(pd.read_csv(out_dir / "contingency_summary.csv")) == 2
    status, _, _ = run([*args, "--flows", "--loading-limit", "1.5"], capsys)
    assert status == 0
    table = pd.read_csv(out_dir / "contingency.csv")
    assert set(table.outage_element) == {"line", "trafo"} and len(table) == 2 * 19
    violations = pd.read_csv(out_dir / "contingency_violations.csv")
    over = table[table.loading_percent > 1.5]  # case14 branches: 3 % at most
    assert len(violations[violations.type == "overload"]) == len(over) > 0
    assert len(pd.read_csv(out_dir / "contingency_summary.csv")) == 2


def test_ac_violations_reported(case14, capsys):
    status, out, _ = run(["contingency", case14, "--loading-limit", "2", "--json"], capsys)
    doc = json.loads(out)
    assert status == 0 and doc["violations"] > 0
    assert (
        sum(r["n_overloads"] + r["n_voltage_violations"] for r in doc["top"]) == doc["violations"]
    )
    status, out, _ = run(["contingency", case14, "--top", "3"], capsys)
    assert status == 0 and "violation(s) of branch or voltage limits" in out
    assert "n_overloads" in out


def test_ac_screen_and_q_limits(case14, capsys):
    status, out, _ = run(["contingency", case14, "--screen", "1e9", "--json"], capsys)
    doc = json.loads(out)
    assert status == 0 and doc["status"] == {"islanded": 1}  # only islanding outages kept
    status, out, _ = run(["contingency", case14, "--enforce-q-limits", "--top", "1"], capsys)
    assert status == 0 and "converged" in out


@pytest.mark.parametrize(
    "outages,needle",
    [
        ("line:99", "no line with id '99'"),
        ("trafo:7", "no trafo with id '7'"),
        ("gen:0", "outage element 'gen' (id '0')"),
        ("hvdc:X", "hvdc outages need --dc"),
        ("line", "is not ELEMENT:ID"),
    ],
)
def test_missing_outage_is_a_usage_error(case14, capsys, outages, needle):
    status, out, err = run(["contingency", case14, "--outages", outages], capsys)
    line = one_line_error(err)
    assert status == 2 and not out
    assert str(case14) in line and needle in line


def test_dc_on_caspian_with_hvdc(tmp_path, capsys):
    args = ["contingency", CASPIAN, "--scenario", "2032", "--dc", "--json", "--top", "500"]
    status, out, _ = run(args, capsys)
    doc = json.loads(out)
    assert status == 0 and doc["kind"] == "dc" and doc["scenario"] == "2032"
    assert set(doc["status"]) <= {"ok", "islanded"}
    assert any(r["outage_element"] == "hvdc" for r in doc["top"])
    rated = [r["max_loading_percent"] for r in doc["top"] if r["max_loading_percent"] is not None]
    assert rated == sorted(rated, reverse=True)

    status, out, _ = run(args[:5] + ["--outages", "hvdc:DC_BLACKSEA_1,line:L_AZ_01"], capsys)
    assert status == 0 and "DC N-1 contingency analysis, 2 outage(s)" in out
    assert "DC_BLACKSEA_1" in out and "L_AZ_01" in out

    status, _, _ = run(args[:5] + ["--out", tmp_path / "dc", "--top", "3"], capsys)
    assert status == 0 and (tmp_path / "dc" / "contingency_summary.csv").exists()


def test_dc_usage_errors(capsys):
    base = ["contingency", CASPIAN, "--scenario", "2032", "--dc"]
    status, _, err = run(base + ["--outages", "hvdc:NOPE"], capsys)
    line = one_line_error(err)
    assert status == 2 and "caspian_eu.yaml" in line and "no hvdc with id 'NOPE'" in line
    for option in (["--enforce-q-limits"], ["--loading-limit", "90"], ["--flows"]):
        status, _, err = run(base + option, capsys)
        assert status == 2 and "AC contingency analysis only" in one_line_error(err)
    status, _, err = run(["contingency", CASPIAN, "--scenario", "2032", "--flows"], capsys)
    assert status == 2 and "--flows needs --out DIR" in one_line_error(err)
