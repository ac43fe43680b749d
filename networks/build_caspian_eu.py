"""Build networks/caspian_eu.yaml from the corridor data set (../shared/corridor/).

Usage::

    python networks/build_caspian_eu.py [path/to/corridor_data.yaml] [-o networks/caspian_eu.yaml]

The YAML file is the model; this script documents how each field was derived from
``corridor_data.yaml`` and computes the scenario dispatch (generator outputs and HVDC
setpoints written as each scenario's ``set`` entries). Every modelling choice that is
not in the data set is in the ``ASSUMPTIONS`` constants below and in networks/README.md.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "corridor" / "corridor_data.yaml"
DEFAULT_OUT = HERE / "caspian_eu.yaml"

# -- modelling assumptions (estimated; see networks/README.md) ---------------------------
VOLTAGE_LIMITS = {500: (0.9, 1.05), 400: (0.9, 1.05), 330: (0.9, 1.1), 220: (0.9, 1.1)}
DEFAULT_LIMITS = (0.9, 1.1)
LOAD_POWER_FACTOR = 0.98  # all loads, lagging, at transmission level (estimated)
RES_CARRIERS = {"solar", "wind", "offshore_wind", "solar_wind_mix"}
RES_OUTPUT = {"solar": 0.6, "wind": 0.3, "offshore_wind": 0.4, "solar_wind_mix": 0.45}
Q_RANGE = (-0.3, 0.5)  # generator Q limits as a fraction of p_max (estimated)
GEN_VM = {500: 1.03, 400: 1.03, 330: 1.04, 220: 1.03, 154: 1.0}
# HVDC reactive capability per converter end as a fraction of the rating (estimated):
# LCC back-to-back: switched filters and controls; VSC: +-40 % of P.
HVDC_Q = {"back_to_back": 0.25, "fixed_exchange": 0.4, "cable_vsc": 0.4, "overhead_vsc": 0.4}
HVDC_Q_DEFAULT = 0.4
# Slacks, one per AC island: the Russian UPS behind Georgia/Azerbaijan, the rest of
# continental Europe behind Hungary, Nakhchivan's own plants while it is an island.
SLACKS = {"RU_CENTRALNAYA_500": "ext_RU_UPS", "EU_CE_SINK": "ext_EU_CE"}
NAX_LOCAL = {
    "id": "G_AZ_NAX_LOCAL",
    "bus": "AZ_NAKHCHIVAN_154",
    "p_max": 300,
    "note": "estimated equivalent of Nakhchivan's own plants (not in the data set); "
    "slack of the Nakhchivan island until the Zangezur line joins it to the UPS",
}
# Scheduled exchanges at boundary buses of the UPS island (load = export from AZ/GE;
# data set scenario 2026 'export_destination_split_mw_assumed': RU 300, IR 200).
BOUNDARY_EXCHANGE = {"RU_DERBENT_330": 300, "IR_PARSABAD_330": 200}
# Deviations from corridor_data.yaml (all on 'estimated' figures), see README.
DEVIATIONS = {
    "G_TR_MARMARA": {"p_max_mw": 24000},
    "G_TR_CENTRAL": {"p_max_mw": 45000},
    # Istanbul-Thrace equivalent: 3 circuits in the data set carry less than Thrace's
    # own load plus any transit; 4 assumed (Thrace has more 400 kV feeds and plants).
    "L_TR_05": {"circuits": 4},
}
# Niš CCGT: Kruševac (village in Niš) is the data set's base; the others are alternatives.
NIS_SITES = {
    "krusevac": ("RS_NISCCGT_KRUSEVAC", "L_NIS_K"),
    "trupale": ("RS_NISCCGT_TRUPALE", "L_NIS_T"),
    "niskabanja": ("RS_NISCCGT_NISKABANJA", "L_NIS_B"),
}
NIS_GEN = "G_RS_NIS_CCGT"

# Scenario defaults: export from AZ generation to the sink, split over HVDC links.
SCENARIOS = {
    "2026": {
        "year": 2026,
        "hvdc": {"DC_AKH_B2B": 500, "DC_NAX_ISLAND": 0},
        "export_note": "AZ -> GE -> Akhaltsikhe B2B -> TR -> BG -> RS; 500 MW is the "
        "TR->CE interface limit (S33, 2014 value)",
    },
    "2030": {
        "year": 2030,
        "hvdc": {"DC_AKH_B2B": 400, "DC_NAX_CONV": 400},
        "export_note": "B2B 400 + Nakhchivan converter 400 MW via TR. The assumed 2030 "
        "TR->CE interface is 1,100 MW (S33 + S34), but the estimated Istanbul-Thrace "
        "equivalent (L_TR_05) and the Nis 2 - Krusevac 1 220 kV line limit the transit",
    },
    "2032": {
        "year": 2032,
        "hvdc": {
            "DC_AKH_B2B": 400,
            "DC_NAX_CONV": 400,
            "DC_AZGE_ONSHORE": 1300,
            "DC_BLACKSEA_1": 1300,
        },
        "export_note": "Black Sea cable 1,300 MW (S20) fed by the onshore AZ-GE HVDC, to "
        "RO; plus 800 MW via TR to RS (B2B 400 + Nakhchivan 400; L_TR_05 and Nis 2 - "
        "Krusevac 1 220 kV limit more)",
    },
}
EXPORT_SINK = "RS"
SINK_GENS = ["G_RS_TENTA", "G_RS_TENTB", "G_RS_KOSTOLAC"]
# Losses allowed for when dispatching each zone's plants (share of its load; estimated,
# so that the slacks carry only a small balance).
LOSS_ALLOWANCE = {
    "TR": 0.012,
    "RO": 0.015,
    "BG": 0.015,
    "HU": 0.01,
    "RS": 0.015,
    "AZ": 0.02,
    "GE": 0.02,
}
# Fixed dispatch where proportional dispatch would be unrealistic (estimated):
# Bajina Basta has only 220 kV outlets until its 400 kV upgrade (2027); the Nis CCGT runs
# at 350 MW electrical (S04); Baku's own plants run high (the 330/220 kV supply is finite).
FIXED_DISPATCH = {
    "G_RS_NIS_CCGT": lambda year: 350.0,
    "G_RS_BAJINABASTA": lambda year: 450.0 if year < 2027 else None,
}
PRIORITY_SHARE = {"G_AZ_SHIMAL": 0.95, "G_AZ_BAKU_OTH": 0.95}
# Baku 220 kV supply: the data set's 4 x 400 MVA 330/220 kV units cannot carry the
# assumed load growth; one more unit per step of growth is assumed (estimated).
REINFORCE = {2030: {"T_AZ_ABS_330_220": 5}, 2032: {"T_AZ_ABS_330_220": 6}}
# Published limits (the data set's interface_limits and the lines' p_limit_mw_total) as
# interfaces (flowgates, kind ntc): data-set id -> (zones from, zones to, elements) with
# the members' directions taken from their buses' zones. A line's own limit is written
# in the export direction (from its from_bus). The TR->CE limit changes with the year:
# the latest record whose year is reached; the 2031 record (1,800 MW) assumes the new
# BG-TR line L_TRBG_03, proposed, so it is not used.
BORDER_INTERFACES = {
    "IF_TR_to_CE": ({"TR"}, {"BG", "GR"}),
    "IF_CE_to_TR": ({"BG", "GR"}, {"TR"}),
    "IF_RS_to_HU": ({"RS"}, {"HU"}),
}
LINK_INTERFACES = {"IF_GE_to_TR_B2B": ("DC_AKH_B2B", 1), "IF_NAX_TR": ("DC_NAX_ISLAND", 1)}
LINE_INTERFACES = {"IF_AZ_to_GE_500": "L_AZGE_01", "IF_AZ_to_GE_330": "L_AZGE_02"}
# lines whose p_limit_mw_total is part of an interface above, not a limit of its own
LINE_LIMIT_IN_INTERFACE = {"L_TRGR_02": "IF_TR_to_CE"}
TR_CE_BY_YEAR = (("IF_TR_to_CE", 2014), ("IF_TR_to_CE_2030_assumed", 2030))


def sources_of(text) -> str:
    """'S15, S41', 'estimated', or 'S40; partly estimated' from a data-set source text."""
    text = str(text or "")
    ids = list(dict.fromkeys(re.findall(r"S\d\d", text)))
    if not ids:
        return "estimated"
    est = "estimat" in text.lower() or "assum" in text.lower()
    return ", ".join(ids) + ("; partly estimated" if est else "")


def clean(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None and v != ""}


def in_service(rec: dict, year: int) -> bool:
    status = rec.get("status", "existing")
    if status == "proposed":
        return False
    return rec.get("year") is None or rec["year"] <= year


def build(data: dict) -> dict:
    subs = {s["id"]: s for s in data["substations"]}
    ltypes = data["line_types"]
    out: dict = {
        "gridsim": 1,
        "name": "caspian_eu",
        "description": "Azerbaijan -> Georgia / Turkiye / Black Sea HVDC -> Romania, "
        "Bulgaria, Hungary -> Serbia export corridor, built from ../shared/corridor "
        "(corridor_data.yaml, SOURCES.md) by networks/build_caspian_eu.py",
        "sn_mva": 100,
        "f_hz": 50,
        "trafo_model": "t",
        "groups": {
            "EU": ["RO", "BG", "HU", "GR", "HR", "EU"],
            "CE": ["TR", "BG", "GR", "RO", "HU", "RS", "XK", "MK", "HR", "BA", "ME", "EU"],
            "UPS": ["AZ", "GE", "RU", "AM", "IR"],
            "WB": ["RS", "XK", "MK", "BA", "ME"],
            "RS_RO": ["RS", "RO"],
        },
        "default_scenario": "2026",
    }
    # buses
    buses = []
    for s in data["substations"]:
        lo, hi = VOLTAGE_LIMITS.get(s["v_kv"], DEFAULT_LIMITS)
        coord = s.get("coord_source", "estimated")
        src = sources_of(s.get("notes", "")) if s.get("notes") else None
        if src in (None, "estimated"):
            src = sources_of(coord)
        buses.append(
            clean(
                {
                    "id": s["id"],
                    "name": s["name"],
                    "vn_kv": s["v_kv"],
                    "zone": s["country"],
                    "area": s["sync_area"],
                    "lat": s["lat"],
                    "lon": s["lon"],
                    "min_vm_pu": lo,
                    "max_vm_pu": hi,
                    "status": s.get("status", "existing"),
                    "year": s.get("in_service_year"),
                    "source": src,
                    "note": f"role {s.get('role')}; coordinates: {coord}",
                }
            )
        )
    # Armenia's equivalent is reached only by the GE-AM 500 kV line (2027): the bus comes
    # with it (an isolated bus cannot be solved; see README)
    for b in buses:
        if b["id"] == "AM_NORTH_500":
            b["year"] = 2027
            b["note"] += "; in service with L_GE_12 (2027), its only connection in the model"
    # alternatives of the Niš CCGT site are 'proposed': one site per scenario
    for site, (bus, _line) in NIS_SITES.items():
        if site != "krusevac":
            for b in buses:
                if b["id"] == bus:
                    b["status"] = "proposed"
                    b["note"] += "; alternative Niš CCGT site (data set: planned 2029)"
    out["bus"] = buses
    # lines
    lines = []
    for ln in data["lines"]:
        t = ltypes[ln["type"]]
        c = DEVIATIONS.get(ln["id"], {}).get("circuits", ln.get("circuits", 1))
        note = f"type {ln['type']}; {c} circuit(s) x {ln['s_nom_mva_per_circuit']} MVA thermal"
        if c != ln.get("circuits", 1):
            note += f" ({ln.get('circuits', 1)} circuits in the data set; see README)"
        if ln.get("notes"):
            note += f"; {ln['notes']}"
        rec = {
            "id": ln["id"],
            "from_bus": ln["bus0"],
            "to_bus": ln["bus1"],
            "length_km": ln["length_km"],
            "r_ohm_per_km": t["r_ohm_km"],
            "x_ohm_per_km": t["x_ohm_km"],
            "b_us_per_km": t["b_us_km"],
            "parallel": c,
            "rate_mva": ln["s_nom_mva_per_circuit"] * c,
            "rating_kind": "thermal",
            "status": ln.get("status", "existing"),
            "year": ln.get("in_service_year"),
            "source": sources_of(ln.get("source")),
            "note": note,
        }
        if ln["id"] in [v[1] for k, v in NIS_SITES.items() if k != "krusevac"]:
            rec["status"] = "proposed"
            rec["note"] += "; alternative Niš CCGT connection (data set: planned 2029)"
        lines.append(clean(rec))
    out["line"] = lines
    # transformers
    trafos = []
    for tr in data["transformers"]:
        r, x = tr["r_pu_own_base"], tr["x_pu_own_base"]
        trafos.append(
            clean(
                {
                    "id": tr["id"],
                    "hv_bus": tr["bus_hv"],
                    "lv_bus": tr["bus_lv"],
                    "sn_mva": tr["s_nom_mva_per_unit"],
                    "vn_hv_kv": subs[tr["bus_hv"]]["v_kv"],
                    "vn_lv_kv": subs[tr["bus_lv"]]["v_kv"],
                    "vk_percent": round(100 * math.hypot(r, x), 4),
                    "vkr_percent": round(100 * r, 4),
                    "parallel": tr.get("units", 1),
                    "rate_mva": tr["s_nom_mva_per_unit"] * tr.get("units", 1),
                    "rating_kind": "thermal",
                    "status": tr.get("status", "existing"),
                    "year": tr.get("in_service_year"),
                    "source": sources_of(tr.get("source")),
                    "note": tr.get("notes"),
                }
            )
        )
    out["trafo"] = trafos
    # generators: conventional -> gen (voltage control), renewables -> sgen
    gens, sgens = [], []
    for g in data["generators"]:
        dev = DEVIATIONS.get(g["id"], {})
        pmax = dev.get("p_max_mw", g["p_max_mw"])
        note = g.get("notes") or ""
        if dev and pmax != g["p_max_mw"]:
            note = f"p_max {g['p_max_mw']} MW in the data set, {pmax} MW here (see README); " + note
        base = {
            "id": g["id"],
            "name": g.get("name"),
            "bus": g["bus"],
            "max_p_mw": pmax,
            "min_p_mw": 0,
            "status": g.get("status", "existing"),
            "year": g.get("in_service_year"),
            "source": sources_of(g.get("source")),
            "note": f"{g['carrier']}; {note}".strip("; "),
        }
        if g["carrier"] in RES_CARRIERS:
            sgens.append(clean(base | {"p_mw": 0.0}))
        else:
            kv = subs[g["bus"]]["v_kv"]
            gens.append(
                clean(
                    base
                    | {
                        "p_mw": 0.0,
                        "vm_pu": GEN_VM.get(kv, 1.02),
                        "min_q_mvar": round(Q_RANGE[0] * pmax, 1),
                        "max_q_mvar": round(Q_RANGE[1] * pmax, 1),
                    }
                )
            )
    gens.append(
        {
            "id": NAX_LOCAL["id"],
            "bus": NAX_LOCAL["bus"],
            "p_mw": 0.0,
            "max_p_mw": NAX_LOCAL["p_max"],
            "min_p_mw": 0,
            "vm_pu": 1.03,
            "min_q_mvar": -0.3 * NAX_LOCAL["p_max"],
            "max_q_mvar": 0.5 * NAX_LOCAL["p_max"],
            "slack": True,
            "status": "existing",
            "source": "estimated",
            "note": NAX_LOCAL["note"],
        }
    )
    out["gen"] = gens
    out["sgen"] = sgens
    out["ext_grid"] = [
        {
            "id": gid,
            "bus": bus,
            "vm_pu": 1.03,
            "status": "existing",
            "source": "estimated",
            "note": "slack: equivalent of the Russian UPS behind the Kavkasioni 500 kV line"
            if bus.startswith("RU")
            else "slack: equivalent of continental Europe (AT/SK/CZ/DE) behind Hungary",
        }
        for bus, gid in SLACKS.items()
    ]
    # loads (peak, reference year 2025); scenarios scale them per zone
    loads = []
    tanphi = math.tan(math.acos(LOAD_POWER_FACTOR))
    for area in data["loads"]:
        for d in area["distribution"]:
            loads.append(
                {
                    "id": f"D_{d['bus']}",
                    "bus": d["bus"],
                    "p_mw": d["p_mw"],
                    "q_mvar": round(d["p_mw"] * tanphi, 1),
                    "status": "existing",
                    "source": sources_of(area["source"])
                    if "sourced" in area["source"]
                    else "estimated",
                    "note": f"{area['area']} peak {area['peak_mw']} MW ({area['reference_year']}) "
                    "split by bus (split estimated); power factor 0.98 estimated",
                }
            )
    for bus, mw in BOUNDARY_EXCHANGE.items():
        loads.append(
            {
                "id": f"X_{bus}",
                "bus": bus,
                "p_mw": mw,
                "q_mvar": 0.0,
                "status": "existing",
                "source": "estimated",
                "note": "scheduled export from AZ across the border (data set scenario 2026 "
                "'export_destination_split_mw_assumed')",
            }
        )
    out["load"] = loads
    # HVDC links
    hv = []
    for h in data["hvdc_links"]:
        rating = h["p_nom_mw"] * h.get("units", 1)
        q = HVDC_Q.get(h["type"], HVDC_Q_DEFAULT) * rating
        hv.append(
            clean(
                {
                    "id": h["id"],
                    "from_bus": h["bus0"],
                    "to_bus": h["bus1"],
                    "p_mw": 0.0,
                    "max_p_mw": rating,
                    "loss_percent": round(100 * (1 - h["efficiency"]), 3),
                    "vm_from_pu": 1.03,
                    "vm_to_pu": 1.03,
                    "min_q_from_mvar": -q,
                    "max_q_from_mvar": q,
                    "min_q_to_mvar": -q,
                    "max_q_to_mvar": q,
                    "rating_kind": "converter rating",
                    "status": h.get("status", "existing"),
                    "year": h.get("in_service_year"),
                    "source": sources_of(h.get("source")),
                    "note": f"{h['type']}; {h.get('units', 1)} x {h['p_nom_mw']} MW; "
                    f"efficiency {h['efficiency']} ({h.get('efficiency_source')})"
                    + (f"; {h['length_km']} km" if h.get("length_km") else "")
                    + (f"; {h['notes']}" if h.get("notes") else ""),
                }
            )
        )
    out["hvdc"] = hv
    out["interface"] = interfaces(out, data)
    out["scenarios"] = scenarios(out, data)
    return out


def interfaces(model: dict, data: dict) -> list:
    """The published limits as interface records (see BORDER_INTERFACES)."""
    zones = zone_of(model)
    limits = {r["id"]: r for r in data["interface_limits"]}
    out = []

    def record(iid, members, rec, limit=None, note=""):
        out.append(
            clean(
                {
                    "id": iid,
                    "kind": "ntc",
                    "limit_mw": limit if limit is not None else rec["limit_mw"],
                    "source": sources_of(rec.get("source")),
                    "note": f"{rec.get('direction', '')}; {note or rec.get('status', '')}".strip(
                        "; "
                    ),
                    "members": members,
                }
            )
        )

    for iid, (a, b) in BORDER_INTERFACES.items():
        members = [
            {
                "element": "line",
                "id": ln["id"],
                "direction": 1 if zones[ln["from_bus"]] in a else -1,
            }
            for ln in model["line"]
            if {zones[ln["from_bus"]], zones[ln["to_bus"]]} & a
            and {zones[ln["from_bus"]], zones[ln["to_bus"]]} & b
        ]
        record(iid, members, limits[iid])
    for iid, (hid, direction) in LINK_INTERFACES.items():
        record(iid, [{"element": "hvdc", "id": hid, "direction": direction}], limits[iid])
    for iid, lid in LINE_INTERFACES.items():
        record(iid, [{"element": "line", "id": lid, "direction": 1}], limits[iid])
    covered = set(LINE_INTERFACES.values()) | set(LINE_LIMIT_IN_INTERFACE)
    for ln in data["lines"]:
        if ln.get("p_limit_mw_total") is None or ln["id"] in covered:
            continue
        rec = {"source": ln.get("p_limit_source"), "direction": f"{ln['bus0']} -> {ln['bus1']}"}
        record(
            f"IF_{ln['id']}",
            [{"element": "line", "id": ln["id"], "direction": 1}],
            rec,
            ln["p_limit_mw_total"],
            "the line's published limit (p_limit_mw_total)",
        )
    return out


def scenarios(model: dict, data: dict) -> dict:
    """Scenario overlays with the dispatch computed for each one's default export."""
    specs = {}
    variants = []
    for name, sc in SCENARIOS.items():
        variants.append((name, sc, "krusevac"))
        if sc["year"] >= 2029:
            for site in ("trupale", "niskabanja"):
                variants.append((f"{name}-{site}", sc, site))
    for name, sc, site in variants:
        specs[name] = scenario(model, data, name, sc, site)
    return specs


