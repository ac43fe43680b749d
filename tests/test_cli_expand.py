"""``gridsim expand``: bad requests give exit 2 and one line; the happy path's text, JSON
and CSV on the two-area example (one HVDC link W2-E1, 700 MW; its N-1 TTC W -> E is
200 MW, 237.5 MW with the link at 900 MW)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import one_line_error, run_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "networks" / "examples" / "two_area_hvdc.yaml"
CANDIDATES = """\
gridsim: 1
candidates:
  - {id: LINK_UP, set: {"hvdc:W2-E1:max_p_mw": 900}, cost_meur: 50, cost_source: "estimated: t"}
  - {id: LINK_BIG, set: {"hvdc:W2-E1:max_p_mw": 1200}, cost_meur: 80,
     cost_source: "estimated: t", excludes: [LINK_UP]}
"""


@pytest.fixture
def candidates(tmp_path) -> Path:
    path = tmp_path / "cands.yaml"
    path.write_text(CANDIDATES)
    return path


def _base(candidates, *extra):
    return ["expand", EXAMPLE, "--candidates", candidates, "--source", "W", "--sink", "E", *extra]


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--targets", "100,abc"], ["--targets", "'abc' is not a number"]),
        (["--targets", "-5"], ["--targets", "'-5'", ">= 0"]),
        (["--targets", "100", "--sink", ","], ["--sink names no area"]),
    ],
)
def test_bad_requests_exit_2_with_one_line(candidates, extra, words, capsys):
    args = _base(candidates, *extra)
    status, out, err = run_cli(args, capsys)
    assert status == 2, err
    line = one_line_error(err)
    for word in words:
        assert word in line, line
    assert out == ""


def test_bad_candidate_file_names_it(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CANDIDATES.replace("excludes: [LINK_UP]", "excludes: [NOPE]"))
    status, out, err = run_cli(_base(bad, "--targets", "100"), capsys)
    assert status == 2
    line = one_line_error(err)
    assert str(bad) in line and "'LINK_BIG'" in line and "NOPE" in line
    assert out == ""


def test_candidate_that_does_not_fit_the_network(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CANDIDATES.replace("hvdc:W2-E1:max_p_mw", "hvdc:NOPE:max_p_mw", 1))
    status, out, err = run_cli(_base(bad, "--targets", "100"), capsys)
    assert status == 2
    line = one_line_error(err)
    assert "candidate 'LINK_UP'" in line and "NOPE" in line


def test_expand_text_json_and_csv(candidates, tmp_path, capsys):
    args = _base(candidates, "--targets", "100,220,5000", "--units", "none")
    status, out, err = run_cli([*args, "--json", "--out", tmp_path / "out"], capsys)
    assert status == 0, err
    doc = json.loads(out)
    (result,) = doc["results"]
    assert result["sink"] == "E"
    plans = {p["target_mw"]: p for p in result["plans"]}
    assert plans[100.0]["status"] == "reached today" and plans[100.0]["projects"] == []
    assert plans[220.0]["status"] == "reached"
    assert plans[220.0]["projects"] == ["LINK_UP"] and plans[220.0]["cost_meur"] == 50
    assert plans[220.0]["ttc_mw"] >= 220.0
    assert plans[5000.0]["status"] == "unreachable" and plans[5000.0]["cost_meur"] is None
    assert (
        "best set checked (every project, of the exclusive ones LINK_BIG)"
        in (plans[5000.0]["binding"])
    )
    assert (tmp_path / "out" / "expansion_E.csv").is_file()
    assert (tmp_path / "out" / "expansion_checks_E.csv").is_file()

    status, out, err = run_cli([*args], capsys)
    assert status == 0, err
    assert "220 MW: reached: LINK_UP; cost 50 MEUR" in out
    assert "5000 MW: unreachable" in out
    assert "gridsim: progress: checked no project" in err
