"""``gridsim contingency``: N-1 contingency analysis, AC or DC."""

from __future__ import annotations

import json

from gridsim.cli._common import (
    EXIT_OK,
    OUTAGE_ELEMENTS,
    check_out_dir,
    json_value,
    nonneg_float,
    nonneg_int,
    parse_outages,
    usage,
    write_csv,
)
from gridsim.model.network import plain


def add_parser(sub) -> None:
    """Add the command's arguments to the ``gridsim`` parser."""
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
        type=nonneg_float,
        metavar="PERCENT",
        help="AC: solve only outages whose DC loading reaches PERCENT; DC: show only those",
    )
    cont.add_argument(
        "--loading-limit",
        type=nonneg_float,
        metavar="PERCENT",
        help="AC: loading above which a branch is reported as overloaded (100)",
    )
    cont.add_argument("--top", type=nonneg_int, default=20, help="outages shown, worst first (20)")
    cont.add_argument("--json", action="store_true", help="print the summary as JSON")
    cont.add_argument(
        "--out",
        metavar="DIR",
        help="write the per-outage summary and (AC) the violations as CSV; DC: the full table",
    )
    cont.add_argument(
        "--flows",
        action="store_true",
        help="AC: with --out, also the full table of post-outage flows (outages x branches)",
    )
    cont.set_defaults(run=run)


def run(args) -> int:
    """Run the command; returns the exit status."""
    from gridsim.analysis.contingency import ac_contingency, contingency_summary
    from gridsim.analysis.sensitivity import dc_contingency
    from gridsim.exceptions import ConvergenceError
    from gridsim.io import read_network

    for given, option in (
        (args.enforce_q_limits, "--enforce-q-limits"),
        (args.loading_limit is not None, "--loading-limit"),
        (args.flows, "--flows"),
    ):
        if args.dc and given:
            return usage(args, f"{option} applies to AC contingency analysis only")
    if args.flows and not args.out:
        return usage(args, "--flows needs --out DIR")
    out = check_out_dir(args.out) if args.out else None
    network = read_network(args.file, scenario=args.scenario)
    outages = None
    if args.outages is not None:
        outages = parse_outages(
            args.outages,
            network,
            OUTAGE_ELEMENTS if args.dc else OUTAGE_ELEMENTS[:2],
            " (hvdc outages need --dc)",
        )
        if isinstance(outages, str):
            return usage(args, outages)
    if args.dc:
        table = dc_contingency(network, outages)
        summary = contingency_summary(table)
        if args.screen is not None:
            keep = (summary.max_loading_percent >= args.screen) | (summary.status == "islanded")
            summary = summary[keep.to_numpy()]
        tables = {"contingency": table, "contingency_summary": summary}
    else:
        try:
            result = ac_contingency(
                network,
                outages,
                enforce_q_limits=args.enforce_q_limits,
                screen=args.screen,
                loading_limit=100.0 if args.loading_limit is None else args.loading_limit,
                flows="float64" if args.flows else None,
            )
        except ConvergenceError as exc:  # the base case: exit 1, naming the file
            raise ConvergenceError(
                f"{args.file}: {exc}", exc.iterations, exc.max_mismatch_mva
            ) from None
        summary = result.summary()
        tables = {"contingency_summary": summary, "contingency_violations": result.violations}
        if args.flows:
            tables["contingency"] = result.table()
    if out is not None:
        write_csv(tables, out, "gridsim contingency")
    kind = "DC" if args.dc else "AC"
    counts = {str(k): int(v) for k, v in summary.status.value_counts(sort=False).items() if v}
    shown = summary.head(args.top)
    if args.json:
        rows = [
            {
                "outage_element": str(el),
                "outage_id": plain(oid),
                **{c: json_value(row[c]) for c in shown.columns},
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
            **({} if args.dc else {"violations": int(len(result.violations))}),
            "top": rows,
        }
        print(json.dumps(doc, indent=1))
        return EXIT_OK
    head = (
        f"{network.name or network.source}: {kind} N-1 contingency analysis, "
        f"{len(summary)} outage(s): " + ", ".join(f"{v} {k}" for k, v in counts.items())
    )
    if not args.dc:
        head += f"; {len(result.violations)} violation(s) of branch or voltage limits"
    lines = [head]
    if len(shown):
        columns = ["status", "max_loading_percent", "max_loading_element", "max_loading_id"]
        if not args.dc:
            columns += ["min_vm_pu", "max_vm_pu", "n_overloads", "n_voltage_violations"]
        lines.append(f"worst {len(shown)} outage(s), highest post-outage loading first:")
        lines.append(shown[columns].round(4).to_string())
    print("\n".join(lines))
    return EXIT_OK
