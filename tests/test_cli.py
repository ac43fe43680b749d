"""Command line: exit statuses and one-line errors, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GOOD, one_line_error
from conftest import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "networks" / "examples" / "two_area_hvdc.yaml"


def test_pf_and_info_on_the_example(capsys):
    status, out, _ = run(["pf", EXAMPLE], capsys)
    assert status == 0 and "converged" in out
    status, out, _ = run(["pf", EXAMPLE, "--json"], capsys)
    doc = json.loads(out)
    assert status == 0 and doc["converged"] and "W2-E1" in doc["hvdc"]
    status, out, _ = run(["info", EXAMPLE, "--json"], capsys)
    doc = json.loads(out)
    assert status == 0 and len(doc["islands"]) == 2


def test_pf_writes_csv_tables(tmp_path, capsys):
    status, _, _ = run(["pf", EXAMPLE, "--out", tmp_path / "res"], capsys)
    assert status == 0
    assert {p.name for p in (tmp_path / "res").iterdir()} >= {"bus.csv", "line.csv", "hvdc.csv"}


BAD_YAML = {
    "branch to a missing bus": (GOOD.replace("to_bus: B", "to_bus: Z"), ["line 'L1'", "'Z'"]),
    "no slack in an island": (
        GOOD.replace(
            "  - {id: B, vn_kv: 400}\n", "  - {id: B, vn_kv: 400}\n  - {id: C, vn_kv: 400}\n"
        )
        + "  - {id: D2, bus: C, p_mw: 10}\n",
        ["island", "no slack"],
    ),
    "NaN value": (
        GOOD.replace("x_ohm_per_km: 0.3", "x_ohm_per_km: .nan"),
        ["line 'L1'", "x_ohm_per_km", "NaN"],
    ),
    "non-numeric value": (GOOD.replace("p_mw: 300", "p_mw: lots"), ["load 'D'", "p_mw", "lots"]),
    "zero impedance": (
        GOOD.replace("r_ohm_per_km: 0.03, x_ohm_per_km: 0.3", "r_ohm_per_km: 0, x_ohm_per_km: 0"),
        ["line 'L1'", "zero impedance"],
    ),
    "duplicate ids": (
        GOOD.replace("{id: B, vn_kv: 400}", "{id: A, vn_kv: 400}"),
        ["duplicate bus id 'A'"],
    ),
    "truncated file": (GOOD[: GOOD.index("x_ohm_per_km")], ["YAML syntax error", "line"]),
    "empty file": ("", ["file is empty"]),
    "misspelt field": (
        GOOD.replace("x_ohm_per_km", "x_ohm_perkm"),
        ["unknown field", "x_ohm_perkm"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_YAML))
def test_bad_yaml_exits_2_with_one_line(case, tmp_path, capsys):
    text, words = BAD_YAML[case]
    path = tmp_path / "net.yaml"
    path.write_text(text)
    status, out, err = run(["pf", path], capsys)
    assert status == 2
    line = one_line_error(err)
    assert str(path) in line
    for w in words:
        assert w in line, line


def test_missing_file_and_unknown_type(tmp_path, capsys):
    status, _, err = run(["pf", tmp_path / "nope.yaml"], capsys)
    assert status == 2 and "no such file" in one_line_error(err)
    other = tmp_path / "net.txt"
    other.write_text("x")
    status, _, err = run(["info", other], capsys)
    assert status == 2 and "unknown file type" in one_line_error(err)


def test_unknown_scenario(tmp_path, capsys):
    path = tmp_path / "net.yaml"
    path.write_text(GOOD)
    status, _, err = run(["pf", path, "--scenario", "2032"], capsys)
    assert status == 2 and "scenario '2032'" in one_line_error(err)


def test_divergence_exits_1_with_iterations_and_mismatch(tmp_path, capsys):
    path = tmp_path / "heavy.yaml"
    path.write_text(GOOD.replace("p_mw: 300", "p_mw: 90000"))
    status, out, err = run(["pf", path, "--max-iter", "15"], capsys)
    assert status == 1
    line = one_line_error(err)
    assert "did not converge after" in line and "iterations" in line and "MVA" in line


def test_usage_error_exits_2():
    proc = subprocess.run(
        [sys.executable, "-m", "gridsim.cli", "pf"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_console_script_runs_without_traceback(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(GOOD.replace("to_bus: B", "to_bus: Z"))
    proc = subprocess.run(
        [sys.executable, "-m", "gridsim.cli", "pf", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    one_line_error(proc.stderr)


def test_closed_output_pipe_is_not_an_error(tmp_path):
    """`gridsim info FILE | head -1` must not print an internal error."""
    proc = subprocess.run(
        f"{sys.executable} -m gridsim.cli info {EXAMPLE} | head -1",
        shell=True,
        capture_output=True,
        text=True,
    )
    assert "error" not in proc.stderr and proc.stdout.count("\n") == 1
