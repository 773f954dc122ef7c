"""``spoofbench table``: render the tables of a run from its result.json only."""
from __future__ import annotations

import argparse

from ..cli import command_parser


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "table", help="render tables from a run's result.json",
        description="Render the EER table (rows detectors, columns test set × codec, mean ± sd over "
                    "seeds), the in-domain → OOD gap and codec robustness from result.json alone.",
        example="spoofbench table runs/demo/result.json --format md --metric eer min_dcf")
    parser.add_argument("result", help="result.json or a run directory")
    parser.add_argument("--format", choices=("md", "csv", "latex", "html"), default="md")
    parser.add_argument("--metric", nargs="+", default=["eer"],
                        help="metric(s): eer min_dcf act_dcf cllr min_cllr auc (default: eer)")
    parser.add_argument("--pivot", default="detector:test_set,codec",
                        help="ROWS:COLUMNS of the main table from detector, seed, test_set, codec, "
                             "domain (default: detector:test_set,codec)")
    parser.add_argument("--view", choices=("all", "pivot", "gap", "codecs"), default="all",
                        help="which tables to print (default: all)")
    parser.set_defaults(func=run)


def parse_pivot(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from ..errors import SpoofbenchError

    rows, sep, cols = text.partition(":")
    if not sep or not rows or not cols:
        raise SpoofbenchError(f"--pivot {text!r}: expected ROWS:COLUMNS, e.g. detector:test_set,codec")
    return tuple(rows.split(",")), tuple(cols.split(","))


def run(args: argparse.Namespace) -> int:
    from ..runner.results import load_result
    from ..runner.tables import codec_robustness_table, domain_gap_table, pivot_table, render

    result = load_result(args.result)
    rows, cols = parse_pivot(args.pivot)
    tables = []
    if args.view in ("all", "pivot"):
        tables += [pivot_table(result, m, rows, cols) for m in args.metric]
    if args.view in ("all", "gap"):
        tables += [domain_gap_table(result, m) for m in args.metric]
    if args.view in ("all", "codecs"):
        has_codecs = any(c["codec"] != "none" for c in result["cells"])
        if has_codecs or args.view == "codecs":
            tables += [codec_robustness_table(result, m) for m in args.metric]
    print("\n".join(render(t, args.format) for t in tables))
    return 0
