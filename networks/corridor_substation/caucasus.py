"""Azerbaijan, the Caucasus HVDC assets and the boundary equivalents.

The map extract has only three Azerbaijani buses; the corridor data set
(``../shared/corridor/corridor_data.yaml``) has Azerbaijan's 500/330/220 kV network, the
planned Nakhchivan/Anaklia nodes and the HVDC links. Its buses join the map's where both
have a station: a map bus is merged into the nearest data-set bus of its voltage
(``MERGE_KM``), the map line keeping its length plus the gap times PyPSA-Eur's length
factor 1.25 (S28).
"""

from __future__ import annotations

import math

from build_caspian_eu import sources_of  # the 96-bus builder's rule, one place

from .elements import Q_RANGE, RES, _limits, line_record, nearest, trafo_record
from .topology import haversine_km

MERGE_KM = 120.0
LENGTH_FACTOR = 1.25  #: route length / great-circle distance (PyPSA-Eur, S28)
#: Data-set buses that the model takes (AZ network, its new nodes, Anaklia; the 154 kV
#: Nakhchivan island and its fixed exchange are outside the 220 kV-and-above model).
SKIP_BUSES = {"AZ_NAKHCHIVAN_154"}
#: Data-set buses placed on a map bus of the same voltage (nearest) instead of their own.
ON_MAP = {
    "GE_AKHALTSIKHE_500": "GE_2349_500",
    "GE_AKHALTSIKHE_400": "GE_2349_400",
}
#: LCC converters draw reactive power (share of P) supplied by switched filter banks
#: (estimated, 50-60 % typical for line-commutated converters); VSC Q capability as a
#: share of the rating (estimated, as in caspian_eu).
#: Deviations from the data set (estimated): Baku's 330/220 kV supply needs more than the
#: data set's 4 x 400 MVA for the balances' AZ load (5,000-6,330 MW, Baku ~55 %).
UNITS = {"T_AZ_ABS_330_220": 7}
LCC_Q_SHARE = 0.55
FILTER_STEPS = 12
VSC_Q_SHARE = 0.4
LCC = {"back_to_back"}
#: Equivalent of a neighbour's grid: one bus per neighbour and synchronous area, joined
#: to each of its boundary buses by a standard line (same voltage) or transformer.
EQUIV_KM = 50.0
EQUIV_KV = {"RU": 500, "AM": 500}
SLACKS = {"X_RU_UPS": "UPS", "X_AT_CE": "CE"}
#: The neighbours of continental Europe are one meshed grid behind the border: their
#: equivalents are tied by strong equivalent lines (estimated: 400 kV, TIE_KM, TIE_CIRCUITS)
#: so that loop flows through them exist and the slack reaches every border.
CE_TIES = (("AT", "SK"), ("AT", "SI"), ("SK", "UA"), ("UA", "MD"))
TIE_KM = 100.0
TIE_CIRCUITS = 4


def _status(rec: dict) -> dict:
    out = {"status": rec.get("status", "existing")}
    if rec.get("in_service_year"):
        out["year"] = rec["in_service_year"]
    return out