def zone_of(model):
    return {b["id"]: b["zone"] for b in model["bus"]}


def scenario(model, data, name, sc, site) -> dict:
    year = sc["year"]
    dsc = data["scenarios"][str(year)]
    scale = {z: f for z, f in dsc["load_scaling"].items()}
    zones = zone_of(model)
    include, exclude, sets = [], [], []
    if site != "krusevac" and year >= 2029:
        bus, line = NIS_SITES[site]
        kb, kl = NIS_SITES["krusevac"]
        include += [bus, line]
        exclude += [kb, kl]
        sets.append({"element": "gen", "id": NIS_GEN, "field": "bus", "value": bus})
    nax_joined = year >= 2028
    if nax_joined:
        exclude.append("DC_NAX_ISLAND")  # the converter replaces the island exchange
        sets.append({"element": "gen", "id": NAX_LOCAL["id"], "field": "slack", "value": False})

    def on(table, rec):
        if rec["id"] in exclude:
            return False
        if rec["id"] in include:
            return True
        return in_service(rec, year)

    gens = [g for g in model["gen"] if on("gen", g)]
    sgens = [g for g in model["sgen"] if on("sgen", g)]
    hvdc = {h["id"]: h for h in model["hvdc"] if on("hvdc", h)}
    load_by_zone: dict[str, float] = {}
    for d in model["load"]:
        z = zones[d["bus"]]
        load_by_zone[z] = load_by_zone.get(z, 0.0) + d["p_mw"] * scale.get(z, 1.0)
    # renewables at fixed output shares
    res_by_zone: dict[str, float] = {}
    for g in sgens:
        carrier = g["note"].split(";")[0]
        p = round(RES_OUTPUT[carrier] * g["max_p_mw"], 1)
        sets.append({"element": "sgen", "id": g["id"], "field": "p_mw", "value": p})
        z = zones[g["bus"]]
        res_by_zone[z] = res_by_zone.get(z, 0.0) + p
    # HVDC setpoints
    flows = sc["hvdc"]
    for hid, p in flows.items():
        if hid in hvdc:
            sets.append({"element": "hvdc", "id": hid, "field": "p_mw", "value": p})

    def delivered(hid):
        h = hvdc.get(hid)
        return 0.0 if h is None else flows.get(hid, 0) * (1 - h["loss_percent"] / 100)

    export = sum(p for hid, p in flows.items() if hid in hvdc and hid not in ("DC_AZGE_ONSHORE",))
    export_from_az = (
        export
        + flows.get("DC_AZGE_ONSHORE", 0)
        * hvdc.get("DC_AZGE_ONSHORE", {"loss_percent": 0})["loss_percent"]
        / 100
    )
    nax_load = sum(d["p_mw"] for d in model["load"] if d["bus"] == NAX_LOCAL["bus"])
    nax_load *= scale.get("AZ", 1.0)
    az_load = load_by_zone.get("AZ", 0) - (0.0 if nax_joined else nax_load)
    # zone targets for controllable generation
    target = {}
    for z in {zones[g["bus"]] for g in gens}:
        target[z] = load_by_zone.get(z, 0.0) * (1 + LOSS_ALLOWANCE.get(z, 0.0))
        target[z] -= res_by_zone.get(z, 0.0)
    target["AZ"] = (
        az_load * (1 + LOSS_ALLOWANCE["AZ"])
        + sum(BOUNDARY_EXCHANGE.values())
        + export_from_az
        - res_by_zone.get("AZ", 0)
    )
    # arrivals in the CE island
    arrive_tr = delivered("DC_AKH_B2B") + delivered("DC_NAX_CONV") + delivered("DC_BATUMI_B2B")
    arrive_ro = delivered("DC_BLACKSEA_1") + delivered("DC_BLACKSEA_2") + delivered("DC_BLACKSEA_3")
    # the sink lowers its own generation by what arrives
    sink_cut = arrive_tr  # the Turkish route's export goes to Serbia
    if "RO" in target:  # the Black Sea cable's to Romania (Transelectrica's end of the JV)
        target["RO"] -= arrive_ro
    # per-zone proportional dispatch of conventional units (the sink's lignite first)
    by_zone: dict[str, list] = {}
    for g in gens:
        by_zone.setdefault(zones[g["bus"]], []).append(g)
    dispatch = {}
    for z, units in by_zone.items():
        units = list(units)
        if z == "EU":
            continue
        tgt = target.get(z, 0.0)
        if z == "AZ" and not nax_joined:
            units = [u for u in units if u["id"] != NAX_LOCAL["id"]]
        if z == "TR":
            dispatch.update(tr_dispatch(units, model, zones, scale, arrive_tr))
            continue
        for u in list(units):
            fixed = FIXED_DISPATCH.get(u["id"], lambda y: None)(year)
            share = PRIORITY_SHARE.get(u["id"])
            if fixed is None and share is not None:
                fixed = share * u["max_p_mw"]
            if fixed is not None:
                dispatch[u["id"]] = fixed
                tgt -= fixed
                units.remove(u)
        # within the units' ratings: a zone short of plant imports the rest (its slack
        # side: the rest of continental Europe behind Hungary)
        if z == EXPORT_SINK:
            sink = [u for u in units if u["id"] in SINK_GENS]
            rest = [u for u in units if u["id"] not in SINK_GENS]
            share = min(1.0, tgt / sum(u["max_p_mw"] for u in units))
            for u in rest:
                dispatch[u["id"]] = share * u["max_p_mw"]
            remaining = tgt - sum(dispatch[u["id"]] for u in rest) - sink_cut
            cap = sum(u["max_p_mw"] for u in sink)
            for u in sink:
                dispatch[u["id"]] = min(max(0.0, remaining), cap) * u["max_p_mw"] / cap
            continue
        cap = sum(u["max_p_mw"] for u in units)
        for u in units:
            dispatch[u["id"]] = min(max(0.0, tgt), cap) * u["max_p_mw"] / cap
    if not nax_joined:
        dispatch[NAX_LOCAL["id"]] = nax_load
    # what the zones of the CE island short of plant import (left on the CE slack)
    short = 0.0
    for z, units in by_zone.items():
        if z in ("EU", "TR") or z not in model["groups"]["CE"]:
            continue
        own = sum(dispatch.get(u["id"], 0.0) for u in units)
        short += max(0.0, target.get(z, 0.0) - (sink_cut if z == EXPORT_SINK else 0.0) - own)
    for y, changes in REINFORCE.items():
        if year >= y and y == max(k for k in REINFORCE if k <= year):
            for tid, units in changes.items():
                rec = next(t for t in model["trafo"] if t["id"] == tid)
                sets.append({"element": "trafo", "id": tid, "field": "parallel", "value": units})
                rate = rec["sn_mva"] * units
                sets.append({"element": "trafo", "id": tid, "field": "rate_mva", "value": rate})
    for gid, p in dispatch.items():
        sets.append({"element": "gen", "id": gid, "field": "p_mw", "value": round(p, 1)})
    tr_ce = [r for r in data["interface_limits"] if r["id"] in dict(TR_CE_BY_YEAR)]
    limit = max((r for r in tr_ce if r["year"] <= year), key=lambda r: r["year"])["limit_mw"]
    sets.append({"element": "interface", "id": "IF_TR_to_CE", "field": "limit_mw", "value": limit})
    desc = dsc["description"].replace("\n", " ")
    if site != "krusevac" and year >= 2029:
        desc = (
            f"{name[:4]} with the Niš CCGT at {site.title()} instead of Kruševac (village). " + desc
        )
    spec = {
        "year": year,
        "description": desc,
        "import_mw": round(short, 1),  # for balance(); not written
    }
    if include:
        spec["include"] = include
    if exclude:
        spec["exclude"] = exclude
    spec["scale"] = {"load": scale}
    spec["set"] = sets
    spec["export"] = {
        "mw": export,
        "source": "AZ",
        "sink": EXPORT_SINK if not arrive_ro else "RS_RO",
        "sinks_mw": {k: round(v, 1) for k, v in (("RS", arrive_tr), ("RO", arrive_ro)) if v},
        "hvdc": {k: v for k, v in flows.items() if k in hvdc},
        "note": sc["export_note"],
    }
    return spec


