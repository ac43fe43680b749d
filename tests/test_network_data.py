"""The sourced data files of networks/data/: they parse, every number is sourced or estimated,
every cited source exists, and the countries, years, borders and projects are complete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).resolve().parents[1] / "networks" / "data"
CORRIDOR_SOURCES = DATA.parents[2] / "shared" / "corridor" / "SOURCES.md"

YEARS = (2026, 2030, 2032)
HOURS = ("winter_peak", "summer_peak", "low_load_high_res")
TECHNOLOGIES = ("nuclear", "lignite", "coal", "gas", "hydro", "wind", "solar", "other")
COUNTRIES = set("AZ GE AM TR BG RO RS HU GR MK AL ME BA HR XK".split())
BOUNDARY = set("SI AT SK UA MD IT RU IR".split())
BORDERS = """AZ-GE GE-TR GE-RU GE-AM AZ-RU AZ-IR TR-BG TR-GR BG-RO BG-RS BG-GR BG-MK RO-RS RO-HU
RO-UA RO-MD RS-HU RS-MK RS-ME RS-BA RS-HR RS-XK XK-AL XK-MK GR-MK GR-AL GR-IT ME-IT ME-BA ME-AL
BA-HR HR-HU HR-SI HU-AT HU-SK HU-UA HU-SI""".split()
PROJECTS = {
    "BLACK_SEA_CABLE_1",
    "BLACK_SEA_CABLE_2",
    "BLACK_SEA_CABLE_3",
    "AKHALTSIKHE_B2B_EXT",
    "NAKHCHIVAN_CONVERTER",
    "NAKHCHIVAN_TR_400",
    "ZANGEZUR_330",
    "SOFIA_W_NIS2_2ND",
    "CBC_STAGE1",
    "RO_HU_HVDC",
    "AZ_GE_ONSHORE_HVDC",
    "CASPIAN_OFFSHORE_WIND",
    "NIS_CCGT_KRUSEVAC",
    "NIS_CCGT_TRUPALE",
    "NIS_CCGT_NISKA_BANJA",
}
PROVENANCE = ("source", "estimated")
SOURCE_ID = re.compile(r"^(D\d{2}|corridor:S\d{2})$")
CITED = re.compile(r"\b(D\d{2})\b|corridor:(S\d{2})\b")


@pytest.fixture(scope="module")
def files() -> dict[str, dict]:
    return {
        name: yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
        for name in ("country_balances", "borders_ntc", "projects")
    }


def _source_ids(text: str) -> set[str]:
    return set(re.findall(r"^\| (D\d{2}|S\d{2}) \|", text, flags=re.MULTILINE))


def _unsourced(node, path: str, covered: bool) -> list[str]:
    """Paths of numeric leaves with no `source`/`estimated` on the way down to them."""
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return []
    if isinstance(node, int | float):
        return [] if covered else [path]
    if isinstance(node, list):
        return [m for i, v in enumerate(node) for m in _unsourced(v, f"{path}[{i}]", covered)]
    here = covered or any(k in node for k in PROVENANCE)
    missing = []
    for key, value in node.items():
        own = here or any(f"{key}_{p}" in node for p in PROVENANCE)
        if key in ("cost_meur", "connection_cost_meur"):
            own = bool(node.get("cost_source"))
        missing += _unsourced(value, f"{path}.{key}", own)
    return missing


@pytest.mark.parametrize("name", ["country_balances", "borders_ntc", "projects"])
def test_every_number_is_sourced_or_estimated(files, name):
    data = dict(files[name])
    data.pop("years", None)  # the scenario years themselves need no source
    assert _unsourced(data, name, False) == []


def test_every_cited_source_exists():
    ids = _source_ids((DATA / "SOURCES.md").read_text(encoding="utf-8"))
    corridor = (
        _source_ids(CORRIDOR_SOURCES.read_text(encoding="utf-8"))
        if CORRIDOR_SOURCES.exists()
        else None
    )
    for name in ("country_balances", "borders_ntc", "projects"):
        text = (DATA / f"{name}.yaml").read_text(encoding="utf-8")
        for d_id, s_id in CITED.findall(text):
            if d_id:
                assert d_id in ids, f"{name}: {d_id} not in SOURCES.md"
            elif corridor is not None:
                assert s_id in corridor, f"{name}: corridor:{s_id} not in the corridor SOURCES.md"


def test_source_fields_hold_ids_only(files):
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "source":
                    values = value if isinstance(value, list) else [value]
                    assert values and all(SOURCE_ID.match(str(v)) for v in values), value
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(files)


def test_countries_years_and_hours_complete(files):
    balances = files["country_balances"]
    countries = balances["countries"]
    assert set(countries) == COUNTRIES
    for code, country in countries.items():
        assert all(country["peak_load_mw"][y] > 0 for y in YEARS), code
        assert set(country["hours"]) == set(HOURS), code
        for hour in HOURS:
            entry = country["hours"][hour]
            assert 0.2 <= entry["load_share_of_peak"] <= 1.0, (code, hour)
            assert set(entry["net_position_mw"]) == set(YEARS), (code, hour)
        shares = country["hours"]["low_load_high_res"]["renewables_share_of_capacity"]
        assert all(0.0 <= shares[t] <= 1.0 for t in ("wind", "solar")), code
        assert max(country["hours"][h]["load_share_of_peak"] for h in HOURS) == 1.0, code
        for year in YEARS:
            fleet = country["installed_mw"][year]
            assert set(fleet) == set(TECHNOLOGIES), (code, year)
            assert all(v >= 0 for v in fleet.values()) and sum(fleet.values()) > 0, (code, year)
        assert 0.85 <= country["power_factor"] <= 1.0, code
    neighbours = balances["boundary_neighbours"]
    assert BOUNDARY <= set(neighbours)
    for code, neighbour in neighbours.items():
        exchange = neighbour["exchange_mw"]
        for hour in HOURS:
            for modelled, flows in exchange[hour].items():
                assert modelled in COUNTRIES, (code, modelled)
                assert set(flows) == set(YEARS), (code, hour, modelled)


def test_regional_balance_closes(files):
    """The modelled countries' net exports go to the boundary equivalents, MW for MW."""
    balances = files["country_balances"]
    for hour in HOURS:
        for year in YEARS:
            exports = sum(
                c["hours"][hour]["net_position_mw"][year] for c in balances["countries"].values()
            )
            inflow = sum(
                flows[year]
                for n in balances["boundary_neighbours"].values()
                for flows in n["exchange_mw"][hour].values()
            )
            assert exports + inflow == 0, (hour, year, exports, inflow)


