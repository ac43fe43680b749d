"""Calibrate the corridor model's cross-border capacities against the published NTCs.

Usage::

    python networks/calibrate_borders.py [--set-aside-insecure] [--scenario 2026_winter_peak]
        [--borders AZ-GE,GE->TR] [--published-only] [-o networks/data/calibration.csv]

For each border of issue 19's acceptance 4 (``PAIRS``) in both directions, and each
other border with a published figure in ``networks/data/borders_ntc.yaml`` in the
directions published (``--borders``: those pairs only; ``--published-only``: only the
directions with a published figure), the model's N-1 transfer capability in ENTSO-E's
terms next to the published value:

- BCE, the base case exchange: the flow from zone A into zone B over every AC line and
  HVDC link joining them, measured at A's end, in the scenario's base case secured by
  :func:`gridsim.n1_ttc` (its least preventive redispatch);
- dE, the largest additional exchange A -> B that holds N-1 (ordinary contingencies
  with the largest unit per synchronous area, ``UNITS``; AC-verified) with the study's
  options (``N1_OPTIONS``: thermal limits on the CNECs, voltages everywhere, the
  preventive voltage control): ``gridsim.n1_ttc(net, A, B, base=secured,
  published_limits="ignore")`` with none of the network's interfaces held, physics only;
- TTC = BCE + dE; NTC = TTC - TRM with ``TRM_MW``; ratio = model NTC / published value
  (the sum of a direction's path figures where it has several).

The base case is secured once per scenario (``gridsim.secured_base``: it does not depend
on the border) and each border's transfer starts from it. Where it cannot be secured,
every row says so and has no TTC; ``--set-aside-insecure`` sets the outages it leaves
violated aside (every row says how many). Writes ``networks/data/calibration.csv``
(``-o``; row by row as they come) and prints the markdown table of networks/README.md
("Calibration against published NTCs"); progress on stderr. Deterministic: the same
model gives the same file.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
import warnings
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]  # the rules package
sys.path.append(str(HERE.parent))  # this checkout's gridsim, unless one is on PYTHONPATH

from corridor_substation.interfaces import border_members, period_year  # noqa: E402

import gridsim  # noqa: E402
from gridsim.study import cases  # noqa: E402

MODEL = HERE / "corridor_substation.yaml"
LIMITS = HERE / "data" / "borders_ntc.yaml"
DEFAULT_OUT = HERE / "data" / "calibration.csv"
SCENARIO = "2026_winter_peak"
#: Issue 19, acceptance 4: the borders of the region, in its order.
PAIRS = (
    "AZ-GE", "GE-TR", "TR-BG", "TR-GR", "BG-RO", "BG-RS", "BG-GR", "BG-MK",
    "RO-RS", "RO-HU", "RS-HU", "RS-MK", "RS-ME", "RS-BA", "RS-HR", "GR-MK",
)  # fmt: skip
#: Transmission reliability margin per border and direction, MW (estimated: the round
#: value SEE TSOs commonly deduct; no public source for these borders was found).
TRM_MW = 100.0
#: Unit outages in the ordinary contingencies: the largest unit of each synchronous area
#: (issue 17's minimum; with every unit each direction takes several times longer).
UNITS = "largest_per_area"
#: The study's N-1 options (gridsim.study.cases.N1_OPTIONS): thermal limits held on the CNECs
#: (zone-to-zone PTDF >= 5 %), voltages, diverging and islanding outages everywhere; the
#: preventive voltage control (units' setpoints, switched banks) on, as n1_ttc's default.
N1_OPTIONS = {**cases.N1_OPTIONS, "units": UNITS, "published_limits": "ignore"}
#: Ratios outside this band need an explanation (issue 19, acceptance 4).
BAND = (0.7, 1.3)
#: Facts about a published figure that explain a ratio outside BAND, beside what binds in
#: the model (sources: networks/data/SOURCES.md, corridor = ../shared/corridor/SOURCES.md).
_TR_CE = (
    "published value is a share (2/3 BG, 1/3 GR) of ENTSO-E's 2014 allocation of {} MW "
    "Türkiye {}, a security limit of the TR-CE synchronous connection conditioned on special "
    "protection schemes in Türkiye (corridor S33), not a thermal one; no later value found"
)
_SEE_CAO = (
    "published value is the yearly capacity SEE CAO offered for 2021 (D49), a commercial "
    "allocation; the Kosovo-Albania 400 kV line was announced with 900 MW (D48)"
)
_BG_GR = (
    "published value counts the second BG-GR 400 kV line (Nea Santa-Maritsa East, energised "
    "June 2023, D41, D43), which the model (the 2018 map) does not have: it has one BG-GR tie"
)
CONTEXT: dict[tuple[str, str], str] = {
    ("TR", "BG"): _TR_CE.format(500, "export"),
    ("TR", "GR"): _TR_CE.format(500, "export"),
    ("BG", "TR"): _TR_CE.format(650, "import"),
    ("GR", "TR"): _TR_CE.format(650, "import"),
    ("BG", "GR"): _BG_GR,
    ("GR", "BG"): _BG_GR,
    ("RS", "XK"): "NTC 0: EMS and KOSTT have agreed no allocation mechanism (D79), a "
    "commercial decision, not a physical limit",
    ("XK", "RS"): "NTC 0: EMS and KOSTT have agreed no allocation mechanism (D79), a "
    "commercial decision, not a physical limit",
    ("XK", "AL"): _SEE_CAO,
    ("AL", "XK"): _SEE_CAO,
    ("XK", "MK"): _SEE_CAO,
    ("MK", "XK"): _SEE_CAO,
    ("XK", "ME"): _SEE_CAO,
    ("ME", "XK"): _SEE_CAO,
    ("RS", "HU"): "published value is the usual monthly auction capacity of 2014 (corridor "
    "S58), dated",
    ("AZ", "GE"): "published values are path limits (Mukhrani 500 kV stability 700 MW, "
    "corridor S15; Gardabani 330 kV circuit 1 700 MW, S16), compared here with their sum",
    ("GE", "AZ"): "published values are path limits (Mukhrani 500 kV stability 700 MW, "
    "corridor S15; Gardabani 330 kV circuit 1 700 MW, S16), compared here with their sum",
}
COLUMNS = [
    "scenario", "border", "published_mw", "published", "kind", "period", "source",
    "bce_mw", "delta_e_mw", "ttc_mw", "trm_mw", "ntc_mw", "ratio", "status",
    "set_aside", "binding", "explanation",
]  # fmt: skip


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def directions(limits: dict, pairs: list[str], every: bool, others: bool) -> list[tuple[str, str]]:
    """(A, B) of the listed pairs (``"A-B"``: both ways where published, every way with
    ``every``; ``"A->B"``: that way), then (with ``others``) every other published
    direction, in the file's order."""
    published = [(b["from"], b["to"]) for b in limits["borders"] if b.get("ntc_mw") is not None]
    out = []
    for pair in pairs:
        if "->" in pair:  # one direction, published or not
            out.append(tuple(pair.split("->")))
            continue
        a, b = pair.split("-")
        out += [d for d in ((a, b), (b, a)) if every or d in published]
    listed = {frozenset(p.replace(">", "").split("-")) for p in pairs}
    if others:
        out += [d for d in published if frozenset(d) not in listed]
    return list(dict.fromkeys(out))


