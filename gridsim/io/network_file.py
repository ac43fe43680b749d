"""gridsim network files (YAML): element tables written by hand, with scenarios.

A file is a mapping with optional header keys and one list of records per element
type; every record has an ``id`` and the fields of :data:`gridsim.model.schema.SCHEMA`
(units in the field names)::

    gridsim: 1                # format version
    name: two-bus example
    sn_mva: 100
    f_hz: 50
    trafo_model: t            # or pi
    groups: {EU: [RO, BG, HU]}  # named groups of zones
    bus:
      - {id: A, vn_kv: 400, zone: RO, min_vm_pu: 0.9, max_vm_pu: 1.1}
      - {id: B, vn_kv: 400, zone: RO}
    line:
      - {id: A-B, from_bus: A, to_bus: B, length_km: 120, r_ohm_per_km: 0.03,
         x_ohm_per_km: 0.3, b_us_per_km: 3.8, rate_mva: 1500, source: S12}
    ext_grid:
      - {id: grid, bus: A, vm_pu: 1.02}
    load:
      - {id: L1, bus: B, p_mw: 500, q_mvar: 100}

Records may also carry the metadata fields :data:`META_FIELDS` (provenance ``source``:
a SOURCES.md id or ``estimated``; ``status``; ``year``; ``note``; ``rating_kind``;
``limit_mw``, a published operating or stability limit that the power flow does not
enforce; ...); any other unknown field is an error, so a misspelt field name is caught
rather than silently ignored. Metadata are kept as extra columns of the tables.

What YAML allows but a network file may not hold, refused with the line: a key written
twice in one mapping (the last would silently win); aliases (``*name``) that repeat
more than :data:`ALIAS_NODES_MAX` nodes in all; nesting deeper than :data:`DEPTH_MAX`;
integers of more than 100 digits. A field's value is a single value, never a list or a
mapping, and a name (``zone``, ``name``, ...) is never true/false: YAML 1.1 reads
``NO``, ``yes``, ``off`` as booleans, so such names are written in quotes. (YAML 1.1
also reads ``1e3`` as text: write ``1.0e+3`` or ``1000``.)

Checks made for YAML files on top of the generic validation (MATPOWER and pandapower
equivalents legitimately break them): a line's ``x_ohm_per_km`` must be positive and its
``r_ohm_per_km`` not negative; a transformer's ``vk_percent`` positive and
``vkr_percent`` not negative; and a file that rates any branch (``rate_mva``) must rate
every line and transformer, and every HVDC link (``max_p_mw``).

Interfaces (flowgates)
----------------------
A top-level ``interface`` list holds limits on directed sums of flows: each record has
an ``id``, ``members`` (a list of ``{element, id, direction}``: a line, transformer or
HVDC link of the file, direction +1 for the flow from its from end (a link's ``p_mw``)
or -1 against it), ``limit_mw`` (> 0), ``kind`` (``thermal``, ``ntc``: a published net
transfer capacity, or ``stability``; default ``ntc``) and the metadata fields
(``source``, ``status``, ``year``, ``note``, ...)::

    interface:
      - {id: IF_TR_CE, kind: ntc, limit_mw: 500, source: S33,
         members: [{element: line, id: L_TRBG_01, direction: 1},
                   {element: line, id: L_TRGR_01, direction: 1}]}

Scenarios switch interfaces in and out (``status``/``year``, ``include``, ``exclude``)
and change their ``limit_mw`` or ``kind`` (``set`` with ``element: interface``) as they
do elements. The in-service interfaces of the scenario applied are kept on the network
as ``network.interfaces`` (a list of dicts ``id``, ``members`` as ``(element, id,
direction)`` tuples, ``limit_mw``, ``kind``, ``source`` and, where the record has one,
``name``), which the transfer analyses
hold (:func:`gridsim.analysis.ttc.n1_ttc`). A member that is not an element of the
file is an error naming the interface.

Dispatch
--------
A unit's ``p_mw`` must be within its ``min_p_mw`` and ``max_p_mw`` (where given) in the
file as written when it names no ``default_scenario``, and in every scenario: a
dispatch beyond a unit's limits is an error naming the scenario and the unit.

Scenarios
---------
Elements may carry ``status`` (``existing``, ``under_construction``, ``planned`` or
``proposed``) and ``year`` (first year in service). A top-level ``scenarios`` mapping
names overlays; ``default_scenario`` names the one applied when none is asked for::

    default_scenario: "2026"
    scenarios:
      "2030-trupale":
        year: 2030                    # in service: status existing, under_construction
                                      # or planned with year <= 2030 (no year: always)
        description: Nis CCGT at Trupale
        include: [RS_NISCCGT_TRUPALE, L_NIS_T]   # switched in whatever their status
        exclude: [RS_NISCCGT_KRUSEVAC, L_NIS_K]  # switched out
        scale: {load: {AZ: 1.2, GE: 1.2}}        # per zone of the element's bus, or a
                                                  # number for all; load, sgen or gen
        set:                                      # last word on single fields
          - {element: gen, id: G_RS_NIS_CCGT, field: bus, value: RS_NISCCGT_TRUPALE}
          - {element: hvdc, id: DC_AKH_B2B, field: p_mw, value: 500}
        export: {mw: 1100, source: AZ, sink: RS, note: ...}   # metadata for analyses

A scenario is applied in this order: status and year, then ``include``/``exclude``,
``scale``, ``set``. Elements with status ``proposed`` stay out unless included; an
element written ``in_service: false`` stays out unless included; elements without a
status keep their ``in_service`` as written. Ids in ``include``/``exclude`` are looked up
in every table (write ``table:id`` if one id is used in two tables). Without a scenario
(and no ``default_scenario``) the file is taken as written. Every scenario in the file is
checked at each load, so a scenario naming a missing element or field is an error even
when another one is applied. The applied scenario's name, year, description and export
block are kept on the network as ``network.scenario``, ``network.scenario_info`` and
``network.export``; all scenarios' names and descriptions as ``network.scenarios``.
"""

