"""The network around Niš and the three candidate sites of the Niš CCGT.

The ENTSO-E map has nothing below 220 kV, so the 110 kV network that Niš 2 (400/220/110
kV), Leskovac 2 (400/110 kV) and Kruševac 1 (220/110 kV) feed is added here: the
substations the brief and the sources name, at estimated positions, joined by 110 kV
lines of the standard type (route length = great-circle distance x LENGTH_FACTOR). The
map's load shares of those three stations move down to their 110 kV buses
(``LOAD_SPLIT``). Everything here is ``estimated`` unless it says otherwise.

The CCGT (500 MW, S03; 2029, S02) gets one connection option per candidate site, each
``proposed`` (out of service unless a scenario includes it):

- Krušce/Kruševac village north of Niš (S02): a double-circuit 400 kV line to Niš 2;
- Trupale, by the gas metering station (S05): an in-out connection of the Jagodina 4 -
  Niš 2 400 kV line, which passes west of Niš;
- Niška Banja: an in-out connection of the Niš 2 - Sofia West 400 kV line, which runs
  east up the Nišava valley.

The connection schemes are not published (S02 leaves the site to a detailed plan): these
are the schemes a connection study would look at first (estimated). The site scenarios
``<year>_nis_<site>`` take the year's winter peak and run the CCGT at full output, the
other Serbian units lowered in proportion to their output by the same MW, so that the
three differ only by the site.
"""

from __future__ import annotations

import copy

from .caucasus import LENGTH_FACTOR
from .elements import GEN_VM, Q_RANGE, line_record, trafo_record
from .topology import haversine_km

NIS2, LESKOVAC2, KRUSEVAC1 = "RS_2735", "RS_2772", "RS_2732"  #: map stations (S26)
JAGODINA4_NIS2, NIS2_SOFIA = "L4236", "L14699"  #: the map's lines the in-outs cut (S26)
#: 110 kV substations (id, name, lat, lon), positions estimated (town centres); the map's
#: stations at their map positions.
SUBSTATIONS_110 = [
    ("RS_NIS1_110", "Niš 1 110 kV", 43.320, 21.900),
    ("RS_NISKABANJA_110", "Niška Banja 110 kV", 43.293, 22.000),
    ("RS_ALEKSINAC_110", "Aleksinac 110 kV", 43.541, 21.707),
    ("RS_PROKUPLJE_110", "Prokuplje 110 kV", 43.234, 21.588),
]
#: Transformers to 110 kV at the map's stations: (hv voltage, name, units), the standard
#: type of the voltage pair; Kruševac 1 with 3 units (estimated: with 2, the loss of one
#: overloads the other at the winter peaks, the city's whole load being on its 110 kV).
TRANSFORMERS_110 = {
    NIS2: (400, "Niš 2", 2),
    LESKOVAC2: (400, "Leskovac 2", 2),
    KRUSEVAC1: (220, "Kruševac 1", 3),
}
#: 110 kV lines (from, to, circuits), estimated. Niš 2-Niš 1 feeds the city (about
#: 140 MW at the winter peaks): three circuits, so that it stays within its rating after
#: the loss of one.
LINES_110 = [
    (f"{NIS2}_110", "RS_NIS1_110", 3),
    (f"{NIS2}_110", "RS_NISKABANJA_110", 1),
    ("RS_NIS1_110", "RS_NISKABANJA_110", 1),
    ("RS_NIS1_110", "RS_ALEKSINAC_110", 1),
    ("RS_ALEKSINAC_110", f"{KRUSEVAC1}_110", 1),
    ("RS_NIS1_110", "RS_PROKUPLJE_110", 1),
    ("RS_PROKUPLJE_110", f"{LESKOVAC2}_110", 1),
]
#: The load share (dispatch.load_weights) of each map station -> its 110 kV buses
#: (estimated from the population each one serves: the city of Niš ~260,000 on Niš 1 and
#: Niš 2, Aleksinac, Prokuplje and Niška Banja municipalities ~40,000-50,000 each).
LOAD_SPLIT = {
    f"{NIS2}_220": {
        "RS_NIS1_110": 0.45,
        f"{NIS2}_110": 0.2,
        "RS_ALEKSINAC_110": 0.13,
        "RS_PROKUPLJE_110": 0.13,
        "RS_NISKABANJA_110": 0.09,
    },
    f"{LESKOVAC2}_400": {f"{LESKOVAC2}_110": 1.0},
    f"{KRUSEVAC1}_220": {f"{KRUSEVAC1}_110": 1.0},
}
GEN = "G_RS_NIS_CCGT"
CCGT_MW = 500.0  #: S03 (~500 MW; S04: ~350 MWe + 150 MWth in a CHP variant)
#: Candidate sites (S02, S05; positions from corridor_data.yaml, estimated there) and
#: their connection: a radial double circuit to Niš 2, or the map line cut in and out.
SITES = {
    "krusce": ("Krušce/Kruševac village", "RS_NISCCGT_KRUSEVAC", None),
    "trupale": ("Trupale", "RS_NISCCGT_TRUPALE", JAGODINA4_NIS2),
    "niskabanja": ("Niška Banja", "RS_NISCCGT_NISKABANJA", NIS2_SOFIA),
}
SITE_YEARS = (2030, 2032)  #: winter peaks with the site scenarios (CCGT from 2029)
PROPOSED = {"status": "proposed", "year": 2029}


