"""``spoofbench table``: render the tables of a run from its result.json or its cell log."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..cli import command_parser

if TYPE_CHECKING:
    from ..runner.result_model import ResultLike, RunResult


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "table", help="render tables from a run's result.json or cell log",
        description="Render the EER table (rows detectors, columns test set × codec, mean ± sd over "
                    "seeds), the in-domain → OOD gap and codec robustness from result.json alone, or "
                    "from the run's cell log (cells.jsonl: also while a run is going or after it was "
                    "killed). Incomplete cells (part of the test set not scored) are listed below.",
        example="spoofbench table runs/demo-quick/result.json --format md --metric eer min_dcf")
    parser.add_argument("result", help="result.json, cells.jsonl, or a run directory (its newer of the two)")
    parser.add_argument("--render", action="store_true",
                        help="also write result.json and cells.csv of the run folder from its cell log")
    parser.add_argument("--format", choices=("md", "csv", "latex", "html"), default="md",
                        help="table format (default: md)")
    parser.add_argument("--metric", nargs="+", action="extend",
                        help="metric(s): eer min_dcf act_dcf cllr min_cllr auc (default: eer)")
    parser.add_argument("--pivot", default="detector:test_set,codec",
                        help="ROWS:COLUMNS of the main table from detector, seed, test_set, codec, "
                             "domain (default: detector:test_set,codec)")
    parser.add_argument("--view", choices=("all", "pivot", "gap", "codecs"), default="all",
                        help="which tables to print (default: all)")
    parser.add_argument("--by", choices=("attack", "codec,attack"), default=None,
                        help="instead: EER per attack with 95%% bootstrap CIs from the score files (uncoded), "
                             "or per codec × attack (every codec of the run)")
    parser.add_argument("--paths", action="store_true",
                        help="instead: where each detector's outputs are (per seed: overrides, train folder, "
                             "checkpoint, score folder; paths relative to the run folder)")
    parser.add_argument("--resamples", type=int, default=200,
                        help="bootstrap resamples of the --by attack CIs (default: 200)")
    parser.set_defaults(func=run)


def parse_pivot(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from ..errors import SpoofbenchError

    rows, sep, cols = text.partition(":")
    if not sep or not rows or not cols:
        raise SpoofbenchError(f"--pivot {text!r}: expected ROWS:COLUMNS, e.g. detector:test_set,codec")
    return tuple(rows.split(",")), tuple(cols.split(","))


def run(args: argparse.Namespace) -> int:
    from ..runner.results import read_result
    from ..runner.tables import codec_robustness_table, domain_gap_table, pivot_table, render

    args.metric = args.metric or ["eer"]
    result = read_result(args.result)
    if args.render:
        _render(args.result, result)
    if args.paths:
        print(paths_text(result))
        return 0
    if args.by:
        from ..runner.results import result_file
        from ..runner.tables import attack_table

        table = attack_table(result, result_file(args.result).parent,
                             codecs=("none",) if args.by == "attack" else None, resamples=args.resamples)
        print(render(table, args.format))
        return 0
    rows, cols = parse_pivot(args.pivot)
    tables = []
    if args.view in ("all", "pivot"):
        tables += [pivot_table(result, m, rows, cols) for m in args.metric]
    if args.view in ("all", "gap"):
        tables += [domain_gap_table(result, m) for m in args.metric]
    if args.view in ("all", "codecs"):
        has_codecs = any(c.codec != "none" for c in result.cells)
        if has_codecs or args.view == "codecs":
            tables += [codec_robustness_table(result, m) for m in args.metric]
    print("\n".join(render(t, args.format) for t in tables))
    for cell in (c for c in result.cells if not c.complete):
        print(f"incomplete: {cell.detector} seed {cell.seed} {cell.test_set} {cell.codec}: "
              f"{cell.n_scored} of {cell.n_expected} trials scored")
    return 0


def paths_text(result: ResultLike) -> str:
    """Per detector label and seed: its overrides, train folder, checkpoint and score folder."""
    from ..runner.result_model import as_result

    lines = []
    for label, info in as_result(result).detectors.items():
        if not info.runs:
            lines.append(f"{label}: no folders recorded (a run from before they were)")
        name = info.name if "name" in info.model_fields_set else "?"
        for seed, where in info.runs.items():
            overrides = ", ".join(f"{k}={v}" for k, v in where.overrides.items()) or "defaults"
            lines.append(f"{label} seed {seed} ({name}, {overrides}): train {where.train_dir}  "
                         f"checkpoint {where.checkpoint}  scores {where.scores_dir}")
    return "\n".join(lines)


def _render(source: str, result: RunResult) -> None:
    """Write result.json and cells.csv beside the cell log (or into the run folder) named by ``source``."""
    from pathlib import Path

    from ..runner.results import write_result, write_tidy

    folder = Path(source) if Path(source).is_dir() else Path(source).parent
    write_result(folder / "result.json", result)
    write_tidy(result, folder)
