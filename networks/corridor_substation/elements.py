"""Element records of the substation-level model: map topology + standard types + the
corridor data set's Azerbaijani network and HVDC assets + boundary equivalents.

Provenance per record (``source``): ``S26`` (the ENTSO-E map extract; topology, lengths,
circuits, generator capacities), the type's source for electrical parameters (written in
``note``), corridor_data ids (``S##``), ``estimated`` or ``derived: <rule>``.
"""

from __future__ import annotations

import math

from .topology import Topology, haversine_km

MAP = "S26"  #: the ENTSO-E map extract (GridKit, PyPSA distribution)
#: Voltage limits (p.u.) per nominal voltage (estimated, as in caspian_eu).
VOLTAGE_LIMITS = {750: (0.9, 1.05), 500: (0.9, 1.05), 400: (0.9, 1.05), 330: (0.9, 1.1)}
DEFAULT_LIMITS = (0.9, 1.1)
#: The Akhaltsikhe station (GridKit station 2349): its 400 kV side runs with Türkiye (CE),
#: its 500/220 kV side with the UPS; the back-to-back HVDC joins them, not a transformer.
AKHALTSIKHE = 2349
#: GE-TR and AM-TR AC lines not operated synchronously (Batumi-Muratli 220 kV radial/island
#: operation, Gyumri-Kars 220 kV out of operation): written out of service.
ASYNC_TIES = {("GE", "TR", 220), ("AM", "TR", 220)}
#: Generator technologies of the map -> model carriers.
CARRIER = {
    "Nuclear": "nuclear",
    "Brown coal/Lignite": "lignite",
    "Hard coal": "coal",
    "Fossil gas": "gas",
    "Mixed fuels": "gas",
    "Fossil fuel": "gas",
    "Other fossil fuels": "gas",
    "Fossil oil": "oil",
    "Hydro run of river & pondage": "hydro_ror",
    "Hydro pure storage": "hydro_storage",
    "Hydro mixed pump storage": "hydro_storage",
    "Hydro pure pump storage": "hydro_storage",
    "Wind farm": "wind",
    "Solar": "solar",
    "Geothermal": "other",
    "Biomass": "other",
    "Waste (renewable)": "other",
    "Other or not listed": "other",
    "Substations + Power Plants": "other",
}
RES = {"wind", "solar"}
#: A conventional plant (its map units of one carrier at one bus) of at least this many
#: MW at a station with a higher voltage level is connected at the station's highest
#: level: the map attaches a plant to one bus of its station, while large units feed the
#: EHV network (Kozloduy, Maritsa East 2, TENT A/B, Portile de Fier: 400 kV), and a plant
#: of several hundred MW on 220 kV lines of 490 MVA could not be evacuated after an
#: outage (estimated rule).
EHV_PLANT_MW = 500.0
#: Map generators (GridKit generator_id) that were never built: id -> source
#: (networks/data/SOURCES.md). Their capacity is not lost: the country's installed capacity
#: from the balances goes to REST units (scenarios.add_rest_units).
NOT_BUILT = {793: "D86", 794: "D87"}  # Sinop TES (Akfen), Gerze TES: cancelled coal
EHV_NOTE = f"connected at the station's highest voltage (plants >= {EHV_PLANT_MW:.0f} MW)"
#: Generator Q limits as a share of max_p_mw: over-excited to the rated power factor
#: GEN_PF (Q = P tan(acos 0.85) = 0.62 P; estimated: the usual rating of large synchronous
#: generators), under-excited 0.3 P (estimated). The builder sets them on the unit's largest
#: capacity over the scenario years (a map unit scaled 1.5 x has 1.5 x the machines).
GEN_PF = 0.85
Q_RANGE = (-0.3, round(math.tan(math.acos(GEN_PF)), 3))
GEN_VM = 1.02  #: generator voltage setpoint (estimated)
#: Units of the large map plants (a name pattern of the map's plant -> number of units;
#: sourced, D88): Kozloduy 5-6 2 x 1,000 MW, Paks 4 units, Cernavodă 2 x 700 MW, Atatürk
#: 8 x 300 MW, Karakaya 6 x 300 MW. Each unit is the plant's capacity / units.
PLANT_UNITS = {"Kozloduy": 2, "Paks": 4, "Cernavoda": 2, "Atatürk": 8, "Karakaya": 6}
#: Typical unit size per carrier (MW) for the other conventional plants and the REST fleet:
#: a plant becomes round(capacity / size) equal units, at least 1 (estimated).
UNIT_MW = {
    "nuclear": 1000.0,
    "lignite": 300.0,
    "coal": 300.0,
    "gas": 400.0,
    "oil": 200.0,
    "hydro_storage": 200.0,
    "hydro_ror": 100.0,
    "other": 100.0,
}
#: Shunt reactors on long EHV lines (documented rule, estimated): lines of 330 kV and
#: above longer than REACTOR_MIN_KM get REACTOR_SHARE of their charging compensated by
#: reactors that switch with the line (see compensate_lines).
REACTOR_MIN_KM = 60.0
REACTOR_SHARE = 0.7
#: Capacitor banks at load buses fed by at most this many branches (see radial_capacitors):
#: the load proxy's firm in-feed (dispatch.FIRM_CIRCUITS), so that a station not firmly
#: fed keeps its voltage after the loss of one feeder (estimated rule; with 2, Iaşi's
#: 220 kV collapsed after the loss of the Bacău-Gutinaş 400 kV line L8251).
CAP_DEGREE = 3