def tr_dispatch(units, model, zones, scale, arrive_tr):
    """Turkey by region: the east balanced before the transit, Marmara/Thrace near
    balance, Central Anatolia the rest; the transit itself crosses Turkey."""
    f = scale.get("TR", 1.0)
    load = {d["bus"]: d["p_mw"] * f for d in model["load"] if zones[d["bus"]] == "TR"}
    east = sum(load.get(b, 0) for b in ("TR_BORCKA_400", "TR_TORTUM_400", "TR_KARS_400"))
    west = sum(load.get(b, 0) for b in ("TR_ISTANBUL_400", "TR_HAMITABAT_400", "TR_BABAESKI_400"))
    central = load.get("TR_CENTRAL_400", 0)
    ids = {u["id"]: u for u in units}
    out = {}
    east_cap = ids["G_TR_EAST"]["max_p_mw"] + ids["G_TR_EAST2"]["max_p_mw"]
    for gid in ("G_TR_EAST", "G_TR_EAST2"):
        out[gid] = east * ids[gid]["max_p_mw"] / east_cap
    out["G_TR_MARMARA"] = min(ids["G_TR_MARMARA"]["max_p_mw"], west)
    losses = LOSS_ALLOWANCE["TR"] * (east + west + central)
    out["G_TR_CENTRAL"] = central + (west - out["G_TR_MARMARA"]) + losses
    return out


