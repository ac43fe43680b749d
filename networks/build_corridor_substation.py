"""Build networks/corridor_substation.yaml: the corridor at substation level.

Usage::

    python networks/build_corridor_substation.py [-o networks/corridor_substation.yaml]

Inputs: the ENTSO-E map extract (``../shared/corridor/gridkit/``), the corridor data set
(``../shared/corridor/corridor_data.yaml``), the standard types
(``networks/data/line_types.yaml``) and, when present, the country balances
(``networks/data/country_balances.yaml``; without it the estimated ``FALLBACK_BALANCES``
below are used and every load and exchange says so). Deterministic: the same inputs give
the same file, byte for byte. The modules of ``networks/corridor_substation/`` hold the
rules (topology, standard types, the projects of networks/data/projects.yaml in service
by their year, the Caucasus and the equivalents, the network around Niš and the CCGT's
sites, dispatch); the
choices and their sources are in networks/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]  # the rules package
sys.path.append(str(HERE.parent))  # this checkout's gridsim, unless one is on PYTHONPATH

from corridor_substation import (  # noqa: E402
    caucasus,
    dispatch,
    elements,
    interfaces,
    nis,
    projects,
    scenarios,
    stability,
    topology,
)

SHARED = HERE.parents[1] / "shared" / "corridor"
GRIDKIT = SHARED / "gridkit"
DATA = SHARED / "corridor_data.yaml"
TYPES = HERE / "data" / "line_types.yaml"
BALANCES = HERE / "data" / "country_balances.yaml"
PROJECTS = HERE / "data" / "projects.yaml"  #: projects in service by their year
NTC = HERE / "data" / "borders_ntc.yaml"  #: published limits -> the interface table
DEFAULT_OUT = HERE / "corridor_substation.yaml"
#: Nakhchivan's own load (MW at the 2026 peak, the data set's estimate), at its 330 kV bus
#: once the Zangezur line joins it (before, it is a 154 kV island outside this model).
NAX = ("AZ_NAKHCHIVAN_330", 200.0)
RELIEF_PERCENT = 97.0  #: N-0 loading the builder's redispatch aims below (see relieve)
#: Names of map stations (GridKit station id -> name) placed by the data set's coordinates.
NAME_KM = 15.0


def balances() -> tuple[dict, dict]:
    """(countries, neighbours) of networks/data/country_balances.yaml."""
    raw = yaml.safe_load(BALANCES.read_text(encoding="utf-8"))
    return scenarios.read_balances(raw)


def station_names(top: topology.Topology, data: dict) -> dict[int, str]:
    """Names of map buses from the data set's substations within NAME_KM, same voltage."""
    names = {}
    for s in data["substations"]:
        best = None
        for gid, r in top.buses.iterrows():
            if r.vn_kv != s["v_kv"] or r.country != s["country"]:
                continue
            d = topology.haversine_km(s["lon"], s["lat"], r.x, r.y)
            if d <= NAME_KM and (best is None or d < best[0]):
                best = (d, gid)
        if best is not None and best[1] not in names:
            names[best[1]] = s["name"]
    return names


