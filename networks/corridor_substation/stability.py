"""Voltage-stability limits the builder derives from the model itself.

Nakhchivan is fed from the Azerbaijani mainland by one 330 kV chain (data set lines
``L_AZ_10``..``L_AZ_14``, the last a 149 km double circuit Aghband-Nakhchivan) and sends
power on to Türkiye through the Nakhchivan converter (``DC_NAX_CONV``). With a large
schedule on the converter the outage of one circuit of ``L_AZ_14`` leaves a power flow
with no solution (a voltage collapse) long before any thermal limit: the 2032 summer
peak's 529 MW through the converter put 516 MW on the line, 33 % of its rating, and the
outage did not solve.

As TSOs publish such limits (a flow limit on the corridor from a P-V study of its worst
outage, with a margin), the builder derives one per scenario: the largest flow into
Nakhchivan over ``L_AZ_14`` (both circuits, measured at Aghband) at which the outage of
one circuit still has an AC solution (reactive limits enforced), found by moving the
converter's setpoint (steps of ``SCAN_MW`` from the scenario's, then bisection to
``TOL_MW``) with everything else as the scenario
dispatches it, less ``MARGIN`` (5 %: the study's voltage-stability margin,
``gridsim.study.cases.VOLTAGE_STABILITY_MARGIN``). It becomes the scenario's
``limit_mw`` of the interface :data:`ZANGEZUR` (kind ``stability``), held by the N-1 TTC
in the base case and at the TTC. Where the outage solves over the converter's whole
range the interface keeps its default, one circuit's thermal rating (which the N-1
thermal rows hold anyway).
"""

from __future__ import annotations

LINE = "L_AZ_14"
LINK = "DC_NAX_CONV"
MARGIN = 0.05
TOL_MW = 5.0
SCAN_MW = 100.0

ZANGEZUR = {
    "id": "IF_ZANGEZUR_N1",
    "name": "Aghband -> Nakhchivan 330 kV (L_AZ_14, both circuits): voltage stability after "
    "the loss of one circuit",
    "members": [{"element": "line", "id": LINE, "direction": 1}],
    "kind": "stability",
    "source": "derived: P-V bisection on the model after the loss of one circuit of L_AZ_14, "
    "5 % margin (networks/corridor_substation/stability.py)",
    "note": "limit_mw per scenario; default: one circuit's thermal rating",
}


def interface(model: dict) -> dict:
    """The :data:`ZANGEZUR` record, its default limit one circuit's rating and its
    status and year the line's."""
    line = next(r for r in model["line"] if r["id"] == LINE)
    rating = round(line["rate_mva"] / line.get("parallel", 1), 1)
    keep = {k: line[k] for k in ("status", "year") if k in line}
    return {**ZANGEZUR, "limit_mw": rating} | keep


def limit_mw(net) -> float | None:
    """The scenario's stability limit of :data:`ZANGEZUR` (module docstring), or None
    where the line or the converter is not in service or the outage solves over the
    converter's whole range."""
    import gridsim
    from gridsim.analysis.outages import ordinary_contingencies, solve_outage

    if not (net.line.in_service.get(LINE, False) and net.hvdc.in_service.get(LINK, False)):
        return None
    outage = next(
        o for o in ordinary_contingencies(net, units=None) if o.element == "line" and o.id == LINE
    )
    rating = float(net.hvdc.max_p_mw[LINK])
    trial = net.copy()

    def flow(p: float) -> float | None:
        """The flow on the line with the converter at ``p``, None where the intact grid
        or the outage has no solution."""
        trial.hvdc.loc[LINK, "p_mw"] = p
        trial.invalidate()
        res = gridsim.run_ac(trial, enforce_q_limits=True)
        if not res.converged:
            return None
        post = solve_outage(trial, outage, base=res, enforce_q_limits=True)
        return float(res.branch.p_from_mw[("line", LINE)]) if post.converged else None

    # bracket the collapse point from the scenario's setpoint in steps of SCAN_MW; each
    # point solved once (``good``: the flow at ``lo``, the last point that solves)
    lo = hi = float(net.hvdc.p_mw[LINK])
    good = flow(lo)
    if good is None:
        while good is None:
            hi, lo = lo, lo - SCAN_MW
            if lo < -rating:
                return None  # not even at full import: no stable point to limit to
            good = flow(lo)
    else:
        while True:
            hi = lo + SCAN_MW
            if hi > rating:
                return None  # solves over the whole range: no limit
            ahead = flow(hi)
            if ahead is None:
                break
            lo, good = hi, ahead
    while hi - lo > TOL_MW:
        mid = 0.5 * (lo + hi)
        at = flow(mid)
        if at is None:
            hi = mid
        else:
            lo, good = mid, at
    return round((1.0 - MARGIN) * good, 1)