def add_corridor(model: dict, data: dict, types: dict, log: list[str]) -> None:
    """Add the data set's AZ network, Anaklia, Nakhchivan and the HVDC links in place."""
    buses = model["bus"]
    subs = {s["id"]: s for s in data["substations"]}
    where: dict[str, str] = dict(ON_MAP)
    taken = [
        s
        for s in data["substations"]
        if s["id"] not in SKIP_BUSES
        and s["id"] not in ON_MAP
        and (s["country"] == "AZ" or s["id"] in {"GE_ANAKLIA_500", "IR_PARSABAD_330"})
    ]
    for s in taken:
        lo, hi = _limits(s["v_kv"])
        rec = {
            "id": s["id"],
            "name": s["name"],
            "vn_kv": s["v_kv"],
            "zone": s["country"],
            "lat": s["lat"],
            "lon": s["lon"],
            "min_vm_pu": lo,
            "max_vm_pu": hi,
            "source": sources_of(s.get("notes")),
            "note": f"corridor data set; coordinates {s.get('coord_source', 'estimated')}",
        } | _status(s)
        buses.append(rec)
        where[s["id"]] = s["id"]
    # merge the map's AZ buses into the data set's
    merged = {}
    for b in [b for b in buses if b["zone"] == "AZ" and b["source"] == "S26"]:
        cands = [s for s in taken if s["v_kv"] == b["vn_kv"] and s["country"] == "AZ"]
        s = min(cands, key=lambda s: haversine_km(b["lon"], b["lat"], s["lon"], s["lat"]))
        gap = haversine_km(b["lon"], b["lat"], s["lon"], s["lat"])
        if gap <= MERGE_KM:
            merged[b["id"]] = (s["id"], gap)
    model["bus"] = [b for b in buses if b["id"] not in merged]
    for ln in model["line"]:
        for end in ("from_bus", "to_bus"):
            if ln[end] in merged:
                new, gap = merged[ln[end]]
                ln[end] = new
                ln["length_km"] = round(ln["length_km"] + LENGTH_FACTOR * gap, 3)
                ln["source"] += "; length derived: map length + 1.25 x gap to merged bus"
                ln["note"] += f"; end moved to {new} (map bus merged, {gap:.0f} km)"
    for g in model["gen"] + model["sgen"]:
        if g["bus"] in merged:
            g["bus"] = merged[g["bus"]][0]
    log.append(f"merged {len(merged)} map AZ buses into data-set buses: {sorted(merged)}")
    # data-set lines inside Azerbaijan and to its new nodes; TR end of Nakhchivan-Kars
    kars = subs["TR_KARS_400"]
    where["TR_KARS_400"] = nearest(model["bus"], kars["lat"], kars["lon"], 400, {"TR"})["id"]
    jvari = subs["GE_JVARI_500"]
    where["GE_JVARI_500"] = nearest(model["bus"], jvari["lat"], jvari["lon"], 500, {"GE"})["id"]
    for ln in data["lines"]:
        b0, b1 = ln["bus0"], ln["bus1"]
        if b0 not in where or b1 not in where or ln["id"].startswith("L_GETR"):
            continue
        if ln["id"] in {"L_AZGE_01", "L_AZGE_02", "L_AZRU_01"}:
            continue  # on the map
        model["line"].append(
            line_record(
                ln["id"],
                where[b0],
                where[b1],
                ln["v_kv"],
                ln["length_km"],
                ln.get("circuits", 1),
                types,
                sources_of(ln.get("source")) + "; derived: standard type per voltage level",
                f"corridor data set line {ln['id']}",
                **_status(ln),
            )
        )
    for tr in data["transformers"]:
        if tr["bus_hv"] in where and tr["bus_lv"] in where and tr["bus_hv"].startswith("AZ"):
            if tr["bus_lv"] in SKIP_BUSES:
                continue
            r, x = tr["r_pu_own_base"], tr["x_pu_own_base"]
            units = UNITS.get(tr["id"], tr.get("units", 1))
            rec = trafo_record(
                tr["id"],
                where[tr["bus_hv"]],
                where[tr["bus_lv"]],
                subs[tr["bus_hv"]]["v_kv"],
                subs[tr["bus_lv"]]["v_kv"],
                types,
                sources_of(tr.get("source")),
                f"corridor data set transformer {tr['id']}",
                **_status(tr),
            )
            rec |= {
                "sn_mva": tr["s_nom_mva_per_unit"],
                "vk_percent": round(100 * math.hypot(r, x), 4),
                "vkr_percent": round(100 * r, 4),
                "parallel": units,
                "rate_mva": tr["s_nom_mva_per_unit"] * units,
                "note": f"corridor data set transformer {tr['id']} (its impedance; "
                + (
                    f"{units} units instead of {tr.get('units', 1)}, see README)"
                    if units != tr.get("units", 1)
                    else "its units)"
                ),
            }
            model["trafo"].append(rec)
    # generators of the data set in Azerbaijan (the map has none there)
    for g in data["generators"]:
        if not g["bus"].startswith("AZ") or g["bus"] not in where:
            continue
        rec = {
            "id": g["id"],
            "name": g.get("name", g["id"]),
            "bus": where[g["bus"]],
            "p_mw": 0.0,
            "min_p_mw": 0.0,
            "max_p_mw": g["p_max_mw"],
            "source": sources_of(g.get("source")),
            "note": f"{_carrier(g['carrier'])}; corridor data set generator",
        } | _status(g)
        if _carrier(g["carrier"]) in RES:
            model["sgen"].append(rec)
        else:
            rec |= {
                "vm_pu": 1.02,
                "min_q_mvar": round(Q_RANGE[0] * g["p_max_mw"], 1),
                "max_q_mvar": round(Q_RANGE[1] * g["p_max_mw"], 1),
            }
            model["gen"].append(rec)
    # HVDC links
    const = subs["RO_CONSTANTA_400"]
    where["RO_CONSTANTA_400"] = nearest(model["bus"], const["lat"], const["lon"], 400, {"RO"})["id"]
    alb = subs["HU_ALBERTIRSA_400"]
    where["HU_ALBERTIRSA_400"] = nearest(model["bus"], alb["lat"], alb["lon"], 400, {"HU"})["id"]
    borcka = subs["TR_BORCKA_400"]
    where["TR_BORCKA_400"] = nearest(model["bus"], borcka["lat"], borcka["lon"], 400, {"TR"})["id"]
    model.setdefault("hvdc", [])
    model.setdefault("shunt", [])
    for h in data["hvdc_links"]:
        if h["bus0"] not in where or h["bus1"] not in where:
            log.append(f"HVDC {h['id']} left out (end outside the model)")
            continue
        rating = h["p_nom_mw"] * h.get("units", 1)
        rec = {
            "id": h["id"],
            "from_bus": where[h["bus0"]],
            "to_bus": where[h["bus1"]],
            "p_mw": 0.0,
            "max_p_mw": rating,
            "loss_percent": round(100 * (1 - h["efficiency"]), 3),
            "rating_kind": "converter rating",
            "source": sources_of(h.get("source")),
            "note": f"{h['type']}; {h.get('units', 1)} x {h['p_nom_mw']} MW; efficiency "
            f"{h['efficiency']} ({h.get('efficiency_source')})",
        } | _status(h)
        if h["type"] in LCC:
            rec["note"] += (
                f"; LCC: draws {LCC_Q_SHARE:.0%} of P as reactive power at each end "
                f"(loads QC_*), supplied by {FILTER_STEPS} filter steps (shunts F_*)"
            )
            for end in ("from", "to"):
                bus = rec[f"{end}_bus"]
                q = round(LCC_Q_SHARE * rating / FILTER_STEPS, 1)
                st = _status(h)
                model["load"].append(
                    {
                        "id": f"QC_{h['id']}_{end}",
                        "bus": bus,
                        "p_mw": 0.0,
                        "q_mvar": 0.0,
                        "source": f"derived: {LCC_Q_SHARE:.0%} of the converter's P "
                        "(estimated LCC consumption)",
                        "note": f"reactive power drawn by the LCC converter {h['id']} "
                        "(set per scenario)",
                    }
                    | st
                )
                model["shunt"].append(
                    {
                        "id": f"F_{h['id']}_{end}",
                        "bus": bus,
                        "q_mvar": -q,
                        "step": 0,
                        "max_step": FILTER_STEPS,
                        "source": f"derived: {FILTER_STEPS} steps of {LCC_Q_SHARE:.0%} of the "
                        "rating",
                        "note": f"AC filter / capacitor bank of {h['id']} ({FILTER_STEPS} x {q} "
                        "Mvar; steps in service set per scenario, switched by the preventive "
                        "voltage control)",
                    }
                    | st
                )
        else:
            q = VSC_Q_SHARE * rating
            rec |= {
                "vm_from_pu": 1.02,
                "vm_to_pu": 1.02,
                "min_q_from_mvar": -q,
                "max_q_from_mvar": q,
                "min_q_to_mvar": -q,
                "max_q_to_mvar": q,
            }
            rec["note"] += f"; VSC: Q capability +-{VSC_Q_SHARE:.0%} of the rating (estimated)"
        model["hvdc"].append(rec)


