"""The corridor's published cross-border limits as interfaces (flowgates) of the model.

One ``interface:`` record (network format, networks/README.md "Interfaces (flowgates)")
per published figure of ``networks/data/borders_ntc.yaml`` that has a number:

- a border and direction (``borders``): the sum of the flows from the exporting zone
  into the importing one over every AC line, transformer and HVDC link joining the two
  zones (direction +1 where the element's from end is in the exporting zone), or over
  the interconnector the entry's ``select`` names where one border has several limited
  separately (``kv``: the ties at that voltage; ``hvdc`` and ``direction``: one link);
- a group of borders (``interfaces``, e.g. Türkiye's export to continental Europe over
  the TR-BG and TR-GR ties together): the members of all its borders.

A published figure belongs to the grid of its period: the members are the ties in
service then (not ``proposed``, in service from the first year the period names or
earlier, not written out of service). A figure with no such member in the model (the
border's zone is not modelled, Italy; or its interconnector is not, the Nakhchivan 154 kV
island link) gives no record; an NTC of 0 MW (no allocation agreed) gives none either, as
an interface's limit must be positive. Nothing else is dropped, and nothing is invented:
``limit_mw``, ``kind``, ``source`` and ``note`` are the file's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Elements that may join two zones, with the fields of their two ends (from, to).
ENDS = {
    "line": ("from_bus", "to_bus"),
    "trafo": ("hv_bus", "lv_bus"),
    "hvdc": ("from_bus", "to_bus"),
}


def period_year(period: str | None) -> int | None:
    """The first year a period names (``"from Dec 2020"`` -> 2020), None if it names none."""
    found = re.search(r"\b(19|20)\d\d\b", period or "")
    return int(found.group()) if found else None


def _in_service(rec: dict, year: int | None) -> bool:
    """Whether an element is in service in a figure's year (by the model's metadata)."""
    if rec.get("status") == "proposed" or rec.get("in_service") is False:
        return False
    return year is None or rec.get("year") is None or rec["year"] <= year


def border_members(
    model: Mapping[str, list[dict]],
    exporter: str,
    importer: str,
    year: int | None = None,
    select: Mapping | None = None,
) -> list[dict]:
    """Members ``{element, id, direction}`` of the interface ``exporter -> importer``.

    Parameters
    ----------
    model : mapping
        The builder's tables: ``bus`` (records with ``id`` and ``zone``), ``line``,
        ``trafo`` and ``hvdc`` (records with their end buses, optional ``status``,
        ``year``, ``in_service``).
    exporter, importer : str
        Zone codes.
    year : int, optional
        The figure's year: only elements in service then count (module docstring).
    select : mapping, optional
        ``{"kv": V}``: only the ties whose buses are at V kV; ``{"hvdc": id,
        "direction": 1 or -1}``: that link alone (it may lie inside one zone, as a
        back-to-back converter does), whatever the zones.

    Returns
    -------
    list of dict
        In the order of the tables (line, trafo, hvdc) and of the records.
    """
    select = select or {}
    if "hvdc" in select:
        return [
            {"element": "hvdc", "id": r["id"], "direction": int(select["direction"])}
            for r in model.get("hvdc", [])
            if r["id"] == select["hvdc"] and _in_service(r, year)
        ]
    zone = {b["id"]: b.get("zone") for b in model["bus"]}
    kv = {b["id"]: b.get("vn_kv") for b in model["bus"]}
    out = []
    for element, (fb, tb) in ENDS.items():
        for r in model.get(element, []):
            ends = (zone[r[fb]], zone[r[tb]])
            if set(ends) != {exporter, importer} or exporter == importer:
                continue
            if "kv" in select and {kv[r[fb]], kv[r[tb]]} != {select["kv"]}:
                continue
            if _in_service(r, year):
                direction = 1 if ends[0] == exporter else -1
                out.append({"element": element, "id": r["id"], "direction": direction})
    return out


def _pair(direction: str) -> tuple[str, str]:
    exporter, importer = (s.strip() for s in direction.split("->"))
    return exporter, importer


def interface_records(model: Mapping[str, list[dict]], limits: Mapping) -> list[dict]:
    """The ``interface:`` records of the published limits (module docstring).

    Parameters
    ----------
    model : mapping
        The builder's tables (see :func:`border_members`).
    limits : mapping
        ``networks/data/borders_ntc.yaml`` as read: ``borders`` (entries ``from``,
        ``to``, ``ntc_mw``, ``kind``, ``period``, ``source``, ``note``, optional
        ``path`` and ``select``) and ``interfaces`` (entries ``id``, ``borders`` as
        ``"A->B"``, ``ntc_mw``, ``kind``, ``period``, ``source``, ``note``).

    Returns
    -------
    list of dict
        Records ``id``, ``name``, ``members``, ``limit_mw``, ``kind``, ``source``,
        ``note``, in the file's order; ids ``IF_<from>_<to>`` (``_<kv>KV`` or
        ``_<link>`` for a selected interconnector) and ``IF_<group id>``.

    Raises
    ------
    ValueError
        When two figures would give the same id.
    """
    out = []
    for b in limits.get("borders", []):
        if not b.get("ntc_mw"):
            continue
        year = period_year(b.get("period"))
        select = b.get("select") or {}
        members = border_members(model, b["from"], b["to"], year, select)
        if not members:
            continue
        suffix = f"_{select['kv']}KV" if "kv" in select else f"_{select.get('hvdc', '')}"
        rid = f"IF_{b['from']}_{b['to']}" + (suffix if select else "")
        name = f"{b['from']}->{b['to']}" + (f" {b['path']}" if b.get("path") else "")
        out.append(_record(rid, name, members, b, year))
    for g in limits.get("interfaces", []):
        year = period_year(g.get("period"))
        per_border = [border_members(model, *_pair(d), year) for d in g["borders"]]
        if not all(per_border):  # a border of the group is not in the model
            continue
        members = [m for ms in per_border for m in ms]
        out.append(_record(f"IF_{g['id']}", " + ".join(g["borders"]), members, g, year))
    ids = [r["id"] for r in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"published limits give the same interface id twice: {dup}")
    return out


def _record(rid: str, name: str, members: list[dict], entry: Mapping, year: int | None) -> dict:
    period = entry.get("period", "")
    note = f"published {entry['kind']} limit, {period}: {entry.get('note', '')}".rstrip(": ")
    if year is not None:
        note += f"; members: those in service in {year}"
    return {
        "id": rid,
        "name": name,
        "members": members,
        "limit_mw": float(entry["ntc_mw"]),
        "kind": entry["kind"],
        "source": entry.get("source", ""),
        "note": note + " (networks/data/borders_ntc.yaml)",
    }
