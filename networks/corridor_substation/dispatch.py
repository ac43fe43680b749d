"""Demand and dispatch per country, year and hour type, written as scenario overlays.

Loads: each country's load for the hour (peak x the hour's share) is spread over its
substations by the proxy in :func:`load_weights`. Generation: renewables at fixed
shares of capacity per hour type; the other units dispatched in the merit order
``MERIT`` up to their availability until the country covers its load, its loss
allowance and its net position (``net_position_mw``, positive = export). A solve then
moves each country's residual (the difference between the net position the power flow
gives and the target) onto its dispatched units, so that the net positions hold within
``NP_TOLERANCE_MW``; the area slacks (the RU and AT equivalents) take the rest.
"""

from __future__ import annotations

import math

YEARS = (2026, 2030, 2032)
HOURS = ("winter_peak", "summer_peak", "low_load_high_res")
#: Merit order of conventional carriers (must-run and cheapest first; estimated).
MERIT = ("nuclear", "lignite", "coal", "hydro_ror", "other", "gas", "hydro_storage", "oil")
#: Storage hydro's peak tranche: at a peak hour a reservoir plant is run for the peak
#: (its water is worth most then), so this share of its capacity is dispatched ahead of
#: "other" and gas; the rest of its availability stays after gas, as at low load, where
#: the water is kept (estimated; D90: Türkiye's hydro gave 24.6 % of 1,041 GWh on a
#: February 2026 weekday, 10.7 GW of its 32 GW (D82) on average over the day, more at
#: the evening peak). Without it eastern Türkiye's dams ran at 4 % at the winter peak
#: and the east was fed from the west.
PEAK_STORAGE = {"winter_peak": 0.4, "summer_peak": 0.3, "low_load_high_res": 0.0}
#: Availability of a carrier's capacity per hour type (estimated).
AVAIL = {
    "nuclear": {"winter_peak": 0.95, "summer_peak": 0.9, "low_load_high_res": 0.85},
    "lignite": {"winter_peak": 0.85, "summer_peak": 0.8, "low_load_high_res": 0.7},
    "coal": {"winter_peak": 0.85, "summer_peak": 0.8, "low_load_high_res": 0.7},
    "hydro_ror": {"winter_peak": 0.5, "summer_peak": 0.4, "low_load_high_res": 0.7},
    "other": {"winter_peak": 0.6, "summer_peak": 0.6, "low_load_high_res": 0.6},
    "gas": {"winter_peak": 0.9, "summer_peak": 0.9, "low_load_high_res": 0.9},
    "hydro_storage": {"winter_peak": 0.85, "summer_peak": 0.7, "low_load_high_res": 0.5},
    "oil": {"winter_peak": 0.9, "summer_peak": 0.9, "low_load_high_res": 0.9},
}
#: Renewable output as a share of capacity per hour type (estimated; the balances' own
#: shares replace these where given).
RES_CF_DEFAULT = {
    "wind": {"winter_peak": 0.3, "summer_peak": 0.2, "low_load_high_res": 0.6},
    "solar": {"winter_peak": 0.0, "summer_peak": 0.6, "low_load_high_res": 0.7},
}
#: Share of a country's load left to its dispatchable units when renewables are curtailed.
RES_HEADROOM = 0.05
LOSS_ALLOWANCE = 0.015  #: transmission losses as a share of load (estimated)
NP_TOLERANCE_MW = 25.0  #: stated tolerance of each country's net position
#: Line circuits from which a station counts as firmly fed (see load_weights).
FIRM_CIRCUITS = 3
CAPACITY_MARGIN = 1.1  #: map capacity scaled so that availability covers need x this


def load_weights(model: dict, stations: dict[str, object]) -> dict[str, float]:
    """Proxy of each bus's share of its country's load.

    Every substation of the map (not a joint, not a plant-only bus) takes a share at its
    lowest voltage level, in proportion to its firm in-feed: the line circuits that end at
    it (all its voltage levels, lines in service from the first scenario year), counted up
    to FIRM_CIRCUITS. A station fed by one circuit takes a third of a meshed station's
    share (a planner does not hang a city's load on one circuit); from FIRM_CIRCUITS on
    every station takes the same (estimated rule; equal shares made load pockets at
    weakly fed stations). The data set's Azerbaijani buses take its own load split.
    ``stations`` maps a bus id to its station key (None: no load).
    """
    circuits: dict[object, float] = {}
    for ln in model["line"]:
        if ln.get("in_service") is False or ln.get("status") == "proposed":
            continue
        if ln.get("year", YEARS[0]) > YEARS[0]:
            continue
        for end in ("from_bus", "to_bus"):
            key = stations.get(ln[end])
            if key is not None:
                circuits[key] = circuits.get(key, 0.0) + ln["parallel"]
    lowest: dict[object, tuple[float, str]] = {}
    for b in model["bus"]:
        key = stations.get(b["id"])
        if key is None:
            continue
        cand = (b["vn_kv"], b["id"])
        if key not in lowest or cand < lowest[key]:
            lowest[key] = cand
    return {
        bid: min(max(circuits.get(key, 0.0), 1.0), FIRM_CIRCUITS)
        for key, (_, bid) in lowest.items()
    }


def carrier(rec: dict) -> str:
    """The carrier written first in a generator's note."""
    return rec["note"].split(";")[0]


def merit_dispatch(units: list[dict], target: float, hour: str) -> dict[str, float]:
    """Fill ``target`` MW in merit order, each class up to its availability.

    Within a class every unit runs at the same share of its capacity; storage hydro's
    peak tranche (``PEAK_STORAGE``) comes after run-of-river, the rest of its
    availability at its place in ``MERIT``. Returns MW per id (units not needed: 0).
    """
    out = {u["id"]: 0.0 for u in units}
    left = max(target, 0.0)
    peak = min(PEAK_STORAGE[hour], AVAIL["hydro_storage"][hour])
    steps = []
    for c in MERIT:
        if c == "hydro_storage":
            steps.append((c, AVAIL[c][hour] - peak))
        else:
            steps.append((c, AVAIL[c][hour]))
        if c == "hydro_ror" and peak > 0:
            steps.append(("hydro_storage", peak))
    for c, share in steps:
        cls = [u for u in units if carrier(u) == c]
        avail = sum(u["max_p_mw"] * share for u in cls)
        if not cls or avail <= 0:
            continue
        take = min(left, avail)
        for u in cls:
            out[u["id"]] += take / avail * u["max_p_mw"] * share
        left -= take
    return out


def available(units: list[dict], hour: str) -> float:
    """MW the units can give in the hour type."""
    return sum(u["max_p_mw"] * AVAIL[carrier(u)][hour] for u in units)


def tan_phi(pf: float) -> float:
    """Q/P of a load of power factor ``pf`` (lagging)."""
    return math.tan(math.acos(pf))
