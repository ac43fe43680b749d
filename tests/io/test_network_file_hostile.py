"""Hostile and sloppy YAML network files (issue 15, items 2, 4, 8 and 9).

Every bad file ends in exit status 2 and one stderr line naming the file (and the
element, field, value or line), never a traceback, an "internal error", a crash or a
silently changed network. Physical ranges come from the schema (``Column.allowed``) and
hold for every reader.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import GOOD, one_line_error, run_cli

import gridsim
from gridsim.exceptions import InvalidNetworkError
from gridsim.model.schema import FLOAT, SCHEMA

HVDC = GOOD + (
    "hvdc:\n  - {id: DC, from_bus: A, to_bus: B, p_mw: 100, loss_percent: 1.5, max_p_mw: 500}\n"
)
TRAFO = GOOD.replace(
    "  - {id: B, vn_kv: 400}\n", "  - {id: B, vn_kv: 400}\n  - {id: C, vn_kv: 220}\n"
) + (
    "trafo:\n  - {id: T, hv_bus: B, lv_bus: C, sn_mva: 500, vn_hv_kv: 400, vn_lv_kv: 220,\n"
    "     vk_percent: 12, tap_side: hv, tap_step_percent: 1.25, tap_pos: 2}\n"
)


def _bad_file(tmp_path, capsys, text: str, *, command: str = "pf") -> str:
    """Run ``gridsim COMMAND FILE``: exit 2 and one line naming the file; that line."""
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    status, out, err = run_cli([command, path], capsys)
    assert status == 2, (out, err)
    line = one_line_error(err)
    assert str(path) in line
    return line


def _load(tmp_path, text: str):
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    return gridsim.load_network(path)


def _run_capped(args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess:
    """``python -m gridsim.cli ARGS`` with 1 GiB of address space: a bomb fails fast."""
    resource = pytest.importorskip("resource")
    limit = 2**30

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        return subprocess.run(
            [sys.executable, "-m", "gridsim.cli", *args],
            capture_output=True,
            text=True,
            preexec_fn=cap,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"gridsim {' '.join(args)} ran past {timeout:g} s")


# -- item 2: aliases and nesting ---------------------------------------------------------
def _alias_bomb() -> str:
    """A 0.7 KB file whose ``name`` expands to 9**9 strings (a "billion laughs")."""
    rows = ["description:", "  - &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for k in range(1, 9):
        prev, cur = chr(ord("a") + k - 1), chr(ord("a") + k)
        rows.append(f"  - &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    return GOOD.replace("gridsim: 1\n", "gridsim: 1\n" + "\n".join(rows) + "\nname: *i\n")


def test_alias_bomb_is_refused_at_its_line_under_a_memory_cap(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb())
    assert path.stat().st_size < 1000
    proc = _run_capped(["pf", str(path)])
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_line_error(proc.stderr)
    # the first alias past the bound: *e on line 8 (the 9th alias of line 7 still fits)
    assert str(path) in line and "line 8, column 9" in line and "alias *e" in line


@pytest.mark.parametrize("depth", [150, 100_000])
def test_deep_nesting_is_refused_not_a_crash(tmp_path, depth):
    # 150: composed by libyaml, then checked; 100,000 would overflow libyaml's recursive
    # composer (SIGSEGV), so it is composed from the parser's events and refused there
    path = tmp_path / "deep.yaml"
    path.write_text(GOOD + "description: " + "[" * depth + "]" * depth + "\n")
    proc = _run_capped(["pf", str(path)])
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_line_error(proc.stderr)
    assert str(path) in line and "line 11" in line and "nesting deeper than 100" in line


def test_shared_blocks_and_merge_keys_still_load(tmp_path):
    text = GOOD.replace(
        "  - {id: D, bus: B, p_mw: 300, q_mvar: 50}\n",
        "  - &d {id: D, bus: B, p_mw: 300, q_mvar: 50}\n  - {<<: *d, id: D2, p_mw: 100}\n",
    )
    net = _load(tmp_path, text)
    assert net.load.loc["D2", "p_mw"] == 100.0 and net.load.loc["D2", "q_mvar"] == 50.0
    assert net.load.loc["D", "p_mw"] == 300.0


# -- item 4: duplicate keys ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("p_mw: 300", "p_mw: 300, p_mw: 3000"),
            ["line 10, column 32", "key 'p_mw' is given twice", "first at line 10"],
        ),
        (
            GOOD + "load:\n  - {id: E, bus: B, p_mw: 5}\n",
            ["line 11, column 1", "key 'load' is given twice", "first at line 9"],
        ),
        (
            GOOD.replace("{id: A, vn_kv: 400}", "{id: A, vn_kv: 400, 'vn_kv': 220}"),
            ["line 3", "key 'vn_kv' is given twice"],
        ),
    ],
    ids=["field", "table", "quoted"],
)
def test_duplicate_keys_are_refused(tmp_path, capsys, text, expected):
    line = _bad_file(tmp_path, capsys, text)
    for fragment in expected:
        assert fragment in line, line


# -- item 8: physical ranges --------------------------------------------------------------
@pytest.mark.parametrize("loss", [100, 200])
def test_hvdc_losses_of_100_percent_or_more_are_refused(tmp_path, capsys, loss):
    line = _bad_file(tmp_path, capsys, HVDC.replace("loss_percent: 1.5", f"loss_percent: {loss}"))
    assert f"hvdc 'DC': loss_percent = {loss} %: must be in [0, 100) %" in line


def test_group_of_lists_is_refused(tmp_path, capsys):
    line = _bad_file(tmp_path, capsys, GOOD + "groups: {EU: [[RO, BG], HU]}\n")
    assert "group 'EU': ['RO', 'BG'] is not a zone name" in line


@pytest.mark.parametrize("f_hz", ["0", "-50", ".inf", ".nan"])
def test_frequency_must_be_positive_and_finite(tmp_path, f_hz):
    with pytest.raises(InvalidNetworkError, match=r"f_hz = \S+ Hz: must be a finite number > 0"):
        _load(tmp_path, GOOD + f"f_hz: {f_hz}\n")


def _matpower_case(tap: str) -> str:
    return (
        "function mpc = taps\nmpc.version = '2';\nmpc.baseMVA = 100;\n"
        "mpc.bus = [\n\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n"
        "\t2\t1\t50\t10\t0\t0\t1\t1\t0\t345\t1\t1.1\t0.9;\n];\n"
        "mpc.gen = [\n\t1\t0\t0\t100\t-100\t1.0\t100\t1\t100\t0;\n];\n"
        f"mpc.branch = [\n\t1\t2\t0.01\t0.1\t0.02\t100\t100\t100\t{tap}\t0\t1;\n];\n"
    )


def test_matpower_tap_of_1e300_is_refused(tmp_path, capsys):
    path = tmp_path / "taps.m"
    path.write_text(_matpower_case("1e-300"))
    with pytest.raises(InvalidNetworkError, match=r"trafo 1: vn_hv_kv = 3.45e-298 kV is 1e-300"):
        gridsim.read_matpower(path)
    status, _, err = run_cli(["pf", path], capsys)
    assert status == 2
    line = one_line_error(err)
    assert str(path) in line and "within a factor 3 of its bus" in line
    path.write_text(_matpower_case("0.95"))  # an ordinary off-nominal tap still reads
    assert gridsim.read_matpower(path).trafo.loc[1, "vn_hv_kv"] == pytest.approx(0.95 * 345)


def test_winding_moved_far_by_its_tap_changer_is_refused(tmp_path, capsys):
    assert _load(tmp_path, TRAFO).trafo.loc["T", "tap_pos"] == 2  # 1.025 x 400 kV: fine
    line = _bad_file(tmp_path, capsys, TRAFO.replace("tap_pos: 2", "tap_pos: 200"))
    assert "trafo 'T': vn_hv_kv = 400 kV (1400 kV at tap_pos 200) is 3.5 times" in line
    line = _bad_file(tmp_path, capsys, TRAFO.replace("vn_lv_kv: 220", "vn_lv_kv: 22"))
    assert "trafo 'T': vn_lv_kv = 22 kV is 0.1 times the vn_kv of lv_bus 'C' (220 kV)" in line


def _minimal_tables() -> dict[str, list[dict]]:
    """One element of every type, every field at its default or a valid value."""
    return {
        "bus": [{"id": "A", "vn_kv": 400.0}, {"id": "B", "vn_kv": 400.0}],
        "line": [
            {"id": "L", "from_bus": "A", "to_bus": "B", "r_ohm_per_km": 0.03, "x_ohm_per_km": 0.3}
        ],
        "trafo": [
            {
                "id": "T",
                "hv_bus": "A",
                "lv_bus": "B",
                "sn_mva": 500.0,
                "vn_hv_kv": 400.0,
                "vn_lv_kv": 400.0,
                "vk_percent": 12.0,
            }
        ],
        "gen": [{"id": "G", "bus": "A"}],
        "sgen": [{"id": "S", "bus": "B"}],
        "ext_grid": [{"id": "X", "bus": "A"}],
        "load": [{"id": "D", "bus": "B"}],
        "shunt": [{"id": "H", "bus": "B"}],
        "hvdc": [{"id": "DC", "from_bus": "A", "to_bus": "B"}],
    }


RANGED = [
    (element, col)
    for element, columns in SCHEMA.items()
    for col in columns
    if col.kind == FLOAT and getattr(col, "allowed", None) is not None
]


@pytest.mark.parametrize(("element", "col"), RANGED, ids=[f"{e}.{c.name}" for e, c in RANGED])
def test_every_schema_range_is_enforced_and_named(element, col):
    gridsim.Network(_minimal_tables())  # valid as it stands
    rng = col.allowed
    bad = [rng.low] if rng.low_open else []
    bad += [rng.high] if rng.high_open else []
    bad += [v for v in (rng.low - 1.0, rng.high + 1.0) if np.isfinite(v)]
    assert bad, "a range must exclude something"
    assert str(rng).removeprefix("in ") in col.description  # the range is documented
    for value in bad:
        tables = _minimal_tables()
        tables[element][0][col.name] = value
        with pytest.raises(InvalidNetworkError) as info:
            gridsim.Network(tables, source="x.yaml")
        message = str(info.value)
        element_id = tables[element][0]["id"]
        assert f"x.yaml: {element} '{element_id}': {col.name} = {value:g}" in message
        assert f"must be {rng}" in message


# -- item 9: malformed files end in one line, never an internal error -------------------
MALFORMED = {
    "empty bus table": ("bus: []", "no buses"),
    "binary value": (GOOD.replace("{id: A,", "{id: A, zone: !!binary AP8=,"), "zone = b'"),
    "no injector at all": (GOOD.replace("ext_grid:\n  - {id: G, bus: A}\n", ""), "has no slack"),
    "no bus table": ("gridsim: 1", "no buses"),
    "zone as a list": (GOOD.replace("{id: A,", "{id: A, zone: [W],"), "bus 'A': zone = ['W']"),
    "id as a list": (GOOD.replace("{id: D,", "{id: [D],"), "load entry 1: id ['D']"),
    "bus reference as a mapping": (GOOD.replace("bus: B, p_mw", "bus: {B: 1}, p_mw"), "load 'D'"),
    "huge integer": (GOOD.replace("p_mw: 300", "p_mw: 1" + "0" * 400), "integer of 401 char"),
    "5000-digit integer": (
        GOOD.replace("p_mw: 300", "p_mw: " + "9" * 5000),
        "an integer of 5000 characters",
    ),
    "scenario edit naming a list": (
        GOOD + "scenarios:\n  s: {set: [{element: [load], id: D, field: p_mw, value: 1}]}\n",
        "scenario 's': set entry 1: element ['load']",
    ),
    "zone read as false (NO)": (
        GOOD.replace("{id: A,", "{id: A, zone: NO,"),
        "bus 'A': zone = False is true/false",
    ),
    "10,000-character id in a reference": (
        GOOD.replace("to_bus: B", "to_bus: " + "Z" * 10_000),
        "line 'L1': to_bus 'ZZZZ",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_yaml_exits_2_with_one_short_line(tmp_path, capsys, case):
    text, fragment = MALFORMED[case]
    for command in ("pf", "info"):
        line = _bad_file(tmp_path, capsys, text, command=command)
        assert fragment in line, line
        assert len(line) < 300 + len(str(tmp_path)), line


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"5\n", "expected a mapping of element tables"),
        (b"null\n", "expected a mapping of element tables"),
        (b"[1, 2]\n", "expected a mapping of element tables"),
        (GOOD.encode() + b"---\ngridsim: 1\n", "another document"),
        (GOOD.replace("{id: D,", "{id: \xff,").encode("latin-1"), "cannot read file"),
        (bytes(range(256)), "cannot read file"),
    ],
    ids=["scalar", "null", "list", "two documents", "latin-1", "binary"],
)
def test_not_a_network_exits_2_with_one_line(tmp_path, capsys, content, fragment):
    path = tmp_path / "net.yaml"
    path.write_bytes(content)
    status, _, err = run_cli(["pf", path], capsys)
    assert status == 2
    line = one_line_error(err)
    assert str(path) in line and fragment in line, line


def test_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert gridsim.load_network(path).load.loc["D", "p_mw"] == 300.0
