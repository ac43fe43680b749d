"""``gridsim pf``: AC or DC power flow of a network file."""

from __future__ import annotations

import json

import numpy as np

from gridsim.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    add_param_option,
    check_out_dir,
    check_out_file,
    nonneg_int,
    positive_float,
    positive_int,
    say,
    with_parameters,
    write_csv,
)


def add_parser(sub) -> None:
    """Add the command's arguments to the ``gridsim`` parser."""
    pf = sub.add_parser("pf", help="AC (or DC) power flow of a network file")
    pf.add_argument("file", help="gridsim .yaml, MATPOWER .m or pandapower .json file")
    pf.add_argument("--scenario", help="scenario of a gridsim .yaml network")
    add_param_option(pf)
    pf.add_argument("--dc", action="store_true", help="DC power flow instead of AC")
    pf.add_argument("--enforce-q-limits", action="store_true", help="PV->PQ at reactive limits")
    pf.add_argument(
        "--init",
        choices=("auto", "flat", "dc", "case"),
        default="auto",
        help="AC start: auto (the file's stored voltages, else DC angles where phases shift "
        "or HVDC links join islands, else flat; the others if that diverges), flat, dc, or "
        "case (the stored voltages)",
    )
    pf.add_argument("--tol-mva", type=positive_float, default=1e-8, help="mismatch tolerance, MVA")
    pf.add_argument("--max-iter", type=positive_int, default=30, help="Newton iterations allowed")
    pf.add_argument("--json", action="store_true", help="print results as JSON")
    pf.add_argument("--out", metavar="DIR", help="also write every result table as CSV to DIR")
    pf.add_argument("--top", type=nonneg_int, default=10, help="rows in the text summary tables")
    pf.add_argument(
        "--plot", metavar="FILE.png", help="also draw a map coloured by line loading (PNG)"
    )
    pf.set_defaults(run=run)


def run(args) -> int:
    """Run the command; returns the exit status."""
    import gridsim
    from gridsim.io import read_network

    out = check_out_dir(args.out) if args.out else None
    if args.plot:
        check_out_file(args.plot, "--plot")
    network = read_network(args.file, scenario=args.scenario)
    if args.param:
        network = with_parameters(network, args)
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
    if res.converged:  # the tables of a diverged solve are not results: nothing written
        if out is not None:
            write_csv(res.tables(), out, "gridsim pf")
        if args.plot:
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
        what = (
            f"DC power flow failed ({res.message})"
            if args.dc
            else f"power flow did not converge after {res.iterations} iterations "
            f"({res.message}); largest mismatch {res.max_mismatch_mva:.4g} MVA"
        )
        nothing = f"; nothing written to {args.out}" if args.out else ""
        say("error", f"{args.file}: {what}{nothing}")
        return EXIT_FAILED
    return EXIT_OK


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
