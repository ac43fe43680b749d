"""Command line: ``gridsim pf|info|contingency ...``.

Exit status: 0 success; 1 a computation failed (e.g. no convergence, reported with the
iteration count and the largest mismatch); 2 bad input or usage. Errors are one line on
stderr naming the file, the element and the problem; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from gridsim.model.network import plain

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridsim",
        description="Transmission power flow for the Caspian-EU export corridor.",
    )
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pf = sub.add_parser("pf", help="AC (or DC) power flow of a network file")
    pf.add_argument("file", help="gridsim .yaml, MATPOWER .m or pandapower .json file")
    pf.add_argument("--scenario", help="scenario of a gridsim .yaml network")
    pf.add_argument("--dc", action="store_true", help="DC power flow instead of AC")
    pf.add_argument("--enforce-q-limits", action="store_true", help="PV->PQ at reactive limits")
    pf.add_argument("--init", choices=("flat", "dc"), default="flat", help="AC start (flat)")
    pf.add_argument("--tol-mva", type=float, default=1e-8, help="mismatch tolerance, MVA")
    pf.add_argument("--max-iter", type=int, default=30, help="Newton iterations allowed")
    pf.add_argument("--json", action="store_true", help="print results as JSON")
    pf.add_argument("--out", metavar="DIR", help="also write every result table as CSV to DIR")
    pf.add_argument("--top", type=int, default=10, help="rows in the text summary tables")
    pf.add_argument(
        "--plot", metavar="FILE.png", help="also draw a map coloured by line loading (PNG)"
    )

    cont = sub.add_parser("contingency", help="N-1 contingency analysis (AC, or DC with --dc)")
    cont.add_argument("file", help="gridsim .yaml, MATPOWER .m or pandapower .json file")
    cont.add_argument("--scenario", help="scenario of a gridsim .yaml network")
    cont.add_argument("--dc", action="store_true", help="DC (LODF) screening instead of AC")
    cont.add_argument("--enforce-q-limits", action="store_true", help="PV->PQ at reactive limits")
    cont.add_argument(
        "--outages",
        metavar="ELEMENT:ID,...",
        help="outages to study, e.g. line:3,trafo:T1 (hvdc:ID with --dc); default all",
    )
    cont.add_argument(
        "--screen",
        type=float,
        metavar="PERCENT",
        help="AC: solve only outages whose DC loading reaches PERCENT; DC: show only those",
    )
    cont.add_argument("--top", type=int, default=20, help="outages shown, worst first (20)")
    cont.add_argument("--json", action="store_true", help="print the summary as JSON")
    cont.add_argument("--out", metavar="DIR", help="write the full table and summary as CSV")

    info = sub.add_parser("info", help="what a network file contains")
    info.add_argument("file")
    info.add_argument("--scenario")
    info.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    from gridsim.exceptions import ConvergenceError, GridsimError, InvalidNetworkError

    try:
        if args.command == "pf":
            return _cmd_pf(args)
        if args.command == "info":
            return _cmd_info(args)
        if args.command == "contingency":
            return _cmd_contingency(args)
    except InvalidNetworkError as exc:
        return _error(args, exc, EXIT_USAGE)
    except ConvergenceError as exc:
        return _error(args, exc, EXIT_FAILED)
    except GridsimError as exc:
        return _error(args, exc, EXIT_USAGE)
    except KeyboardInterrupt:
        print("gridsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (e.g. `| head`) went away: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug in gridsim, not the user's mistake
        if args.debug:
            raise
        print(
            f"gridsim: internal error: {type(exc).__name__}: {exc} (rerun with --debug "
            "for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    parser.error(f"unknown command {args.command}")  # pragma: no cover
    return EXIT_USAGE  # pragma: no cover


def _error(args, exc: Exception, status: int) -> int:
    if args.debug:
        raise exc
    message = " ".join(str(exc).split())
    print(f"gridsim: error: {message}", file=sys.stderr)
    return status


def _cmd_pf(args) -> int:
    import warnings

    import gridsim
    from gridsim.io import read_network

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network = read_network(args.file, scenario=args.scenario)
        if args.dc:
            res = gridsim.run_dc(network)
        else:
            res = gridsim.run_ac(
                network,
                tol_mva=args.tol_mva,
                max_iter=args.max_iter,
                enforce_q_limits=args.enforce_q_limits,
                init=args.init,
            )
    for w in caught:
        print(f"gridsim: warning: {w.message}", file=sys.stderr)
    if args.out:
        _write_tables(res, Path(args.out))
    if args.plot and res.converged:
        from gridsim.plot import plot_map

        plot_map(network, res, args.plot)
    if args.json:
        doc = {
            "file": str(args.file),
            "network": network.name,
            "scenario": getattr(network, "scenario", None) or args.scenario,
        }
        doc.update(res.to_dict())
        print(json.dumps(doc, indent=1))
    else:
        print(_pf_text(network, res, args.top))
    if not res.converged:
        print(
            f"gridsim: error: {args.file}: power flow did not converge after "
            f"{res.iterations} iterations ({res.message}); largest mismatch "
            f"{res.max_mismatch_mva:.4g} MVA",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _write_tables(res, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, table in res.tables().items():
        tmp = out / f".{name}.csv.tmp"
        table.to_csv(tmp)
        tmp.replace(out / f"{name}.csv")


def _pf_text(network, res, top: int) -> str:
    kind = res.kind.upper()
    lines = [
        f"{network.name or network.source}: {kind} power flow "
        + ("converged" if res.converged else "did NOT converge")
        + (
            f" in {res.iterations} iterations, largest mismatch {res.max_mismatch_mva:.3g} MVA"
            if res.kind == "ac"
            else ""
        )
    ]
    if not res.converged:
        return "\n".join(lines)
    bus = res.bus
    gen_p = sum(t.p_mw.sum() for t in (res.gen, res.sgen, res.ext_grid) if len(t))
    load_p = res.load.p_mw.sum() if len(res.load) else 0.0
    lines.append(
        f"buses {len(bus)}, branches {len(res.branch)}, HVDC links {len(res.hvdc)}; "
        f"generation {gen_p:.1f} MW, load {load_p:.1f} MW, "
        f"AC losses {res.losses_mw:.2f} MW"
    )
    if res.q_limited_buses:
        lines.append(
            f"reactive limits reached at {len(res.q_limited_buses)} bus(es): "
            + ", ".join(map(str, res.q_limited_buses[:10]))
            + (" ..." if len(res.q_limited_buses) > 10 else "")
        )
    vm = bus.vm_pu.dropna()
    if len(vm):
        lines.append(
            f"voltage: min {vm.min():.4f} p.u. at bus {vm.idxmin()}, "
            f"max {vm.max():.4f} p.u. at bus {vm.idxmax()}"
        )
    branch = res.branch
    rated = branch.dropna(subset=["loading_percent"])
    if len(rated):
        worst = rated.sort_values("loading_percent", ascending=False).head(top)
        lines.append(f"highest branch loadings (of {len(rated)} rated):")
        lines.append(
            worst[["from_bus", "to_bus", "p_from_mw", "q_from_mvar", "loading_percent"]]
            .round(2)
            .to_string()
        )
    else:
        flows = branch.assign(abs_p=np.abs(branch.p_from_mw))
        worst = flows.sort_values("abs_p", ascending=False).head(top)
        lines.append("largest branch flows (no ratings in the file):")
        lines.append(
            worst[["from_bus", "to_bus", "p_from_mw", "q_from_mvar", "pl_mw"]].round(2).to_string()
        )
    if len(res.hvdc):
        lines.append("HVDC links:")
        hv = res.hvdc[["from_bus", "to_bus", "p_from_mw", "p_to_mw", "pl_mw", "loading_percent"]]
        lines.append(hv.round(2).to_string())
    from gridsim.analysis.borders import border_flows

    borders = border_flows(network, res)
    if borders:
        lines.append("border flows (MW, summed over the AC branches between two zones):")
        for (a, b), p in borders.items():
            lines.append(f"  {a} -> {b}: {p:9.1f}")
        zone = network.bus.zone
        for hid, row in res.hvdc.iterrows():
            lines.append(
                f"  HVDC {hid}: {zone[row.from_bus]} -> {zone[row.to_bus]}: "
                f"{row.p_from_mw:9.1f} sent, {-row.p_to_mw:.1f} delivered"
            )
    scen = getattr(network, "scenario_info", None)
    if scen:
        lines.insert(1, f"scenario {scen['name']} (year {scen['year']}): {scen['description']}")
        export = getattr(network, "export", None)
        if export:
            lines.insert(
                2,
                f"export {export['mw']:g} MW from {export.get('source')} to {export.get('sink')}",
            )
    for w in res.warnings:
        lines.append(f"note: {w}")
    return "\n".join(lines)


OUTAGE_ELEMENTS = ("line", "trafo", "hvdc")


def _usage(args, message: str) -> int:
    print(f"gridsim: error: {args.file}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _parse_outages(args, network) -> list[tuple] | str:
    """``(element, id)`` pairs from ``--outages``, or a one-line error message."""
    allowed = OUTAGE_ELEMENTS if args.dc else OUTAGE_ELEMENTS[:2]
    outages = []
    for item in (x.strip() for x in args.outages.split(",")):
        if not item:
            continue
        element, sep, raw = item.partition(":")
        element, raw = element.strip(), raw.strip()
        if not sep or not raw:
            return f"outage {item!r} is not ELEMENT:ID"
        if element not in allowed:
            extra = " (hvdc outages need --dc)" if element == "hvdc" else ""
            return (
                f"outage element {element!r} (id {raw!r}) is not one of {', '.join(allowed)}{extra}"
            )
        table = network.tables.get(element)
        ident = _match_id(table.index, raw) if table is not None else None
        if ident is None:
            return f"no {element} with id {raw!r}"
        if not bool(table.in_service[ident]):
            return f"{element} {raw!r} is out of service"
        outages.append((element, ident))
    if not outages:
        return "--outages names no outage"
    return outages


def _match_id(index, raw: str):
    """The id in ``index`` that ``raw`` spells (integer or string ids), or None."""
    candidates = [raw]
    try:
        candidates.insert(0, int(raw))
    except ValueError:
        pass
    for c in candidates:
        if c in index:
            return c
    return None


def _cmd_contingency(args) -> int:
    import warnings

    from gridsim.analysis.contingency import ac_contingency, contingency_summary
    from gridsim.analysis.sensitivity import dc_contingency
    from gridsim.exceptions import ConvergenceError
    from gridsim.io import read_network

    if args.dc and args.enforce_q_limits:
        return _usage(args, "--enforce-q-limits applies to AC contingency analysis only")
    if args.top < 0:
        return _usage(args, f"--top must be >= 0, got {args.top}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network = read_network(args.file, scenario=args.scenario)
        outages = None
        if args.outages is not None:
            outages = _parse_outages(args, network)
            if isinstance(outages, str):
                return _usage(args, outages)
        if args.dc:
            table = dc_contingency(network, outages)
            summary = contingency_summary(table)
            if args.screen is not None:
                keep = (summary.max_loading_percent >= args.screen) | (summary.status == "islanded")
                summary = summary[keep.to_numpy()]
        else:
            try:
                table = ac_contingency(
                    network, outages, enforce_q_limits=args.enforce_q_limits, screen=args.screen
                )
            except ConvergenceError as exc:  # the base case: exit 1, naming the file
                raise ConvergenceError(
                    f"{args.file}: {exc}", exc.iterations, exc.max_mismatch_mva
                ) from None
            summary = contingency_summary(table)
    for w in caught:
        print(f"gridsim: warning: {w.message}", file=sys.stderr)
    if args.out:
        _write_csv({"contingency": table, "contingency_summary": summary}, Path(args.out))
    kind = "DC" if args.dc else "AC"
    counts = {str(k): int(v) for k, v in summary.status.value_counts(sort=False).items() if v}
    shown = summary.head(args.top)
    if args.json:
        rows = [
            {
                "outage_element": str(el),
                "outage_id": plain(oid),
                **{c: _json_value(row[c]) for c in shown.columns},
            }
            for (el, oid), row in shown.iterrows()
        ]
        doc = {
            "file": str(args.file),
            "network": network.name,
            "scenario": getattr(network, "scenario", None) or args.scenario,
            "kind": kind.lower(),
            "outages": int(len(summary)),
            "status": counts,
            "top": rows,
        }
        print(json.dumps(doc, indent=1))
        return EXIT_OK
    head = (
        f"{network.name or network.source}: {kind} N-1 contingency analysis, "
        f"{len(summary)} outage(s): " + ", ".join(f"{v} {k}" for k, v in counts.items())
    )
    lines = [head]
    if len(shown):
        columns = ["status", "max_loading_percent", "max_loading_element", "max_loading_id"]
        if not args.dc:
            columns += ["min_vm_pu", "max_vm_pu"]
        lines.append(f"worst {len(shown)} outage(s), highest post-outage loading first:")
        lines.append(shown[columns].round(4).to_string())
    print("\n".join(lines))
    return EXIT_OK


def _write_csv(tables: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        tmp = out / f".{name}.csv.tmp"
        table.to_csv(tmp)
        tmp.replace(out / f"{name}.csv")


def _json_value(x):
    x = plain(x)
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x if x is None or isinstance(x, (int, float, str, bool)) else str(x)


def _cmd_info(args) -> int:
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
        out.append(f"  zones: {', '.join(doc['zones'])}")
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
