"""Substation-level topology of the corridor from the GridKit extract of the ENTSO-E map.

One bus per GridKit station and voltage level (the extract already has exactly one),
lines with ``circuits`` as ``parallel``, GridKit's inferred transformers, and every
foreign bus that a modelled country's line reaches kept as a boundary bus of its
country. Components that reach no neighbouring country (isolated pieces of the map:
stubs of unfinished lines, stations drawn without their connections) are dropped, with
a logged count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: Countries modelled in full at 220 kV and above.
MODELLED = ("GE", "TR", "BG", "RO", "RS", "HU", "GR", "MK", "AL", "ME", "BA", "HR", "XK", "AZ")
#: Nominal voltage of each ENTSO-E voltage class (lower bound in the extract).
VN_KV = {220: 220, 300: 330, 380: 400, 500: 500, 750: 750}
#: Kosovo is not tagged in the 2018 map (its buses carry RS): a polygon of the border
#: (lon, lat; approximate, derived from the border's course) reassigns them.
KOSOVO = [
    (20.03, 42.55),
    (20.35, 42.85),
    (20.78, 43.27),
    (21.20, 43.10),
    (21.58, 42.90),
    (21.78, 42.68),
    (21.57, 42.24),
    (21.10, 42.20),
    (20.60, 41.86),
    (20.52, 42.22),
    (20.06, 42.36),
]
_COUNTRY = re.compile(r'"country"=>"([A-Z]*)"')
_NAME = re.compile(r'"name"=>"([^"]*)"')


def _inside(lon: float, lat: float, poly: list[tuple[float, float]]) -> bool:
    """Whether the point lies inside the polygon (ray casting)."""
    inside = False
    n = len(poly)
    for i in range(n):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % n]
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _tag(pattern: re.Pattern, tags) -> str:
    m = pattern.search(tags) if isinstance(tags, str) else None
    return m.group(1) if m else ""


def haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


@dataclass
class Topology:
    """Buses, lines and transformers taken from the map, with what was dropped."""

    buses: pd.DataFrame  #: index gridkit bus_id; id, country, vn_kv, station, x, y, name, role
    lines: pd.DataFrame  #: gridkit lines kept (bus0/bus1 gridkit ids)
    trafos: pd.DataFrame  #: gridkit transformers kept
    generators: pd.DataFrame  #: gridkit generators at kept buses (bus = gridkit id)
    log: list[str] = field(default_factory=list)


def read(folder: Path) -> dict[str, pd.DataFrame]:
    """The extract's CSV files (quote character ``'``)."""
    names = ("buses", "lines", "transformers", "generators", "links")
    return {n: pd.read_csv(folder / f"{n}.csv", quotechar="'") for n in names}


def countries(buses: pd.DataFrame) -> pd.Series:
    """Country of each bus: its tag, the nearest tagged bus for joints, XK by polygon."""
    tagged = buses.tags.map(lambda t: _tag(_COUNTRY, t))
    known = buses[tagged != ""]
    out = tagged.copy()
    for bid in buses.index[tagged == ""]:
        d = (known.x - buses.x[bid]) ** 2 + (known.y - buses.y[bid]) ** 2
        out[bid] = tagged[d.idxmin()]
    for bid in buses.index[out == "RS"]:
        if _inside(buses.x[bid], buses.y[bid], KOSOVO):
            out[bid] = "XK"
    return out


def build(folder: Path) -> Topology:
    """Topology of the modelled countries at 220 kV and above, with boundary buses."""
    raw = read(folder)
    b = raw["buses"].set_index("bus_id")
    b = b[(b.dc != "t") & b.voltage.isin(list(VN_KV))].copy()
    b["country"] = countries(b)
    log = []
    lines = raw["lines"]
    lines = lines[lines.bus0.isin(b.index) & lines.bus1.isin(b.index)]
    c0 = b.country.reindex(lines.bus0).to_numpy()
    c1 = b.country.reindex(lines.bus1).to_numpy()
    mod0, mod1 = pd.Series(c0).isin(MODELLED).to_numpy(), pd.Series(c1).isin(MODELLED).to_numpy()
    lines = lines[mod0 | mod1].copy()
    ends = set(lines.bus0) | set(lines.bus1)
    keep = b.index[b.country.isin(MODELLED) | b.index.isin(ends)]
    b = b.loc[keep]
    tr = raw["transformers"]
    tr = tr[tr.bus0.isin(b.index) & tr.bus1.isin(b.index)].copy()
    # a foreign bus stays only as the end of a line from a modelled country
    tr = tr[b.country.reindex(tr.bus0).isin(MODELLED).to_numpy()]
    # connected components (lines and transformers)
    parent = {i: i for i in b.index}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for u, v in list(zip(lines.bus0, lines.bus1, strict=True)) + list(
        zip(tr.bus0, tr.bus1, strict=True)
    ):
        parent[find(u)] = find(v)
    comp = pd.Series({i: find(i) for i in b.index})
    foreign = ~b.country.isin(MODELLED)
    with_border = set(comp[foreign])
    ok = comp.map(lambda c: c in with_border)
    dropped = b.index[~ok.reindex(b.index).to_numpy()]
    if len(dropped):
        log.append(f"dropped {len(dropped)} buses in {comp[dropped].nunique()} isolated pieces")
    b = b.drop(dropped)
    n_lines = len(lines)
    lines = lines[lines.bus0.isin(b.index) & lines.bus1.isin(b.index)]
    tr = tr[tr.bus0.isin(b.index) & tr.bus1.isin(b.index)]
    log.append(f"dropped {n_lines - len(lines)} lines of dropped pieces")
    b["vn_kv"] = b.voltage.map(VN_KV).astype(int)
    b["id"] = [f"{c}_{s}_{v}" for c, s, v in zip(b.country, b.station_id, b.vn_kv, strict=True)]
    b["role"] = [
        "boundary" if c not in MODELLED else ("joint" if s == "joint" else "station")
        for c, s in zip(b.country, b.symbol, strict=True)
    ]
    gens = raw["generators"]
    gens = gens[gens.bus_id.isin(b.index)].copy()
    gens["name"] = gens.tags.map(lambda t: _tag(_NAME, t))
    gens = gens[b.country.reindex(gens.bus_id).isin(MODELLED).to_numpy()]
    names = gens.groupby("bus_id").name.agg(lambda s: " / ".join(sorted(set(s) - {""})))
    b["name"] = names.reindex(b.index).fillna("")
    return Topology(b, lines, tr, gens, log)
