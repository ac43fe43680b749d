"""``gridsim info``: what a network file contains."""

from __future__ import annotations

import json

import numpy as np

from gridsim.cli._common import EXIT_OK
from gridsim.model.network import plain


def add_parser(sub) -> None:
    """Add the command's arguments to the ``gridsim`` parser."""
    info = sub.add_parser("info", help="what a network file contains")
    info.add_argument("file")
    info.add_argument("--scenario")
    info.add_argument("--json", action="store_true")
    info.set_defaults(run=run)


#: Provenance classes of an element's ``source`` (networks/README.md): "derived: <rule>"
#: (computed from sourced data by a stated rule), "estimated" (alone or "; partly
#: estimated"), sourced (source ids only), or none written.
PROVENANCE = ("sourced", "derived", "estimated", "unspecified")


def provenance(source) -> str:
    """The provenance class of one ``source`` value (see :data:`PROVENANCE`)."""
    text = str(source).strip().lower() if isinstance(source, str) else ""
    if not text:
        return "unspecified"
    if "derived" in text:
        return "derived"
    if "estimat" in text:
        return "estimated"
    return "sourced"


def provenance_counts(network) -> dict[str, dict[str, int]]:
    """Elements per provenance class, per element type and in total (empty when no
    element carries a ``source``)."""
    out: dict[str, dict[str, int]] = {}
    total = dict.fromkeys(PROVENANCE, 0)
    for element, table in network.tables.items():
        if not len(table) or "source" not in table.columns:
            continue
        counts = dict.fromkeys(PROVENANCE, 0)
        for value in table["source"]:
            counts[provenance(value)] += 1
        out[element] = counts
        for k, v in counts.items():
            total[k] += v
    if out:
        out["total"] = total
    return out


def run(args) -> int:
    """Run the command; returns the exit status."""
    from gridsim.io import read_network

    network = read_network(args.file, scenario=args.scenario)
    cn = network.compile()
    counts = {
        e: {"total": len(t), "in_service": int(t.in_service.sum())}
        for e, t in network.tables.items()
        if len(t)
    }
    islands = []
    for k, members in enumerate(cn.islands):
        zones = sorted(set(network.bus.zone.loc[cn.bus_ids[members]]) - {""})
        ref = cn.bus_ids[members[cn.bus_type[members] == 3]]
        islands.append(
            {
                "island": k,
                "buses": int(members.size),
                "zones": zones,
                "slack_buses": [plain(b) for b in ref],
            }
        )
    load = network.load[network.load.in_service]
    doc = {
        "file": str(args.file),
        "name": network.name,
        "sn_mva": network.sn_mva,
        "f_hz": network.f_hz,
        "trafo_model": network.trafo_model,
        "elements": counts,
        "voltage_levels_kv": sorted({float(v) for v in network.bus.vn_kv}),
        "zones": sorted(set(network.bus.zone) - {""}),
        "buses_per_zone": {
            str(z): int(n)
            for z, n in network.bus.zone[network.bus.zone != ""].value_counts().sort_index().items()
        },
        "provenance": provenance_counts(network),
        "areas": sorted(set(network.bus.area) - {""}),
        "groups": network.groups,
        "scenario": getattr(network, "scenario", None),
        "scenarios": getattr(network, "scenarios", {}),
        "islands": islands,
        "load_mw": float(load.p_mw.sum()),
        "load_mvar": float(load.q_mvar.sum()),
        "hvdc": [
            {
                "id": plain(i),
                "from_bus": plain(r.from_bus),
                "to_bus": plain(r.to_bus),
                "p_mw": r.p_mw,
                "max_p_mw": None if np.isnan(r.max_p_mw) else r.max_p_mw,
            }
            for i, r in network.hvdc.iterrows()
        ],
    }
    if args.json:
        print(json.dumps(doc, indent=1))
        return EXIT_OK
    out = [
        f"{doc['name']} ({args.file}): base {network.sn_mva:g} MVA, {network.f_hz:g} Hz, "
        f"transformer model {network.trafo_model!r}"
    ]
    for e, c in counts.items():
        out.append(f"  {e:9s} {c['total']:6d} ({c['in_service']} in service)")
    out.append(f"  voltage levels (kV): {', '.join(f'{v:g}' for v in doc['voltage_levels_kv'])}")
    if doc["zones"]:
        per = doc["buses_per_zone"]
        out.append(f"  zones (buses): {', '.join(f'{z} {per[z]}' for z in doc['zones'])}")
    if doc["provenance"]:
        out.append(f"  provenance ({', '.join(PROVENANCE)}):")
        for e, c in doc["provenance"].items():
            out.append(f"    {e:9s} " + " / ".join(f"{c[k]}" for k in PROVENANCE))
    if doc["areas"]:
        out.append(f"  areas: {', '.join(doc['areas'])}")
    for g, members in doc["groups"].items():
        out.append(f"  group {g}: {', '.join(members)}")
    if doc["scenarios"]:
        out.append(f"  scenarios (applied: {doc['scenario']}):")
        for name, sc in doc["scenarios"].items():
            desc = sc["description"]
            desc = desc if len(desc) <= 90 else desc[:87] + "..."
            out.append(f"    {name} (year {sc['year']}): {desc}")
    out.append(f"  load: {doc['load_mw']:.1f} MW, {doc['load_mvar']:.1f} Mvar")
    out.append(f"  AC islands: {len(islands)}")
    for isl in islands:
        zones = f", zones {', '.join(isl['zones'])}" if isl["zones"] else ""
        areas = sorted(set(network.bus.area.loc[cn.bus_ids[cn.islands[isl["island"]]]]) - {""})
        out.append(
            f"    island {isl['island']}: {isl['buses']} buses, slack at "
            f"{', '.join(map(str, isl['slack_buses']))}{zones}"
            + (f", areas {', '.join(areas)}" if areas else "")
        )
    for h in doc["hvdc"]:
        on = "" if network.hvdc.in_service[h["id"]] else " [out of service]"
        out.append(
            f"  HVDC {h['id']}: {h['from_bus']} -> {h['to_bus']}, {h['p_mw']:g} MW "
            f"(rating {h['max_p_mw']}){on}"
        )
    print("\n".join(out))
    return EXIT_OK