def test_ups_surplus_fits_converters_and_turkish_limits(files):
    """AZ+GE+AM's surplus leaves through the Caucasus converters into TR, then TR -> CE.

    Converters: Akhaltsikhe 700 MW (corridor:S17), Nakhchivan 1,000 MW from 2030 (assumed);
    TR export / import limits 500 / 650 MW (corridor:S33), +600 MW each from 2029 (corridor:S34).
    """
    balances = files["country_balances"]
    ups = ("AZ", "GE", "AM")
    for year in YEARS:
        converters = 700 + (1000 if year >= 2030 else 0)
        export_limit, import_limit = (500, 650) if year < 2029 else (1100, 1250)
        for hour in HOURS:
            surplus = sum(
                balances["countries"][cc]["hours"][hour]["net_position_mw"][year] for cc in ups
            )
            surplus += sum(
                flows[year]
                for n in balances["boundary_neighbours"].values()
                for cc, flows in n["exchange_mw"][hour].items()
                if cc in ups
            )
            assert -converters <= surplus <= converters, (year, hour, surplus)
            to_ce = balances["countries"]["TR"]["hours"][hour]["net_position_mw"][year] + surplus
            assert -import_limit <= to_ce <= export_limit, (year, hour, to_ce)


def test_borders_complete_and_consistent(files):
    borders = files["borders_ntc"]["borders"]
    pairs = set()
    for b in borders:
        assert b["direction"] == f"{b['from']}->{b['to']}", b
        assert b["kind"] in ("ntc", "stability", "thermal"), b
        if b["ntc_mw"] is None:
            assert "not found" in b["note"] or "no interconnector" in b["note"], b
        else:
            assert b["ntc_mw"] >= 0 and "source" in b, b
        pairs.add(frozenset((b["from"], b["to"])))
    missing = [p for p in BORDERS if frozenset(p.split("-")) not in pairs]
    assert missing == []
    for interface in files["borders_ntc"]["interfaces"]:
        assert interface["ntc_mw"] > 0 and "source" in interface, interface


def test_projects_complete_and_consistent(files):
    data = files["projects"]
    projects = {p["id"]: p for p in data["projects"]}
    assert len(projects) == len(data["projects"]), "duplicate project id"
    assert PROJECTS <= set(projects)
    statuses = {"existing", "under_construction", "planned", "proposed", "concept"}
    kinds = {"hvdc", "ac_line", "converter", "substation", "uprating", "generation"}
    for pid, p in projects.items():
        assert p["status"] in statuses and p["kind"] in kinds, pid
        assert 2013 <= p["earliest_year"] <= 2040, pid
        assert p["capacity_mw"] > 0, pid
        assert p["cost_source"], pid
        if p["cost_meur"] is None:
            assert p["cost_source"].startswith("not found"), pid
        else:
            assert p["cost_meur"] > 0, pid
        for other in p["depends_on"]:
            assert projects[other]["earliest_year"] <= p["earliest_year"], (pid, other)
        for other in p["excludes"]:
            assert pid in projects[other]["excludes"], (pid, other)
    for name, unit in data["unit_costs"].items():
        assert unit["value"] > 0 and any(k in unit for k in PROVENANCE), name
