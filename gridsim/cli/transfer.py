"""``gridsim transfer``: total and available transfer capability between two areas."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.cli._common import (
    EXIT_OK,
    add_transfer_request,
    check_out_dir,
    check_out_file,
    json_value,
    match_id,
    nonneg_float,
    parse_outages,
    positive_float,
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
    add_transfer_request(tr)
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
        type=positive_float,
        default=100.0,
        metavar="PERCENT",
        help="post-contingency thermal limit, percent of rate_mva (100)",
    )
    tr.add_argument(
        "--base-emergency-rating",
        type=positive_float,
        metavar="PERCENT",
        help="with --method optimal: secure the base case at this post-contingency rating "
        "and search the TTC at --emergency-rating from that base case (a what-if on the "
        "emergency rating compared from one base case; default: the base case secured at "
        "--emergency-rating)",
    )
    tr.add_argument(
        "--voltage-stability-margin",
        type=nonneg_float,
        default=0.05,
        metavar="FRACTION",
        help="voltage-stability limit = nose of the P-V curve x (1 - FRACTION) (0.05)",
    )
    tr.add_argument(
        "--trm", type=nonneg_float, default=0.0, metavar="MW", help="reliability margin"
    )
    tr.add_argument(
        "--committed",
        type=nonneg_float,
        default=0.0,
        metavar="MW",
        help="transfers already committed",
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
    tr.add_argument(
        "--method",
        choices=("search", "optimal"),
        default="search",
        help="search: AC search along fixed shift keys (default); optimal: N-1 TTC from a "
        "secured base case with HVDC setpoints and redispatch set by successive LPs, "
        "verified in AC, with shadow prices (ordinary contingencies: one circuit, one "
        "transformer, one link, one unit)",
    )
    tr.add_argument(
        "--redispatch",
        metavar="AREA,...",
        help="with --method optimal: zones or groups whose generators may be redispatched "
        "for the transfer (default none)",
    )
    tr.add_argument(
        "--units",
        choices=("all", "largest_per_area", "none"),
        default="all",
        help="with --method optimal: unit outages studied (all)",
    )
    tr.add_argument(
        "--exceptional",
        action="store_true",
        help="with --method optimal: also every exceptional contingency (all circuits of "
        "a multi-circuit line)",
    )
    tr.add_argument(
        "--set-aside-insecure",
        action="store_true",
        help="with --method optimal: set aside the outages the base case cannot be secured "
        "against (every output says so)",
    )
    tr.add_argument(
        "--base-redispatch-balance",
        choices=("area", "zone"),
        default="area",
        help="with --method optimal: the base-case redispatch balances each synchronous "
        "area (area, default) or keeps each zone's net position (zone)",
    )
    tr.add_argument(
        "--base-redispatch-limit",
        type=nonneg_float,
        metavar="PERCENT",
        help="with --method optimal: each zone's base-case redispatch (sum of |moves|) at "
        "most PERCENT of its generation (default unbounded)",
    )
    tr.add_argument(
        "--base-margin",
        type=nonneg_float,
        default=0.0,
        metavar="PERCENT",
        help="with --method optimal: the base-case redispatch holds every thermal limit at "
        "100 - PERCENT %% of it (a flow reliability margin; default 0)",
    )
    tr.add_argument(
        "--cnec-threshold",
        type=nonneg_float,
        metavar="PERCENT",
        help="with --method optimal: hold thermal limits only on the CNECs, the (branch, "
        "outage) pairs whose largest zone-to-zone PTDF is at least PERCENT (ENTSO-E: 5); "
        "the other pairs' overloads are listed, not held (default: every branch)",
    )
    tr.add_argument(
        "--no-voltage-control",
        action="store_true",
        help="with --method optimal: do not move the units' voltage setpoints to hold the "
        "base case's voltages (the preventive voltage control; default: moved least)",
    )
    tr.add_argument(
        "--no-voltage-rows",
        action="store_true",
        help="with --method optimal: where the transfer meets a voltage limit, only bisect "
        "along that direction (default: the voltage becomes a row of the later LPs, the "
        "voltage control gives it room where it binds, and the LPs go on)",
    )
    tr.add_argument(
        "--joint-base",
        action="store_true",
        help="with --method optimal: also arrange the base case's redispatch for the "
        "transfer (each zone within what securing moved there, the base case's export not "
        "raised) and keep the larger TTC (default: the transfer from the least securing "
        "redispatch)",
    )
    tr.add_argument(
        "--published-limits",
        choices=("both", "ignore", "hold"),
        default="both",
        help="with --method optimal: the file's published limits (interfaces of kind ntc): "
        "report the TTC within them beside the physical TTC (both, default), leave them out "
        "(ignore), or hold them in the TTC (hold)",
    )
    tr.add_argument("--max-mw", type=nonneg_float, help="largest transfer studied")
    tr.add_argument("--tol-mw", type=positive_float, help="search tolerance, MW (10; relative 1%%)")
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
    from gridsim.analysis.transfer import TransferError, transfer_capability
    from gridsim.io import read_network

    out = check_out_dir(args.out) if args.out else None
    for opt, path in (("--save-limit", args.save_limit), ("--plot", args.plot)):
        if path is not None:
            check_out_file(path, opt)
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
    if args.method == "optimal":
        return _run_optimal(args, network, outages, shares)
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
            voltage_stability_margin=args.voltage_stability_margin,
        )
    except TransferError as exc:
        return usage(args, str(exc))
    if out is not None:
        write_csv(
            {
                "transfer_curve": result.curve.set_index("transfer_mw"),
                "transfer_border_flows": result.border_flows.set_index(["from_zone", "to_zone"]),
                "transfer_link_flows": result.link_flows,
            },
            out,
            "gridsim transfer",
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
            "nose_mw": json_value(result.nose_mw),
            "nose_contingency": _element(result.nose_contingency),
            "voltage_stability_margin": result.voltage_stability_margin,
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


def _run_optimal(args, network, outages, shares) -> int:
    """``--method optimal``: :func:`gridsim.analysis.ttc.n1_ttc`, printed."""
    from gridsim.analysis.ttc import BASE_OPTIONS, TtcError, n1_ttc, secured_base

    for given, option in (
        (outages, "--outages"),
        (shares, "--hvdc-shares"),
        (args.plot, "--plot"),
        (args.save_limit, "--save-limit"),
        (args.out, "--out"),
    ):
        if given is not None:
            return usage(args, f"{option} does not apply to --method optimal")
    areas = (
        [a.strip() for a in args.redispatch.split(",") if a.strip()] if args.redispatch else None
    )
    kwargs = dict(
        units=None if args.units == "none" else args.units,
        exceptional=args.exceptional,
        emergency_rating_percent=args.emergency_rating,
        redispatch_areas=areas,
        trm_mw=args.trm,
        committed_mw=args.committed,
        tol_mw=args.tol_mw or 10.0,
        max_mw=args.max_mw,
        set_aside_insecure=args.set_aside_insecure,
        published_limits=args.published_limits,
        base_redispatch_balance=args.base_redispatch_balance,
        base_redispatch_limit_percent=args.base_redispatch_limit,
        base_margin_percent=args.base_margin,
        cnec_threshold=None if args.cnec_threshold is None else args.cnec_threshold / 100,
        voltage_control=not args.no_voltage_control,
        voltage_rows=not args.no_voltage_rows,
        joint_base=args.joint_base,
    )
    try:
        base = None
        if args.base_emergency_rating is not None:
            options = {k: v for k, v in kwargs.items() if k in BASE_OPTIONS}
            at = dict(options, emergency_rating_percent=args.base_emergency_rating)
            base = secured_base(network, **options, start=secured_base(network, **at))
        result = n1_ttc(network, args.source, args.sink, base=base, **kwargs)
    except TtcError as exc:
        return usage(args, str(exc))
    binding = result.binding or {}
    if args.json:
        doc = {
            "file": str(args.file),
            "scenario": getattr(network, "scenario", None) or args.scenario,
            "source": args.source,
            "sink": args.sink,
            "method": "optimal",
            "status": result.status,
            "message": result.message,
            "ttc_mw": json_value(result.ttc_mw),
            "atc_mw": json_value(result.atc_mw),
            "trm_mw": result.trm_mw,
            "committed_mw": result.committed_mw,
            "binding": {k: json_value(v) for k, v in binding.items()} or None,
            "binding_rows": _records(result.binding_rows),
            "hvdc": _records(result.hvdc, "id"),
            "redispatch_zone": _records(result.redispatch_zone, "zone"),
            "base_redispatch_balance": args.base_redispatch_balance,
            "base_redispatch_limit_percent": args.base_redispatch_limit,
            "base_margin_percent": args.base_margin,
            "base_redispatch_zone": _records(result.base_redispatch_zone, "zone"),
            "voltage_control": not args.no_voltage_control,
            "voltage_rows": not args.no_voltage_rows,
            "joint_base": args.joint_base,
            "base_emergency_rating_percent": args.base_emergency_rating,
            "started_from": result.started_from,
            "base_voltage_change_pu": {
                str(k): float(v) for k, v in result.base_voltage_change_pu.items()
            },
            "voltage_change_pu": {str(k): float(v) for k, v in result.voltage_change_pu.items()},
            "base_shunt_step_change": {
                str(k): float(v) for k, v in result.base_shunt_step_change.items()
            },
            "shunt_step_change": {str(k): float(v) for k, v in result.shunt_step_change.items()},
            "residual": _records(result.residual),
            "cnec_threshold_percent": args.cnec_threshold,
            "cnecs": list(result.cnecs.counts) if result.cnecs is not None else None,
            "outside_cnec": _records(result.outside_cnec),
            "ordinary_contingencies": len(result.ordinary),
            "exceptional_contingencies": len(result.exceptional),
            "set_aside": [o.label for o in result.set_aside],
            "published_limits": args.published_limits,
            "ttc_published_mw": json_value(result.ttc_published_mw),
            "published_message": result.published.message if result.published else None,
            "published_binding": _records(result.published.binding_rows)
            if result.published
            else [],
        }
        print(json.dumps(doc, indent=1))
        return EXIT_OK
    lines = [
        f"{network.name or network.source}: N-1 transfer {args.source} -> {args.sink} "
        f"(optimal HVDC and redispatch, {len(result.ordinary)} ordinary and "
        f"{len(result.exceptional)} exceptional contingencies)",
        f"status: {result.status}",
        result.message,
    ]
    if result.defined:
        lines.append(
            f"TTC {result.ttc_mw:.1f} MW, TRM {result.trm_mw:.1f} MW, committed "
            f"{result.committed_mw:.1f} MW, ATC {result.atc_mw:.1f} MW"
        )
    if result.published is not None:
        lines.append(
            f"TTC within published limits (interfaces of kind ntc): "
            f"{result.ttc_published_mw:.1f} MW; {result.published.message}"
        )
    if binding:
        lines.append(
            f"binding: {binding.get('kind')} {binding.get('element')} {binding.get('id')} "
            f"after {binding.get('contingency') or 'no outage'}, shadow price "
            f"{binding.get('shadow_price', float('nan')):.3g} MW per MW of limit"
        )
    for title, table, digits in (
        ("HVDC setpoints", result.hvdc, 2),
        ("base-case redispatch per zone (MW)", result.base_redispatch_zone, 2),
        ("base-case voltage setpoint changes (p.u.)", result.base_voltage_change_pu.to_frame(), 4),
        ("transfer redispatch per zone (MW)", result.redispatch_zone, 2),
        ("base-case shunt steps switched", result.base_shunt_step_change.to_frame(), 0),
        ("transfer voltage setpoint changes (p.u.)", result.voltage_change_pu.to_frame(), 4),
        ("transfer shunt steps switched", result.shunt_step_change.to_frame(), 0),
        ("violations left", result.residual, 2),
        ("thermal violations outside the CNECs (not held)", result.outside_cnec, 2),
    ):
        if len(table):
            lines.append(f"{title}:")
            lines.append(table.round(digits).to_string())
    if result.cnecs is not None:
        cnecs, pairs = result.cnecs.counts
        lines.append(
            f"CNECs (largest zone-to-zone PTDF >= {args.cnec_threshold:g} %): {cnecs} of "
            f"{pairs} (branch, outage) pairs; {len(result.outside_cnec)} thermal "
            "violation(s) outside them, not held"
        )
    if result.set_aside:
        lines.append(f"set aside (insecure with no transfer): {len(result.set_aside)} outages")
    print("\n".join(lines))
    return EXIT_OK
