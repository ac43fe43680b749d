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
CAPACITY_MARGIN = 1.1  #: map capacity scaled so that availability covers need x this


def load_weights(model: dict, stations: dict[str, object]) -> dict[str, float]:
    """Proxy of each bus's share of its country's load.

    Every substation of the map (not a joint, not a plant-only bus) takes one equal share,
    at its lowest voltage level; the data set's Azerbaijani buses take its own load split.
    ``stations`` maps a bus id to its station key (None: no load).
    """
    lowest: dict[object, tuple[float, str]] = {}
    for b in model["bus"]:
        key = stations.get(b["id"])
        if key is None:
            continue
        cand = (b["vn_kv"], b["id"])
        if key not in lowest or cand < lowest[key]:
            lowest[key] = cand
    return {bid: 1.0 for _, bid in lowest.values()}


def carrier(rec: dict) -> str:
    """The carrier written first in a generator's note."""
    return rec["note"].split(";")[0]


def merit_dispatch(units: list[dict], target: float, hour: str) -> dict[str, float]:
    """Fill ``target`` MW in merit order, each class up to its availability.

    Within a class every unit runs at the same share of its capacity. Returns MW per id
    (units not needed: 0).
    """
    out = {u["id"]: 0.0 for u in units}
    left = max(target, 0.0)
    for c in MERIT:
        cls = [u for u in units if carrier(u) == c]
        avail = sum(u["max_p_mw"] * AVAIL[c][hour] for u in cls)
        if not cls or avail <= 0:
            continue
        take = min(left, avail)
        for u in cls:
            out[u["id"]] = take / avail * u["max_p_mw"] * AVAIL[c][hour]
        left -= take
    return out


def available(units: list[dict], hour: str) -> float:
    """MW the units can give in the hour type."""
    return sum(u["max_p_mw"] * AVAIL[carrier(u)][hour] for u in units)


def tan_phi(pf: float) -> float:
    """Q/P of a load of power factor ``pf`` (lagging)."""
    return math.tan(math.acos(pf))
