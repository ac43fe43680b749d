"""Country balances (networks/data/country_balances.yaml) -> capacities, loads, overlays.

- Capacity: the map's units of a country and carrier group are scaled towards the
  installed capacity of the balances for the scenario's year, by at most ``F_MAX``;
  the rest is held by REST units (see :func:`add_rest_units`).
- Loads: peak x the hour's share, spread by the load proxy (see dispatch.load_weights).
- Exchanges with the boundary neighbours: loads ``X_<CC>_<AREA>_EXCHANGE`` at the
  equivalents (minus the exchange into the modelled countries); Armenia is an equivalent
  here, its net position is its injection. Italy's HVDC exchanges are loads at the Greek
  and Montenegrin converter buses (``X_IT_GR``, ``X_IT_ME``).
- HVDC between the UPS and CE sides: the UPS side's surplus (its net positions and
  exchanges) on the Akhaltsikhe back-to-back (and the Nakhchivan converter from 2030, in
  proportion to the ratings); the Black Sea cable and the onshore AZ-GE link carry no
  base flow (corridor exports are transfers on top of these base cases).
"""

from __future__ import annotations

import re

from . import dispatch
from .caucasus import FILTER_STEPS, LCC_Q_SHARE
from .elements import Q_RANGE, units

#: Map carriers -> the balances' carrier groups.
GROUP = {
    "nuclear": "nuclear",
    "lignite": "lignite",
    "coal": "coal",
    "gas": "gas",
    "oil": "gas",
    "hydro_ror": "hydro",
    "hydro_storage": "hydro",
    "wind": "wind",
    "solar": "solar",
    "other": "other",
}
#: Carrier written for an aggregated unit of a group the map lacks.
NEW_CARRIER = {"hydro": "hydro_storage"}
#: HVDC links that carry the UPS side's surplus, from the year given.
UPS_CE_LINKS = {"DC_AKH_B2B": 2013, "DC_NAX_CONV": 2030}
#: Hour types with the substations' capacitor banks (C_*) switched off.
CAPACITORS_OFF = ("low_load_high_res",)
#: Converter buses of Italy's HVDC links (lon, lat of the map's DC link ends, S26).
IT_LINKS = {"GR": (21.089, 39.317), "ME": (18.70, 42.40)}


def _src(block) -> str:
    """Source ids of a balances block ('D04', 'corridor:S49', ...) or 'estimated'."""
    if not isinstance(block, dict):
        return "estimated"
    ids = re.findall(r"(?:corridor:)?[SD]\d\d", str(block.get("source", "")))
    text = ", ".join(dict.fromkeys(ids)) if ids else "estimated"
    if ids and "estimated" in block:
        text += "; partly estimated"
    return text


def read_balances(raw: dict) -> tuple[dict, dict]:
    """(countries, neighbours) in the shapes the builder uses.

    countries[cc]: peak {year}, share {hour}, net {(year, hour)}, installed {year:
    {group: MW}}, res_cf {hour: {wind, solar}}, pf, source, installed_source.
    neighbours[xx]: {hour: {cc: {year: MW into cc}}}.
    """
    countries = {}
    for cc, c in raw["countries"].items():
        hours = c["hours"]
        countries[cc] = {
            "peak": {y: c["peak_load_mw"][y] for y in dispatch.YEARS},
            "share": {h: hours[h]["load_share_of_peak"] for h in dispatch.HOURS},
            "net": {
                (y, h): hours[h]["net_position_mw"][y]
                for y in dispatch.YEARS
                for h in dispatch.HOURS
            },
            "installed": {y: c["installed_mw"][y] for y in dispatch.YEARS},
            "res_cf": {
                h: {
                    **{c: v[h] for c, v in dispatch.RES_CF_DEFAULT.items()},
                    **hours[h].get("renewables_share_of_capacity", {}),
                }
                for h in dispatch.HOURS
            },
            "pf": c.get("power_factor", 0.95),
            "source": _src(c["peak_load_mw"]),
            "net_source": {h: _src(hours[h]) for h in dispatch.HOURS},
            "installed_source": _src(c["installed_mw"]),
        }
    neighbours = {
        xx: {h: v["exchange_mw"][h] for h in dispatch.HOURS if h in v["exchange_mw"]}
        for xx, v in raw["boundary_neighbours"].items()
    }
    return countries, neighbours