def figures(limits: dict, a: str, b: str) -> list[dict]:
    """The published entries of direction a -> b with a number."""
    return [
        e
        for e in limits["borders"]
        if (e["from"], e["to"]) == (a, b) and e.get("ntc_mw") is not None
    ]


def border_flow(net, res, a: str, b: str) -> float:
    """MW from zone a into zone b over the in-service ties, measured at a's end."""
    zone = net.bus.zone
    total = 0.0
    for table in (res.branch, res.hvdc):
        fz = zone.loc[table.from_bus].to_numpy()
        tz = zone.loc[table.to_bus].to_numpy()
        pf, pt = table.p_from_mw.to_numpy(), table.p_to_mw.to_numpy()
        for x, y, p, q in zip(fz, tz, pf, pt, strict=True):
            if (x, y) == (a, b):
                total += float(p)
            elif (x, y) == (b, a):
                total += float(q)
    return total


def describe(net, item: dict | None) -> str:
    """A binding limit in words: ``kind element id (zones, kV) after contingency``."""
    if not item:
        return ""
    element, eid = item.get("element"), item.get("id")
    where = ""
    if element in ("line", "trafo"):
        table = net.line if element == "line" else net.trafo
        ends = ("from_bus", "to_bus") if element == "line" else ("hv_bus", "lv_bus")
        buses = [table.at[eid, e] for e in ends]
        zones = "-".join(dict.fromkeys(str(net.bus.zone[x]) for x in buses))
        kv = "/".join(dict.fromkeys(f"{net.bus.vn_kv[x]:g}" for x in buses))
        where = f" ({zones} {kv} kV)"
    elif element == "hvdc":
        where = f" (rating {net.hvdc.max_p_mw[eid]:g} MW)"
    elif element == "gen":
        where = f" ({net.bus.zone[net.gen.bus[eid]]} unit at its limit)"
    after = f" after {item['contingency']}" if item.get("contingency") else ""
    kind = item.get("kind")
    return f"{kind if kind != element else ''} {element} {eid}{where}{after}".strip()


