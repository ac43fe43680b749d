"""Hostile and sloppy pandapower JSON files (issue 15, items 1, 6, 8 and 9).

pandapower's own reader imports whatever module a serialised object's ``_module`` names;
gridsim's builds only pandas, numpy and plain types, so no file can name code to run. A
bad file ends in exit status 2 and one stderr line naming the file, never a traceback or
an "internal error"; valid files read exactly as through pandapower's reader.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import one_line_error, pandapower_case, pp, run_cli

import gridsim
from gridsim.exceptions import InvalidNetworkError
from gridsim.io import from_pandapower, read_network

PROBE = "evil_gs_probe"
NAMED_CODE = [
    {"_module": "this", "_class": "x", "_object": "1"},
    {"_module": "antigravity", "_class": "x", "_object": "1"},
    {"_module": PROBE, "_class": "x", "_object": "1"},
    {"_module": "os", "_class": "function", "_object": "system"},
]
WATCHED = ("this", "antigravity", PROBE)  # modules with side effects when imported


def _doc(net) -> dict:
    """``pandapower.to_json`` of ``net`` as parsed JSON."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return json.loads(pp.to_json(net))


@pytest.fixture(scope="module")
def case9_doc() -> dict:
    return _doc(pandapower_case("case9"))


def _write(folder, doc, name: str = "net.json"):
    """Write ``doc`` and, beside it, a module that leaves a MARKER file when imported."""
    path = folder / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    (folder / f"{PROBE}.py").write_text(
        "from pathlib import Path\nPath(__file__).with_name('MARKER').write_text('ran')\n"
    )
    return path


def _table(doc: dict, name: str) -> dict:
    """The split-orient content of one serialised table of ``doc``."""
    return json.loads(doc["_object"][name]["_object"])


def _set_table(doc: dict, name: str, table: dict) -> None:
    doc["_object"][name]["_object"] = json.dumps(table)


@pytest.fixture
def no_browser(monkeypatch):
    """``antigravity`` opens a browser when imported: make that harmless if it ever is."""
    monkeypatch.setenv("BROWSER", "true")


def _cli_subprocess(path):
    """``python -X importtime -m gridsim.cli pf PATH`` run from PATH's folder.

    Returns ``(status, stdout, other stderr lines, modules imported)``.
    """
    env = dict(os.environ, BROWSER="true")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gridsim.cli", "pf", path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    imported, other = set(), []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:"):
            imported.add(line.rsplit("|", 1)[1].strip())
        else:
            other.append(line)
    return proc.returncode, proc.stdout, "\n".join(other), imported


@pytest.mark.parametrize("payload", NAMED_CODE, ids=lambda p: p["_module"])
def test_named_code_is_never_imported_by_the_cli(tmp_path, case9_doc, payload):
    doc = copy.deepcopy(case9_doc)
    doc["_object"]["name"] = payload
    path = _write(tmp_path, doc)
    status, out, err, imported = _cli_subprocess(path)
    assert status == 2, (out, err)
    line = one_line_error(err)
    assert path.name in line and repr(payload["_module"]) in line and "'name'" in line
    assert not (tmp_path / "MARKER").exists()
    assert "Zen of Python" not in out
    assert imported, "no -X importtime output: the check below would prove nothing"
    assert not imported & set(WATCHED)


@pytest.fixture
def watched_modules(monkeypatch, tmp_path, no_browser):
    """The probe importable from ``tmp_path`` and none of WATCHED loaded yet."""
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in WATCHED:
        monkeypatch.delitem(sys.modules, name, raising=False)


def _nothing_ran(folder) -> None:
    assert not set(WATCHED) & set(sys.modules)
    assert not (folder / "MARKER").exists()


def _where(doc: dict, spot: str, payload: dict) -> str:
    """Put ``payload`` at ``spot`` of ``doc``; returns what the error must name there."""
    if spot == "name":
        doc["_object"]["name"] = payload
        return "field 'name'"
    if spot == "std_types":
        doc["_object"]["std_types"]["line"]["x"] = {"r_ohm_per_km": payload}
        return "field 'std_types'['line']['x']['r_ohm_per_km']"
    bus = _table(doc, "bus")  # a cell of a table
    bus["data"][2][bus["columns"].index("name")] = payload
    _set_table(doc, "bus", bus)
    return f"field 'bus', row {bus['index'][2]}, column 'name'"


