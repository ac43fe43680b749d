"""``gridsim sweep``: an analysis over a grid of network parameters, to Parquet."""

from __future__ import annotations

import sys

from gridsim.cli._common import EXIT_OK, positive_int, say

EXIT_INTERRUPTED = 130  # as a shell reports a process ended by SIGINT

_EPILOG = """\
parameters (--param KEY=VALUES, repeatable; the grid is their product, last key fastest):
  ELEMENT:ID:FIELD   a number or true/false field of one element, e.g.
                     line:L_RS_05:rate_mva, line:L_BGRS_01:parallel,
                     hvdc:DC_BLACKSEA_1:in_service, hvdc:DC_AKH_B2B:max_p_mw,
                     gen:G_RS_NIS_CCGT:max_p_mw; line:ID:circuits / trafo:ID:circuits
                     sets parallel and scales rate_mva with it (parallel alone keeps
                     rate_mva, the rating of all circuits together)
  scenario           scenarios of the network file
  load_scale         factor on every load (p and q); load_scale:AREA for a zone or group
  export_mw          MW added to the scenario's export (its source to its sink)
values: V1,V2,...  or  START:STOP:STEP (stop included)  or one value; true/false.
Every row can be reproduced with `gridsim pf FILE --param KEY=VALUE ...`.
"""


def add_parser(sub) -> None:
    """Add the command's arguments to the ``gridsim`` parser."""
    import argparse

    p = sub.add_parser(
        "sweep",
        help="an analysis over a grid of network parameters (Parquet output)",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="gridsim .yaml, MATPOWER .m or pandapower .json file")
    p.add_argument("--scenario", help="scenario of a gridsim .yaml network (unless swept)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        required=True,
        help="a swept parameter (repeatable; see below)",
    )
    p.add_argument(
        "--analysis",
        choices=("pf", "transfer", "contingency"),
        default="pf",
        help="per point: AC power flow (default), transfer capability or AC N-1",
    )
    p.add_argument(
        "--out",
        metavar="FILE.parquet",
        help="results file, written as chunks finish; rerun to resume (default: CSV on stdout)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace another sweep's output")
    p.add_argument(
        "--executor",
        choices=("local", "serial", "dask"),
        help="local process pool (default), this process, or Dask",
    )
    p.add_argument(
        "--workers", type=positive_int, help="processes (local) or Dask LocalCluster workers"
    )
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (implies dask)"
    )
    p.add_argument("--chunk-size", type=positive_int, help="points per task")
    p.add_argument("--source", help="export / transfer source area (default: the scenario's)")
    p.add_argument("--sink", help="export / transfer sink area (default: the scenario's)")
    p.add_argument("--n-1", dest="n_1", action="store_true", help="transfer with N-1 outages")
    p.add_argument("--enforce-q-limits", action="store_true", help="PV->PQ at reactive limits")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="no bar")
    p.set_defaults(run=run)


def parameters_from_args(items: list[str]) -> dict[str, str]:
    """``KEY=VALUES`` texts as an ordered mapping (a key given twice is an error)."""
    from gridsim.analysis.sweep.params import ParameterError, parse_assignment

    out: dict[str, str] = {}
    for text in items:
        key, value = parse_assignment(text)
        if key in out:
            raise ParameterError(f"parameter {key!r} is given twice")
        out[key] = value
    return out


def run(args) -> int:
    """Run the command; returns the exit status."""
    from gridsim.analysis.sweep import SweepInterrupted, sweep
    from gridsim.analysis.sweep.params import ParameterError
    from gridsim.io import read_network

    params = parameters_from_args(args.param)
    executor = args.executor or ("dask" if args.scheduler else "local")
    if args.scheduler and executor != "dask":
        raise ParameterError("--scheduler needs the dask executor")
    network = read_network(args.file, scenario=args.scenario)
    try:
        table = sweep(
            network,
            params,
            analysis=args.analysis,
            executor=executor,
            workers=args.workers,
            scheduler=args.scheduler,
            chunk_size=args.chunk_size,
            out=args.out,
            overwrite=args.overwrite,
            progress=args.progress,
            source=args.source,
            sink=args.sink,
            n_1=args.n_1,
            enforce_q_limits=args.enforce_q_limits,
        )
    except SweepInterrupted as exc:
        if args.out:
            what = (
                f"{exc.saved} of {exc.total} points saved in {args.out}; "
                "rerun the same command to resume"
            )
        else:
            what = f"nothing saved (without --out the {exc.total} rows go to stdout at the end)"
        say("interrupted", what)
        return EXIT_INTERRUPTED
    failed = int((table.error.fillna("") != "").sum())
    computed = table.attrs.get("computed_points", len(table))
    summary = (
        f"{len(table)} points ({computed} computed here), {len(table) - failed} solved, "
        f"{failed} failed"
    )
    if args.out:
        print(f"{summary}; results in {args.out}")
    else:
        table.to_csv(sys.stdout, index=False)
        print(summary, file=sys.stderr)
    return EXIT_OK
