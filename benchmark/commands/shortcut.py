"""``spoofbench shortcut-check``: each detector's EER as is and with leading/trailing silence trimmed."""
from __future__ import annotations

import argparse
import json
import sys

from ..cli import add_test_options, command_parser


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "shortcut-check",
        help="does a detector's EER rest on silence? EER as is vs vad_trim, paired bootstrap per detector",
        description="Read a run whose codecs hold `none` and `vad_trim` (leading/trailing non-speech removed by "
                    "silero-vad) and report, per detector and test set, the EER change with its 95% paired-bootstrap "
                    "CI and Holm-adjusted p-value, and in words whether the number rests on silence (Mueller et al. "
                    "2021). A run without vad_trim cells is said (exit 0; --strict exits 1): add vad_trim to the config's "
                    "codecs and run it again (the cells already scored are kept).",
        example="spoofbench shortcut-check --scores-from runs/demo-quick")
    parser.add_argument("--scores-from", dest="run", required=True, help="run directory (or its result.json)")
    parser.add_argument("--condition", default="vad_trim", help="the trimmed condition (default vad_trim)")
    parser.add_argument("--baseline", default="none", help="the as-is condition (default none)")
    add_test_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when the run has no trimmed cells or a detector rests on silence")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runner.report import ReportSettings
    from ..runner.shortcut import NoTrimmedCells, rows_as_dicts, shortcut_check, shortcut_markdown

    try:
        rows = shortcut_check(args.run, condition=args.condition, baseline=args.baseline,
                              settings=ReportSettings(alpha=args.alpha, resamples=args.resamples))
    except NoTrimmedCells as err:  # nothing to test yet: said, like `codecs check` lists what cannot run
        print(f"shortcut check not possible: {err}")
        return 1 if args.strict else 0
    if args.json:
        json.dump(rows_as_dicts(rows), sys.stdout, indent=2)
        print()
    else:
        print(shortcut_markdown(rows, args.condition), end="")
    return 1 if args.strict and any(r.rests_on_silence for r in rows) else 0