def _zone(model: dict) -> dict[str, str]:
    return {b["id"]: b["zone"] for b in model["bus"]}


def in_service(rec: dict, year: int) -> bool:
    """Whether a record is in service in ``year`` (the network file's status rules)."""
    if rec.get("in_service") is False or rec.get("status") == "proposed":
        return False
    return rec.get("year") is None or rec["year"] <= year


REST = "_rest"  #: id suffix of the units that hold capacity the map lacks
#: A map unit is scaled by at most this factor towards the installed capacity; the rest
#: goes to REST units (estimated rule, so that no map bus takes several times its plant).
F_MAX = 1.5
#: The same for conventional map units at 220 kV and below: their map capacity at most
#: (estimated rule: a plant on 220 kV lines of 490 MVA, such as Bajina Bašta, Tuzla or
#: Kosovo A, cannot evacuate half as much again after the loss of one of them; the
#: difference goes to the REST units at the country's strong 400 kV buses).
F_MAX_220 = 1.0
#: Conventional REST capacity sits at the country's N_STRONG best-meshed buses of its
#: highest voltage (most lines), in equal shares.
N_STRONG = 10


def _is_rest(rec: dict) -> bool:
    return rec["id"].endswith(REST)


def group_capacity(model: dict, cc: str, year: int, rest: bool = False) -> dict[str, float]:
    """Capacity per carrier group of a country's units in service in ``year`` (the map's
    and the data set's units, or with ``rest`` the REST units)."""
    zone = _zone(model)
    out: dict[str, float] = {}
    for g in model["gen"] + model["sgen"]:
        if zone[g["bus"]] == cc and in_service(g, year) and _is_rest(g) == rest:
            k = GROUP[dispatch.carrier(g)]
            out[k] = out.get(k, 0.0) + g["max_p_mw"]
    return out


def evacuation_mw(model: dict, year: int) -> dict[str, float]:
    """N-1 evacuation capacity of each bus with at least two circuits: the ratings of its
    line circuits and transformer units in service in ``year``, less the largest one."""
    circuits: dict[str, list[float]] = {}
    for table, ends in (("line", ("from_bus", "to_bus")), ("trafo", ("hv_bus", "lv_bus"))):
        for br in model[table]:
            if in_service(br, year):
                for end in ends:
                    circuits.setdefault(br[end], []).extend(
                        [br["rate_mva"] / br["parallel"]] * br["parallel"]
                    )
    return {b: sum(c) - max(c) for b, c in circuits.items() if len(c) > 1}


def map_capacity(model: dict, countries: dict, cc: str, year: int) -> dict[str, float]:
    """Capacity (MW) in ``year`` of each map and data-set unit of a country (not REST).

    Each is scaled towards the balances' installed capacity of its carrier group, by at
    most F_MAX (conventional units at 220 kV and below: F_MAX_220); then the conventional
    units of a bus share at most the bus's N-1 evacuation capacity (``evacuation_mw``;
    estimated rule: a plant whose lines cannot take its output after the loss of one of
    them is not scaled beyond it, and a map plant larger than that is held to it)."""
    zone = _zone(model)
    vn = {b["id"]: b["vn_kv"] for b in model["bus"]}
    have = group_capacity(model, cc, year)
    want = countries[cc]["installed"][year]
    conventional = {g["id"] for g in model["gen"]}
    cap: dict[str, float] = {}
    at: dict[str, list[str]] = {}
    for g in model["gen"] + model["sgen"]:
        if zone[g["bus"]] != cc or not in_service(g, year) or _is_rest(g):
            continue
        k = GROUP[dispatch.carrier(g)]
        low = g["id"] in conventional and vn[g["bus"]] <= 220
        f = want.get(k, 0.0) / have[k] if have.get(k) else 0.0
        cap[g["id"]] = g["max_p_mw"] * min(f, F_MAX_220 if low else F_MAX)
        if g["id"] in conventional:
            at.setdefault(g["bus"], []).append(g["id"])
    evac = evacuation_mw(model, year)
    for bus, ids in at.items():
        total = sum(cap[i] for i in ids)
        if bus in evac and total > evac[bus]:
            for i in ids:
                cap[i] *= evac[bus] / total
    return cap