def _carrier(c: str) -> str:
    if "solar" in c or "pv" in c:
        return "solar"
    if "wind" in c:
        return "wind"
    if "hydro" in c:
        return "hydro_storage"
    if "coal" in c:
        return "coal"
    return "gas"


def add_equivalents(model: dict, types: dict, area_of, log: list[str]) -> None:
    """One equivalent bus per neighbour and synchronous area, joined to its boundary buses.

    ``area_of(bus_id)`` gives a boundary bus's synchronous area. Each equivalent gets an
    exchange load ``X_<CC>_<AREA>_EXCHANGE`` (set per scenario: minus the exchange into the
    modelled countries); the RU (UPS) and AT (CE) equivalents are the areas' slacks.
    """
    from .topology import MODELLED

    groups: dict[tuple[str, str], list[dict]] = {}
    for b in model["bus"]:
        if b["zone"] not in MODELLED:
            groups.setdefault((b["zone"], area_of(b["id"])), []).append(b)
    for (cc, area), members in sorted(groups.items()):
        xid = f"X_{cc}_{area}"
        vx = EQUIV_KV.get(cc, 400)
        lat = sum(b["lat"] for b in members) / len(members)
        lon = sum(b["lon"] for b in members) / len(members)
        model["bus"].append(
            {
                "id": xid,
                "name": f"{cc} equivalent ({area})",
                "vn_kv": vx,
                "zone": cc,
                "lat": round(lat, 5),
                "lon": round(lon, 5),
                "min_vm_pu": 0.9,
                "max_vm_pu": 1.1,
                "source": "estimated",
                "note": f"equivalent of the {cc} grid behind its {len(members)} boundary bus(es)",
            }
        )
        for b in members:
            if b["vn_kv"] == vx:
                model["line"].append(
                    line_record(
                        f"LX_{b['id']}",
                        b["id"],
                        xid,
                        vx,
                        EQUIV_KM,
                        2,
                        types,
                        "estimated",
                        f"equivalent branch of {cc} ({EQUIV_KM:g} km, 2 circuits assumed)",
                    )
                )
            else:
                hv, lv = (xid, b["id"]) if vx > b["vn_kv"] else (b["id"], xid)
                model["trafo"].append(
                    trafo_record(
                        f"TX_{b['id']}",
                        hv,
                        lv,
                        max(vx, b["vn_kv"]),
                        min(vx, b["vn_kv"]),
                        types,
                        "estimated",
                        f"equivalent transformer of {cc}",
                    )
                )
        model["load"].append(
            {
                "id": f"{xid}_EXCHANGE",
                "bus": xid,
                "p_mw": 0.0,
                "q_mvar": 0.0,
                "source": "estimated",
                "note": f"scheduled exchange with {cc} (minus the flow into the modelled "
                "countries), set per scenario",
            }
        )
        if xid in SLACKS:
            model.setdefault("ext_grid", []).append(
                {
                    "id": f"ext_{xid}",
                    "bus": xid,
                    "vm_pu": 1.02,
                    "source": "estimated",
                    "note": f"slack of the {SLACKS[xid]} synchronous area: the rest of "
                    f"{'the UPS' if SLACKS[xid] == 'UPS' else 'continental Europe'} "
                    f"behind {cc}",
                }
            )
    have = {b["id"] for b in model["bus"]}
    for a, b in CE_TIES:
        xa, xb = f"X_{a}_CE", f"X_{b}_CE"
        if xa in have and xb in have:
            model["line"].append(
                line_record(
                    f"LX_{a}_{b}",
                    xa,
                    xb,
                    400,
                    TIE_KM,
                    TIE_CIRCUITS,
                    types,
                    "estimated",
                    f"tie of the {a} and {b} equivalents (the CE grid behind the border)",
                )
            )
    log.append(f"{len(groups)} boundary equivalents: {', '.join(f'{c}/{a}' for c, a in groups)}")
