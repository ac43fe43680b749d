"""What every command shares: exit statuses, one-line messages, checked option values
and output paths, CSV and JSON output."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gridsim.exceptions import GridsimError
from gridsim.model.network import plain

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# longest message line printed; a file can put any string into a message
MAX_LINE = 300

# the file that marks a folder as gridsim's output and lists what gridsim wrote there
MARKER = ".gridsim-output"


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` on one line (whitespace runs made one space), at most ``limit``
    characters: a longer text keeps its start and end around `` ... ``."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    tail = limit // 3
    return f"{text[: limit - tail - 5]} ... {text[-tail:]}"


def say(kind: str, message: str) -> None:
    """Print ``gridsim: KIND: message`` as one bounded line on stderr.

    While :func:`hold_warnings` is in force, warnings wait: the next other line (an
    error, "interrupted") or :func:`release_warnings` prints them first, and
    :func:`drop_warnings` discards them, so that bad input ends in exactly one line.
    """
    line = one_line(f"gridsim: {kind}: {message}")
    if kind == "warning" and _held is not None:
        _held.append(line)
        return
    release_warnings()
    print(line, file=sys.stderr)


_held: list[str] | None = None  # warnings waiting to be printed (None: print at once)


def hold_warnings() -> None:
    """Hold warning lines back until :func:`release_warnings` or :func:`drop_warnings`."""
    global _held
    _held = []


def release_warnings() -> None:
    """Print the warnings held back (in their order) and stop holding."""
    global _held
    held, _held = _held or [], None
    for line in held:
        print(line, file=sys.stderr)


def drop_warnings() -> None:
    """Discard the warnings held back and stop holding (a usage error is the one line)."""
    global _held
    _held = None


def error(args, exc: Exception, status: int) -> int:
    """Print ``exc`` as one line (or raise it with ``--debug``), naming the command's
    file unless it names it or an option already; return ``status``."""
    if args.debug:
        raise exc
    text, name = str(exc), getattr(args, "file", None)
    named = name is None or str(name) in text or str(Path(name)) in text
    if not (named or text.startswith("-")):
        text = f"{name}: {text}"
    if status == EXIT_USAGE:
        drop_warnings()
    say("error", text)
    return status


def usage(args, message: str) -> int:
    """Print ``gridsim: error: FILE: message`` (the one line: warnings held back are
    dropped) and return the usage exit status."""
    drop_warnings()
    say("error", f"{args.file}: {message}")
    return EXIT_USAGE


def _number(text: str, kind: type, low: float, strict: bool, what: str):
    try:
        value = kind(text)
    except ValueError:
        name = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {name}") from None
    if not math.isfinite(value) or value < low or (strict and value == low):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse ``type=``: a finite number > 0."""
    return _number(text, float, 0.0, True, "a finite number > 0")


def nonneg_float(text: str) -> float:
    """argparse ``type=``: a finite number >= 0."""
    return _number(text, float, 0.0, False, "a finite number >= 0")


def positive_int(text: str) -> int:
    """argparse ``type=``: an integer >= 1."""
    return _number(text, int, 1, False, "an integer >= 1")


def nonneg_int(text: str) -> int:
    """argparse ``type=``: an integer >= 0."""
    return _number(text, int, 0, False, "an integer >= 0")