def rest_need(model: dict, countries: dict, cc: str, year: int) -> dict[str, float]:
    """MW per carrier group that the map's units (``map_capacity``) leave to REST units."""
    group = {g["id"]: GROUP[dispatch.carrier(g)] for g in model["gen"] + model["sgen"]}
    got: dict[str, float] = {}
    for gid, mw in map_capacity(model, countries, cc, year).items():
        got[group[gid]] = got.get(group[gid], 0.0) + mw
    want = countries[cc]["installed"][year]
    return {k: max(0.0, want.get(k, 0.0) - got.get(k, 0.0)) for k in set(GROUP.values())}


def strong_buses(model: dict, cc: str) -> list[str]:
    """The country's N_STRONG buses of its highest voltage with the most lines (in service
    from the first scenario year)."""
    degree: dict[str, int] = {}
    for ln in model["line"]:
        for end in ("from_bus", "to_bus"):
            degree[ln[end]] = degree.get(ln[end], 0) + 1
    buses = [
        b
        for b in model["bus"]
        if b["zone"] == cc and degree.get(b["id"]) and in_service(b, min(dispatch.YEARS))
    ]
    top = max(b["vn_kv"] for b in buses)
    cands = sorted((-degree[b["id"]], b["id"]) for b in buses if b["vn_kv"] == top)
    return [bid for _, bid in cands[:N_STRONG]]


def add_rest_units(model: dict, countries: dict, weights: dict, log: list[str]) -> None:
    """REST units for the installed capacity the map's units leave (``rest_need``, the
    largest over the scenario years), per group.

    Wind and solar: distributed generators on the load buses in proportion to load;
    conventional groups: equal units at the country's strong_buses.
    """
    zone = _zone(model)
    added = 0
    with_load = {zone[b] for b in weights}
    for cc in sorted(countries):
        if cc not in with_load:
            continue  # Armenia: an equivalent
        c = countries[cc]
        need = {y: rest_need(model, countries, cc, y) for y in dispatch.YEARS}
        for group in ("nuclear", "lignite", "coal", "gas", "hydro", "other", "wind", "solar"):
            rest = max(need[y][group] for y in dispatch.YEARS)
            if rest <= 1.0:
                continue
            src = f"{c['installed_source']}; derived: installed capacity beyond the map's"
            note = (
                f"{cc}'s {group} capacity beyond the map's units (scaled by at most "
                f"{F_MAX}, {F_MAX_220} at 220 kV, within their N-1 evacuation), "
                "(capacity set per scenario year)"
            )
            if group in ("wind", "solar"):
                w = {b: v for b, v in weights.items() if zone[b] == cc}
                total = sum(w.values())
                for bid, v in sorted(w.items()):
                    model["sgen"].append(
                        {
                            "id": f"S_{bid}_{group}{REST}",
                            "bus": bid,
                            "p_mw": 0.0,
                            "min_p_mw": 0.0,
                            "max_p_mw": round(rest * v / total, 2),
                            "source": src,
                            "note": f"{group}; {note}, spread over the load buses by load",
                        }
                    )
                    added += 1
                continue
            buses = strong_buses(model, cc)
            carrier = NEW_CARRIER.get(group, group)
            for bid in buses:
                mw = round(rest / len(buses), 1)
                rec = {
                    "id": f"G_{bid}_{group}{REST}",
                    "name": f"{cc} {group} (rest of the fleet)",
                    "bus": bid,
                    "p_mw": 0.0,
                    "min_p_mw": 0.0,
                    "max_p_mw": mw,
                    "vm_pu": 1.02,
                    "min_q_mvar": round(Q_RANGE[0] * mw, 1),
                    "max_q_mvar": round(Q_RANGE[1] * mw, 1),
                    "source": src,
                    "note": f"{carrier}; {note}, at the {len(buses)} best-meshed buses",
                }
                split = units(rec, REST)
                model["gen"].extend(split)
                added += len(split)
    log.append(f"added {added} units for installed capacity beyond the map's")


