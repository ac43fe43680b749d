"""Command line: ``gridsim COMMAND ...``, one module of this package per command.

Each command module has ``add_parser(sub)`` (its arguments, with ``run`` as the
default) and ``run(args) -> int``. Exit status: 0 success; 1 a computation failed (e.g.
no convergence, reported with the iteration count and the largest mismatch); 2 bad
input or usage. Errors are one line on stderr naming the file, the element and the
problem; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from gridsim.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error

# command modules, in the order ``gridsim --help`` lists them
COMMANDS = ("pf", "contingency", "info", "sweep", "transfer", "study")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
    from gridsim.exceptions import ConvergenceError, GridsimError, InvalidNetworkError

    try:
        return args.run(args)
    except InvalidNetworkError as exc:
        return error(args, exc, EXIT_USAGE)
    except ConvergenceError as exc:
        return error(args, exc, EXIT_FAILED)
    except GridsimError as exc:
        return error(args, exc, EXIT_USAGE)
    except KeyboardInterrupt:
        print("gridsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (e.g. `| head`) went away: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug in gridsim, not the user's mistake
        if args.debug:
            raise
        print(
            f"gridsim: internal error: {type(exc).__name__}: {exc} (rerun with --debug "
            "for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