def build() -> tuple[dict, list[str]]:
    """The model (without scenarios) and the build log."""
    types = yaml.safe_load(TYPES.read_text(encoding="utf-8"))
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    top = topology.build(GRIDKIT)
    model = elements.map_elements(top, types, station_names(top, data))
    projects.add_projects(model, PROJECTS, types, top.log)
    model = (
        {
            "gridsim": 1,
            "name": "corridor_substation",
            "description": "Azerbaijan -> Georgia / Turkiye / Black Sea HVDC -> the Balkans, "
            "Romania, Hungary -> Serbia at substation level (220 kV and above), built by "
            "networks/build_corridor_substation.py",
            "sn_mva": 100,
            "f_hz": 50,
            "trafo_model": "t",
            "default_scenario": "2026_winter_peak",
            "groups": {
                "EU": ["RO", "BG", "HU", "GR", "HR"],
                "UPS": ["AZ", "GE", "RU", "AM"],
                "WB": ["RS", "XK", "MK", "BA", "ME", "AL"],
                "RS_RO": ["RS", "RO"],
            },
        }
        | model
        | {"load": []}
    )
    caucasus.add_corridor(model, data, types, top.log)
    area = elements.areas(model, {"RU": "UPS", "AT": "CE"})
    cut = {b["id"] for b in model["bus"] if b["id"] not in area}
    if cut:
        top.log.append(f"dropped {len(cut)} buses reached only by disused ties: {sorted(cut)}")
        model["bus"] = [b for b in model["bus"] if b["id"] not in cut]
        model["line"] = [
            ln for ln in model["line"] if ln["from_bus"] not in cut and ln["to_bus"] not in cut
        ]
        model["trafo"] = [t for t in model["trafo"] if t["hv_bus"] not in cut]
        for table in ("gen", "sgen"):
            model[table] = [g for g in model[table] if g["bus"] not in cut]
    caucasus.add_equivalents(model, types, lambda b: area[b], top.log)
    area = elements.areas(model, {"RU": "UPS", "AT": "CE"})
    missing = [b["id"] for b in model["bus"] if b["id"] not in area]
    if missing:
        raise RuntimeError(f"buses outside both synchronous areas: {missing[:10]}")
    for b in model["bus"]:
        b["area"] = area[b["id"]]
    vn = {b["id"]: b["vn_kv"] for b in model["bus"]}
    elements.compensate_lines(model)
    nis.add_network(model, data, types, top.log)
    stations = {
        r.id: r.station_id
        for _, r in top.buses.iterrows()
        if r.role == "station" and r.symbol.startswith("Substation") and r.id in vn
    }
    countries, _ = balances()
    weights = add_loads(model, data, stations, countries)
    for cc, (lon, lat) in scenarios.IT_LINKS.items():
        bus = elements.nearest(model["bus"], lat, lon, 400, {cc})["id"]
        model["load"].append(
            {
                "id": f"X_IT_{cc}",
                "bus": bus,
                "p_mw": 0.0,
                "q_mvar": 0.0,
                "source": "S26; estimated",
                "note": f"exchange with Italy over the {cc}-IT HVDC link (converter bus nearest "
                "the map's DC link end), set per scenario",
            }
        )
    model["shunt"] += elements.radial_capacitors(model)
    scenarios.add_rest_units(model, countries, weights, top.log)
    limits = yaml.safe_load(NTC.read_text(encoding="utf-8"))
    model["interface"] = interfaces.interface_records(model, limits)
    model["interface"].append(stability.interface(model))
    return model, top.log


def add_loads(model: dict, data: dict, stations: dict, countries: dict) -> dict[str, float]:
    """Loads of 2026 winter peak spread by the proxy (scenarios scale them); the weights."""
    weights = dispatch.load_weights(model, stations)
    nis.split_loads(weights)
    az = next(a for a in data["loads"] if a["area"] == "AZ")
    for d in az["distribution"]:
        weights[d["bus"]] = d["p_mw"]
    weights[NAX[0]] = NAX[1]
    zone = {b["id"]: b["zone"] for b in model["bus"]}
    total: dict[str, float] = {}
    for bid, w in weights.items():
        if bid != NAX[0]:  # joins Azerbaijan's load with its bus (2028)
            total[zone[bid]] = total.get(zone[bid], 0.0) + w
    status = {b["id"]: {k: b[k] for k in ("status", "year") if k in b} for b in model["bus"]}
    for bid, w in sorted(weights.items()):
        cc = zone[bid]
        bc = countries[cc]
        p = bc["peak"][2026] * bc["share"]["winter_peak"] * w / total[cc]
        model["load"].append(
            {
                "id": f"D_{bid}",
                "bus": bid,
                "p_mw": round(p, 2),
                "q_mvar": round(p * dispatch.tan_phi(bc["pf"]), 2),
                "source": f"{bc['source']}; derived: split by substation proxy",
                "note": f"{cc} 2026 winter peak x {w / total[cc]:.4f} (proxy: "
                + ("data-set AZ split" if cc == "AZ" else "line circuits at the station, up to 3")
                + f"); power factor {bc['pf']}",
            }
            | status[bid]
        )
    return weights


def net_positions(net, res) -> dict[str, float]:
    """MW leaving each zone over AC branches and HVDC links (+ export)."""
    zone = net.bus.zone
    out: dict[str, float] = {}
    tables = [
        (res.branch.from_bus, res.branch.to_bus, res.branch.p_from_mw, res.branch.p_to_mw),
        (res.hvdc.from_bus, res.hvdc.to_bus, res.hvdc.p_from_mw, res.hvdc.p_to_mw),
    ]
    for fb, tb, pf, pt in tables:
        fz, tz = zone.loc[fb].to_numpy(), zone.loc[tb].to_numpy()
        for a, b, p, q in zip(fz, tz, pf.to_numpy(), pt.to_numpy(), strict=True):
            if a != b:
                out[a] = out.get(a, 0.0) + float(p)
                out[b] = out.get(b, 0.0) + float(q)
    for lid, bus, p in zip(net.load.index, net.load.bus, net.load.p_mw, strict=True):
        if str(lid).startswith("X_IT_"):  # Italy's HVDC: an export of the converter's country
            out[zone[bus]] = out.get(zone[bus], 0.0) + float(p)
    return out


