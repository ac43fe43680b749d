"""``gridsim sweep`` and ``gridsim pf --param``: a row of a sweep is a single run.

Each sampled row of a Parquet sweep is reproduced by ``gridsim pf --param ... --json``
with its parameter values (losses within 1e-6 MW, loadings within 1e-6 %, voltages
within 1e-9 p.u.); bad parameters give exit status 2, one line, and no output file.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import one_line_error
from conftest import run_cli as run

ROOT = Path(__file__).resolve().parents[1]
CASPIAN = ROOT / "networks" / "caspian_eu.yaml"

KEYS = ["line:L_RS220_01:circuits", "export_mw", "load_scale:RS"]
ARGS = [
    "sweep",
    CASPIAN,
    "--scenario",
    "2032",
    "--param",
    "line:L_RS220_01:circuits=1,2",
    "--param",
    "export_mw=-150:150:150",
    "--param",
    "load_scale:RS=0.97",
    "--executor",
    "serial",
]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "rows.parquet"
    from gridsim.cli import main

    assert main([str(a) for a in [*ARGS, "--out", out]]) == 0
    return out


def test_sweep_writes_parquet_rows(swept, capsys):
    rows = pd.read_parquet(swept)
    assert len(rows) == 6 and rows.point_id.tolist() == list(range(6))
    assert list(rows.columns[1:4]) == KEYS
    assert rows.converged.all()
    assert not Path(str(swept) + ".parts").exists()
    # rerun with the same output: nothing to compute
    status, out, _ = run([*ARGS, "--out", swept], capsys)
    assert status == 0 and "6 points (0 computed here)" in out


@pytest.mark.parametrize("index", [0, 3, 5])
def test_each_row_is_one_pf_call(swept, capsys, index):
    row = pd.read_parquet(swept).iloc[index]
    args = ["pf", CASPIAN, "--scenario", "2032", "--init", "flat", "--json"]
    for key in KEYS:
        args += ["--param", f"{key}={float(row[key])!r}"]
    status, out, _ = run(args, capsys)
    assert status == 0
    doc = json.loads(out)
    assert doc["converged"] and doc["iterations"] == row.iterations
    assert abs(doc["losses_mw"] - row.losses_mw) < 1e-6  # MW
    loadings = {
        f"{element}:{bid}": r["loading_percent"]
        for element in ("line", "trafo")
        for bid, r in doc.get(element, {}).items()
        if r["loading_percent"] is not None
    }
    worst = max(loadings, key=loadings.get)
    assert worst == row.max_loading_branch
    assert abs(loadings[worst] - row.max_loading_percent) < 1e-6  # %
    vm = [b["vm_pu"] for b in doc["bus"].values() if b["vm_pu"] is not None]
    assert abs(min(vm) - row.min_vm_pu) < 1e-9 and abs(max(vm) - row.max_vm_pu) < 1e-9  # p.u.


def test_csv_on_stdout_without_out(capsys):
    status, out, err = run(ARGS[:-2] + ["--executor", "serial"], capsys)
    assert status == 0 and "6 points" in err
    rows = pd.read_csv(io.StringIO(out))
    assert len(rows) == 6 and np.isfinite(rows.losses_mw).all()


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("line:L_NOPE:rate_mva=100", "has no line 'L_NOPE'"),
        ("line:L_RS_05:rating=100", "line has no field 'rating'"),
        ("line:L_RS_05:rate_mva=big", "'big' is not a number"),
        ("line:L_RS_05:rate_mva=-5,100", "rate_mva = -5 is negative"),
        ("line:L_RS_05:parallel=0", "parallel = 0 is below 1"),
        ("export_mw=100:0:50", "is empty"),
        ("hvdc:DC_BLACKSEA_1:in_service=2", "'2' is not true/false"),
        ("load_scale", "expected KEY=VALUES"),
    ],
)
def test_bad_parameters_exit_2_before_any_work(tmp_path, capsys, param, message):
    out = tmp_path / "rows.parquet"
    status, _, err = run(["sweep", CASPIAN, "--param", param, "--out", out], capsys)
    assert status == 2
    line = one_line_error(err)
    assert message in line
    assert not list(tmp_path.iterdir())


def test_pf_param_errors_exit_2(capsys):
    status, _, err = run(["pf", CASPIAN, "--param", "line:L_RS_05:parallel=1,2"], capsys)
    assert status == 2 and "one value expected" in one_line_error(err)
    status, _, err = run(
        ["pf", CASPIAN, "--param", "export_mw=1", "--param", "export_mw=2"], capsys
    )
    assert status == 2 and "given twice" in one_line_error(err)


def test_help_lists_the_parameter_syntax(capsys):
    with pytest.raises(SystemExit):
        run(["sweep", "--help"], capsys)
    out = capsys.readouterr().out
    assert "ELEMENT:ID:FIELD" in out and "START:STOP:STEP" in out
