"""gridsim YAML network files: scenario overlays, interfaces, and the schema checks of
hand-written files, each bad file giving exit status 2 and one line naming file, element
and field."""

from __future__ import annotations

import os

import pytest
from conftest import GOOD

import gridsim
from gridsim.cli import main

BASE = """\
gridsim: 1
default_scenario: now
groups: {BOTH: [X, Y]}
bus:
  - {id: A, vn_kv: 400, zone: X, area: west}
  - {id: B, vn_kv: 400, zone: X, area: west}
  - {id: C, vn_kv: 400, zone: Y, area: east, status: planned, year: 2030}
  - {id: E, vn_kv: 400, zone: Y, area: east}
line:
  - {id: L1, from_bus: A, to_bus: B, length_km: 100, r_ohm_per_km: 0.03, x_ohm_per_km: 0.3,
     rate_mva: 1000, status: existing, source: S01}
  - {id: L2, from_bus: B, to_bus: A, length_km: 100, r_ohm_per_km: 0.03, x_ohm_per_km: 0.3,
     rate_mva: 1000, status: proposed, year: 2028}
  - {id: L3, from_bus: C, to_bus: E, length_km: 50, r_ohm_per_km: 0.03, x_ohm_per_km: 0.3,
     rate_mva: 1000, status: planned, year: 2030}
ext_grid:
  - {id: G, bus: A}
  - {id: GE, bus: E}
load:
  - {id: D, bus: B, p_mw: 300, q_mvar: 50}
  - {id: DE, bus: E, p_mw: 100, q_mvar: 10}
hvdc:
  - {id: H1, from_bus: B, to_bus: E, p_mw: 100, loss_percent: 2, max_p_mw: 500,
     vm_from_pu: 1.0, vm_to_pu: 1.0}
scenarios:
  now: {year: 2026, description: today}
  later:
    year: 2030
    include: [L2]
    exclude: [H1]
    scale: {load: {X: 1.5}}
    set:
      - {element: load, id: DE, field: p_mw, value: 150}
    export: {mw: 100, source: X, sink: BOTH}
"""


def _write(tmp_path, text):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return path


def test_default_scenario_and_status_years(tmp_path):
    net = gridsim.load_network(_write(tmp_path, BASE))
    assert net.scenario == "now" and set(net.scenarios) == {"now", "later"}
    assert not net.bus.in_service["C"] and not net.line.in_service["L3"]
    assert not net.line.in_service["L2"]  # proposed: out unless included
    assert net.line.source["L1"] == "S01"  # metadata kept as columns
    assert gridsim.run_ac(net).converged


def test_scenario_overlay_include_exclude_scale_set(tmp_path):
    net = gridsim.load_network(_write(tmp_path, BASE), scenario="later")
    assert net.bus.in_service["C"] and net.line.in_service["L3"]  # planned, year 2030
    assert net.line.in_service["L2"]  # included although proposed
    assert not net.hvdc.in_service["H1"]
    assert net.load.p_mw["D"] == pytest.approx(450.0) and net.load.q_mvar["D"] == 75.0
    assert net.load.p_mw["DE"] == 150.0  # set after scale; zone Y not scaled
    assert net.export == {"mw": 100, "source": "X", "sink": "BOTH"}
    assert net.scenario_info == {"name": "later", "year": 2030, "description": ""}
    assert gridsim.run_ac(net).converged


def test_file_without_scenarios_is_taken_as_written(tmp_path):
    text = BASE.replace("default_scenario: now\n", "")
    net = gridsim.load_network(_write(tmp_path, text))
    assert net.scenario is None and net.line.in_service["L2"]  # as written


def _bad(base: str, old: str, new: str) -> str:
    assert old in base, old
    return base.replace(old, new, 1)


