"""The corridor's published cross-border limits as interfaces (networks/corridor_substation/
interfaces.py) and the calibration table against them (networks/calibrate_borders.py,
networks/data/calibration.csv; issue 19, acceptance 4)."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "networks"))
import calibrate_borders  # noqa: E402
from corridor_substation.interfaces import (  # noqa: E402
    border_members,
    interface_records,
    period_year,
)

#: A hand-made model: zones A, B, C; two A-B lines written either way, a 220 kV A-B line,
#: a proposed A-B line, a disused (out of service) one, an A-B link from 2030, a
#: back-to-back link inside B and a B-C line.
MODEL = {
    "bus": [
        {"id": "a1", "zone": "A", "vn_kv": 400},
        {"id": "a2", "zone": "A", "vn_kv": 220},
        {"id": "b1", "zone": "B", "vn_kv": 400},
        {"id": "b2", "zone": "B", "vn_kv": 220},
        {"id": "b3", "zone": "B", "vn_kv": 500},
        {"id": "c1", "zone": "C", "vn_kv": 400},
    ],
    "line": [
        {"id": "L1", "from_bus": "a1", "to_bus": "b1"},
        {"id": "L2", "from_bus": "b1", "to_bus": "a1"},
        {"id": "L3", "from_bus": "a2", "to_bus": "b2"},
        {"id": "L4", "from_bus": "a1", "to_bus": "b1", "status": "proposed", "year": 2027},
        {"id": "L5", "from_bus": "a1", "to_bus": "b1", "in_service": False},
        {"id": "L6", "from_bus": "b1", "to_bus": "c1"},
        {"id": "LA", "from_bus": "a1", "to_bus": "a2"},
    ],
    "trafo": [{"id": "T1", "hv_bus": "b2", "lv_bus": "a2"}],
    "hvdc": [
        {"id": "DC1", "from_bus": "b1", "to_bus": "a1", "status": "planned", "year": 2030},
        {"id": "B2B", "from_bus": "b3", "to_bus": "b1", "status": "existing", "year": 2013},
    ],
}
LIMITS = {
    "borders": [
        {"from": "A", "to": "B", "ntc_mw": 500, "kind": "ntc", "period": "from Dec 2020",
         "source": "X1", "note": "n"},
        {"from": "B", "to": "A", "ntc_mw": 300, "kind": "ntc", "period": "since 2031",
         "source": "X1"},
        {"from": "A", "to": "B", "ntc_mw": 200, "kind": "stability", "period": "2016",
         "path": "the 220 kV line", "select": {"kv": 220}, "source": "X2"},
        {"from": "B", "to": "C", "ntc_mw": 700, "kind": "thermal", "period": "2013",
         "path": "the converter", "select": {"hvdc": "B2B", "direction": -1}, "source": "X3"},
        {"from": "C", "to": "B", "ntc_mw": None, "kind": "ntc", "note": "not found"},
        {"from": "B", "to": "C", "ntc_mw": 0, "kind": "ntc", "period": "2023", "source": "X4"},
        {"from": "A", "to": "D", "ntc_mw": 100, "kind": "ntc", "period": "2020", "source": "X5"},
    ],
    "interfaces": [
        {"id": "A_out", "borders": ["A->B", "A->C"], "ntc_mw": 900, "kind": "ntc",
         "period": "2014", "source": "X6"},
        {"id": "B_out", "borders": ["B->A", "B->C"], "ntc_mw": 900, "kind": "ntc",
         "period": "2014", "source": "X6"},
    ],
}  # fmt: skip


def members(rec):
    return [(m["element"], m["id"], m["direction"]) for m in rec["members"]]


def test_period_year():
    assert period_year("from Dec 2020") == 2020
    assert period_year("2014 (decision Oct 2013)") == 2014
    assert period_year("monthly, Jan-Feb") is None
    assert period_year(None) is None


def test_border_members_directions_and_period():
    # every element joining A and B in service in 2020, +1 from A's side
    assert members({"members": border_members(MODEL, "A", "B", 2020)}) == [
        ("line", "L1", 1),
        ("line", "L2", -1),
        ("line", "L3", 1),
        ("trafo", "T1", -1),
    ]
    # the other way round: every direction flips; in 2030 the planned link joins
    assert members({"members": border_members(MODEL, "B", "A", 2030)}) == [
        ("line", "L1", -1),
        ("line", "L2", 1),
        ("line", "L3", -1),
        ("trafo", "T1", 1),
        ("hvdc", "DC1", 1),
    ]
    # no year: every element not proposed and not written out of service
    assert [m["id"] for m in border_members(MODEL, "A", "B")] == ["L1", "L2", "L3", "T1", "DC1"]
    assert border_members(MODEL, "A", "C", 2020) == []


def test_border_members_select():
    assert members({"members": border_members(MODEL, "B", "A", None, {"kv": 220})}) == [
        ("line", "L3", -1),
        ("trafo", "T1", 1),
    ]
    sel = {"hvdc": "B2B", "direction": -1}
    assert members({"members": border_members(MODEL, "B", "C", 2013, sel)}) == [("hvdc", "B2B", -1)]
    assert border_members(MODEL, "B", "C", 2012, sel) == []  # not yet built


def test_interface_records():
    recs = {r["id"]: r for r in interface_records(MODEL, LIMITS)}
    # no record: a figure of 0 MW, one without a number, one whose zone is not modelled,
    # and a group with a border that has no tie (A->C)
    assert list(recs) == ["IF_A_B", "IF_B_A", "IF_A_B_220KV", "IF_B_C_B2B", "IF_B_out"]
    assert members(recs["IF_A_B"]) == [
        ("line", "L1", 1),
        ("line", "L2", -1),
        ("line", "L3", 1),
        ("trafo", "T1", -1),
    ]
    assert ("hvdc", "DC1", 1) in members(recs["IF_B_A"])  # a 2031 figure includes the link
    assert members(recs["IF_A_B_220KV"]) == [("line", "L3", 1), ("trafo", "T1", -1)]
    assert members(recs["IF_B_C_B2B"]) == [("hvdc", "B2B", -1)]
    assert members(recs["IF_B_out"]) == [
        ("line", "L1", -1),
        ("line", "L2", 1),
        ("line", "L3", -1),
        ("trafo", "T1", 1),
        ("line", "L6", 1),
    ]
    r = recs["IF_A_B_220KV"]
    assert (r["limit_mw"], r["kind"], r["source"]) == (200.0, "stability", "X2")
    assert r["name"] == "A->B the 220 kV line"
    assert "2016" in r["note"]


def test_interface_records_refuse_duplicate_ids():
    twice = {"borders": [LIMITS["borders"][0], LIMITS["borders"][0]]}
    with pytest.raises(ValueError, match="IF_A_B"):
        interface_records(MODEL, twice)


def test_corridor_interfaces_load(tmp_path):
    """The records of the real limits are valid interfaces of the corridor model."""
    import gridsim

    model = calibrate_borders.read_model(calibrate_borders.MODEL)
    limits = yaml.safe_load(calibrate_borders.LIMITS.read_text(encoding="utf-8"))
    recs = interface_records(model, limits)
    ids = {r["id"] for r in recs}
    assert {"IF_AZ_GE_500KV", "IF_TR_to_CE", "IF_CE_to_TR", "IF_GE_TR_DC_AKH_B2B"} <= ids
    tr_ce = next(r for r in recs if r["id"] == "IF_TR_to_CE")
    assert tr_ce["limit_mw"] == 500 and tr_ce["kind"] == "ntc"
    zone = {b["id"]: b["zone"] for b in model["bus"]}
    ends = {ln["id"]: (zone[ln["from_bus"]], zone[ln["to_bus"]]) for ln in model["line"]}
    for m in tr_ce["members"]:  # every TR-BG and TR-GR tie, counted out of Türkiye
        exporter = ends[m["id"]][0 if m["direction"] == 1 else 1]
        assert exporter == "TR" and set(ends[m["id"]]) in ({"TR", "BG"}, {"TR", "GR"})
    derived = [r for r in model["interface"] if r["id"] not in ids]  # stability.py's
    assert [r["id"] for r in derived] == ["IF_ZANGEZUR_N1"]
    model["interface"] = recs + derived
    path = tmp_path / "m.yaml"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(model, Dumper=dumper, allow_unicode=True), encoding="utf-8")
    net = gridsim.load_network(path, scenario="2026_winter_peak")
    assert {f["id"] for f in net.interfaces} == ids


def test_directions():
    d = calibrate_borders.directions
    assert d(LIMITS, ["A-B"], False, False) == [("A", "B"), ("B", "A")]
    assert d(LIMITS, ["A-C"], False, False) == []  # nothing published
    assert d(LIMITS, ["A-C"], True, False) == [("A", "C"), ("C", "A")]
    assert d(LIMITS, ["C->B"], False, False) == [("C", "B")]
    # the other published borders (B->C twice in the file), in the file's order
    assert d(LIMITS, ["A-B"], False, True) == [("A", "B"), ("B", "A"), ("B", "C"), ("A", "D")]


def test_explain():
    row = {"border": "TR->BG", "published_mw": 333.0, "ratio": 1.1, "limit": "x"}
    assert calibrate_borders.explain(row) == ""  # within the band
    row["ratio"] = 2.5
    text = calibrate_borders.explain(row)
    assert text.startswith("published value is a share") and text.endswith("bound by x")
    row = {"border": "RS->XK", "published_mw": 0.0, "ratio": math.nan, "limit": ""}
    assert "no allocation mechanism" in calibrate_borders.explain(row)


@pytest.mark.slow
def test_calibration_csv_is_rederivable():
    """One row of networks/data/calibration.csv is what the script computes now."""
    with open(calibrate_borders.DEFAULT_OUT, encoding="utf-8") as f:
        rows = {r["border"]: r for r in csv.DictReader(f)}
    want = rows["GE->TR"]
    set_aside = "set aside" in want["status"]
    (got,) = calibrate_borders.run(want["scenario"], ["GE->TR"], others=False, set_aside=set_aside)
    assert got["border"] == "GE->TR"
    for key in ("bce_mw", "ttc_mw", "ntc_mw"):
        if want[key] == "":
            assert math.isnan(got.get(key, math.nan))
        else:
            assert got[key] == pytest.approx(float(want[key]), abs=1.0)
    assert got["status"] == want["status"]
