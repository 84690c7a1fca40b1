"""The command line: ``python run.py COMMAND ...``.

Exit status 0 on success, 2 on bad input (one line on stderr naming the file, the key and what is
allowed; a ``--db`` that is no usable URL), 1 when something outside the input fails (the database
is unreachable, read-only, damaged, locked for too long or refuses a write; a disk is read-only or
full; a folder is removed meanwhile), also with one line.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

import sim.cli
from sim.output.result import OutputError
from sim.output.store import StoreError, StoreURLError
from sim.scenario.errors import ScenarioError, one_line

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit status 2."""

    def error(self, message: str) -> None:
        self.exit(EXIT_BAD_INPUT, f"error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``run.py`` argument parser with one sub-command per module of :mod:`sim.cli`."""
    parser = _Parser(prog="run.py", description="Simulate Norwegian Innovation Clusters.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    names = [m.name for m in pkgutil.iter_modules(sim.cli.__path__) if m.name != "main"]
    modules = [importlib.import_module(f"sim.cli.{name}") for name in names]
    for module in sorted(modules, key=lambda mod: (getattr(mod, "ORDER", 100), mod.__name__)):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``run.py``.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` if None.

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StoreURLError as exc:
        print(f"error: --db {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StoreError as exc:
        print(f"error: --db {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        # `run.py validate --explain | head` closed our stdout: not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # the outside world failed (disk full, folder removed): one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