BALANCE_CE = {"G_RO_REST": "RO", "G_BG_REST": "BG", "G_HU_REST": "HU"}
# Turkey is balanced on its own: the transit crosses it, and its net position is held at
# zero by this unit (so that the TR->CE interface carries the transit only).
BALANCE_TR = "G_TR_CENTRAL"
BALANCE_UPS = "G_AZ_AZTPP"


def balance(model: dict, rounds: int = 3) -> None:
    """Move what the slacks supply onto the zones' own plants (needs gridsim).

    The dispatch above allows for losses by fixed shares; this solves each scenario and
    shifts the continental-Europe slack's output to the largest plant of TR, RO, BG and
    HU (by load share) and the Russian slack's to Azerbaijan TPP, so the slacks carry a
    small balance only.
    """
    import tempfile
    import warnings

    import gridsim

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.yaml"
        for _ in range(rounds):
            path.write_text(dump(model), encoding="utf-8")
            for name, spec in model["scenarios"].items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    net = gridsim.load_network(path, scenario=name)
                    res = gridsim.run_ac(net, enforce_q_limits=True)
                if not res.converged:
                    raise RuntimeError(f"scenario {name} does not converge")
                ce = float(res.ext_grid.p_mw["ext_EU_CE"]) - spec["import_mw"]
                ups = float(res.ext_grid.p_mw["ext_RU_UPS"])
                zl = net.load.assign(zone=net.bus.zone.loc[net.load.bus].to_numpy())
                zl = zl[zl.in_service].groupby("zone").p_mw.sum().astype(float)
                share = {g: zl.get(z, 0.0) for g, z in BALANCE_CE.items()}
                p = {e["id"]: e["value"] for e in spec["set"] if e["element"] == "gen"}
                new = shifted(p, net.gen, share, ce + tr_export(net, res))
                new.update(shifted(p, net.gen, {BALANCE_TR: 1.0}, -tr_export(net, res)))
                new.update(shifted(p, net.gen, {BALANCE_UPS: 1.0}, ups))
                for entry in spec["set"]:
                    if entry["element"] == "gen" and entry["id"] in new:
                        entry["value"] = new[entry["id"]]