@pytest.mark.parametrize("spot", ["name", "std_types", "bus cell"])
@pytest.mark.parametrize("payload", NAMED_CODE, ids=lambda p: p["_module"])
def test_named_code_is_never_imported_in_process(
    tmp_path, case9_doc, watched_modules, spot, payload
):
    doc = copy.deepcopy(case9_doc)
    where = _where(doc, spot, payload)
    path = _write(tmp_path, doc)
    with pytest.raises(InvalidNetworkError) as info:
        read_network(path)
    _nothing_ran(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: {where}: refusing serialised object")
    assert repr(payload["_module"]) in message


def _with_controller(case9_doc, module: str | None = None) -> dict:
    """case9 with a ConstControl on its loads; ``module`` forges the object's module."""
    from pandapower.control import ConstControl

    net = pandapower_case("case9")
    ConstControl(net, "load", "p_mw", element_index=[0, 1], profile_name=["a", "b"])
    doc = _doc(net)
    if module is not None:
        table = _table(doc, "controller")
        table["data"][0][0]["_module"] = module
        _set_table(doc, "controller", table)
    return doc


@pytest.mark.parametrize("module", [None, PROBE, "os"])
def test_controllers_are_ignored_with_a_warning_and_never_built(
    tmp_path, case9_doc, watched_modules, capsys, module
):
    path = _write(tmp_path, _with_controller(case9_doc, module))
    status, out, err = run_cli(["pf", path], capsys)
    _nothing_ran(tmp_path)
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"gridsim: warning: {path}: 1 pandapower controller(s) ignored")
    expected = gridsim.run_ac(from_pandapower(pandapower_case("case9")))
    res = gridsim.run_ac(read_network(path))
    np.testing.assert_allclose(res.bus.vm_pu, expected.bus.vm_pu, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "text, found",
    [
        ("[1,2,3]", "found a JSON list"),
        ("{}", "found a JSON object"),
        ("null", "found null"),
        ('{"_module": "os", "_class": "function", "_object": "system"}', "'os'"),
        ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, "JSON nested too deeply"),
    ],
    ids=["list", "empty object", "null", "os.system", "deep list", "deep object"],
)
def test_not_a_pandapower_net(tmp_path, capsys, text, found):
    path = _write(tmp_path, text)
    status, out, err = run_cli(["pf", path], capsys)
    assert status == 2, (out, err)
    line = one_line_error(err)
    assert line.startswith(f"gridsim: error: {path}: not a pandapower net")
    assert found in line


def _edit_cell(doc, table_name: str, column: str, value) -> None:
    table = _table(doc, table_name)
    table["data"][0][table["columns"].index(column)] = value
    _set_table(doc, table_name, table)


def _drop_column(doc, table_name: str, column: str) -> None:
    table = _table(doc, table_name)
    k = table["columns"].index(column)
    table["columns"].pop(k)
    for row in table["data"]:
        row.pop(k)
    _set_table(doc, table_name, table)
    doc["_object"][table_name]["dtype"].pop(column)


@pytest.mark.parametrize(
    "edit, named",
    [
        (lambda d: _edit_cell(d, "bus", "vn_kv", "lots"), "table 'bus', column 'vn_kv': 'lots'"),
        (lambda d: _edit_cell(d, "line", "x_ohm_per_km", [1, 2]), "column 'x_ohm_per_km'"),
        (lambda d: _edit_cell(d, "gen", "in_service", "no"), "'gen', column 'in_service': 'no'"),
        (lambda d: _drop_column(d, "bus", "vn_kv"), "table 'bus' has no column vn_kv"),
        (lambda d: d["_object"].update(bus="a string"), "field 'bus' is not a table"),
        (lambda d: d["_object"].update(line=[1, 2]), "field 'line' is not a table"),
        (lambda d: d["_object"].update(f_hz="50"), "field 'f_hz' must be a number"),
        (lambda d: d["_object"]["load"].update(_object="[1,"), "field 'load': unreadable table"),
        (
            lambda d: _edit_cell(d, "gen", "id_q_capability_characteristic", 1e308),
            "field 'gen': unreadable table: invalid value encountered in cast",
        ),
    ],
    ids=["text", "list", "bool", "no column", "string", "list table", "f_hz", "truncated", "cast"],
)
def test_sloppy_tables(tmp_path, case9_doc, capsys, edit, named):
    doc = copy.deepcopy(case9_doc)
    edit(doc)
    path = _write(tmp_path, doc)
    status, out, err = run_cli(["pf", path], capsys)
    assert status == 2, (out, err)
    line = one_line_error(err)
    assert line.startswith(f"gridsim: error: {path}: ") and named in line


@pytest.mark.parametrize("f_hz", [0, -50])
def test_frequency_must_be_positive(tmp_path, case9_doc, capsys, f_hz):
    doc = copy.deepcopy(case9_doc)
    doc["_object"]["f_hz"] = f_hz
    path = _write(tmp_path, doc)
    status, out, err = run_cli(["pf", path], capsys)
    assert status == 2, (out, err)
    line = one_line_error(err)
    assert str(path) in line and "f_hz" in line