def _probe(folder: Path, where: str) -> None:
    """Raise unless a file can be created in ``folder`` (made and removed at once)."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".gridsim-probe-", dir=folder))
    except OSError as exc:
        msg = f"{where}: cannot write in {folder} ({exc.strerror or exc})"
        raise GridsimError(msg) from None


def _listed(folder: Path) -> set[str]:
    """What the marker of ``folder`` lists as written by gridsim (empty if unreadable)."""
    try:
        written = json.loads((folder / MARKER).read_text()).get("written", [])
        return {str(x) for x in written}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def _foreign(folder: Path) -> str | None:
    """The first entry under ``folder`` that gridsim did not write, or None."""
    if not (folder / MARKER).is_file():
        return next(iter(sorted(os.listdir(folder))), None)
    listed = _listed(folder) | {MARKER}
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(dirs + files):
            rel = (Path(root) / name).relative_to(folder).as_posix()
            if rel not in listed:
                return rel
    return None


def check_out_dir(path: str | os.PathLike, option: str | None = "--out") -> Path:
    """Check, before anything is computed, that gridsim may write output folder ``path``.

    Allowed: a folder that does not exist yet (its nearest existing parent a writable
    folder), an empty folder, or a folder of gridsim's output: one holding the
    :data:`MARKER` file and nothing that file does not list. So nothing that gridsim
    did not write is ever overwritten or deleted.

    Parameters
    ----------
    path : path-like
        The output folder.
    option : str, optional
        The command-line option that named it, put before the path in messages.

    Returns
    -------
    Path

    Raises
    ------
    GridsimError
        Naming the option, the path and what is wrong (exit status 2 on the command line).
    """
    p = Path(path)
    where = f"{option} {path}" if option else str(path)
    if p.exists() or p.is_symlink():
        if not p.is_dir():
            raise GridsimError(f"{where}: exists and is not a folder")
        try:
            foreign = _foreign(p)
        except OSError as exc:
            raise GridsimError(f"{where}: cannot read it ({exc.strerror or exc})") from None
        if foreign is not None:
            raise GridsimError(
                f"{where}: holds {foreign!r}, which gridsim did not write; give a new or "
                f"empty folder (gridsim writes only there or into its own output folders, "
                f"marked by a {MARKER} file)"
            )
        _probe(p, where)
        return p
    parent = Path(os.path.abspath(p)).parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise GridsimError(f"{where}: {parent} is not a folder")
    _probe(parent, where)
    return p


def mark_out_dir(folder: Path, command: str, names: Iterable[str] | None = None) -> None:
    """Write ``folder``'s :data:`MARKER` (JSON: gridsim's version, the command and the
    sorted relative paths gridsim wrote there, ``"written"``).

    Parameters
    ----------
    folder : Path
        An existing output folder.
    command : str
        The command that writes it, e.g. ``"gridsim pf"``.
    names : iterable of str, optional
        Relative paths about to be written, added to those listed before; by default
        everything the folder holds now.
    """
    import gridsim

    if names is None:
        written = {
            (Path(root) / n).relative_to(folder).as_posix()
            for root, dirs, files in os.walk(folder)
            for n in dirs + files
        } - {MARKER}
    else:
        written = _listed(folder) | set(names)
    doc = {"gridsim": gridsim.__version__, "command": command, "written": sorted(written)}
    tmp = folder / f".{MARKER}.tmp"
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(folder / MARKER)


def check_out_file(path: str | os.PathLike, option: str) -> Path:
    """Check, before anything is computed, that gridsim may write the file ``path``:
    not a folder nor any other non-regular file, in an existing writable folder (an
    existing file there is replaced).

    Raises
    ------
    GridsimError
        Naming ``option``, the path and what is wrong (exit status 2 on the command line).
    """
    p = Path(path)
    where = f"{option} {path}"
    if p.is_dir():
        raise GridsimError(f"{where}: is a folder; give a file name")
    if p.exists() and not p.is_file():
        raise GridsimError(f"{where}: exists and is not a regular file")
    folder = Path(os.path.abspath(p)).parent
    if not folder.is_dir():
        raise GridsimError(f"{where}: folder {p.parent} does not exist")
    _probe(folder, where)
    return p


def write_csv(tables: dict, out: Path, command: str) -> None:
    """Write each table as ``out/NAME.csv`` (through a temporary file, never half-written)
    into a folder that :func:`check_out_dir` allowed, marked as ``command``'s output."""
    out.mkdir(parents=True, exist_ok=True)
    mark_out_dir(out, command, [f"{name}.csv" for name in tables])
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


def add_transfer_request(parser) -> None:
    """The network file, ``--scenario``, ``--param`` and the transfer's ``--source`` and
    ``--sink`` areas (``transfer`` and ``pv``)."""
    parser.add_argument("file", help="gridsim .yaml, MATPOWER .m or pandapower .json file")
    parser.add_argument("--scenario", help="scenario of a gridsim .yaml network")
    add_param_option(parser)
    parser.add_argument(
        "--source", required=True, metavar="AREA", help="zone code or group name (e.g. AZ)"
    )
    parser.add_argument(
        "--sink", required=True, metavar="AREA", help="zone code or group name (e.g. RS, EU)"
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
