"""``spoofbench compare RUN_A RUN_B --out DIR``: what a deliberate change did, cell by cell, on the same trials."""
from __future__ import annotations

import argparse

from ..cli import add_test_options, command_parser


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "compare",
        help="compare two runs: matching cells, paired tests on the same trials, what changed in the configs",
        description="Match the cells of RUN_A and RUN_B (detector, seed, test set, codec), test each on the trials "
                    "both runs scored with a paired bootstrap (delta = B - A, 95% CI, Holm-adjusted over the "
                    "cells), and list what changed between them (config fields, environment, test-set data, codec "
                    "provenance) and the cells found in one run only. Writes compare.md, cells.csv, changes.csv and "
                    "compare.json into --out, a folder of its own (never into either run). A change, even a "
                    "separable one, is not a failure: exit 0; 2 on bad input. To ask whether a run reproduced, "
                    "use `spoofbench reproduce --against`.",
        example="spoofbench compare runs/demo-quick runs/demo-quick-again --out runs/compare-example --resamples 200")
    parser.add_argument("run_a", metavar="RUN_A", help="the first run folder (or its result.json): the reference")
    parser.add_argument("run_b", metavar="RUN_B", help="the second run folder (or its result.json): the change")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for the comparison (created; must not be inside either run)")
    parser.add_argument("--metric", choices=("eer", "min_dcf"), default="eer", help="metric tested (default eer)")
    add_test_options(parser, what="cell's paired test")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runner.run_compare import (CompareSettings, check_out_dir, compare_runs, comparison_markdown,
                                      write_comparison)

    settings = CompareSettings(metric=args.metric, resamples=args.resamples, alpha=args.alpha, seed=args.seed)
    check_out_dir(args.out, (args.run_a, args.run_b))
    comparison = compare_runs(args.run_a, args.run_b, settings)
    written = write_comparison(comparison, args.out)
    if not args.quiet:
        print(comparison_markdown(comparison), end="")
    print(f"written: {', '.join(str(p) for p in written)}")
    return 0