def _b_us(t: dict) -> float:
    return round(2 * math.pi * 50 * t["c_nf_per_km"] * 1e-3, 4)


def _rate(t: dict, vn: float) -> float:
    return round(math.sqrt(3) * vn * t["i_ka"], 1)


def _limits(vn: float) -> tuple[float, float]:
    return VOLTAGE_LIMITS.get(int(vn), DEFAULT_LIMITS)


def line_record(lid, f, t, vn, km, parallel, types, source, note, **extra) -> dict:
    """A line of the standard type of its voltage level."""
    ty = types["lines"][int(vn)]
    rec = {
        "id": lid,
        "from_bus": f,
        "to_bus": t,
        "length_km": round(max(km, 0.1), 3),
        "r_ohm_per_km": ty["r_ohm_per_km"],
        "x_ohm_per_km": ty["x_ohm_per_km"],
        "b_us_per_km": _b_us(ty),
        "parallel": parallel,
        "rate_mva": round(_rate(ty, vn) * parallel, 1),
        "rating_kind": "thermal",
        "source": source,
        "note": f"{note}; type {ty['type']} ({ty['source']})",
    }
    rec.update(extra)
    return rec


def trafo_record(tid, hv, lv, vhv, vlv, types, source, note, units=None, **extra) -> dict:
    """A transformer of the standard type of its voltage pair (``units`` in parallel:
    the type's number unless given)."""
    ty = types["transformers"][f"{int(vhv)}/{int(vlv)}"]
    units = units or ty["units"]
    rec = {
        "id": tid,
        "hv_bus": hv,
        "lv_bus": lv,
        "sn_mva": ty["sn_mva"],
        "vn_hv_kv": vhv,
        "vn_lv_kv": vlv,
        "vk_percent": ty["vk_percent"],
        "vkr_percent": ty["vkr_percent"],
        "parallel": units,
        "rate_mva": ty["sn_mva"] * units,
        "rating_kind": "thermal",
        "source": source,
        "note": f"{note}; {units} x {ty['sn_mva']} MVA ({ty['source']})",
    }
    rec.update(extra)
    return rec