def tr_export(net, res) -> float:
    """Turkey's net export, MW: what leaves its buses on lines and HVDC links."""
    tr = net.bus.index[net.bus.zone == "TR"]
    out = 0.0
    for table, flows in ((net.line, res.line), (net.hvdc, res.hvdc)):
        on = table[table.in_service]
        f_in, t_in = on.from_bus.isin(tr), on.to_bus.isin(tr)
        out += flows.p_from_mw[on.index[f_in & ~t_in]].sum()
        out += flows.p_to_mw[on.index[t_in & ~f_in]].sum()
    return float(out)


def shifted(p: dict, gen, share: dict, mw: float) -> dict:
    """The outputs ``p`` of the units in ``share`` with ``mw`` more in all, split by
    ``share`` and kept within each unit's min_p_mw..max_p_mw (what none can take stays
    on the slack: an import from, or export to, the rest of the synchronous area)."""
    out = {g: float(p[g]) for g in share}
    left, free = mw, {g: w for g, w in share.items() if w > 0}
    while abs(left) > 0.05 and free:
        total = sum(free.values())
        step = {g: left * w / total for g, w in free.items()}
        for g, d in step.items():
            lo = 0.0 if math.isnan(gen.min_p_mw[g]) else float(gen.min_p_mw[g])
            hi = math.inf if math.isnan(gen.max_p_mw[g]) else float(gen.max_p_mw[g])
            target = min(max(out[g] + d, lo), hi)
            left -= target - out[g]
            out[g] = target
            if target in (lo, hi):
                free.pop(g)
    return {g: round(float(v), 1) for g, v in out.items()}