def _gen_sets(model: dict, plan: dict) -> list[dict]:
    base = {g["id"]: g["max_p_mw"] for g in model["gen"]}
    out = []
    for g, p in sorted(plan["p_gen"].items()):
        if plan["max_p"][g] != base[g]:
            out.append({"element": "gen", "id": g, "field": "max_p_mw", "value": plan["max_p"][g]})
        out.append({"element": "gen", "id": g, "field": "p_mw", "value": round(p, 1)})
    return out


def _solve(net, plan: dict, name: str, strict: bool = True):
    """Set the plan's outputs on the network and solve it with Q limits (all violating
    controllers switched at once, as the checks do; unless ``strict``, a point where that
    fails, such as a first merit-order dispatch, is solved switching one at a time)."""
    import gridsim

    for g, mw in plan["p_gen"].items():
        net.set("gen", g, "p_mw", round(mw, 1))
    res = gridsim.run_ac(net, enforce_q_limits=True)
    if not res.converged and not strict:
        res = gridsim.run_ac(net, enforce_q_limits=2)
    if not res.converged:
        raise RuntimeError(f"scenario {name} does not converge")
    return res


def relieve(net, res, plan: dict) -> None:
    """Least redispatch (MW moved, netting to zero in each country) that brings every
    branch within RELIEF_PERCENT of its rating in the intact grid (gridsim's
    secure_base_case with no contingency, HVDC setpoints fixed)."""
    from gridsim.analysis.scopf import LinearisedGrid, secure_base_case

    if res.branch.loading_percent.max() <= RELIEF_PERCENT:
        return
    for table in (net.line, net.trafo):  # the LP holds 100 % of these ratings
        table["rate_mva"] = table["rate_mva"] * RELIEF_PERCENT / 100
    net.invalidate()
    grid = LinearisedGrid(net, res, outages=[])
    costs = {g: 1.0 for g in plan["p_gen"] if net.gen.in_service[g]}
    out = secure_base_case(grid, redispatch=costs, hvdc=[], redispatch_balance="zone")
    for table in (net.line, net.trafo):
        table["rate_mva"] = table["rate_mva"] * 100 / RELIEF_PERCENT
    net.invalidate()
    p = plan["p_gen"]
    for g, mw in out.redispatch_mw.items():
        p[g] = min(max(p[g] + float(mw), 0.0), plan["max_p"][g])


def _hold_voltages(net, plan: dict, name: str, res, steps: int = 3):
    """Switch off an LCC converter's filter steps (shunts ``F_*``, set nearest to its
    reactive draw) one at a time where its bus is above its voltage limit in the intact
    grid, as the converter's reactive control would (at most ``steps`` per bank); the
    scenario's ``set`` records the steps kept. Returns the last solve."""
    for _ in range(steps):
        vm = res.bus.vm_pu
        high = set(vm.index[vm > net.bus.max_vm_pu.loc[vm.index]])
        banks = [
            s
            for s in net.shunt.index
            if str(s).startswith("F_") and net.shunt.bus[s] in high and net.shunt.step[s] > 0
        ]
        if not banks:
            break
        for s in banks:
            step = float(net.shunt.step[s]) - 1.0
            net.set("shunt", s, "step", step)
            rec = next(
                r
                for r in plan["base_set"]
                if r["element"] == "shunt" and r["id"] == s and r["field"] == "step"
            )
            rec["value"] = step
            print(f"{name}: filter {s} at {step:g} steps ({net.shunt.bus[s]} above its limit)")
        res = _solve(net, plan, name)
    return res