from __future__ import annotations

import copy
import datetime
import math
import os
import re
from pathlib import Path

import yaml

from gridsim.exceptions import InvalidNetworkError
from gridsim.model.network import Network, shown
from gridsim.model.schema import (
    BOOL,
    ELEMENTS,
    FLOAT,
    INTERFACE,
    INTERFACE_KINDS,
    INTERFACE_MEMBERS,
    REF,
    SCHEMA,
    STR,
)
from gridsim.model.validate import validate_interfaces

FORMAT_VERSION = 1
HEADER_KEYS = {
    "gridsim",
    "name",
    "sn_mva",
    "f_hz",
    "trafo_model",
    "groups",
    "description",
    "scenarios",
    "default_scenario",
}
META_FIELDS = {
    "source",
    "status",
    "year",
    "note",
    "rating_kind",
    "limit_mw",
    "country",
    "operator",
}
STATUSES = ("existing", "under_construction", "planned", "proposed")
IN_SERVICE_STATUSES = ("existing", "under_construction", "planned")
SCENARIO_KEYS = {"year", "description", "include", "exclude", "scale", "set", "export"}
SCALABLE = {"load": ("p_mw", "q_mvar"), "sgen": ("p_mw", "q_mvar"), "gen": ("p_mw",)}


def load_network(path: str | os.PathLike, scenario: str | None = None) -> Network:
    """Read a gridsim YAML network file.

    Parameters
    ----------
    path : str or path-like
        The ``.yaml`` file.
    scenario : str, optional
        Scenario to apply (see the module docstring); default: the file's
        ``default_scenario``, else the file as written.

    Returns
    -------
    Network
        With ``scenario`` (name applied or None), ``scenario_info``, ``scenarios``
        and ``export`` attributes.

    Raises
    ------
    InvalidNetworkError
        Naming the file, the element and the field (and the scenario), for any
        problem; nothing is half-loaded.
    """
    src = str(path)
    data, tables, groups, scenarios, default = _checked_file(Path(path), src)
    chosen = scenario if scenario is not None else default
    info = None
    if chosen is not None:
        chosen = str(chosen)
        if chosen not in scenarios:
            raise InvalidNetworkError(
                f"scenario {shown(chosen)} is not defined "
                f"(scenarios: {_listed(scenarios) or 'none'})",
                src,
            )
        tables = _apply_scenario(chosen, scenarios[chosen], tables, src)
        spec = scenarios[chosen]
        info = {
            "name": chosen,
            "year": spec.get("year"),
            "description": str(spec.get("description", "")),
        }
    else:
        tables = {e: [dict(r) for r in recs] for e, recs in tables.items()}
    faces = tables.pop("interface", [])
    net = Network(
        tables,
        sn_mva=_number(data.get("sn_mva", 100.0), "sn_mva", src),
        f_hz=_number(data.get("f_hz", 50.0), "f_hz", src),
        trafo_model=str(data.get("trafo_model", "t")),
        name=str(data.get("name", Path(path).stem)),
        source=src,
    )
    validate_interfaces(net, faces)
    net.interfaces = [
        {
            "id": rec["id"],
            "members": [(m["element"], m["id"], m["direction"]) for m in rec["members"]],
            "limit_mw": float(rec["limit_mw"]),
            "kind": rec.get("kind", "ntc"),
            "source": str(rec.get("source", "")),
            **({"name": str(rec["name"])} if rec.get("name") else {}),
        }
        for rec in faces
        if rec.get("in_service", True) is not False
    ]
    net.groups = copy.deepcopy(groups)
    net.scenario = chosen
    net.scenario_info = info
    net.scenarios = {
        name: {"year": spec.get("year"), "description": str(spec.get("description", ""))}
        for name, spec in scenarios.items()
    }
    net.default_scenario = None if default is None else str(default)
    export = scenarios[chosen].get("export") if chosen is not None else None
    net.export = dict(export) if export else None
    return net