def party(net, zone: str, element: str):
    """The source (``gen``) or sink (``load``) of a zone for n1_ttc: the zone code, or,
    where the zone spans two synchronous areas (Georgia's CE-side Akhaltsikhe bus), the
    ids of its in-service elements in the area holding most of them."""
    table = getattr(net, element)
    on = table.in_service.to_numpy(dtype=bool)
    if element == "gen":
        on &= ~table.slack.to_numpy(dtype=bool)
    ids = table.index[on & (net.bus.zone.reindex(table.bus) == zone).to_numpy()]
    areas = net.bus.area.reindex(table.bus.reindex(ids))
    if areas.nunique() <= 1:
        return zone
    main = areas.value_counts().index[0]
    return list(ids[(areas == main).to_numpy()])


def facts(net, item: dict | None, a: str, b: str) -> str:
    """What a binding limit is, in a planner's words (the part of an explanation that
    the result itself gives)."""
    if not item:
        return ""
    element, eid, kind = item.get("element"), item.get("id"), item.get("kind")
    after = f" after {item['contingency']}" if item.get("contingency") else " in the intact grid"
    if kind == "diverged":
        return f"the AC power flow{after} does not converge (voltage collapse)"
    if kind == "voltage":
        return f"voltage at {eid} ({net.bus.zone[eid]} {net.bus.vn_kv[eid]:g} kV){after}"
    if element == "hvdc":
        return f"the rating of {eid} ({net.hvdc.max_p_mw[eid]:g} MW)"
    if element == "gen":
        return f"{net.bus.zone[net.gen.bus[eid]]} units at their maximum (no headroom)"
    if element not in ("line", "trafo"):
        return ""
    table = net.line if element == "line" else net.trafo
    ends = ("from_bus", "to_bus") if element == "line" else ("hv_bus", "lv_bus")
    zones = list(dict.fromkeys(str(net.bus.zone[table.at[eid, e]]) for e in ends))
    kvs = list(dict.fromkeys(float(net.bus.vn_kv[table.at[eid, e]]) for e in ends))
    kv = "/".join(f"{v:g}" for v in kvs)
    if set(zones) == {a, b}:
        return f"the border's own {kv} kV tie {eid}{after}"
    if len(zones) == 1:
        below = ": the model has no 110 kV network to share its flow" if max(kvs) <= 220 else ""
        return f"an internal {kv} kV {element} in {zones[0]} ({eid}){after}{below}"
    return f"the {'-'.join(zones)} tie {eid} ({kv} kV){after}: a loop flow"