def balance(model: dict, plans: dict, rounds: int = 7) -> None:
    """Move each country's net-position residual onto its dispatched units (in proportion
    to their headroom, or to their output when lowering), solving every scenario with Q
    limits each round; then write the dispatch into the scenarios' ``set``."""
    import gridsim

    for name, plan in plans.items():
        model["scenarios"][name]["set"] = plan["base_set"] + _gen_sets(model, plan)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.yaml"
        path.write_text(dump(model), encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nets = {name: gridsim.load_network(path, scenario=name) for name in plans}
    for r in range(rounds):
        worst = 0.0
        for name, plan in plans.items():
            net = nets[name]
            res = _solve(net, plan, name, strict=False)
            got = net_positions(net, res)
            zone = net.bus.zone
            p, gmax = plan["p_gen"], plan["max_p"]
            for cc, want in plan["targets"].items():
                delta = want - got.get(cc, 0.0)
                worst = max(worst, abs(delta))
                ids = [g for g in p if zone[net.gen.bus[g]] == cc]
                room = {g: (gmax[g] - p[g]) if delta > 0 else p[g] for g in ids}
                total = sum(room.values())
                if total <= 0:
                    continue
                step = max(-total, min(total, delta))
                for g in ids:
                    p[g] += step * room[g] / total
            if 1 <= r < rounds - 1:  # relieve N-0 overloads (the last round: net positions)
                relieve(net, res, plan)
        print(f"balance round {r + 1}: largest net-position residual {worst:.1f} MW")
    limits = {}
    for name, plan in plans.items():
        res = _hold_voltages(nets[name], plan, name, _solve(nets[name], plan, name))
        got = net_positions(nets[name], res)
        for cc, want in sorted(plan["targets"].items()):
            if abs(want - got.get(cc, 0.0)) > dispatch.NP_TOLERANCE_MW:
                print(f"{name}: {cc} net position {got.get(cc, 0.0):.0f} MW, target {want:.0f}")
        limits[name] = stability.limit_mw(nets[name])  # at the scenario's final dispatch
        if limits[name] is not None:
            print(f"{name}: {stability.ZANGEZUR['id']} limit {limits[name]:.1f} MW")
    for name, plan in plans.items():
        model["scenarios"][name]["set"] = plan["base_set"] + _gen_sets(model, plan)
        if limits[name] is not None:
            model["scenarios"][name]["set"].append(
                {
                    "element": "interface",
                    "id": stability.ZANGEZUR["id"],
                    "field": "limit_mw",
                    "value": limits[name],
                }
            )


HEADER = (
    "# corridor_substation: the Azerbaijan -> Serbia/EU corridor at substation level, a gridsim\n"
    "# network file. GENERATED by networks/build_corridor_substation.py from the ENTSO-E map\n"
    "# extract (../shared/corridor/gridkit), corridor_data.yaml and networks/data/; never edit\n"
    "# it by hand. Provenance per element in 'source', rules in networks/README.md.\n"
)
TABLES = ("bus", "line", "trafo", "gen", "sgen", "ext_grid", "load", "shunt", "hvdc", "interface")


def _flow(rec) -> str:
    if not isinstance(rec, dict | list):
        return json.dumps(rec, ensure_ascii=False)  # a scalar (JSON is YAML)
    return yaml.safe_dump(
        rec, default_flow_style=True, width=10**6, allow_unicode=True, sort_keys=False
    ).strip()


def dump(model: dict) -> str:
    """YAML with one record per line (flow style), so that engineers can read and diff it."""
    parts = [HEADER]
    for key in ("gridsim", "name", "description", "sn_mva", "f_hz", "trafo_model"):
        parts.append(yaml.safe_dump({key: model[key]}, allow_unicode=True, width=120))
    parts.append(f"default_scenario: {_flow(model['default_scenario'])}\n")
    parts.append(yaml.safe_dump({"groups": model["groups"]}, default_flow_style=None))
    for table in TABLES:
        parts.append(f"\n{table}:\n")
        parts.extend(f"  - {_flow(rec)}\n" for rec in model[table])
    parts.append("\nscenarios:\n")
    for name, spec in model["scenarios"].items():
        parts.append(f"  {_flow(name)}:\n")
        for key, value in spec.items():
            if key == "set":
                parts.append("    set:\n")
                parts.extend(f"      - {_flow(s)}\n" for s in value)
            else:
                parts.append(f"    {key}: {_flow(value)}\n")
    return "".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    model, log = build()
    countries, neighbours = balances()
    model["scenarios"] = {}
    plans = {}
    for y in dispatch.YEARS:
        for h in dispatch.HOURS:
            spec, plan = scenarios.scenario(model, countries, neighbours, y, h)
            name = f"{y}_{h}"
            plan["base_set"] = spec["set"]
            model["scenarios"][name] = spec
            plans[name] = plan
    for sg in model["sgen"]:  # a distributed generator's rating: its largest capacity
        caps = [
            plan["sgen_cap"][sg["id"]] for plan in plans.values() if sg["id"] in plan["sgen_cap"]
        ]
        if caps:
            sg["max_p_mw"] = max(caps)
            sg["note"] += "; max_p_mw: its largest capacity over the scenario years"
    for g in model["gen"]:  # reactive capability (elements.Q_RANGE) at its largest capacity
        caps = [plan["max_p"][g["id"]] for plan in plans.values() if g["id"] in plan["max_p"]]
        if caps:
            g["min_q_mvar"] = round(elements.Q_RANGE[0] * max(caps), 1)
            g["max_q_mvar"] = round(elements.Q_RANGE[1] * max(caps), 1)
    balance(model, plans)
    nis.site_scenarios(model)
    for y in dispatch.YEARS:  # aliases for the study code: the year = its winter peak
        alias = dict(model["scenarios"][f"{y}_winter_peak"])
        alias["description"] = f"alias of {y}_winter_peak. " + alias["description"]
        model["scenarios"][str(y)] = alias
    Path(args.out).write_text(dump(model), encoding="utf-8")
    for line in log:
        print(line)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
