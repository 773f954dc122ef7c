"""The ``spoofbench`` command line: a thin layer over the Python API.

Each sub-command lives in its own module under :mod:`spoofbench.commands` and exposes
``register(subparsers)``; that function adds an ``argparse`` parser whose ``func`` default takes
the parsed namespace and returns an exit code. Heavy imports (torch) happen inside ``func``.
"""
from __future__ import annotations

import argparse
import importlib
import math
import signal
import sys
import textwrap
from typing import Any, Callable

from . import __version__
from .errors import SpoofbenchError

#: Sub-command modules in the order ``--help`` lists them.
COMMAND_MODULES = ("metrics", "calibrate", "sasv", "corpora", "codecs", "models", "pack", "train", "score", "run", "table", "demo", "report", "shortcut", "reproduce", "compare", "verify", "leaderboard", "submission", "export")


#: What an interrupted (Ctrl-C) command says about carrying on where it stopped.
RESUME_HINTS = {
    "run": "to resume, run the same command again (same --out): finished cells are kept, the rest are computed",
    "demo": "to resume, run the same command again (same --out): finished cells are kept",
    "train": "to resume, run the same command again with --resume: it continues from the last complete epoch",
    "score": "to resume, run the same command again: trials already scored are kept (--no-resume starts over)",
    "pack": "to resume, run the same command again: finished shards are kept",
    "reproduce": "to resume, run the same command again (same --out): finished cells are kept",
}


def add_global_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-v/-q/--log-file``: on the top parser (with defaults) and on every sub-command parser
    (without defaults, so ``spoofbench -v run X`` and ``spoofbench run X -v`` both work)."""
    unset = {} if top else {"default": argparse.SUPPRESS}
    group = parser.add_argument_group("output")
    group.add_argument("-v", "--verbose", action="count", help="more detail: debug log lines on stderr",
                       **({"default": 0} if top else unset))
    group.add_argument("-q", "--quiet", action="store_true", help="print results only (errors still on stderr)",
                       **({"default": False} if top else unset))
    group.add_argument("--log-file", metavar="PATH", help="also write every log line (debug level, "
                       "timestamped) to PATH", **({"default": None} if top else unset))


def _sub_parsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                yield sub
                yield from _sub_parsers(sub)


def command_parser(subparsers: argparse._SubParsersAction, name: str, *, help: str,
                   example: str, description: str | None = None, **kwargs) -> argparse.ArgumentParser:
    """Add a sub-command parser whose ``--help`` ends with a runnable example."""
    epilog = "example:\n" + textwrap.indent(textwrap.dedent(example).strip(), "  ")
    parser = subparsers.add_parser(
        name, help=help, description=description or help, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
    add_global_options(parser)
    return parser


#: ``--device`` of every command that runs a model: one spelling, default and help everywhere.
DEVICE_CHOICES = ("auto", "cpu", "cuda")
DEVICE_HELP = "auto (default: CUDA when present, else CPU), cpu or cuda"


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device {auto,cpu,cuda}``, default ``None`` (= auto, or what a ``--config`` file sets)."""
    parser.add_argument("--device", choices=DEVICE_CHOICES, help=DEVICE_HELP)


def _argument_type(name: str, convert: Callable[[str], Any], ok: Callable[[Any], bool], expected: str):
    """An argparse ``type`` that converts with ``convert`` and accepts what ``ok`` says (argparse names the
    option in its error; the message says what was expected and what came)."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value
    parse.__name__ = parse.__qualname__ = name
    return parse


#: A whole number >= 1 (jobs, resamples, batch size).
positive_int = _argument_type("positive_int", int, lambda v: v >= 1, "a whole number >= 1")
#: A finite number > 0 (a size in GB, a duration).
positive_float = _argument_type("positive_float", float, lambda v: math.isfinite(v) and v > 0, "a number > 0")
#: A significance level strictly between 0 and 1.
significance_level = _argument_type("significance_level", float, lambda v: 0 < v < 1, "a level between 0 and 1")


def add_test_options(parser: argparse.ArgumentParser, *, what: str = "test") -> None:
    """``--alpha`` and ``--resamples``: one spelling, check and default for every command that runs paired
    bootstrap tests (report, shortcut-check, compare)."""
    parser.add_argument("--alpha", type=significance_level, default=0.05,
                        help=f"significance level of every {what}, after Holm (default 0.05)")
    parser.add_argument("--resamples", type=positive_int, default=1000,
                        help=f"bootstrap resamples per {what} (default 1000)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spoofbench",
        description="Benchmark audio deepfake (spoofing) detectors out of distribution and through real codecs.",
        epilog="example:\n  spoofbench demo --quick",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"spoofbench {__version__}")
    add_global_options(parser, top=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"spoofbench.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"spoofbench.commands.{name}":
                continue  # a sub-command not built in this checkout
            raise
        module.register(subparsers)
    for sub in _sub_parsers(parser):  # also parsers made with add_parser directly
        if "--log-file" not in sub._option_string_actions:
            add_global_options(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .logs import setup_logging

    setup_logging(args.verbose, args.quiet, args.log_file)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = _terminate_as_exit()
    try:
        return int(args.func(args) or 0)
    except SpoofbenchError as err:
        print(f"spoofbench {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # an ordinary file problem (no such folder, no permission, a full disk)
        if err.filename is None:
            raise  # not about a file: a bug, keep the traceback
        print(f"spoofbench {args.command}: error: {err.filename}: {err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = RESUME_HINTS.get(args.command)
        print(f"spoofbench {args.command}: interrupted" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminate_as_exit():
    """Make SIGTERM (``kill``, a batch scheduler's time limit) raise SystemExit(143) in the main thread, so
    that ``finally`` blocks run: worker pools are stopped, locks released. Returns the handler it replaced
    (None when not on the main thread, where handlers cannot be set)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def exit_143(signum, frame):
        raise SystemExit(143)
    return signal.signal(signal.SIGTERM, exit_143)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