def _km(a: dict, b: dict) -> float:
    return LENGTH_FACTOR * haversine_km(a["lon"], a["lat"], b["lon"], b["lat"])


def add_network(model: dict, data: dict, types: dict, log: list[str]) -> None:
    """Add the 110 kV network around Niš and the CCGT's connection options in place."""
    bus = {b["id"]: b for b in model["bus"]}
    new = []
    for station, (vhv, name, units) in TRANSFORMERS_110.items():
        hv = bus[f"{station}_{vhv}"]
        new.append(
            {
                "id": f"{station}_110",
                "name": f"{name} 110 kV",
                "vn_kv": 110,
                "zone": "RS",
                "lat": hv["lat"],
                "lon": hv["lon"],
                "min_vm_pu": 0.9,
                "max_vm_pu": 1.1,
                "source": "estimated",
                "note": f"110 kV side of map station {station} (the map has no 110 kV)",
                "area": hv["area"],
            }
        )
        rec = trafo_record(
            f"T_{station}_{vhv}_110",
            hv["id"],
            f"{station}_110",
            vhv,
            110,
            types,
            "estimated",
            f"{name} {vhv}/110 kV",
        )
        if units != rec["parallel"]:
            rec["note"] += f"; {units} units here (estimated)"
            rec |= {"parallel": units, "rate_mva": rec["sn_mva"] * units}
        model["trafo"].append(rec)
    for bid, name, lat, lon in SUBSTATIONS_110:
        new.append(
            {
                "id": bid,
                "name": name,
                "vn_kv": 110,
                "zone": "RS",
                "lat": lat,
                "lon": lon,
                "min_vm_pu": 0.9,
                "max_vm_pu": 1.1,
                "source": "estimated",
                "note": "110 kV substation around Niš, position estimated (town centre)",
                "area": "CE",
            }
        )
    model["bus"] += new
    bus |= {b["id"]: b for b in new}
    for f, t, n in LINES_110:
        model["line"].append(
            line_record(
                f"L_{f}_{t}",
                f,
                t,
                110,
                _km(bus[f], bus[t]),
                n,
                types,
                "estimated",
                f"110 kV line around Niš; length {LENGTH_FACTOR} x great-circle",
            )
        )
    lines = {ln["id"]: ln for ln in model["line"]}
    sites = {s["id"]: s for s in data["substations"]}
    n2 = bus[f"{NIS2}_400"]
    for key, (name, sid, cut) in SITES.items():
        s = sites[sid]
        model["bus"].append(
            {
                "id": sid,
                "name": f"Niš CCGT site {name} 400 kV",
                "vn_kv": 400,
                "zone": "RS",
                "lat": s["lat"],
                "lon": s["lon"],
                "min_vm_pu": 0.9,
                "max_vm_pu": 1.05,
                "source": "S02, S05; estimated",
                "note": f"candidate site of the Niš CCGT ({key}); position from corridor_data",
                "area": "CE",
            }
            | PROPOSED
        )
        if cut is None:
            model["line"].append(
                line_record(
                    f"L_{sid}",
                    sid,
                    n2["id"],
                    400,
                    _km(s, n2),
                    2,
                    types,
                    "estimated",
                    f"connection of the Niš CCGT at {name}: double circuit to Niš 2; "
                    f"length {LENGTH_FACTOR} x great-circle",
                    **PROPOSED,
                )
            )
            continue
        ln = lines[cut]
        ends = [bus[ln["from_bus"]], bus[ln["to_bus"]]]
        d = [haversine_km(e["lon"], e["lat"], s["lon"], s["lat"]) for e in ends]
        for end, dist in zip(("from", "to"), d, strict=True):
            km = ln["length_km"] * dist / sum(d)
            model["line"].append(
                ln
                | {
                    "id": f"{cut}_{key}_{end}",
                    "from_bus": ln[f"{end}_bus"],
                    "to_bus": sid,
                    "length_km": round(max(km, 0.1), 3),
                    "source": f"{ln['source']}; derived: in-out at the site",
                    "note": f"{cut} cut in and out at the Niš CCGT site {name}: its "
                    f"{end} end's share of the map length by great-circle distance",
                }
                | PROPOSED
            )
    model["gen"].append(
        {
            "id": GEN,
            "name": "Niš CCGT (EPS/SOCAR)",
            "bus": SITES["krusce"][1],
            "p_mw": 0.0,
            "min_p_mw": 0.0,
            "max_p_mw": CCGT_MW,
            "vm_pu": GEN_VM,
            "min_q_mvar": Q_RANGE[0] * CCGT_MW,
            "max_q_mvar": Q_RANGE[1] * CCGT_MW,
            "source": "S02, S03, S04",
            "note": "gas; candidate sites switched in by the <year>_nis_<site> scenarios",
        }
        | PROPOSED
    )
    log.append(
        f"Niš: {len(new)} 110 kV buses, {len(LINES_110)} 110 kV lines, "
        f"{len(TRANSFORMERS_110)} transformers to 110 kV, {len(SITES)} CCGT sites"
    )