def _no_slack(net):
    net.ext_grid["in_service"] = False
    return net


def test_no_reference_bus_is_an_error(tmp_path, capsys):
    net = _no_slack(pandapower_case("case9"))
    with pytest.raises(InvalidNetworkError, match="no reference bus"):
        from_pandapower(net)
    path = _write(tmp_path, _doc(net))
    status, out, err = run_cli(["pf", path], capsys)
    assert status == 2, (out, err)
    line = one_line_error(err)
    assert line.startswith(f"gridsim: error: {path}: no reference bus")
    # a slack gen is a reference bus, as in pandapower
    net.gen.loc[net.gen.index[0], "slack"] = True
    res = gridsim.run_ac(from_pandapower(net))
    assert res.converged and res.bus.vm_pu.notna().all()
    # so is an ext_grid, but not at an out-of-service bus
    net = pandapower_case("case9")
    net.bus.loc[net.ext_grid.bus.iloc[0], "in_service"] = False
    with pytest.raises(InvalidNetworkError, match="no reference bus"):
        from_pandapower(net)


def test_isolated_bus_is_named(tmp_path, capsys):
    net = pandapower_case("case9")
    lone = pp.create_bus(net, vn_kv=345.0, index=42)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the result carries it
        res = gridsim.run_ac(from_pandapower(net))
    assert res.converged
    assert np.isnan(res.bus.loc[lone, ["vm_pu", "va_degree"]]).all()  # as pandapower marks it
    assert any("(42)" in w and "de-energised" in w for w in res.warnings), res.warnings
    path = _write(tmp_path, _doc(net))
    status, out, err = run_cli(["pf", path], capsys)
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gridsim: warning: "), err
    assert str(path) in lines[0] and "(42)" in lines[0] and "de-energised" in lines[0]


def test_zero_lower_voltage_limit_is_no_limit():
    """pandapower fills in 0 (and 2 p.u. above) for a bus created without limits."""
    net = pandapower_case("case9")
    pp.create_bus(net, vn_kv=345.0, index=42)
    assert net.bus.loc[42, "min_vm_pu"] == 0
    bus = from_pandapower(net).bus
    assert np.isnan(bus.loc[42, "min_vm_pu"])
    np.testing.assert_array_equal(bus.min_vm_pu.loc[:8], net.bus.min_vm_pu.loc[:8])
    np.testing.assert_array_equal(bus.max_vm_pu, net.bus.max_vm_pu)


def _two_area_hvdc():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    network = gridsim.load_network(root / "networks" / "examples" / "two_area_hvdc.yaml")
    return gridsim.to_pandapower(network)


@pytest.mark.parametrize("case", ["case9", "case14", "case30", "two_area_hvdc"])
def test_valid_files_read_as_pandapower_reads_them(tmp_path, case):
    net = _two_area_hvdc() if case == "two_area_hvdc" else pandapower_case(case)
    path = _write(tmp_path, _doc(net))
    text = path.read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = from_pandapower(pp.from_json_string(text), source=str(path))
    after = read_network(path)
    for element in ("bus", "line", "trafo", "gen", "sgen", "load", "ext_grid", "shunt", "hvdc"):
        pd.testing.assert_frame_equal(getattr(after, element), getattr(before, element))
    assert (after.name, after.f_hz, after.sn_mva) == (before.name, before.f_hz, before.sn_mva)
    a, b = gridsim.run_ac(after), gridsim.run_ac(before)
    assert a.converged and b.converged
    np.testing.assert_allclose(a.bus.vm_pu, b.bus.vm_pu, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.bus.va_degree, b.bus.va_degree, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "table, column",
    [("trafo3w", "vn_mv_kv"), ("ward", "ps_mw"), ("storage", "p_mw"), ("impedance", "rft_pu")],
)
def test_sloppy_numbers_in_the_tables_modelled_by_other_elements(tmp_path, capsys, table, column):
    net = pandapower_case("case9")
    pp.create_transformer3w(net, 0, 3, 6, "63/25/38 MVA 110/20/10 kV")
    pp.create_ward(net, 4, 1.0, 0.5, 0.1, 0.1)
    pp.create_storage(net, 5, p_mw=1.0, max_e_mwh=4.0)
    pp.create_impedance(net, 4, 5, 0.01, 0.02, 100.0)
    doc = _doc(net)
    _edit_cell(doc, table, column, "lots")
    path = _write(tmp_path, doc)
    status, out, err = run_cli(["pf", path], capsys)
    assert status == 2, (out, err)
    assert f"table '{table}', column '{column}': 'lots'" in one_line_error(err)
