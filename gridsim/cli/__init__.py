"""Command line: ``gridsim COMMAND ...``, one module of this package per command.

Each command module has ``add_parser(sub)`` (its arguments, with ``run`` as the
default) and ``run(args) -> int``. Exit status: 0 success; 1 a computation failed (e.g.
no convergence, reported with the iteration count and the largest mismatch); 2 bad
input or usage (bad option values and output paths are refused before anything is
computed). Errors and warnings are one line each on stderr naming the file, the element
and the problem; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from pathlib import Path

from gridsim.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    drop_warnings,
    error,
    hold_warnings,
    release_warnings,
    say,
)

# command modules, in the order ``gridsim --help`` lists them
COMMANDS = ("pf", "contingency", "info", "sweep", "transfer", "pv", "expand", "study")


class _UsageError(Exception):
    """A command line argparse refused (the message is argparse's)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a refused command line as one line (``gridsim: error: ...``) and
    exit status 2 instead of a usage block; the subcommands' parsers are of this class."""

    def error(self, message: str):
        raise _UsageError(f"{message.removeprefix('argument ')} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gridsim",
        description="Transmission power flow for the Caspian-EU export corridor.",
    )
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"gridsim.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        say("error", str(exc))
        return EXIT_USAGE
    from gridsim.exceptions import ConvergenceError, GridsimError, InvalidNetworkError

    hold_warnings()  # printed before a failure or at the end; dropped for bad input
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            for category in (DeprecationWarning, PendingDeprecationWarning, ResourceWarning):
                warnings.simplefilter("ignore", category)  # for developers, as Python does
            warnings.showwarning = _warning_printer(args)
            return args.run(args)
    except InvalidNetworkError as exc:
        return error(args, exc, EXIT_USAGE)
    except ConvergenceError as exc:
        return error(args, exc, EXIT_FAILED)
    except GridsimError as exc:
        return error(args, exc, EXIT_USAGE)
    except KeyboardInterrupt:
        drop_warnings()
        print("gridsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (e.g. `| head`) went away: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # the system refused a read or write the checks allowed
        if args.debug:
            raise
        say("error", f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
        return EXIT_FAILED
    except Exception as exc:  # a bug in gridsim, not the user's mistake
        if args.debug:
            raise
        say(
            "internal error",
            f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
        )
        return EXIT_FAILED
    finally:
        release_warnings()


def _warning_printer(args):
    """A ``warnings.showwarning`` that prints each distinct warning once, as one line
    naming the command's file, and NumPy's floating-point warnings with where in gridsim
    they arose."""
    name = getattr(args, "file", None) or getattr(args, "network", None)
    package = Path(__file__).resolve().parents[1]
    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split())
        if name is not None and not text.startswith(str(name)):
            text = f"{name}: {text}"
        where = Path(filename).resolve()
        if issubclass(category, RuntimeWarning) and where.is_relative_to(package):
            text += f" (in {where.relative_to(package.parent).as_posix()}:{lineno})"
        if text not in shown:
            shown.add(text)
            say("warning", text)

    return show