BAD = {
    "unknown bus": (
        _bad(BASE, "from_bus: C, to_bus: E", "from_bus: C, to_bus: Z"),
        ["line 'L3'", "to_bus", "'Z'"],
    ),
    "duplicate id": (
        _bad(BASE, "{id: B, vn_kv: 400", "{id: A, vn_kv: 400"),
        ["duplicate bus id 'A'"],
    ),
    "missing rating": (
        _bad(
            BASE,
            "x_ohm_per_km: 0.3,\n     rate_mva: 1000, status: proposed",
            "x_ohm_per_km: 0.3,\n     status: proposed",
        ),
        ["line 'L2'", "rate_mva", "missing rating"],
    ),
    "missing hvdc rating": (
        _bad(BASE, " max_p_mw: 500,", ""),
        ["hvdc 'H1'", "max_p_mw", "missing rating"],
    ),
    "negative resistance": (
        _bad(BASE, "r_ohm_per_km: 0.03", "r_ohm_per_km: -0.01"),
        ["line 'L1'", "r_ohm_per_km", "negative"],
    ),
    "negative reactance": (
        _bad(BASE, "x_ohm_per_km: 0.3", "x_ohm_per_km: -0.3"),
        ["line 'L1'", "x_ohm_per_km", "negative or zero impedance"],
    ),
    "zero reactance": (
        _bad(BASE, "x_ohm_per_km: 0.3", "x_ohm_per_km: 0"),
        ["line 'L1'", "x_ohm_per_km", "zero impedance"],
    ),
    "island without slack": (
        _bad(BASE, "  - {id: GE, bus: E}\n", ""),
        ["island", "'E'", "no slack", "slack=true"],
    ),
    "hvdc to a missing bus": (
        _bad(BASE, "from_bus: B, to_bus: E, p_mw: 100", "from_bus: B, to_bus: Q, p_mw: 100"),
        ["hvdc 'H1'", "to_bus", "'Q'"],
    ),
    "scenario includes a missing element": (
        _bad(BASE, "include: [L2]", "include: [L9]"),
        ["scenario 'later'", "include", "'L9'"],
    ),
    "scenario sets a missing element": (
        _bad(BASE, "{element: load, id: DE,", "{element: load, id: D9,"),
        ["scenario 'later'", "load 'D9'", "p_mw"],
    ),
    "scenario sets a missing field": (
        _bad(BASE, "field: p_mw, value: 150", "field: p_megawatt, value: 150"),
        ["scenario 'later'", "load 'DE'", "'p_megawatt'"],
    ),
    "scenario sets a bad value": (
        _bad(BASE, "field: p_mw, value: 150", "field: p_mw, value: lots"),
        ["scenario 'later'", "load 'DE'", "p_mw", "'lots'"],
    ),
    "scenario scales a missing zone": (
        _bad(BASE, "{load: {X: 1.5}}", "{load: {Q: 1.5}}"),
        ["scenario 'later'", "load", "'Q'"],
    ),
    "unknown scenario key": (
        _bad(BASE, "    exclude: [H1]\n", "    exclude: [H1]\n    dispatch: {}\n"),
        ["scenario 'later'", "dispatch"],
    ),
    "bad status": (
        _bad(BASE, "status: existing, source: S01", "status: built, source: S01"),
        ["line 'L1'", "status", "'built'"],
    ),
    "unknown default scenario": (
        _bad(BASE, "default_scenario: now", "default_scenario: never"),
        ["default_scenario", "'never'"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_network_file_exits_2_with_one_line(case, tmp_path, capsys):
    text, words = BAD[case]
    path = _write(tmp_path, text)
    args = ["pf", str(path)]
    if case == "island without slack":
        args += ["--scenario", "later"]  # E is reached only in 2030
    status = main(args)
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("gridsim: error: ") and str(path) in lines[0]
    for w in words:
        assert w in lines[0], lines[0]


def test_unknown_scenario_names_the_choices(tmp_path, capsys):
    path = _write(tmp_path, BASE)
    assert main(["pf", str(path), "--scenario", "2099"]) == 2
    err = capsys.readouterr().err
    assert "scenario '2099' is not defined" in err and "later" in err


def test_a_broken_scenario_fails_every_load(tmp_path):
    path = _write(tmp_path, _bad(BASE, "include: [L2]", "include: [L9]"))
    with pytest.raises(gridsim.InvalidNetworkError, match="L9"):
        gridsim.load_network(path, scenario="now")


def test_files_without_any_rating_stay_valid(tmp_path):
    text = BASE.replace("rate_mva: 1000, ", "").replace(" max_p_mw: 500,", "")
    net = gridsim.load_network(_write(tmp_path, text))
    assert net.line.rate_mva.isna().all()


INTERFACES = """\
gen:
  - {id: U, bus: B, p_mw: 50, min_p_mw: 10, max_p_mw: 200}
interface:
  - {id: IF_XY, kind: ntc, limit_mw: 400, source: S02,
     members: [{element: hvdc, id: H1, direction: 1}, {element: line, id: L3, direction: -1}]}
  - {id: IF_L1, kind: thermal, limit_mw: 900, status: planned, year: 2030,
     members: [{element: line, id: L1}]}
"""


def _with_interfaces(text: str = BASE) -> str:
    return _bad(text, "scenarios:\n", INTERFACES + "scenarios:\n")


def test_interfaces_are_read_with_their_scenario(tmp_path):
    text = _with_interfaces(
        _bad(
            BASE,
            "{element: load, id: DE, field: p_mw, value: 150}",
            "{element: load, id: DE, field: p_mw, value: 150}\n"
            "      - {element: interface, id: IF_XY, field: limit_mw, value: 1100}",
        )
    )
    path = _write(tmp_path, text)
    now = gridsim.load_network(path)
    assert now.interfaces == [
        {
            "id": "IF_XY",
            "members": [("hvdc", "H1", 1), ("line", "L3", -1)],
            "limit_mw": 400.0,
            "kind": "ntc",
            "source": "S02",
        }
    ]
    later = gridsim.load_network(path, scenario="later")
    assert {f["id"]: f["limit_mw"] for f in later.interfaces} == {"IF_XY": 1100.0, "IF_L1": 900.0}
    assert later.interfaces[1]["members"] == [("line", "L1", 1)]  # direction +1 by default
    assert later.copy().interfaces == later.interfaces


BAD_INTERFACES = {
    "unknown interface member": (
        _bad(
            _with_interfaces(),
            "{element: line, id: L3, direction: -1}",
            "{element: line, id: L7, direction: -1}",
        ),
        ["interface 'IF_XY'", "member line 'L7'", "not a line"],
    ),
    "interface member of a wrong element": (
        _bad(_with_interfaces(), "{element: line, id: L1}", "{element: bus, id: A}"),
        ["interface 'IF_L1'", "member", "element line, trafo, hvdc"],
    ),
    "interface member with a bad direction": (
        _bad(_with_interfaces(), "direction: -1", "direction: 2"),
        ["interface 'IF_XY'", "direction 1 or -1"],
    ),
    "interface without a limit": (
        _bad(_with_interfaces(), "kind: ntc, limit_mw: 400, ", "kind: ntc, "),
        ["interface 'IF_XY'", "limit_mw"],
    ),
    "interface of an unknown kind": (
        _bad(_with_interfaces(), "kind: ntc", "kind: market"),
        ["interface 'IF_XY'", "kind 'market'", "thermal, ntc, stability"],
    ),
    "interface with an unknown field": (
        _bad(_with_interfaces(), "source: S02,", "source: S02, limt_mw: 3,"),
        ["interface 'IF_XY'", "unknown field", "limt_mw"],
    ),
    "scenario sets an interface's missing field": (
        _bad(
            _with_interfaces(),
            "{element: load, id: DE, field: p_mw, value: 150}",
            "{element: interface, id: IF_XY, field: members, value: 3}",
        ),
        ["scenario 'later'", "interface 'IF_XY'", "'members'"],
    ),
    "unit above its rating in a scenario": (
        _bad(
            _with_interfaces(),
            "{element: load, id: DE, field: p_mw, value: 150}",
            "{element: gen, id: U, field: p_mw, value: 250}",
        ),
        ["scenario 'later'", "gen 'U'", "p_mw = 250 MW", "above max_p_mw = 200 MW"],
    ),
    "unit below its minimum as written": (
        _bad(_with_interfaces(), "p_mw: 50, min_p_mw: 10", "p_mw: 5, min_p_mw: 10"),
        ["scenario 'now'", "gen 'U'", "p_mw = 5 MW", "below min_p_mw = 10 MW"],
    ),
    "unit above its rating in a file without scenarios": (
        _bad(
            (BASE[: BASE.index("scenarios:")] + INTERFACES).replace("default_scenario: now\n", ""),
            "p_mw: 50, min_p_mw: 10, max_p_mw: 200",
            "p_mw: 201, min_p_mw: 10, max_p_mw: 200",
        ),
        ["gen 'U'", "above max_p_mw = 200 MW"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INTERFACES))
def test_bad_interface_or_dispatch_exits_2_with_one_line(case, tmp_path, capsys):
    text, words = BAD_INTERFACES[case]
    path = _write(tmp_path, text)
    status = main(["pf", str(path)])
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("gridsim: error: ") and str(path) in lines[0]
    for w in words:
        assert w in lines[0], lines[0]


def test_a_file_parsed_once_is_read_again_when_it_changes(tmp_path):
    """load_network keeps the last files it parsed, by path, modification time and size:
    a changed file is parsed again, and a scenario applied to one load leaves the next
    load as the file says."""
    path = tmp_path / "net.yaml"
    text = GOOD + "scenarios:\n  heavy: {scale: {load: 2.0}}\n"
    path.write_text(text)
    assert gridsim.load_network(path, scenario="heavy").load.p_mw["D"] == 600.0
    assert gridsim.load_network(path).load.p_mw["D"] == 300.0  # the overlay did not stick
    path.write_text(text.replace("p_mw: 300", "p_mw: 310"))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a coarse clock
    assert gridsim.load_network(path).load.p_mw["D"] == 310.0


def test_a_file_is_checked_once_and_each_load_is_its_own(tmp_path, monkeypatch):
    """Loading one file's scenarios one by one checks its records and scenarios once
    (the checked tables are kept with the parsed file); each load is a fresh network,
    so changing one changes neither the next load nor the file's checks, and a broken
    edit of the file is caught on the next load."""
    import gridsim.io.network_file as nf

    path = tmp_path / "net.yaml"
    text = GOOD + "groups: {G: [A]}\nscenarios:\n  heavy: {scale: {load: 2.0}}\n"
    path.write_text(text)
    calls = []
    check = nf._check_scenario
    monkeypatch.setattr(nf, "_check_scenario", lambda *a: calls.append(a[0]) or check(*a))
    first = gridsim.load_network(path, scenario="heavy")
    first.load.loc["D", "p_mw"] = 1.0
    first.groups["G"].append("B")
    second = gridsim.load_network(path)
    assert calls == ["heavy"]  # checked on the first load only
    assert second.load.p_mw["D"] == 300.0 and second.groups == {"G": ["A"]}
    assert gridsim.load_network(path, scenario="heavy").load.p_mw["D"] == 600.0
    path.write_text(text.replace("p_mw: 300", "p_mw: -300x"))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    with pytest.raises(gridsim.InvalidNetworkError, match="p_mw"):
        gridsim.load_network(path)
