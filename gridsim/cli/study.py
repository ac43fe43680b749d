"""``gridsim study``: the main job on the bundled corridor network, written as a report."""

from __future__ import annotations

import shlex
from pathlib import Path

from gridsim.cli._common import EXIT_OK, check_out_dir, positive_int
from gridsim.exceptions import GridsimError


def add_parser(sub) -> None:
    """Add the command's arguments to the ``gridsim`` parser."""
    p = sub.add_parser(
        "study",
        help="the main job: N-1 export capability AZ -> RS/EU, reinforcements, Niš sites",
        description=(
            "N-0/N-1 export capability from Azerbaijan to Serbia and the EU for 2026, 2030 "
            "and 2032 (overall and per HVDC route), the MW each reinforcement gains and the "
            "Niš plant site comparison; writes report.md, a self-contained report.html, "
            "figures/ and data/ (CSV and Parquet) to DIR."
        ),
    )
    p.add_argument(
        "--out",
        default="out/study",
        metavar="DIR",
        help="report folder, replaced when the study succeeds: a new or empty folder, or an "
        "earlier report (default out/study)",
    )
    p.add_argument(
        "--network",
        metavar="FILE",
        help="corridor network file, a model with study cases: networks/caspian_eu.yaml "
        "(the default, bundled) or networks/corridor_substation.yaml (substation level)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a reduced case set (2026 only, one reinforcement, 2030 sites)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="processes (default: CPU count, at most 2)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run the command; returns the exit status."""
    from gridsim.study import cases, run_study

    check_out_dir(args.out)
    if args.network is not None:
        if not Path(args.network).is_file():
            raise GridsimError(f"{args.network}: no such network file")
        if Path(args.network).suffix.lower() not in (".yaml", ".yml"):
            raise GridsimError(
                f"{args.network}: the study needs a gridsim .yaml network with the corridor's "
                "scenarios (like networks/caspian_eu.yaml), not a "
                f"{Path(args.network).suffix or 'suffix-less'} file"
            )
        cases.for_network(args.network)  # case data for this model, before anything runs
    result = run_study(
        args.network,
        args.out,
        quick=args.quick,
        progress=not args.no_progress,
        workers=args.workers,
        command=_command(args),
    )
    print(f"study finished in {result.seconds:.0f} s: {result.report_md} and {result.report_html}")
    return EXIT_OK


def _command(args) -> str:
    parts = ["gridsim", "study", "--out", args.out]
    if args.network:
        parts += ["--network", args.network]
    if args.quick:
        parts.append("--quick")
    if args.workers:
        parts += ["--workers", str(args.workers)]
    return " ".join(shlex.quote(p) for p in parts)
