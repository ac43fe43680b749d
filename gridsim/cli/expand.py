"""``gridsim expand``: the least-cost reinforcement path to each export target."""

from __future__ import annotations

import json

import numpy as np

from gridsim.cli._common import (
    EXIT_OK,
    EXIT_USAGE,
    add_param_option,
    check_out_dir,
    drop_warnings,
    json_value,
    positive_float,
    positive_int,
    say,
    usage,
    with_parameters,
    write_csv,
)


def add_parser(sub) -> None:
    """Add the command's arguments to the ``gridsim`` parser."""
    ex = sub.add_parser(
        "expand",
        help="least-cost set of candidate projects whose AC N-1 TTC reaches each export target",
    )
    ex.add_argument("file", help="gridsim .yaml, MATPOWER .m or pandapower .json file")
    ex.add_argument(
        "--scenario",
        action="append",
        metavar="S",
        help="scenario of a gridsim .yaml network; repeat it for several snapshots (the "
        "plan must reach each target in every one)",
    )
    add_param_option(ex)
    ex.add_argument(
        "--candidates", required=True, metavar="FILE.yaml", help="candidate-project table"
    )
    ex.add_argument("--source", required=True, metavar="AREA", help="zone code or group name")
    ex.add_argument(
        "--sink", required=True, metavar="AREA,...", help="zone codes or groups, one plan each"
    )
    ex.add_argument(
        "--targets", required=True, metavar="MW,...", help="export targets, MW of N-1 TTC"
    )
    ex.add_argument("--year", type=int, help="leave out projects with a later earliest_year")
    ex.add_argument(
        "--emergency-rating",
        type=positive_float,
        default=100.0,
        metavar="PERCENT",
        help="post-contingency thermal limit, percent of rate_mva (100)",
    )
    ex.add_argument(
        "--redispatch",
        metavar="AREA,...",
        help="zones or groups whose generators may be redispatched for the transfer",
    )
    ex.add_argument(
        "--units",
        choices=("all", "largest_per_area", "none"),
        default="all",
        help="unit outages studied (all)",
    )
    ex.add_argument(
        "--set-aside-insecure",
        action="store_true",
        help="set aside the outages a base case cannot be secured against (every output says so)",
    )
    ex.add_argument(
        "--assume-monotone",
        action="store_true",
        help="take every project, AC lines too, as one that cannot lower the TTC: far "
        "fewer AC checks, exact only where that holds",
    )
    ex.add_argument(
        "--max-checks",
        type=positive_int,
        default=200,
        metavar="N",
        help="largest number of candidate sets checked in AC per sink (200)",
    )
    ex.add_argument("--tol-mw", type=positive_float, help="TTC search tolerance, MW (10; 1%%)")
    ex.add_argument("--json", action="store_true", help="print the result as JSON")
    ex.add_argument(
        "--out", metavar="DIR", help="write the plans and every set checked as CSV to DIR"
    )
    ex.set_defaults(run=run)


def _targets(text: str) -> list[float] | str:
    out = []
    for item in (x.strip() for x in text.split(",")):
        try:
            value = float(item)
        except ValueError:
            return f"--targets: {item!r} is not a number of MW"
        if not (np.isfinite(value) and value >= 0):
            return f"--targets: {item!r} must be a finite number >= 0"
        out.append(value)
    return out


def run(args) -> int:
    """Run the command; returns the exit status."""
    from gridsim.analysis.expansion import ExpansionError, expansion_path
    from gridsim.exceptions import InvalidNetworkError
    from gridsim.io import read_network
    from gridsim.io.candidates import read_candidates

    out = check_out_dir(args.out) if args.out else None
    targets = _targets(args.targets)
    if isinstance(targets, str):
        return usage(args, targets)
    sinks = [s.strip() for s in args.sink.split(",") if s.strip()]
    if not sinks:
        return usage(args, "--sink names no area")
    try:
        table = read_candidates(args.candidates)
    except InvalidNetworkError as exc:  # names the candidate file, not FILE
        drop_warnings()
        say("error", str(exc))
        return EXIT_USAGE
    scenarios = args.scenario or [None]
    snapshots = {}
    for scenario in scenarios:
        network = read_network(args.file, scenario=scenario)
        if args.param:
            args.scenario = scenario
            network = with_parameters(network, args)
        snapshots[str(scenario or network.scenario or "base")] = network
    options = dict(
        emergency_rating_percent=args.emergency_rating,
        units=None if args.units == "none" else args.units,
        set_aside_insecure=args.set_aside_insecure,
    )
    if args.redispatch:
        options["redispatch_areas"] = [a.strip() for a in args.redispatch.split(",") if a.strip()]
    if args.tol_mw is not None:
        options["tol_mw"] = args.tol_mw
    results = []
    try:
        for sink in sinks:
            results.append(
                expansion_path(
                    snapshots,
                    args.source,
                    sink,
                    targets,
                    table,
                    year=args.year,
                    assume_monotone=args.assume_monotone,
                    max_checks=args.max_checks,
                    progress=None if args.json else (lambda line: say("progress", line)),
                    **options,
                )
            )
    except ExpansionError as exc:
        return usage(args, str(exc))
    if out is not None:
        tables = {}
        for r in results:
            tables[f"expansion_{r.sink}"] = r.table
            tables[f"expansion_checks_{r.sink}"] = r.checks.set_index("projects")
        write_csv(tables, out, "gridsim expand")
    notes = " (insecure outages set aside)" if args.set_aside_insecure else ""
    notes += " (every project assumed monotone)" if args.assume_monotone else ""
    if args.json:
        doc = {
            "file": str(args.file),
            "candidates": str(args.candidates),
            "snapshots": list(snapshots),
            "source": args.source,
            "year": args.year,
            "set_aside_insecure": args.set_aside_insecure,
            "assume_monotone": args.assume_monotone,
            "results": [
                {
                    "sink": r.sink,
                    "left_out": r.left_out,
                    "sets_checked": len(r.checks),
                    "elapsed_s": r.elapsed_s,
                    "plans": [
                        {
                            "target_mw": p.target_mw,
                            "status": p.status,
                            "projects": p.projects,
                            "cost_meur": json_value(p.cost_meur),
                            "ttc_mw": json_value(p.ttc_mw),
                            "ttc_by_snapshot": {
                                k: json_value(v) for k, v in p.ttc_by_snapshot.items()
                            },
                            "binding": p.binding,
                        }
                        for p in r.plans
                    ],
                }
                for r in results
            ],
        }
        print(json.dumps(doc, indent=1))
        return EXIT_OK
    lines = []
    for r in results:
        lines.append(
            f"{args.file}: expansion path {args.source} -> {r.sink}, N-1 TTC, snapshots "
            f"{', '.join(snapshots)}{notes}; {len(r.checks)} candidate sets checked in AC"
        )
        if r.left_out:
            lines.append(f"  left out (earliest year after {args.year}): {', '.join(r.left_out)}")
        for p in r.plans:
            head = f"  {p.target_mw:g} MW: {p.status}"
            if p.reached:
                names = ", ".join(p.projects) or "no project"
                lines.append(
                    f"{head}: {names}; cost {p.cost_meur:.6g} MEUR; TTC {p.ttc_mw:.1f} MW; "
                    f"{p.binding}"
                )
            else:
                lines.append(f"{head}: {p.binding}")
    print("\n".join(lines))
    return EXIT_OK