def map_elements(top: Topology, types: dict, names: dict[int, str]) -> dict:
    """Buses, lines, transformers and generators from the map extract."""
    b = top.buses
    ids = b.id.to_dict()
    buses = []
    for gid, r in b.iterrows():
        # a neighbour's boundary bus: its voltage is its TSO's business (DEFAULT_LIMITS)
        lo, hi = _limits(r.vn_kv) if r.role != "boundary" else DEFAULT_LIMITS
        uc = r.under_construction == "t"
        name = names.get(gid) or r["name"]
        rec = {
            "id": r.id,
            "name": name,
            "vn_kv": int(r.vn_kv),
            "zone": r.country,
            "lat": round(float(r.y), 5),
            "lon": round(float(r.x), 5),
            "min_vm_pu": lo,
            "max_vm_pu": hi,
            "source": MAP,
            "note": f"GridKit bus {gid}, station {r.station_id} ({r.role})"
            + ("; under construction in May 2018, assumed in service by 2026" if uc else ""),
        }
        if not name:
            del rec["name"]
        buses.append(rec)
    lines = []
    for _, r in top.lines.iterrows():
        f, t = ids[r.bus0], ids[r.bus1]
        vn = int(b.vn_kv[r.bus0])
        c0, c1 = b.country[r.bus0], b.country[r.bus1]
        key = (*sorted((c0, c1)), vn)
        extra = {}
        note = f"GridKit line {r.line_id}, {r.circuits} circuit(s), {r.length / 1000:.1f} km"
        if key in ASYNC_TIES:
            extra["in_service"] = False
            note += "; not operated synchronously (radial/island operation or disused)"
        if r.under_construction:
            note += "; under construction in May 2018, assumed in service by 2026"
        lines.append(
            line_record(
                f"L{r.line_id}",
                f,
                t,
                vn,
                r.length / 1000,
                int(r.circuits),
                types,
                f"{MAP}; derived: standard type per voltage level",
                note,
                **extra,
            )
        )
    trafos = []
    for _, r in top.trafos.iterrows():
        v0, v1 = int(b.vn_kv[r.bus0]), int(b.vn_kv[r.bus1])
        if AKHALTSIKHE == b.station_id[r.bus0] and 400 in (v0, v1):
            continue  # the back-to-back HVDC, not a transformer (see AKHALTSIKHE)
        hv, lv = (r.bus0, r.bus1) if v0 > v1 else (r.bus1, r.bus0)
        trafos.append(
            trafo_record(
                f"T{r.transformer_id}",
                ids[hv],
                ids[lv],
                max(v0, v1),
                min(v0, v1),
                types,
                f"{MAP}; derived: standard type per voltage pair",
                f"GridKit transformer {r.transformer_id} (inferred by GridKit, no rating)",
            )
        )
    gens, sgens = [], []
    g = top.generators.assign(carrier=top.generators.technology.map(CARRIER))
    dropped = g[(g.capacity <= 0) | g.carrier.isna()]
    top.log.append(
        f"dropped {len(dropped)} map generators without capacity or technology "
        f"({', '.join(sorted(set(dropped.technology.astype(str))))})"
    )
    g = g.drop(dropped.index)
    never = g[g.generator_id.isin(list(NOT_BUILT))]
    top.log.append(
        f"dropped {len(never)} map generators never built ({', '.join(sorted(never.name))})"
    )
    g = g.drop(never.index)
    g["bus_id"] = _ehv_connection(g, b, top.log)
    for (bus, carrier), grp in g.groupby(["bus_id", "carrier"], sort=True):
        cap = round(float(grp.capacity.sum()), 1)
        name = " / ".join(sorted(set(grp.name) - {""}))
        rec = {
            "id": f"G_{ids[bus]}_{carrier}",
            "name": name or carrier,
            "bus": ids[bus],
            "p_mw": 0.0,
            "min_p_mw": 0.0,
            "max_p_mw": cap,
            "source": MAP,
            "note": f"{carrier}; {len(grp)} map unit(s) ({', '.join(map(str, grp.generator_id))})"
            + ("; " + EHV_NOTE if grp.moved.any() else ""),
        }
        if carrier in RES:
            rec["id"] = "S" + rec["id"][1:]
            sgens.append(rec)
        else:
            rec |= {
                "vm_pu": GEN_VM,
                "min_q_mvar": round(Q_RANGE[0] * cap, 1),
                "max_q_mvar": round(Q_RANGE[1] * cap, 1),
            }
            gens.extend(units(rec))
    return {"bus": buses, "line": lines, "trafo": trafos, "gen": gens, "sgen": sgens}


def units(rec: dict, suffix: str = "") -> list[dict]:
    """A conventional plant's record as its units (PLANT_UNITS by name, else UNIT_MW by
    carrier): equal shares of its capacity and reactive limits, ids ``<id>_u<i>`` before
    ``suffix`` (a plant of one unit keeps its record and id)."""
    carrier = rec["note"].split(";")[0]
    n = next((k for pat, k in PLANT_UNITS.items() if pat in rec.get("name", "")), None)
    rule = "D88" if n else f"typical {UNIT_MW[carrier]:.0f} MW units, estimated"
    n = n or max(1, round(rec["max_p_mw"] / UNIT_MW[carrier]))
    if n == 1:
        return [rec]
    stem = rec["id"][: len(rec["id"]) - len(suffix)]
    return [
        rec
        | {
            "id": f"{stem}_u{i}{suffix}",
            "max_p_mw": round(rec["max_p_mw"] / n, 1),
            "min_q_mvar": round(rec["min_q_mvar"] / n, 1),
            "max_q_mvar": round(rec["max_q_mvar"] / n, 1),
            "note": f"{rec['note']}; unit {i} of {n} ({rule})",
        }
        for i in range(1, n + 1)
    ]


def _ehv_connection(g, buses, log: list[str]):
    """Bus of each map generator: a conventional plant of at least EHV_PLANT_MW (its map
    units of one carrier at one bus) at a station with a higher voltage level is moved
    to the station's highest level (see EHV_PLANT_MW). Sets ``g.moved``."""
    stations = buses[buses.role == "station"]
    top = stations.reset_index().sort_values(["vn_kv", "bus_id"]).groupby("station_id").last()
    size = g.groupby(["bus_id", "carrier"]).capacity.transform("sum")
    st = buses.station_id.reindex(g.bus_id).to_numpy()
    to = top.reindex(st)
    higher = (to.vn_kv.to_numpy() > buses.vn_kv.reindex(g.bus_id).to_numpy()) & (
        buses.role.reindex(g.bus_id).to_numpy() == "station"
    )
    g["moved"] = (size.to_numpy() >= EHV_PLANT_MW) & ~g.carrier.isin(RES).to_numpy() & higher
    log.append(
        f"connected {g.moved.sum()} map units of {len(set(g.bus_id[g.moved]))} plants "
        f"(>= {EHV_PLANT_MW:.0f} MW) at their station's highest voltage"
    )
    return g.bus_id.where(~g.moved, to.bus_id.to_numpy())


