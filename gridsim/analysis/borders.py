"""Flows across the borders between zones (countries) of a solved network."""

from __future__ import annotations

ZERO_MW = 1e-6  # net border flows below this are reported as 0


def border_flows(network, res) -> dict[tuple[str, str], float]:
    """MW from zone a to zone b, summed over the AC branches between them.

    Each branch is measured at its end in the alphabetically first zone of the pair (so
    the losses of all branches are counted alike), and the pair is written in the
    direction of the net flow; a net flow under ``ZERO_MW`` is written as 0 from the
    alphabetically first zone (its sign is round-off). Empty when the buses carry no
    zones.
    """
    zone = network.bus.zone
    if not (zone != "").any() or not len(res.branch):
        return {}
    br = res.branch
    fz = zone.loc[br.from_bus].to_numpy()
    tz = zone.loc[br.to_bus].to_numpy()
    totals: dict[tuple[str, str], float] = {}
    for a, b, p_from, p_to in zip(
        fz, tz, br.p_from_mw.to_numpy(), br.p_to_mw.to_numpy(), strict=True
    ):
        if a == b or not a or not b:
            continue
        key, leaving = ((a, b), p_from) if a < b else ((b, a), p_to)
        totals[key] = totals.get(key, 0.0) + float(leaving)
    out = {}
    for (a, b), p in sorted(totals.items()):
        if abs(p) < ZERO_MW:
            out[(a, b)] = 0.0
        else:
            out[(a, b) if p > 0 else (b, a)] = abs(p)
    return out
