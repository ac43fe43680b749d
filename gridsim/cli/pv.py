"""``gridsim pv``: P–V curves and the voltage-collapse nose along a transfer."""

from __future__ import annotations

import json

import numpy as np

from gridsim.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    add_transfer_request,
    check_out_file,
    json_value,
    match_id,
    parse_outages,
    say,
    usage,
    with_parameters,
)
from gridsim.model.network import plain

OUTAGE_ELEMENTS = ("line", "trafo", "hvdc", "gen")
TOP = 10  # weakest buses printed


def add_parser(sub) -> None:
    """Add the command's arguments to the ``gridsim`` parser."""
    pv = sub.add_parser(
        "pv",
        help="P-V curves and the voltage-collapse nose of a transfer (continuation power flow)",
    )
    add_transfer_request(pv)
    pv.add_argument(
        "--outage",
        metavar="ELEMENT:ID",
        help="trace the curve after this outage: line, trafo, hvdc or gen, e.g. line:L_RS_05",
    )
    pv.add_argument(
        "--buses",
        metavar="ID,...",
        help="buses whose curves are given (default: the five weakest at the nose)",
    )
    pv.add_argument(
        "--no-q-limits",
        dest="q_limits",
        action="store_false",
        help="ignore generators' and converters' reactive limits",
    )
    pv.add_argument(
        "--limit-branch",
        choices=("voltage", "lambda"),
        default="voltage",
        help="after a reactive limit, go on the way the limited voltage leaves its "
        "setpoint (default) or the way the transfer rises (as MATPOWER's runcpf)",
    )
    pv.add_argument("--json", action="store_true", help="print the result as JSON")
    pv.add_argument("--plot", metavar="FILE.png", help="draw the P-V curves (PNG)")
    pv.set_defaults(run=run)


def _buses(text: str, network) -> list | str:
    """Bus ids from ``--buses``, or a one-line error message."""
    ids = []
    for raw in (x.strip() for x in text.split(",")):
        if not raw:
            continue
        ident = match_id(network.bus.index, raw)
        if ident is None:
            return f"--buses: no bus with id {raw!r}"
        ids.append(ident)
    return ids or "--buses names no bus"


def run(args) -> int:
    """Run the command; returns the exit status."""
    from gridsim.analysis.continuation import continuation
    from gridsim.analysis.transfer import TransferError
    from gridsim.io import read_network

    if args.plot is not None:
        check_out_file(args.plot, "--plot")
    network = read_network(args.file, scenario=args.scenario)
    if args.param:
        network = with_parameters(network, args)
    outage = None
    if args.outage is not None:
        outages = parse_outages(args.outage, network, allowed=OUTAGE_ELEMENTS)
        if isinstance(outages, str):
            return usage(args, outages.replace("--outages", "--outage"))
        if len(outages) != 1:
            return usage(args, "--outage names one element (ELEMENT:ID)")
        outage = outages[0]
    buses = None
    if args.buses is not None:
        buses = _buses(args.buses, network)
        if isinstance(buses, str):
            return usage(args, buses)
    try:
        result = continuation(
            network,
            (args.source, args.sink),
            contingency=outage,
            enforce_q_limits=args.q_limits,
            limit_branch=args.limit_branch,
            buses=buses,
        )
    except TransferError as exc:
        return usage(args, str(exc))
    scenario = getattr(network, "scenario", None) or args.scenario
    where = "intact network" if outage is None else f"after the outage of {outage[0]} {outage[1]}"
    if args.plot and len(result.curve) > 1:
        result.plot(args.plot, title=f"P-V curves: {args.source} -> {args.sink}, {where}")
    if args.json:
        print(json.dumps(_doc(args, network, scenario, outage, result), indent=1))
    else:
        print(_text(args, network, scenario, where, result))
    if not result.converged:
        say("error", f"{args.file}: continuation power flow failed: {result.message}")
        return EXIT_FAILED
    return EXIT_OK


def _records(table) -> list[dict]:
    return [{str(k): json_value(v) for k, v in row.items()} for row in table.to_dict("records")]


def _doc(args, network, scenario, outage, result) -> dict:
    limiting = result.limiting_buses.head(TOP).reset_index()
    return {
        "file": str(args.file),
        "network": network.name,
        "scenario": scenario,
        "source": args.source,
        "sink": args.sink,
        "outage": None if outage is None else {"element": outage[0], "id": plain(outage[1])},
        "enforce_q_limits": args.q_limits,
        "converged": result.converged,
        "status": result.status,
        "message": result.message,
        "transfer_nose_mw": json_value(result.transfer_nose_mw),
        "transfer_max_mw": json_value(result.lambda_max * result.direction.transfer_mw),
        "steps": result.steps,
        "iterations": result.iterations,
        "max_mismatch_mva": json_value(result.max_mismatch_mva),
        "limiting_buses": _records(limiting),
        "events": _records(result.events),
        "curve": _records(result.curve),
    }


def _text(args, network, scenario, where, result) -> str:
    name = network.name or network.source
    lines = [
        f"{name}{f' (scenario {scenario})' if scenario else ''}: P-V curve of the transfer "
        f"{args.source} -> {args.sink}, {where}"
    ]
    if result.converged:
        what = {
            "nose": "nose",
            "limit_induced": "limit-induced nose (the curve turns back at a reactive limit)",
            "reactive_limits": "end: every voltage controller of an island at a reactive limit",
        }[result.status]
        lines.append(f"{what} at {result.transfer_nose_mw:.1f} MW")
    else:
        lines.append(f"no nose found: {result.message}")
    lines.append(
        f"{len(result.curve)} points, {len(result.events)} reactive-limit switches, "
        f"{result.iterations} corrector iterations, largest mismatch "
        f"{result.max_mismatch_mva:.3g} MVA"
    )
    limiting = result.limiting_buses.head(TOP)
    if len(limiting):
        at = "at the nose" if result.converged else "at the last point"
        lines.append(f"weakest buses {at} (share of the critical voltage direction, voltage):")
        for bus, row in limiting.iterrows():
            lines.append(f"  {bus}: {row.participation:.3f}, {row.vm_pu:.4f} p.u.")
    for e in result.events.itertuples():
        q = f"{e.q_mvar:.1f} Mvar" if np.isfinite(e.q_mvar) else "-"
        lines.append(
            f"  reactive limit: {e.element} {e.id} at bus {e.bus}, Q{e.limit} {q}, "
            f"at {e.transfer_mw:.1f} MW"
        )
    return "\n".join(lines)
