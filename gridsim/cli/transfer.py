"""``gridsim transfer``: total and available transfer capability between two areas."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.cli._common import (
    EXIT_OK,
    add_param_option,
    json_value,
    match_id,
    parse_outages,
    usage,
    with_parameters,
    write_csv,
)
from gridsim.model.network import plain


def add_parser(sub) -> None:
    """Add the command's arguments to the ``gridsim`` parser."""
    tr = sub.add_parser(
        "transfer",
        help="transfer capability (TTC/ATC) from a source area to a sink area, AC-verified",
    )
    tr.add_argument("file", help="gridsim .yaml, MATPOWER .m or pandapower .json file")
    tr.add_argument("--scenario", help="scenario of a gridsim .yaml network")
    add_param_option(tr)
    tr.add_argument(
        "--source", required=True, metavar="AREA", help="zone code or group name (e.g. AZ)"
    )
    tr.add_argument(
        "--sink", required=True, metavar="AREA", help="zone code or group name (e.g. RS, EU)"
    )
    tr.add_argument(
        "--n-1", dest="n_1", action="store_true", help="hold every limit under each outage too"
    )
    tr.add_argument(
        "--outages",
        metavar="ELEMENT:ID,...",
        help="contingency set (implies --n-1), e.g. line:L_RS_05,trafo:T1,hvdc:DC_AKH_B2B; "
        "default every in-service line, transformer and HVDC link",
    )
    tr.add_argument(
        "--no-hvdc-outages",
        action="store_true",
        help="leave HVDC link trips out of the default contingency set",
    )
    tr.add_argument(
        "--emergency-rating",
        type=float,
        default=100.0,
        metavar="PERCENT",
        help="post-contingency thermal limit, percent of rate_mva (100)",
    )
    tr.add_argument("--trm", type=float, default=0.0, metavar="MW", help="reliability margin")
    tr.add_argument(
        "--committed", type=float, default=0.0, metavar="MW", help="transfers already committed"
    )
    tr.add_argument(
        "--hvdc-shares",
        metavar="ID=SHARE,...",
        help="fixed split of the transfer over the joining HVDC links (normalised)",
    )
    tr.add_argument(
        "--hvdc-allocation",
        choices=("optimal", "headroom"),
        default="optimal",
        help="split over several joining HVDC links: LP-optimal (default) or by headroom",
    )
    tr.add_argument("--max-mw", type=float, help="largest transfer studied")
    tr.add_argument("--tol-mw", type=float, help="search tolerance, MW (10; relative 1%%)")
    tr.add_argument("--json", action="store_true", help="print the result as JSON")
    tr.add_argument("--plot", metavar="FILE.png", help="draw the export curve (PNG)")
    tr.add_argument(
        "--save-limit",
        metavar="FILE.json",
        help="write the network as dispatched at the TTC as a pandapower JSON file",
    )
    tr.add_argument(
        "--out", metavar="DIR", help="write the curve, border and link flows as CSV to DIR"
    )
    tr.set_defaults(run=run)


def _parse_shares(text: str, network) -> dict | str:
    """``{link id: share}`` from ``--hvdc-shares``, or a one-line error message."""
    shares = {}
    table = network.tables.get("hvdc")
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        raw, sep, value = item.partition("=")
        raw = raw.strip()
        if not sep:
            return f"--hvdc-shares item {item!r} is not ID=SHARE"
        ident = match_id(table.index, raw) if table is not None else None
        if ident is None:
            return f"--hvdc-shares: no hvdc with id {raw!r}"
        try:
            share = float(value)
        except ValueError:
            return f"--hvdc-shares: share {value.strip()!r} of hvdc {raw!r} is not a number"
        if not np.isfinite(share) or share < 0:
            return f"--hvdc-shares: share of hvdc {raw!r} must be >= 0, got {value.strip()}"
        shares[ident] = share
    if not shares:
        return "--hvdc-shares names no link"
    return shares


def _element(x) -> dict | None:
    return None if x is None else {"element": str(x[0]), "id": plain(x[1])}


def _label(x) -> str:
    return "-" if x is None else f"{x[0]} {plain(x[1])}"


def _records(table: pd.DataFrame, index_name: str | None = None) -> list[dict]:
    rows = []
    for key, row in table.iterrows():
        rec = {index_name: plain(key)} if index_name else {}
        rec.update({c: json_value(row[c]) for c in table.columns})
        rows.append(rec)
    return rows