def calibrate_direction(
    net, secured, res, base, a: str, b: str, entries: list[dict], modelled: str, set_aside: bool
) -> dict:
    """One row of the table for direction a -> b of ``net`` from its secured base case
    ``secured`` (:func:`gridsim.secured_base`; ``res``: its AC solution; ``base``: the
    zero-transfer :func:`gridsim.n1_ttc` from it, for the status); ``modelled``: why the
    model cannot be compared ("" where it can)."""
    row = {
        "published_mw": sum(e["ntc_mw"] for e in entries) if entries else math.nan,
        "published": " + ".join(
            f"{e['ntc_mw']:g}" + (f" ({e['path']}, {e['kind']})" if e.get("path") else "")
            for e in entries
        )
        or "not found",
        "kind": "/".join(dict.fromkeys(e["kind"] for e in entries)),
        "period": "; ".join(dict.fromkeys(str(e.get("period", "")) for e in entries)),
        "source": ", ".join(dict.fromkeys(str(e.get("source", "")) for e in entries)),
        "trm_mw": TRM_MW,
        "set_aside": len(base.set_aside),
        "status": base.status,
    }
    if modelled:
        return row | {"status": modelled}
    if not base.defined:
        return row | {"binding": base.message}
    at = secured.network
    row["bce_mw"] = border_flow(at, res, a, b)
    try:
        r = gridsim.n1_ttc(
            net,
            party(net, a, "gen"),
            party(net, b, "load"),
            base=secured,
            set_aside_insecure=set_aside,
            **N1_OPTIONS,
        )
    except gridsim.GridsimError as exc:  # e.g. a zone without headroom: said in the row
        return row | {"status": f"not computed: {exc}"}
    if not r.defined:
        return row | {"status": r.status, "binding": r.message}
    row["delta_e_mw"] = r.ttc_mw
    row["ttc_mw"] = row["bce_mw"] + r.ttc_mw
    row["ntc_mw"] = row["ttc_mw"] - TRM_MW
    if row["published_mw"] > 0:
        row["ratio"] = row["ntc_mw"] / row["published_mw"]
    step = r.next_step.iloc[0].to_dict() if len(r.next_step) else None
    parts = [f"LP: {describe(at, r.binding)}" if r.binding else ""]
    parts.append(f"AC at {r.next_step_mw:.0f} MW: {describe(at, step)}" if step else "")
    row["binding"] = "; ".join(p for p in parts if p)
    row["limit"] = facts(at, step or r.binding, a, b)
    return row


def explain(row: dict) -> str:
    """Why a ratio lies outside ``BAND`` (or the published value is 0): what binds in
    the model, and the facts about the published figure (``CONTEXT``)."""
    ratio = row.get("ratio", math.nan)
    if row.get("published_mw") != 0 and (math.isnan(ratio) or BAND[0] <= ratio <= BAND[1]):
        return ""
    a, b = row["border"].split("->")
    binds = f"the model is bound by {row['limit']}" if row.get("limit") else ""
    bce = row.get("bce_mw", math.nan)
    against = (
        f"the base case flows {-bce:.0f} MW {b}->{a}, which TTC = BCE + dE counts against "
        "this direction"
        if bce < 0
        else ""
    )
    de = row.get("delta_e_mw", math.nan)
    near = f", which the secured base case nearly reaches (dE {de:.0f} MW)" if de < 50 else ""
    return "; ".join(p for p in (CONTEXT.get((a, b), ""), against, binds + near) if p)


def why_not_modelled(model: dict, zones: set, a: str, b: str, entries: list[dict]) -> str:
    """Why direction a -> b cannot be compared with the model ("" where it can)."""
    missing = [z for z in (a, b) if z not in zones]
    if missing:
        return f"not modelled: zone {missing[0]} is not in the model"
    if entries and not any(
        border_members(model, a, b, period_year(e.get("period")), e.get("select")) for e in entries
    ):
        return "not modelled: the interconnector of the published figure is not in the model"
    return ""