def _checked_file(path: Path, src: str) -> tuple:
    """(data, tables, groups, scenarios, default) of a network file, every record and
    scenario checked; kept beside the parsed file (:data:`_PARSED`), so that loading one
    file's scenarios one by one checks it once. The caller must not change them."""
    data = _read_network_yaml(path)
    checked = _CHECKED.get(id(data))
    if checked is not None and checked[0] is data:
        return checked
    unknown = set(data) - HEADER_KEYS - set(ELEMENTS) - {"interface"}
    if unknown:
        raise InvalidNetworkError(
            f"unknown top-level key(s) {_listed(unknown)}; element tables are "
            f"{', '.join(ELEMENTS)} (and interface)",
            src,
        )
    version = data.get("gridsim", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise InvalidNetworkError(
            f"format version {shown(version)} is not supported (expected 1)", src
        )
    tables = {}
    for element in ELEMENTS:
        records = data.get(element)
        if records is None:
            continue
        tables[element] = _records(element, records, src)
    if data.get("interface") is not None:
        tables["interface"] = _interfaces(data["interface"], src)
    if not tables.get("bus"):
        raise InvalidNetworkError("no buses: the file needs a bus table with at least one bus", src)
    _check_file_rules(tables, src)
    groups = _groups(data.get("groups"), src)

    scenarios = data.get("scenarios") or {}
    if not isinstance(scenarios, dict):
        raise InvalidNetworkError("scenarios must map a scenario name to its overlay", src)
    scenarios = {str(k): v for k, v in scenarios.items()}
    for name, spec in scenarios.items():  # check them all: no broken overlay lurks
        _check_scenario(name, spec, tables, groups, src)
    default = data.get("default_scenario")
    if default is not None and str(default) not in scenarios:
        raise InvalidNetworkError(
            f"default_scenario {shown(default)} is not defined "
            f"(scenarios: {_listed(scenarios) or 'none'})",
            src,
        )
    if default is None:
        _check_dispatch(tables, None, src)
    for name, spec in scenarios.items():
        _check_dispatch(_apply_scenario(name, spec, tables, src), name, src)
    checked = (data, tables, groups, scenarios, default)
    _CHECKED.clear()  # one file's checks at a time (the last one loaded)
    _CHECKED[id(data)] = checked
    return checked


# -- checks that apply to hand-written files ----------------------------------------------
def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _listed(names, limit: int = 5) -> str:
    """Up to ``limit`` names, each cut short, for a message ("" for none)."""
    names = sorted(map(str, names))
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(shown(n) for n in names[:limit]) + more


def _check_file_rules(tables: dict[str, list[dict]], src: str) -> None:
    """Impedance signs, ratings, status and year (see the module docstring)."""
    for element, records in tables.items():
        for rec in records:
            status = rec.get("status")
            if status is not None and status not in STATUSES:
                raise InvalidNetworkError(
                    f"{element} {shown(rec['id'])}: status {shown(status)} is not one of "
                    f"{', '.join(STATUSES)}",
                    src,
                )
            year = rec.get("year")
            if year is not None and (not isinstance(year, int) or isinstance(year, bool)):
                raise InvalidNetworkError(
                    f"{element} {shown(rec['id'])}: year {shown(year)} is not a whole year", src
                )
            limit = rec.get("limit_mw")
            if limit is not None and not (_is_number(limit) and limit > 0):
                raise InvalidNetworkError(
                    f"{element} {shown(rec['id'])}: limit_mw = {shown(limit)} must be a "
                    "positive number",
                    src,
                )
    rules = {
        "line": (("x_ohm_per_km", True), ("r_ohm_per_km", False)),
        "trafo": (("vk_percent", True), ("vkr_percent", False)),
    }
    for element, fields in rules.items():
        for rec in tables.get(element, []):
            for field, strict in fields:
                v = rec.get(field)
                if _is_number(v) and (v < 0 or (strict and v == 0)):
                    raise InvalidNetworkError(
                        f"{element} {shown(rec['id'])}: {field} = {shown(v)}: negative or zero "
                        f"impedance ({field} must be "
                        f"{'positive' if strict else 'zero or positive'})",
                        src,
                    )
    rated = any(
        rec.get("rate_mva") is not None for e in ("line", "trafo") for rec in tables.get(e, [])
    )
    if rated:
        for element, field in (("line", "rate_mva"), ("trafo", "rate_mva"), ("hvdc", "max_p_mw")):
            for rec in tables.get(element, []):
                if rec.get(field) is None:
                    raise InvalidNetworkError(
                        f"{element} {shown(rec['id'])}: missing rating {field} (the file rates "
                        "other branches, so every line, transformer and HVDC link needs one)",
                        src,
                    )


def _groups(groups, src: str) -> dict[str, list[str]]:
    """Named groups of zones: each a list of zone names."""
    if groups is None:
        return {}
    if not isinstance(groups, dict):
        raise InvalidNetworkError(
            f"groups must map a name to a list of zones, not {shown(groups)}", src
        )
    out = {}
    for name, zones in groups.items():
        if not isinstance(zones, list):
            raise InvalidNetworkError(
                f"group {shown(name)}: {shown(zones)} is not a list of zones", src
            )
        for zone in zones:
            if isinstance(zone, bool) or not isinstance(zone, str | int):
                raise InvalidNetworkError(
                    f"group {shown(name)}: {shown(zone)} is not a zone name", src
                )
        out[str(name)] = [str(z) for z in zones]
    return out


def _check_dispatch(tables: dict[str, list[dict]], scenario: str | None, src: str) -> None:
    """Every in-service unit's ``p_mw`` within its ``min_p_mw`` and ``max_p_mw``."""
    for rec in tables.get("gen", []):
        if rec.get("in_service") is False or not _is_number(p := rec.get("p_mw", 0.0)):
            continue
        for field, beyond, word in (
            ("max_p_mw", lambda a, b: a > b, "above"),
            ("min_p_mw", lambda a, b: a < b, "below"),
        ):
            limit = rec.get(field)
            if _is_number(limit) and beyond(p, limit):
                what = f"gen {shown(rec['id'])}: p_mw = {p:g} MW is {word} {field} = {limit:g} MW"
                raise InvalidNetworkError(
                    _where(scenario, what) if scenario is not None else what, src
                )


def _interfaces(records, src: str) -> list[dict]:
    """The ``interface`` records, each checked in itself (members against the elements
    by :func:`gridsim.model.validate.validate_interfaces`)."""
    if not isinstance(records, list):
        raise InvalidNetworkError(f"interface must be a list of records, not {shown(records)}", src)
    fields = {c.name: c for c in INTERFACE}
    known = set(fields) | META_FIELDS | {"id", "members"}
    out = []
    for n, rec in enumerate(records, start=1):
        if not isinstance(rec, dict) or rec.get("id") is None:
            raise InvalidNetworkError(f"interface entry {n} is not a mapping with an id", src)
        rid = rec["id"]
        where = f"interface {shown(rid)}"
        bad = set(rec) - known
        if bad:
            raise InvalidNetworkError(f"{where}: unknown field(s) {_listed(bad)}", src)
        limit = rec.get("limit_mw")
        if not (_is_number(limit) and math.isfinite(limit) and limit > 0):
            raise InvalidNetworkError(
                f"{where}: limit_mw = {shown(limit)} must be a positive number of MW", src
            )
        kind = rec.get("kind", "ntc")
        if kind not in INTERFACE_KINDS:
            raise InvalidNetworkError(
                f"{where}: kind {shown(kind)} is not one of {', '.join(INTERFACE_KINDS)}", src
            )
        members = rec.get("members")
        if not isinstance(members, list) or not members:
            raise InvalidNetworkError(
                f"{where}: members must be a non-empty list of {{element, id, direction}}", src
            )
        checked = []
        for m in members:
            if not (
                isinstance(m, dict)
                and set(m) <= {"element", "id", "direction"}
                and m.get("element") in INTERFACE_MEMBERS
                and m.get("id") is not None
                and m.get("direction", 1) in (1, -1)
                and not isinstance(m.get("direction", 1), bool)
            ):
                raise InvalidNetworkError(
                    f"{where}: member {shown(m)} must be {{element, id, direction}} with "
                    f"element {', '.join(INTERFACE_MEMBERS)} and direction 1 or -1",
                    src,
                )
            checked.append(
                {"element": m["element"], "id": m["id"], "direction": m.get("direction", 1)}
            )
        _check_values(
            "interface",
            rid,
            {k: v for k, v in rec.items() if k != "members"},
            {"name", "kind"},
            src,
        )
        out.append({**rec, "members": checked})
    return out


# -- scenarios ------------------------------------------------------------------------------
def _where(name: str, detail: str) -> str:
    return f"scenario {shown(name)}: {detail}"


def _find(ref, tables: dict[str, list[dict]]) -> list[tuple[str, dict]]:
    """Records whose id is ``ref`` (or ``table:id``), in any table."""
    hits = []
    if isinstance(ref, str) and ":" in ref:
        element, _, rid = ref.partition(":")
        if element in tables:
            hits = [(element, r) for r in tables[element] if str(r["id"]) == rid]
            if hits:
                return hits
    for element, records in tables.items():
        hits.extend((element, r) for r in records if r["id"] == ref or str(r["id"]) == str(ref))
    return hits


def _check_scenario(name: str, spec, tables: dict[str, list[dict]], groups, src: str) -> None:
    if not isinstance(spec, dict):
        raise InvalidNetworkError(_where(name, "must be a mapping (year, include, ...)"), src)
    bad = set(spec) - SCENARIO_KEYS
    if bad:
        raise InvalidNetworkError(
            _where(
                name,
                f"unknown key(s) {_listed(bad)}; known: {', '.join(sorted(SCENARIO_KEYS))}",
            ),
            src,
        )
    year = spec.get("year")
    if year is not None and (not isinstance(year, int) or isinstance(year, bool)):
        raise InvalidNetworkError(_where(name, f"year {shown(year)} is not a whole year"), src)
    for key in ("include", "exclude"):
        refs = spec.get(key) or []
        if not isinstance(refs, list):
            raise InvalidNetworkError(_where(name, f"{key} must be a list of element ids"), src)
        for ref in refs:
            hits = _find(ref, tables)
            if not hits:
                raise InvalidNetworkError(
                    _where(name, f"{key} names element {shown(ref)}, which is not in the file"), src
                )
            if len(hits) > 1:
                raise InvalidNetworkError(
                    _where(
                        name,
                        f"{key} names {shown(ref)}, an id of {len(hits)} elements "
                        f"({', '.join(e for e, _ in hits)}); write table:id",
                    ),
                    src,
                )
    zones = {str(b.get("zone", "")) for b in tables.get("bus", [])}
    scale = spec.get("scale") or {}
    if not isinstance(scale, dict):
        raise InvalidNetworkError(_where(name, "scale must map load/sgen/gen to factors"), src)
    for element, factors in scale.items():
        if element not in SCALABLE:
            raise InvalidNetworkError(
                _where(name, f"scale: element {shown(element)} cannot be scaled (load, sgen, gen)"),
                src,
            )
        items = factors.items() if isinstance(factors, dict) else [("all zones", factors)]
        for zone, f in items:
            if isinstance(factors, dict) and str(zone) not in zones:
                raise InvalidNetworkError(
                    _where(name, f"scale: {element} zone {shown(zone)} has no bus in the file"), src
                )
            if not (_is_number(f) and f >= 0):
                raise InvalidNetworkError(
                    _where(
                        name,
                        f"scale: {element} {shown(zone)}: factor {shown(f)} is not a number >= 0",
                    ),
                    src,
                )
    edits = spec.get("set") or []
    if not isinstance(edits, list):
        raise InvalidNetworkError(
            _where(name, "set must be a list of {element, id, field, value}"), src
        )
    ids = {e: {r["id"] for r in recs} for e, recs in tables.items()}
    bus_ids = ids.get("bus", set())
    for n, edit in enumerate(edits, start=1):
        if not isinstance(edit, dict) or set(edit) != {"element", "id", "field", "value"}:
            raise InvalidNetworkError(
                _where(name, f"set entry {n} needs exactly element, id, field and value"), src
            )
        element, eid, field, value = edit["element"], edit["id"], edit["field"], edit["value"]
        for key in ("element", "id", "field", "value"):
            if isinstance(edit[key], list | dict | set):
                raise InvalidNetworkError(
                    _where(name, f"set entry {n}: {key} {shown(edit[key])} is not a single value"),
                    src,
                )
        if element not in SCHEMA and element != "interface":
            raise InvalidNetworkError(
                _where(name, f"set entry {n}: unknown element type {shown(element)}"), src
            )
        if eid not in ids.get(element, ()):
            raise InvalidNetworkError(
                _where(
                    name, f"set: {element} {shown(eid)} is not in the file (field {shown(field)})"
                ),
                src,
            )
        col = {c.name: c for c in SCHEMA.get(element, INTERFACE)}.get(field)
        if col is None:
            raise InvalidNetworkError(
                _where(name, f"set: {element} {shown(eid)} has no field {shown(field)}"), src
            )
        ok = {
            FLOAT: _is_number(value),
            BOOL: isinstance(value, bool),
            STR: isinstance(value, str),
            REF: value in bus_ids,
        }[col.kind]
        if not ok:
            want = {
                FLOAT: "a number",
                BOOL: "true or false",
                STR: "a string",
                REF: "a bus of the file",
            }[col.kind]
            raise InvalidNetworkError(
                _where(
                    name, f"set: {element} {shown(eid)}: {field} = {shown(value)} is not {want}"
                ),
                src,
            )
        if col.kind == FLOAT and col.allowed is not None and col.allowed.outside(value):
            raise InvalidNetworkError(
                _where(
                    name,
                    f"set: {element} {shown(eid)}: {field} = {shown(value)} must be {col.allowed}",
                ),
                src,
            )
    export = spec.get("export")
    if export is not None:
        if not isinstance(export, dict) or not (
            _is_number(export.get("mw")) and math.isfinite(export["mw"])
        ):
            raise InvalidNetworkError(
                _where(name, "export must be a mapping with mw (a number), source and sink"), src
            )
        for key in ("source", "sink"):
            z = export.get(key)
            if z is not None and str(z) not in zones and str(z) not in groups:
                raise InvalidNetworkError(
                    _where(name, f"export: {key} {shown(z)} is neither a zone nor a group"), src
                )


def _apply_scenario(name: str, spec: dict, tables: dict[str, list[dict]], src: str):
    """A new set of records with the scenario applied (the input is not touched)."""
    out = {e: [dict(r) for r in recs] for e, recs in tables.items()}
    year = spec.get("year")
    for recs in out.values():
        for rec in recs:
            status = rec.get("status")
            if status is None or rec.get("in_service") is False:
                continue
            on = status in IN_SERVICE_STATUSES
            if on and year is not None and rec.get("year") is not None:
                on = rec["year"] <= year
            rec["in_service"] = on
    for key, value in (("include", True), ("exclude", False)):
        for ref in spec.get(key) or []:
            (_, rec), *_ = _find(ref, out)
            rec["in_service"] = value
    zone_of = {r["id"]: str(r.get("zone", "")) for r in out.get("bus", [])}
    for element, factors in (spec.get("scale") or {}).items():
        for rec in out.get(element, []):
            if isinstance(factors, dict):
                f = factors.get(zone_of.get(rec.get("bus")))
                if f is None:
                    continue
            else:
                f = factors
            for field in SCALABLE[element]:
                if _is_number(rec.get(field)):
                    rec[field] = rec[field] * f
    edits = spec.get("set") or []
    by_id = {e: {r["id"]: r for r in out[e]} for e in {edit["element"] for edit in edits}}
    for edit in edits:  # ids are unique per table (checked before)
        by_id[edit["element"]][edit["id"]][edit["field"]] = edit["value"]
    return out


# -- reading YAML ----------------------------------------------------------------------------
# libyaml composes a document fastest, but it expands nothing lazily and recurses in C: an
# alias "billion laughs" or 20,000 nested brackets would exhaust memory or crash it. A file
# where an alias or such nesting is possible (a cheap look at the text, never wrong the
# unsafe way) is composed from the parser's events instead, with bounds.

#: Nodes that aliases may add to a document (each alias counts the nodes it repeats, its
#: own aliases expanded): a few shared blocks pass, an alias "billion laughs" does not.
ALIAS_NODES_MAX = 100_000
#: Deepest nesting of collections (a network file needs about 6).
DEPTH_MAX = 100
_INT_CHARS_MAX = 100  # longer integers (or sexagesimal 1:2:3:...) cost quadratic time
_MERGE = "tag:yaml.org,2002:merge"
_ALIAS = re.compile(r"\*[^\s,\[\]{}]")  # every alias: '*' and an anchor name
#: Nesting that libyaml's recursive composer survives with a 4x margin (it overflows an
#: 8 MB C stack at about 20,000 levels).
_C_DEPTH_SAFE = 5000

# libyaml's parser where PyYAML was built with it (its wheels are): 5-10x faster
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE_LOADER):
    """The safe loader, refusing integers too long to convert in linear time."""

    def construct_yaml_int(self, node):
        if len(node.value) > _INT_CHARS_MAX:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(node.value)} characters", node.start_mark
            )
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _refuse(message: str, mark, src: str) -> InvalidNetworkError:
    return InvalidNetworkError(f"line {mark.line + 1}, column {mark.column + 1}: {message}", src)