def nearest(buses: list[dict], lat: float, lon: float, vn: int, zones=None) -> dict:
    """The bus of voltage ``vn`` (in ``zones``) nearest to a point."""
    cands = [b for b in buses if b["vn_kv"] == vn and (zones is None or b["zone"] in zones)]
    return min(cands, key=lambda b: (haversine_km(lon, lat, b["lon"], b["lat"]), b["id"]))


def _degree(model: dict) -> dict[str, int]:
    """Number of lines and transformers at each bus."""
    degree: dict[str, int] = {}
    for ln in model["line"]:
        for end in ("from_bus", "to_bus"):
            degree[ln[end]] = degree.get(ln[end], 0) + 1
    for t in model["trafo"]:
        for end in ("hv_bus", "lv_bus"):
            degree[t[end]] = degree.get(t[end], 0) + 1
    return degree


def compensate_lines(model: dict) -> None:
    """Shunt reactors of long EHV lines (rule: REACTOR_SHARE of the charging of lines of
    330 kV and above longer than REACTOR_MIN_KM), folded into the line's susceptance.

    Line reactors are switched with their line, so they are part of it: in the pi model a
    reactor at each end is the same as a smaller net charging, and when the line trips its
    reactors go with it (bus shunts would stay and pull the voltages down after the
    outage). ``b_us_per_km`` becomes the net charging; the note says what was compensated.
    """
    vn_of = {b["id"]: b["vn_kv"] for b in model["bus"]}
    for ln in model["line"]:
        vn = vn_of[ln["from_bus"]]
        if vn < 330 or ln["length_km"] < REACTOR_MIN_KM or ln.get("in_service") is False:
            continue
        q = vn**2 * ln["b_us_per_km"] * 1e-6 * ln["length_km"] * ln["parallel"]
        ln["b_us_per_km"] = round(ln["b_us_per_km"] * (1 - REACTOR_SHARE), 4)
        ln["source"] += "; line reactors (estimated rule)"
        ln["note"] += (
            f"; line reactors ({ln['length_km']:.0f} km >= {REACTOR_MIN_KM:.0f} km at "
            f"{vn:g} kV) compensate {REACTOR_SHARE:.0%} of its {q:.0f} Mvar charging, "
            "folded into b_us_per_km (net charging; they switch with the line)"
        )


def areas(model: dict, seeds: dict[str, str]) -> dict[str, str]:
    """Synchronous area of every bus: the AC component of a bus of a seed zone.

    ``seeds`` maps a zone (RU, AT) to the name of its area (UPS, CE).
    """
    adj: dict[str, list[str]] = {b["id"]: [] for b in model["bus"]}
    for ln in model["line"]:
        if ln.get("in_service", True):
            adj[ln["from_bus"]].append(ln["to_bus"])
            adj[ln["to_bus"]].append(ln["from_bus"])
    for t in model["trafo"]:
        adj[t["hv_bus"]].append(t["lv_bus"])
        adj[t["lv_bus"]].append(t["hv_bus"])
    area: dict[str, str] = {}
    for b in model["bus"]:
        if b["zone"] not in seeds:
            continue
        stack = [b["id"]]
        while stack:
            n = stack.pop()
            if n not in area:
                area[n] = seeds[b["zone"]]
                stack.extend(adj[n])
    return area


def radial_capacitors(model: dict, degree_max: int = CAP_DEGREE) -> list[dict]:
    """Capacitor banks at load buses fed by at most ``degree_max`` branches (rule: each
    compensates its load's reactive power at the 2026 winter peak; estimated)."""
    degree = _degree(model)
    out = []
    for d in model["load"]:
        if d["id"].startswith("D_") and degree.get(d["bus"], 0) <= degree_max and d["q_mvar"] > 0:
            out.append(
                {
                    "id": f"C_{d['bus']}",
                    "bus": d["bus"],
                    "q_mvar": -round(d["q_mvar"], 1),
                    "max_step": 1,
                    "source": "derived: the load's reactive power at the 2026 winter peak",
                    "note": f"capacitor bank of a substation fed by {degree[d['bus']]} branch(es) "
                    "(rule: radial substations compensate their load's reactive power; one "
                    "switched step)",
                }
            )
    return out