def save_limit(result, path: str | os.PathLike) -> None:
    """Write the network as dispatched at ``result``'s TTC as a pandapower JSON file
    (through a temporary file in the same folder, never half-written)."""
    import warnings

    import pandapower as pp

    from gridsim.io import to_pandapower

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = to_pandapower(result.network_at(result.ttc_mw))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.to_json(net, str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def run(args) -> int:
    """Run the command; returns the exit status."""
    import warnings

    from gridsim.analysis.transfer import TransferError, transfer_capability
    from gridsim.io import read_network

    for opt, path in (("--save-limit", args.save_limit), ("--plot", args.plot)):
        if path is not None and not Path(path).resolve().parent.is_dir():
            return usage(args, f"{opt}: folder of {path!r} does not exist")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network = read_network(args.file, scenario=args.scenario)
        if args.param:
            network = with_parameters(network, args)
        outages = None
        if args.outages is not None:
            outages = parse_outages(args.outages, network)
            if isinstance(outages, str):
                return usage(args, outages)
        shares = None
        if args.hvdc_shares is not None:
            shares = _parse_shares(args.hvdc_shares, network)
            if isinstance(shares, str):
                return usage(args, shares)
        n_1 = bool(args.n_1 or outages is not None)
        try:
            result = transfer_capability(
                network,
                args.source,
                args.sink,
                n_1=n_1,
                contingencies=outages,
                hvdc_shares=shares,
                tol_mw=args.tol_mw,
                max_mw=args.max_mw,
                trm_mw=args.trm,
                committed_mw=args.committed,
                emergency_rating_percent=args.emergency_rating,
                hvdc_contingencies=not args.no_hvdc_outages,
                hvdc_allocation=args.hvdc_allocation,
            )
        except TransferError as exc:
            return usage(args, " ".join(str(exc).split()))
    for w in caught:
        print(f"gridsim: warning: {w.message}", file=sys.stderr)
    if args.out:
        write_csv(
            {
                "transfer_curve": result.curve.set_index("transfer_mw"),
                "transfer_border_flows": result.border_flows.set_index(["from_zone", "to_zone"]),
                "transfer_link_flows": result.link_flows,
            },
            Path(args.out),
        )
    if args.plot:
        from gridsim.plot import plot_transfer_curve

        plot_transfer_curve(result, args.plot)
    if args.save_limit:
        save_limit(result, args.save_limit)
    scenario = getattr(network, "scenario", None) or args.scenario
    if args.json:
        doc = {
            "file": str(args.file),
            "network": network.name,
            "scenario": scenario,
            "source": args.source,
            "sink": args.sink,
            "n_1": n_1,
            "ttc_mw": result.ttc_mw,
            "trm_mw": result.trm_mw,
            "committed_mw": result.committed_mw,
            "atc_mw": result.atc_mw,
            "limit_type": result.limit_type,
            "limiting_element": _element(result.limiting_element),
            "limiting_contingency": _element(result.limiting_contingency),
            "losses_mw": result.losses_mw,
            "losses_increase_mw": result.losses_increase_mw,
            "emergency_rating_percent": result.emergency_rating_percent,
            "hvdc_allocation": result.hvdc_allocation,
            "hvdc_shares": {str(k): float(v) for k, v in result.hvdc_shares.items()},
            "hvdc_capacity_mw": json_value(result.hvdc_capacity_mw),
            "contingencies_studied": result.contingencies_studied,
            "skipped_contingencies": [_element(o) for o in result.skipped_contingencies],
            "excluded_contingencies": [_element(o) for o in result.excluded_contingencies],
            "border_flows": _records(result.border_flows),
            "link_flows": _records(result.link_flows, "id"),
            "curve": _records(result.curve),
        }
        print(json.dumps(doc, indent=1))
        return EXIT_OK
    where = f" (scenario {scenario})" if scenario else ""
    mode = "N-1" if n_1 else "base case"
    lines = [
        f"{network.name or network.source}{where}: transfer {args.source} -> {args.sink}, {mode}"
    ]
    lines.append(
        f"TTC {result.ttc_mw:.1f} MW, TRM {result.trm_mw:.1f} MW, committed "
        f"{result.committed_mw:.1f} MW, ATC {result.atc_mw:.1f} MW"
    )
    limit = f"limit: {result.limit_type}"
    if result.limiting_element is not None:
        limit += f" on {_label(result.limiting_element)}"
    limit += (
        f" after the outage of {_label(result.limiting_contingency)}"
        if result.limiting_contingency is not None
        else " in the base case"
    )
    lines.append(limit)
    lines.append(
        f"losses at the TTC: {result.losses_mw:.1f} MW "
        f"({result.losses_increase_mw:+.1f} MW over no transfer)"
    )
    if n_1:
        lines.append(
            f"contingencies: {result.contingencies_studied} studied, "
            f"{len(result.skipped_contingencies)} skipped (islanding), "
            f"{len(result.excluded_contingencies)} excluded (a limit already exceeded with "
            f"no transfer), emergency rating {result.emergency_rating_percent:g}%"
        )
    if len(result.hvdc_shares):
        split = ", ".join(f"{k} {v:.3f}" for k, v in result.hvdc_shares.items())
        lines.append(f"HVDC split ({result.hvdc_allocation}): {split}")
    if len(result.border_flows):
        lines.append("border flows at the TTC (MW):")
        for row in result.border_flows.itertuples():
            lines.append(f"  {row.from_zone} -> {row.to_zone}: {row.p_mw:.1f}")
    if len(result.link_flows):
        lines.append("HVDC link flows at the TTC:")
        lines.append(result.link_flows.round(2).to_string())
    print("\n".join(lines))
    return EXIT_OK
