"""gridsim network files (YAML): element tables written by hand.

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

Records may also carry the metadata fields :data:`META_FIELDS` (provenance, status,
commissioning year, notes); any other unknown field is an error, so a misspelt field
name is caught rather than silently ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from gridsim.exceptions import InvalidNetworkError
from gridsim.model.network import Network
from gridsim.model.schema import ELEMENTS, SCHEMA

FORMAT_VERSION = 1
HEADER_KEYS = {"gridsim", "name", "sn_mva", "f_hz", "trafo_model", "groups", "description"}
META_FIELDS = {"source", "status", "year", "note", "rating_kind", "country", "operator"}


def load_network(path: str | os.PathLike, scenario: str | None = None) -> Network:
    """Read a gridsim YAML network file.

    Parameters
    ----------
    path : str or path-like
        The ``.yaml`` file.
    scenario : str, optional
        Scenario to apply (files without scenarios accept none).

    Returns
    -------
    Network

    Raises
    ------
    InvalidNetworkError
        Naming the file, the element and the field, for any problem; nothing is
        half-loaded.
    """
    src = str(path)
    data = _read_yaml(Path(path))
    unknown = set(data) - HEADER_KEYS - set(ELEMENTS) - {"scenarios"}
    if unknown:
        raise InvalidNetworkError(
            f"unknown top-level key(s) {sorted(unknown)}; element tables are {', '.join(ELEMENTS)}",
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
    if scenario is not None:
        names = sorted((data.get("scenarios") or {}).keys())
        raise InvalidNetworkError(
            f"scenario {scenario!r} is not defined (scenarios: {', '.join(names) or 'none'})", src
        )
    net = Network(
        tables,
        sn_mva=_number(data.get("sn_mva", 100.0), "sn_mva", src),
        f_hz=_number(data.get("f_hz", 50.0), "f_hz", src),
        trafo_model=str(data.get("trafo_model", "t")),
        name=str(data.get("name", Path(path).stem)),
        source=src,
    )
    groups = data.get("groups") or {}
    if not isinstance(groups, dict) or not all(isinstance(v, list) for v in groups.values()):
        raise InvalidNetworkError("groups must map a name to a list of zones", src)
    net.groups = {str(k): [str(z) for z in v] for k, v in groups.items()}
    return net


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
        data = yaml.safe_load(text)
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