def dump(model: dict) -> str:
    """YAML with one record per line (flow style) so engineers can read and diff it."""
    header = (
        "# caspian_eu: Azerbaijan -> Serbia/EU export corridor, a gridsim network file.\n"
        "# GENERATED by networks/build_caspian_eu.py from ../shared/corridor/corridor_data.yaml;\n"
        "# provenance per element in 'source' (SOURCES.md ids or 'estimated'), assumptions in\n"
        "# networks/README.md. Edit the script (or this file by hand, then keep them in step).\n"
    )
    parts = [header]
    for key in (
        "gridsim",
        "name",
        "description",
        "sn_mva",
        "f_hz",
        "trafo_model",
        "default_scenario",
    ):
        parts.append(
            yaml.safe_dump({key: model[key]}, allow_unicode=True, width=120, sort_keys=False)
        )
    parts.append(
        yaml.safe_dump(
            {"groups": model["groups"]},
            default_flow_style=None,
            allow_unicode=True,
            sort_keys=False,
        )
    )
    for table in ("bus", "line", "trafo", "gen", "sgen", "ext_grid", "load", "hvdc", "interface"):
        parts.append(f"\n{table}:\n")
        for rec in model[table]:
            text = yaml.safe_dump(
                rec, default_flow_style=True, width=10**6, allow_unicode=True, sort_keys=False
            )
            parts.append(f"  - {text.strip()}\n")
    parts.append("\nscenarios:\n")
    for name, spec in model["scenarios"].items():
        body = dict(spec)
        sets = body.pop("set")
        body.pop("import_mw")
        text = yaml.safe_dump(
            {name: body}, default_flow_style=None, width=100, allow_unicode=True, sort_keys=False
        )
        parts.append("  " + text.replace("\n", "\n  ").rstrip() + "\n")
        parts.append("    set:\n")
        for s in sets:
            parts.append(
                "      - "
                + yaml.safe_dump(
                    s, default_flow_style=True, width=10**6, allow_unicode=True, sort_keys=False
                ).strip()
                + "\n"
            )
    return "".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    ap.add_argument("-o", "--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    data = yaml.safe_load(Path(args.data).read_text(encoding="utf-8"))
    model = build(data)
    balance(model)
    Path(args.out).write_text(dump(model), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