def read_model(path: Path) -> dict:
    """The model file's element tables (with status and year, which a Network drops)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=loader)


def run(
    scenario: str = SCENARIO,
    pairs: list[str] = PAIRS,
    every: bool = True,
    others: bool = True,
    set_aside: bool = False,
    out: Path | None = None,
) -> list[dict]:
    """The table's rows (see the module docstring), written to ``out`` (CSV) as they come."""
    limits = yaml.safe_load(LIMITS.read_text(encoding="utf-8"))
    start = time.perf_counter()
    model = read_model(MODEL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = gridsim.load_network(MODEL, scenario=scenario)
    log(f"loaded {MODEL.name} [{scenario}] in {time.perf_counter() - start:.1f} s")
    net.interfaces = []  # physics against the published figures: none of them held
    zones = set(net.bus.zone)
    todo = []
    for a, b in directions(limits, list(pairs), every, others):
        entries = figures(limits, a, b)
        todo.append((a, b, entries, why_not_modelled(model, zones, a, b, entries)))
    t0 = time.perf_counter()
    first = next(t for t in todo if not t[3])
    secured = gridsim.secured_base(net, set_aside_insecure=set_aside, **N1_OPTIONS)
    base = gridsim.n1_ttc(
        net, party(net, first[0], "gen"), party(net, first[1], "load"), max_mw=0.0,
        base=secured, set_aside_insecure=set_aside, **N1_OPTIONS,
    )  # fmt: skip
    res = gridsim.run_ac(secured.network, enforce_q_limits=True)  # the BCE of every row
    log(
        f"base case: {base.status}, {len(base.set_aside)} outages set aside, "
        f"{secured.base_rounds} redispatch LP(s), {time.perf_counter() - t0:.0f} s"
    )
    rows = []
    for a, b, entries, modelled in todo:
        t0 = time.perf_counter()
        row = {"scenario": scenario, "border": f"{a}->{b}"}
        row |= calibrate_direction(net, secured, res, base, a, b, entries, modelled, set_aside)
        row["explanation"] = explain(row)
        rows.append(row)
        if out is not None:
            write_csv(rows, out)
        log(
            f"{a}->{b}: model NTC {_fmt(row.get('ntc_mw', math.nan))} MW, published "
            f"{row['published']} ({time.perf_counter() - t0:.0f} s)"
        )
    log(f"{len(rows)} directions in {time.perf_counter() - start:.0f} s")
    return rows


def _fmt(value, digits: int = 0) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:,.{digits}f}"
    return "" if value is None else str(value)


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow(
                {
                    k: (f"{row[k]:.3f}" if k == "ratio" else f"{row[k]:.1f}")
                    if isinstance(row.get(k), float) and math.isfinite(row[k])
                    else ("" if isinstance(row.get(k), float) else row.get(k, ""))
                    for k in COLUMNS
                }
            )


def markdown(rows: list[dict]) -> str:
    head = (
        "| border | published (MW) | source, period | BCE | dE | TTC | NTC | ratio "
        "| binding / status | explanation |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['border']} | {r['published']} | "
        f"{', '.join(x for x in (r['source'], r['period']) if x)} | "
        f"{_fmt(r.get('bce_mw', math.nan))} | {_fmt(r.get('delta_e_mw', math.nan))} | "
        f"{_fmt(r.get('ttc_mw', math.nan))} | {_fmt(r.get('ntc_mw', math.nan))} | "
        f"{_fmt(r.get('ratio', math.nan), 2)} | {r.get('binding') or r.get('status', '')} | "
        f"{r.get('explanation', '')} |\n"
        for r in rows
    )
    return head + body


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=SCENARIO)
    ap.add_argument("--borders", help="comma-separated A-B or A->B (default: PAIRS and the rest)")
    ap.add_argument("--published-only", action="store_true")
    ap.add_argument("--set-aside-insecure", action="store_true")
    ap.add_argument("-o", "--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    pairs = args.borders.split(",") if args.borders else PAIRS
    rows = run(
        args.scenario,
        pairs,
        not args.published_only,
        not args.borders,
        args.set_aside_insecure,
        Path(args.out),
    )
    print(markdown(rows))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
