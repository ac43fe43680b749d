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

Checks made for YAML files on top of the generic validation (MATPOWER and pandapower
equivalents legitimately break them): a line's ``x_ohm_per_km`` must be positive and its
``r_ohm_per_km`` not negative; a transformer's ``vk_percent`` positive and
``vkr_percent`` not negative; and a file that rates any branch (``rate_mva``) must rate
every line and transformer, and every HVDC link (``max_p_mw``).

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

import os
from pathlib import Path

import yaml

from gridsim.exceptions import InvalidNetworkError
from gridsim.model.network import Network
from gridsim.model.schema import BOOL, ELEMENTS, FLOAT, REF, SCHEMA, STR

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
    data = _read_yaml(Path(path))
    unknown = set(data) - HEADER_KEYS - set(ELEMENTS)
    if unknown:
        raise InvalidNetworkError(
            f"unknown top-level key(s) {sorted(map(str, unknown))}; element tables are "
            f"{', '.join(ELEMENTS)}",
            src,
        )
    version = data.get("gridsim", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise InvalidNetworkError(f"format version {version!r} is not supported (expected 1)", src)
    tables = {}
    for element in ELEMENTS:
        records = data.get(element)
        if records is None:
            continue
        tables[element] = _records(element, records, src)
    _check_file_rules(tables, src)
    groups = data.get("groups") or {}
    if not isinstance(groups, dict) or not all(isinstance(v, list) for v in groups.values()):
        raise InvalidNetworkError("groups must map a name to a list of zones", src)
    groups = {str(k): [str(z) for z in v] for k, v in groups.items()}

    scenarios = data.get("scenarios") or {}
    if not isinstance(scenarios, dict):
        raise InvalidNetworkError("scenarios must map a scenario name to its overlay", src)
    scenarios = {str(k): v for k, v in scenarios.items()}
    for name, spec in scenarios.items():  # check them all: no broken overlay lurks
        _check_scenario(name, spec, tables, groups, src)
    default = data.get("default_scenario")
    if default is not None and str(default) not in scenarios:
        raise InvalidNetworkError(
            f"default_scenario {default!r} is not defined "
            f"(scenarios: {', '.join(scenarios) or 'none'})",
            src,
        )
    chosen = scenario if scenario is not None else default
    info = None
    if chosen is not None:
        chosen = str(chosen)
        if chosen not in scenarios:
            raise InvalidNetworkError(
                f"scenario {chosen!r} is not defined (scenarios: {', '.join(scenarios) or 'none'})",
                src,
            )
        tables = _apply_scenario(chosen, scenarios[chosen], tables, src)
        spec = scenarios[chosen]
        info = {
            "name": chosen,
            "year": spec.get("year"),
            "description": str(spec.get("description", "")),
        }
    net = Network(
        tables,
        sn_mva=_number(data.get("sn_mva", 100.0), "sn_mva", src),
        f_hz=_number(data.get("f_hz", 50.0), "f_hz", src),
        trafo_model=str(data.get("trafo_model", "t")),
        name=str(data.get("name", Path(path).stem)),
        source=src,
    )
    net.groups = groups
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


# -- checks that apply to hand-written files ----------------------------------------------
def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_file_rules(tables: dict[str, list[dict]], src: str) -> None:
    """Impedance signs, ratings, status and year (see the module docstring)."""
    for element, records in tables.items():
        for rec in records:
            status = rec.get("status")
            if status is not None and status not in STATUSES:
                raise InvalidNetworkError(
                    f"{element} {rec['id']!r}: status {status!r} is not one of "
                    f"{', '.join(STATUSES)}",
                    src,
                )
            year = rec.get("year")
            if year is not None and (not isinstance(year, int) or isinstance(year, bool)):
                raise InvalidNetworkError(
                    f"{element} {rec['id']!r}: year {year!r} is not a whole year", src
                )
            limit = rec.get("limit_mw")
            if limit is not None and not (_is_number(limit) and limit > 0):
                raise InvalidNetworkError(
                    f"{element} {rec['id']!r}: limit_mw = {limit!r} must be a positive number",
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
                        f"{element} {rec['id']!r}: {field} = {v!r}: negative or zero "
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
                        f"{element} {rec['id']!r}: missing rating {field} (the file rates "
                        "other branches, so every line, transformer and HVDC link needs one)",
                        src,
                    )


# -- scenarios ------------------------------------------------------------------------------
def _where(name: str, detail: str) -> str:
    return f"scenario {name!r}: {detail}"


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
                f"unknown key(s) {', '.join(sorted(map(str, bad)))}; known: "
                f"{', '.join(sorted(SCENARIO_KEYS))}",
            ),
            src,
        )
    year = spec.get("year")
    if year is not None and (not isinstance(year, int) or isinstance(year, bool)):
        raise InvalidNetworkError(_where(name, f"year {year!r} is not a whole year"), src)
    for key in ("include", "exclude"):
        refs = spec.get(key) or []
        if not isinstance(refs, list):
            raise InvalidNetworkError(_where(name, f"{key} must be a list of element ids"), src)
        for ref in refs:
            hits = _find(ref, tables)
            if not hits:
                raise InvalidNetworkError(
                    _where(name, f"{key} names element {ref!r}, which is not in the file"), src
                )
            if len(hits) > 1:
                raise InvalidNetworkError(
                    _where(
                        name,
                        f"{key} names {ref!r}, an id of {len(hits)} elements "
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
                _where(name, f"scale: element {element!r} cannot be scaled (load, sgen, gen)"),
                src,
            )
        items = factors.items() if isinstance(factors, dict) else [("all zones", factors)]
        for zone, f in items:
            if isinstance(factors, dict) and str(zone) not in zones:
                raise InvalidNetworkError(
                    _where(name, f"scale: {element} zone {zone!r} has no bus in the file"), src
                )
            if not (_is_number(f) and f >= 0):
                raise InvalidNetworkError(
                    _where(name, f"scale: {element} {zone}: factor {f!r} is not a number >= 0"),
                    src,
                )
    edits = spec.get("set") or []
    if not isinstance(edits, list):
        raise InvalidNetworkError(
            _where(name, "set must be a list of {element, id, field, value}"), src
        )
    bus_ids = {r["id"] for r in tables.get("bus", [])}
    for n, edit in enumerate(edits, start=1):
        if not isinstance(edit, dict) or set(edit) != {"element", "id", "field", "value"}:
            raise InvalidNetworkError(
                _where(name, f"set entry {n} needs exactly element, id, field and value"), src
            )
        element, eid, field, value = edit["element"], edit["id"], edit["field"], edit["value"]
        if element not in SCHEMA:
            raise InvalidNetworkError(
                _where(name, f"set entry {n}: unknown element type {element!r}"), src
            )
        if not any(r["id"] == eid for r in tables.get(element, [])):
            raise InvalidNetworkError(
                _where(name, f"set: {element} {eid!r} is not in the file (field {field!r})"), src
            )
        col = {c.name: c for c in SCHEMA[element]}.get(field)
        if col is None:
            raise InvalidNetworkError(
                _where(name, f"set: {element} {eid!r} has no field {field!r}"), src
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
                _where(name, f"set: {element} {eid!r}: {field} = {value!r} is not {want}"), src
            )
    export = spec.get("export")
    if export is not None:
        if not isinstance(export, dict) or not _is_number(export.get("mw")):
            raise InvalidNetworkError(
                _where(name, "export must be a mapping with mw (a number), source and sink"), src
            )
        for key in ("source", "sink"):
            z = export.get(key)
            if z is not None and str(z) not in zones and str(z) not in groups:
                raise InvalidNetworkError(
                    _where(name, f"export: {key} {z!r} is neither a zone nor a group"), src
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
    for edit in spec.get("set") or []:
        for rec in out[edit["element"]]:
            if rec["id"] == edit["id"]:
                rec[edit["field"]] = edit["value"]
    return out


# libyaml's parser where PyYAML was built with it (its wheels are): 5-10x faster
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidNetworkError(f"YAML syntax error{where}: {problem}", src) from None
    if not isinstance(data, dict):
        raise InvalidNetworkError("expected a mapping of element tables at the top level", src)
    return data


def _records(element: str, records, src: str) -> list[dict]:
    if not isinstance(records, list):
        raise InvalidNetworkError(f"{element} must be a list of records", src)
    known = {c.name for c in SCHEMA[element]} | META_FIELDS | {"id"}
    out = []
    for n, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise InvalidNetworkError(f"{element} entry {n} is not a mapping", src)
        if "id" not in rec or rec["id"] is None:
            raise InvalidNetworkError(f"{element} entry {n} has no id", src)
        bad = set(rec) - known
        if bad:
            raise InvalidNetworkError(
                f"{element} {rec['id']!r}: unknown field(s) {', '.join(sorted(map(str, bad)))}", src
            )
        out.append(rec)
    return out


def _number(value, name: str, src: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidNetworkError(f"{name} = {value!r} is not a number", src)
    return float(value)