def hvdc_base(model: dict, countries: dict, neighbours: dict, year: int, hour: str) -> dict:
    """MW sent on each UPS->CE link: the UPS side's surplus (negative: CE -> UPS)."""
    ups = [cc for cc in countries if cc in ("AZ", "GE", "AM")]
    surplus = sum(countries[cc]["net"][(year, hour)] for cc in ups)
    for into in neighbours.values():
        for cc, mw in into.get(hour, {}).items():
            if cc in ups:  # imports from RU and IR also leave through the HVDC
                surplus += mw[year]
    links = {
        h["id"]: h["max_p_mw"]
        for h in model["hvdc"]
        if h["id"] in UPS_CE_LINKS and UPS_CE_LINKS[h["id"]] <= year and in_service(h, year)
    }
    total = sum(links.values())
    return {k: round(surplus * v / total, 1) for k, v in sorted(links.items())}


def injections(countries: dict, neighbours: dict, year: int, hour: str) -> dict[str, float]:
    """MW each exchange load injects (id -> MW into the model), from the balances."""
    out: dict[str, float] = {}
    for xx, into in sorted(neighbours.items()):
        for cc, mw in sorted(into.get(hour, {}).items()):
            if xx == "IT":
                key = f"X_IT_{cc}"
            elif cc == "AM":
                continue  # Armenia is itself an equivalent: its net position covers it
            else:
                area = "UPS" if cc in ("AZ", "GE") else "CE"
                key = f"X_{xx}_{area}_EXCHANGE"
            out[key] = out.get(key, 0.0) + mw[year]
    am = countries["AM"]["net"][(year, hour)]
    am += neighbours["IR"].get(hour, {}).get("AM", {}).get(year, 0.0)
    out["X_AM_UPS_EXCHANGE"] = am
    return out


