"""Command line against sloppy and hostile use (issue 15): ``--out`` never deletes or
overwrites what gridsim did not write, a failed computation writes nothing, option values
and output paths are refused before anything is computed, and every message is one
bounded line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import GOOD, one_line_error, run_cli

import gridsim
import gridsim.io
import gridsim.study.job

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "networks" / "examples" / "two_area_hvdc.yaml"
CASPIAN = ROOT / "networks" / "caspian_eu.yaml"
CASE30 = ROOT / "tests" / "data" / "matpower" / "case30.m"
CASE4GS = ROOT / "tests" / "data" / "matpower" / "case4gs.m"
QUIRKS = ROOT / "tests" / "data" / "matpower" / "case8_quirks.m"
MARKER = ".gridsim-output"


def _user_folder(tmp_path: Path) -> Path:
    """A folder of the user's own files (the issue's `--out "$PWD"`)."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "main.py").write_text("print('mine')\n")
    return folder


def test_study_refuses_a_user_folder_and_replaces_an_earlier_report(tmp_path, capsys):
    user = _user_folder(tmp_path)
    status, _, err = run_cli(
        ["study", "--out", user, "--quick", "--no-progress", "--workers", "1"], capsys
    )
    assert status == 2 and "main.py" in one_line_error(err)
    assert [p.name for p in user.iterdir()] == ["main.py"]
    assert (user / "main.py").read_text() == "print('mine')\n"
    # an earlier report (marked, holding only what the marker lists) is replaced;
    # a file next to it is not touched, no temporary folder is left
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.md").write_text("old")
    (report / MARKER).write_text(json.dumps({"written": ["report.md"]}))
    status, out, err = run_cli(
        ["study", "--out", report, "--network", CASPIAN, "--quick", "--no-progress"]
        + ["--workers", "1"],
        capsys,
    )
    assert status == 0, err
    assert (report / "report.md").read_text() != "old"
    written = json.loads((report / MARKER).read_text())["written"]
    assert {"report.md", "report.html", "meta.json", "data"} <= set(written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "work"]
    # a file the user then puts into the report is never deleted by the next study
    (report / "figures" / "notes.txt").write_text("mine")
    status, _, err = run_cli(["study", "--out", report, "--quick", "--no-progress"], capsys)
    assert status == 2 and "figures/notes.txt" in one_line_error(err)
    assert (report / "figures" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "command",
    [
        ["pf", EXAMPLE],
        ["contingency", EXAMPLE, "--dc"],
        ["transfer", EXAMPLE, "--source", "WEST", "--sink", "EAST"],
    ],
    ids=["pf", "contingency", "transfer"],
)
def test_out_writes_only_into_new_empty_or_own_folders(command, tmp_path, capsys):
    user = _user_folder(tmp_path)
    status, _, err = run_cli([*command, "--out", user], capsys)
    assert status == 2 and "main.py" in one_line_error(err)
    assert [p.name for p in user.iterdir()] == ["main.py"]
    own = tmp_path / "own"
    for _ in range(2):  # a second run into its own output is fine
        status, _, err = run_cli([*command, "--out", own], capsys)
        assert status == 0, err
    assert MARKER in {p.name for p in own.iterdir()}
    empty = tmp_path / "empty"
    empty.mkdir()
    status, _, err = run_cli([*command, "--out", empty], capsys)
    assert status == 0, err


def test_diverged_pf_writes_nothing(tmp_path, capsys):
    heavy = tmp_path / "heavy.yaml"
    heavy.write_text(GOOD.replace("p_mw: 300", "p_mw: 90000"))
    out, png = tmp_path / "res", tmp_path / "map.png"
    status, _, err = run_cli(["pf", heavy, "--out", out, "--plot", png], capsys)
    line = one_line_error(err)
    assert status == 1 and "did not converge after" in line and "MVA" in line
    assert "heavy.yaml" in line
    assert not out.exists() and not png.exists()


BAD_VALUES = [
    (["pf", CASE30], "--max-iter", "-3"),
    (["pf", CASE30], "--max-iter", "0"),
    (["pf", CASE30], "--max-iter", "x"),
    (["pf", CASE30], "--tol-mva", "nan"),
    (["pf", CASE30], "--tol-mva", "0"),
    (["pf", CASE30], "--top", "-3"),
    (["contingency", CASE30], "--screen", "nan"),
    (["contingency", CASE30], "--screen", "-inf"),
    (["contingency", CASE30], "--top", "-3"),
    (["transfer", CASPIAN, "--source", "AZ", "--sink", "RS"], "--trm", "-5"),
    (["transfer", CASPIAN, "--source", "AZ", "--sink", "RS"], "--committed", "nan"),
    (["transfer", CASPIAN, "--source", "AZ", "--sink", "RS"], "--emergency-rating", "0"),
    (["transfer", CASPIAN, "--source", "AZ", "--sink", "RS"], "--max-mw", "inf"),
    (["transfer", CASPIAN, "--source", "AZ", "--sink", "RS"], "--tol-mw", "-1"),
    (["study"], "--workers", "0"),
]


