"""The ``spoofbench`` command line: a thin layer over the Python API.

Each sub-command lives in its own module under :mod:`spoofbench.commands` and exposes
``register(subparsers)``; that function adds an ``argparse`` parser whose ``func`` default takes
the parsed namespace and returns an exit code. Heavy imports (torch) happen inside ``func``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import textwrap

from . import __version__
from .errors import SpoofbenchError

#: Sub-command modules in the order ``--help`` lists them.
COMMAND_MODULES = ("metrics", "calibrate", "sasv", "corpora", "codecs", "models", "train", "score", "run", "table", "demo", "report", "reproduce", "verify", "leaderboard", "submission")


def command_parser(subparsers: argparse._SubParsersAction, name: str, *, help: str,
                   example: str, description: str | None = None, **kwargs) -> argparse.ArgumentParser:
    """Add a sub-command parser whose ``--help`` ends with a runnable example."""
    epilog = "example:\n" + textwrap.indent(textwrap.dedent(example).strip(), "  ")
    return subparsers.add_parser(
        name, help=help, description=description or help, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spoofbench",
        description="Benchmark audio deepfake (spoofing) detectors out of distribution and through real codecs.",
        epilog="example:\n  spoofbench demo --quick",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"spoofbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"spoofbench.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"spoofbench.commands.{name}":
                continue  # a sub-command not built in this checkout
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SpoofbenchError as err:
        print(f"spoofbench {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spoofbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