def _composed_by_libyaml(text: str) -> bool:
    """Whether libyaml is there and ``text`` can hold no alias and no nesting near
    :data:`_C_DEPTH_SAFE`.

    A block collection nested in another is indented further, or starts on its parent's
    line after an indicator (``- ``, ``key:``), except a sequence under a mapping key:
    so block nesting is at most twice the longest line. Flow nesting needs a bracket
    per level, or two levels per ``[`` for single-pair mappings (``[a: [b: c]]``).
    """
    if _BASE_LOADER is yaml.SafeLoader or _ALIAS.search(text):  # no libyaml, or an alias
        return False
    longest = max(map(len, text.split("\n")))
    return 2 * (longest + 1) + 2 * text.count("[") + text.count("{") <= _C_DEPTH_SAFE


def _check_key(seen: dict, key, src: str) -> None:
    """Refuse a scalar key given twice in one mapping (``seen``: keys so far, by value)."""
    if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
        return
    first = seen.setdefault((key.tag, key.value), key.start_mark)
    if first is not key.start_mark:
        raise _refuse(
            f"key {shown(key.value)} is given twice in one mapping (first at line "
            f"{first.line + 1})",
            key.start_mark,
            src,
        )


def _check_tree(root, src: str) -> None:
    """Refuse duplicate keys and nesting deeper than :data:`DEPTH_MAX` in a node tree.

    ``root`` holds no alias. Keys are compared as written, after tag resolution (keys
    merged in by ``<<`` may be overridden); the first problem in document order is named.
    """
    scalar = yaml.ScalarNode
    stack = [] if type(root) is scalar else [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > DEPTH_MAX:
            raise _refuse(f"nesting deeper than {DEPTH_MAX} levels", node.start_mark, src)
        if type(node) is yaml.MappingNode:
            pairs = node.value
            if len({k.value for k, _ in pairs if type(k) is scalar}) < len(pairs):
                seen: dict = {}  # a key may be repeated: look closely
                for key, _ in pairs:
                    _check_key(seen, key, src)
            children = [n for pair in pairs for n in pair if type(n) is not scalar]
        else:
            children = [n for n in node.value if type(n) is not scalar]
        if children:
            stack.extend((n, depth + 1) for n in reversed(children))


def _compose(loader, src: str):
    """The document's node graph, built from the parser's events without recursion.

    Refuses, naming the line, what the YAML composer would accept but a network file
    must not hold: nesting deeper than :data:`DEPTH_MAX` and a key written twice in one
    mapping (as :func:`_check_tree`), aliases that repeat more than
    :data:`ALIAS_NODES_MAX` nodes in all, an alias to a collection that contains it, an
    anchor defined twice and a second document.
    """
    events = yaml.events
    nodes = yaml.nodes
    get, resolve = loader.get_event, loader.resolve
    get()  # stream start
    if isinstance(get(), events.StreamEndEvent):
        return None
    anchors: dict[str, tuple] = {}  # name -> (node, expanded size, levels); size None: open
    stack: list[list] = []  # open collections: [node, size, anchor, levels, key, keys seen]
    aliased = 0
    root = None
    scalar, alias = events.ScalarEvent, events.AliasEvent
    seq_start, map_start = events.SequenceStartEvent, events.MappingStartEvent
    ends = (events.SequenceEndEvent, events.MappingEndEvent)
    while True:
        ev = get()
        cls = type(ev)
        if cls is scalar:
            tag = ev.tag
            if tag is None or tag == "!":
                tag = resolve(nodes.ScalarNode, ev.value, ev.implicit)
            node = nodes.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, style=ev.style)
            size, levels = 1, 0
        elif cls is alias:
            if ev.anchor not in anchors:
                raise _refuse(
                    f"alias *{ev.anchor[:40]} names no anchor before it", ev.start_mark, src
                )
            node, size, levels = anchors[ev.anchor]
            if size is None:
                raise _refuse(
                    f"alias *{ev.anchor[:40]} repeats a collection that contains it",
                    ev.start_mark,
                    src,
                )
            aliased += size
            if aliased > ALIAS_NODES_MAX:
                raise _refuse(
                    f"aliases repeat more than {ALIAS_NODES_MAX} nodes (alias *{ev.anchor[:40]})",
                    ev.start_mark,
                    src,
                )
            if len(stack) + levels > DEPTH_MAX:
                raise _refuse(
                    f"nesting deeper than {DEPTH_MAX} levels (alias *{ev.anchor[:40]})",
                    ev.start_mark,
                    src,
                )
        elif cls is seq_start or cls is map_start:
            kind = nodes.SequenceNode if cls is seq_start else nodes.MappingNode
            tag = ev.tag
            if tag is None or tag == "!":
                tag = resolve(kind, None, ev.implicit)
            node = kind(tag, [], ev.start_mark, None, flow_style=ev.flow_style)
            if len(stack) >= DEPTH_MAX:
                raise _refuse(f"nesting deeper than {DEPTH_MAX} levels", ev.start_mark, src)
            if ev.anchor is not None:
                if ev.anchor in anchors:
                    raise _refuse(f"anchor &{ev.anchor[:40]} is defined twice", ev.start_mark, src)
                anchors[ev.anchor] = (node, None, None)
            stack.append([node, 1, ev.anchor, 0, None, {} if kind is nodes.MappingNode else None])
            continue
        elif cls in ends:
            node, size, anchor, levels, _, _ = stack.pop()
            node.end_mark = ev.end_mark
            levels += 1
        elif cls is events.DocumentEndEvent:
            break
        else:  # pragma: no cover (the parser emits nothing else inside a document)
            raise _refuse(f"unexpected YAML event {cls.__name__}", ev.start_mark, src)
        if cls is scalar and ev.anchor is not None:
            if ev.anchor in anchors:
                raise _refuse(f"anchor &{ev.anchor[:40]} is defined twice", ev.start_mark, src)
            anchors[ev.anchor] = (node, 1, 0)
        elif cls in ends and anchor is not None:
            anchors[anchor] = (node, size, levels)
        if not stack:
            root = node
            continue
        parent = stack[-1]
        parent[1] += size
        if levels >= parent[3]:
            parent[3] = levels
        seen = parent[5]
        if seen is None:
            parent[0].value.append(node)
        elif parent[4] is None:
            parent[4] = node
            if cls is scalar:
                _check_key(seen, node, src)
        else:
            parent[0].value.append((parent[4], node))
            parent[4] = None
    ev = get()
    if not isinstance(ev, events.StreamEndEvent):
        raise _refuse("found another document; a network file holds one", ev.start_mark, src)
    return root