@pytest.fixture
def nothing_read(monkeypatch):
    """Fail the test if a network file is read (refusals come before any work)."""

    def read(*args, **kwargs):
        raise AssertionError("a network was read before the command line was refused")

    monkeypatch.setattr(gridsim.io, "read_network", read)
    monkeypatch.setattr(gridsim.study.job, "_scenario_network", read)


@pytest.mark.parametrize("command, option, value", BAD_VALUES)
def test_bad_option_values_are_one_line_exit_2(command, option, value, nothing_read, capsys):
    status, out, err = run_cli([*command, f"{option}={value}"], capsys)
    line = one_line_error(err)
    assert status == 2 and not out
    assert line.startswith(f"gridsim: error: {option}: ") and repr(value) in line


def test_usage_errors_are_one_line(capsys):
    for argv in (["pf"], ["pf", CASE30, "--bogus"], ["nope"], ["pf", CASE30, "--init", "x"]):
        status, out, err = run_cli(argv, capsys)
        assert status == 2 and not out
        assert "--help" in one_line_error(err)


def _paths(tmp_path: Path) -> dict:
    afile = tmp_path / "afile"
    afile.write_text("mine")
    return {
        "file": afile,
        "folder": tmp_path,
        "missing folder": tmp_path / "missing" / "x.png",
        "proc": Path("/proc/gridsim-test/x"),
    }


TRANSFER = ["transfer", CASPIAN, "--source", "AZ", "--sink", "RS"]
BAD_PATHS = [
    (["pf", CASE30], "--out", "file", "not a folder"),
    (["contingency", CASE30], "--out", "file", "not a folder"),
    (TRANSFER, "--out", "file", "not a folder"),
    (["pf", CASE30], "--out", "proc", "cannot write"),
    (["pf", CASE30], "--plot", "missing folder", "does not exist"),
    (["pf", CASE30], "--plot", "folder", "is a folder"),
    (TRANSFER, "--plot", "folder", "is a folder"),
    (TRANSFER, "--save-limit", "folder", "is a folder"),
    (TRANSFER, "--save-limit", "proc", "does not exist"),
]


@pytest.mark.parametrize("command, option, which, needle", BAD_PATHS)
def test_bad_output_paths_are_refused_first(
    command, option, which, needle, tmp_path, nothing_read, capsys
):
    path = _paths(tmp_path)[which]
    status, out, err = run_cli([*command, option, path], capsys)
    line = one_line_error(err)
    assert status == 2 and not out
    assert f"{option} {path}" in line and needle in line
    assert (tmp_path / "afile").read_text() == "mine"


def test_study_needs_a_yaml_network(tmp_path, capsys):
    status, _, err = run_cli(["study", "--network", CASE30, "--out", tmp_path / "r"], capsys)
    line = one_line_error(err)
    assert status == 2 and str(CASE30) in line and ".yaml network" in line
    assert "syntax" not in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", ["info", "pf"])
def test_warnings_are_one_line_naming_the_file(command, capsys):
    status, _, err = run_cli([command, QUIRKS], capsys)
    assert status == 0
    expected = f"gridsim: warning: {QUIRKS}: bus 2: conflicting voltage setpoints; using 1.03 p.u."
    assert err.splitlines() == [expected]


def test_numpy_warnings_name_the_file(monkeypatch, capsys):
    run_ac = gridsim.run_ac

    def noisy(*args, **kwargs):
        np.float64(1.0) / np.float64(0.0)
        return run_ac(*args, **kwargs)

    monkeypatch.setattr(gridsim, "run_ac", noisy)
    status, _, err = run_cli(["pf", EXAMPLE], capsys)
    assert status == 0
    (line,) = err.splitlines()
    assert line.startswith(f"gridsim: warning: {EXAMPLE}: divide by zero encountered")


def test_a_failed_dc_computation_names_the_file(tmp_path, capsys):
    case = tmp_path / "x0.m"  # a branch without reactance: a singular DC B matrix
    case.write_text(CASE4GS.read_text().replace("2\t4\t0.00744\t0.0372", "2\t4\t0.00744\t0"))
    for command in (["pf", case, "--dc"], ["contingency", case, "--dc"]):
        status, _, err = run_cli([*command, "--out", tmp_path / "res"], capsys)
        errors = [line for line in err.splitlines() if "error" in line]
        assert status in (1, 2) and len(errors) == 1, err
        assert errors[0].startswith(f"gridsim: error: {case}: ") and "nan" not in errors[0]
        assert all(line.startswith(f"gridsim: warning: {case}: ") for line in err.splitlines()[:-1])
        assert not (tmp_path / "res").exists()


def test_messages_are_bounded_lines(tmp_path, capsys):
    png = tmp_path / ("d" * 250) / ("p" * 200 + ".png")
    status, _, err = run_cli(["pf", CASE30, "--plot", png], capsys)
    line = one_line_error(err)
    assert status == 2 and len(line) <= 300 and " ... " in line
    assert line.startswith("gridsim: error: --plot ") and line.endswith("does not exist")
