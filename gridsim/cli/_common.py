"""What every command shares: exit statuses, one-line errors, CSV and JSON output."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from gridsim.model.network import plain

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def error(args, exc: Exception, status: int) -> int:
    """Print ``exc`` as one line (or raise it with ``--debug``); return ``status``."""
    if args.debug:
        raise exc
    message = " ".join(str(exc).split())
    print(f"gridsim: error: {message}", file=sys.stderr)
    return status


def usage(args, message: str) -> int:
    """Print ``gridsim: error: FILE: message`` and return the usage exit status."""
    print(f"gridsim: error: {args.file}: {message}", file=sys.stderr)
    return EXIT_USAGE


def write_csv(tables: dict, out: Path) -> None:
    """Write each table as ``out/NAME.csv`` (through a temporary file, never half-written)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        tmp = out / f".{name}.csv.tmp"
        table.to_csv(tmp)
        tmp.replace(out / f"{name}.csv")


def json_value(x):
    """A JSON-safe scalar: NumPy scalars made plain, non-finite floats as None."""
    x = plain(x)
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x if x is None or isinstance(x, (int, float, str, bool)) else str(x)


def match_id(index, raw: str):
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


def add_param_option(parser) -> None:
    """``--param KEY=VALUE`` (repeatable): one sweep point, reproduced by a single run."""
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set one sweep parameter (repeatable; keys as `gridsim sweep --help`), "
        "e.g. line:L_RS_05:rate_mva=1200, load_scale=1.1, export_mw=300",
    )


def with_parameters(network, args):
    """The network with ``--param KEY=VALUE`` applied (a sweep point, reproduced)."""
    from gridsim.analysis.sweep import apply_parameters
    from gridsim.cli.sweep import parameters_from_args

    params = parameters_from_args(args.param)
    if args.scenario is not None and "scenario" in params:
        from gridsim.analysis.sweep import ParameterError

        raise ParameterError("give the scenario either as --scenario or as --param scenario=")
    return apply_parameters(network, params)


OUTAGE_ELEMENTS = ("line", "trafo", "hvdc")


def parse_outages(text: str, network, allowed=OUTAGE_ELEMENTS, hint: str = "") -> list | str:
    """``(element, id)`` pairs from an ``--outages`` text (``ELEMENT:ID,...``), or a
    one-line error message; ``hint`` is added when an element is not ``allowed``."""
    outages = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        element, sep, raw = item.partition(":")
        element, raw = element.strip(), raw.strip()
        if not sep or not raw:
            return f"outage {item!r} is not ELEMENT:ID"
        if element not in allowed:
            return f"outage element {element!r} (id {raw!r}) is not one of {', '.join(allowed)}" + (
                hint if element in OUTAGE_ELEMENTS else ""
            )
        table = network.tables.get(element)
        ident = match_id(table.index, raw) if table is not None else None
        if ident is None:
            return f"outage {element}:{raw}: no {element} with id {raw!r}"
        if not bool(table.in_service[ident]):
            return f"outage {element}:{raw}: {element} {raw!r} is out of service"
        outages.append((element, ident))
    if not outages:
        return "--outages names no outage"
    return outages
