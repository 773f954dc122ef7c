"""``spoofbench report``: a Markdown + HTML report of a run, every claim backed by its CI or test."""
from __future__ import annotations

import argparse

from ..cli import add_test_options, command_parser


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "report", help="write a Markdown + HTML report of a run (claims only where CIs support them)",
        description="Read a run's result.json, score and key files and write report.md and report.html: EER per "
                    "test set with 95% bootstrap CIs, paired bootstrap tests between detectors (Holm-adjusted), "
                    "the in-domain -> OOD gap, size vs OOD EER and codec robustness. A comparison is stated only "
                    "when its test separates the detectors; otherwise the report says 'not separable'.",
        example="spoofbench report runs/demo-quick")
    parser.add_argument("run", help="run directory (or its result.json)")
    parser.add_argument("--out", help="folder for report.md and report.html (default: the run directory)")
    add_test_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runner.report import ReportSettings, write_report

    paths = write_report(args.run, args.out, ReportSettings(alpha=args.alpha, resamples=args.resamples))
    print(f"report: {paths['md']}  ·  {paths['html']}")
    return 0