def split_loads(weights: dict[str, float]) -> None:
    """Move the load shares of Niš 2, Leskovac 2 and Kruševac 1 to their 110 kV buses."""
    for bid, split in LOAD_SPLIT.items():
        w = weights.pop(bid)
        for to, share in split.items():
            weights[to] = weights.get(to, 0.0) + w * share


def site_scenarios(model: dict) -> None:
    """Add ``<year>_nis_<site>``: the year's winter peak with the CCGT at full output at
    one site, the other Serbian units lowered in proportion to their output."""
    zone = {b["id"]: b["zone"] for b in model["bus"]}
    rs = {g["id"] for g in model["gen"] if zone[g["bus"]] == "RS" and g["id"] != GEN}
    lines = {ln["id"]: ln for ln in model["line"]}
    for year in SITE_YEARS:
        base = model["scenarios"][f"{year}_winter_peak"]
        out = [
            s
            for s in base["set"]
            if s["element"] == "gen" and s["id"] in rs and s["field"] == "p_mw"
        ]
        total = sum(s["value"] for s in out)
        for key, (name, sid, cut) in SITES.items():
            spec = copy.deepcopy(base)
            if cut is None:
                spec["include"] = [sid, f"L_{sid}", GEN]
                how = "double circuit to Niš 2"
            else:
                spec["include"] = [sid, f"{cut}_{key}_from", f"{cut}_{key}_to", GEN]
                spec["exclude"] = [cut]
                ln = lines[cut]
                how = f"in-out of {cut} ({ln['from_bus']} - {ln['to_bus']})"
            for s in spec["set"]:
                if s["element"] == "gen" and s["id"] in rs and s["field"] == "p_mw":
                    s["value"] = round(s["value"] * (1 - CCGT_MW / total), 1)
            spec["set"] += [
                {"element": "gen", "id": GEN, "field": "bus", "value": sid},
                {"element": "gen", "id": GEN, "field": "p_mw", "value": CCGT_MW},
            ]
            spec["description"] = (
                f"{year} winter peak with the Niš CCGT ({CCGT_MW:g} MW) at {name} ({how}); "
                f"the other Serbian units lowered in proportion to their output by as much"
            )
            model["scenarios"][f"{year}_nis_{key}"] = spec