def scenario(model: dict, countries: dict, neighbours: dict, year: int, hour: str):
    """Overlay of one year and hour type before balancing, and the dispatch plan.

    Returns ``(spec, plan)``: ``spec`` with year, description, scale and the ``set``
    entries other than generator outputs; ``plan`` with ``p_gen`` (MW per unit),
    ``max_p`` (MW per unit), ``targets`` (net position per country) and ``sgen_cap``
    (the year's capacity of each distributed generator).
    """
    zone = _zone(model)
    modelled = sorted({zone[d["bus"]] for d in model["load"] if d["id"].startswith("D_")})
    base: dict[str, float] = {}
    for d in model["load"]:  # the loads in service in the year
        if d["id"].startswith("D_") and in_service(d, year):
            base[zone[d["bus"]]] = base.get(zone[d["bus"]], 0.0) + d["p_mw"]
    load = {cc: countries[cc]["peak"][year] * countries[cc]["share"][hour] for cc in modelled}
    sets = []
    ids = {d["id"] for d in model["load"]}
    for key, mw in sorted(injections(countries, neighbours, year, hour).items()):
        if key in ids:
            sets.append({"element": "load", "id": key, "field": "p_mw", "value": -float(mw)})
    if hour in CAPACITORS_OFF:
        for sh in model["shunt"]:
            if sh["id"].startswith("C_"):
                sets.append({"element": "shunt", "id": sh["id"], "field": "step", "value": 0.0})
    hv = hvdc_base(model, countries, neighbours, year, hour)
    lcc = {d["id"][3:-5] for d in model["load"] if d["id"].startswith("QC_")}
    for hid, p in hv.items():
        sets.append({"element": "hvdc", "id": hid, "field": "p_mw", "value": p})
        if hid in lcc:
            rating = next(h["max_p_mw"] for h in model["hvdc"] if h["id"] == hid)
            steps = int(abs(p) * FILTER_STEPS / rating + 0.5)  # nearest to the draw
            for end in ("from", "to"):
                q = round(LCC_Q_SHARE * abs(p), 1)
                sets.append(
                    {"element": "load", "id": f"QC_{hid}_{end}", "field": "q_mvar", "value": q}
                )
                sets.append(
                    {
                        "element": "shunt",
                        "id": f"F_{hid}_{end}",
                        "field": "step",
                        "value": float(steps),
                    }
                )
    cap: dict[str, float] = {}  # the year's capacity of the map's units
    rest_f: dict[tuple[str, str], float] = {}  # REST units' scale factor per group
    for cc in modelled:
        cap |= map_capacity(model, countries, cc, year)
        rest = group_capacity(model, cc, year, rest=True)
        for k, mw in rest_need(model, countries, cc, year).items():
            if rest.get(k):
                rest_f[(cc, k)] = mw / rest[k]

    def capacity(g: dict) -> float:
        if _is_rest(g):
            return round(g["max_p_mw"] * rest_f[(zone[g["bus"]], GROUP[dispatch.carrier(g)])], 1)
        return round(cap[g["id"]], 1)

    max_p: dict[str, float] = {}
    res_mw: dict[str, float] = {}
    res_sets: dict[str, list] = {}
    sgen_cap: dict[str, float] = {}
    for g in model["sgen"]:
        cc = zone[g["bus"]]
        if not in_service(g, year) or cc not in modelled:
            continue
        c = dispatch.carrier(g)
        sgen_cap[g["id"]] = capacity(g)
        p = sgen_cap[g["id"]] * countries[cc]["res_cf"][hour][c]
        res_sets.setdefault(cc, []).append((g["id"], p))
        res_mw[cc] = res_mw.get(cc, 0.0) + p
    targets = {cc: countries[cc]["net"][(year, hour)] for cc in modelled}
    need = {cc: load[cc] * (1 + dispatch.LOSS_ALLOWANCE) + targets[cc] for cc in modelled}
    for cc, items in sorted(res_sets.items()):
        # renewables beyond the country's need less RES_HEADROOM of its load are
        # curtailed (in proportion), so that its other units can still balance it
        room = need[cc] - dispatch.RES_HEADROOM * load[cc]
        keep = min(1.0, room / res_mw[cc]) if res_mw[cc] > 0 else 1.0
        keep = max(keep, 0.0)
        res_mw[cc] *= keep
        for sid, p in items:
            sets.append(
                {"element": "sgen", "id": sid, "field": "p_mw", "value": round(p * keep, 1)}
            )
    units: dict[str, list] = {}
    for g in model["gen"]:
        cc = zone[g["bus"]]
        if in_service(g, year) and cc in modelled:
            max_p[g["id"]] = capacity(g)
            units.setdefault(cc, []).append(g | {"max_p_mw": max_p[g["id"]]})
    p_gen: dict[str, float] = {}
    for cc in modelled:
        rest = need[cc] - res_mw.get(cc, 0.0)
        p_gen |= dispatch.merit_dispatch(units.get(cc, []), rest, hour)
    spec = {
        "year": year,
        "description": f"{year} {hour.replace('_', ' ')}: loads, capacities and net positions "
        "per country from networks/data/country_balances.yaml, merit-order dispatch",
        "scale": {"load": {cc: round(load[cc] / base[cc], 6) for cc in modelled}},
        "set": sets,
    }
    plan = {"p_gen": p_gen, "max_p": max_p, "targets": targets, "sgen_cap": sgen_cap}
    return spec, plan