#: Parsed network files by (real path, modification time, size): the last few read, so
#: that loading one file's scenarios one by one parses it once (a 3 MB file takes
#: seconds). Only what parsed without error is kept; :func:`load_network` reads it and
#: never changes it.
_PARSED: dict[tuple, dict] = {}
_PARSED_MAX = 2
_CHECKED: dict[int, tuple] = {}  #: the checked tables of the last file loaded (by its data)


def _read_network_yaml(path: Path) -> dict:
    try:
        st = path.stat()
        key = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
    except OSError:
        return _read_yaml(path)  # says what is wrong with the path
    data = _PARSED.get(key)
    if data is None:
        data = _read_yaml(path)
        while len(_PARSED) >= _PARSED_MAX:
            del _PARSED[next(iter(_PARSED))]
        _PARSED[key] = data
    return data


def _read_yaml(path: Path) -> dict:
    src = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidNetworkError("no such file", src) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidNetworkError(f"cannot read file: {exc}", src) from None
    if not text.strip():
        raise InvalidNetworkError("file is empty", src)
    loader = _Loader(text)
    try:
        if _composed_by_libyaml(text):
            node = loader.get_single_node()
            if node is not None:
                _check_tree(node, src)
        else:
            node = _compose(loader, src)
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidNetworkError(f"YAML syntax error{where}: {problem[:200]}", src) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise InvalidNetworkError("expected a mapping of element tables at the top level", src)
    return data


_SCALARS = {str, int, float, type(None), datetime.date, datetime.datetime}


def _records(element: str, records, src: str) -> list[dict]:
    """The records of one table, each a mapping with an id and single values."""
    if not isinstance(records, list):
        raise InvalidNetworkError(
            f"{element} must be a list of records, not {type(records).__name__} {shown(records)}",
            src,
        )
    names = {c.name for c in SCHEMA[element] if c.kind == STR}
    known = {c.name for c in SCHEMA[element]} | META_FIELDS | {"id"}
    out = []
    seen = set()
    for n, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise InvalidNetworkError(f"{element} entry {n} is not a mapping: {shown(rec)}", src)
        rid = rec.get("id")
        if rid is None:
            raise InvalidNetworkError(f"{element} entry {n} has no id", src)
        if isinstance(rid, bool) or not isinstance(rid, str | int):
            raise InvalidNetworkError(
                f"{element} entry {n}: id {shown(rid)} is not a name or a whole number", src
            )
        if rid in seen:
            raise InvalidNetworkError(f"duplicate {element} id {shown(rid)}", src)
        seen.add(rid)
        bad = set(rec) - known
        if bad:
            raise InvalidNetworkError(
                f"{element} {shown(rid)}: unknown field(s) {_listed(bad)}", src
            )
        types = set(map(type, rec.values()))
        if not types <= _SCALARS or bool in types:  # rare: look for the field to name
            _check_values(element, rid, rec, names, src)
        out.append(rec)
    return out


def _check_values(element: str, rid, rec: dict, names: set[str], src: str) -> None:
    """Refuse a list, mapping or binary data as a field's value, and true/false as a
    name."""
    for field, value in rec.items():
        if isinstance(value, list | dict | set | bytes):  # bytes: a !!binary value
            raise InvalidNetworkError(
                f"{element} {shown(rid)}: {field} = {shown(value)} is a "
                f"{type(value).__name__}, not a single value",
                src,
            )
        if isinstance(value, bool) and field in names:
            raise InvalidNetworkError(
                f"{element} {shown(rid)}: {field} = {value} is true/false, not a name "
                "(YAML reads yes/no/on/off so: write the name in quotes)",
                src,
            )


def _number(value, name: str, src: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidNetworkError(f"{name} = {shown(value)} is not a number", src)
    try:
        return float(value)
    except OverflowError:  # an integer beyond float's range
        raise InvalidNetworkError(f"{name} = {shown(value)} is too large", src) from None
