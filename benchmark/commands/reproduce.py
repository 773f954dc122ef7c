"""``spoofbench reproduce``: re-run a recorded run and say whether it reproduces, and why not."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..cli import command_parser

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "reproduce", help="re-run a recorded run (or check a published claim) and explain differences",
        description="Re-run the command recorded in RUN_DIR/manifest.json into a new folder and compare every "
                    "cell: identical bit for bit, or the largest per-trial score difference, the EER difference "
                    "and whether it lies inside the bootstrap CI; then every difference between the two manifests, "
                    "most likely to matter first. --scoring-only recomputes metrics from the stored score files "
                    "and checks every hash. --scores/--keys/--claim checks a published number. Exit 0: "
                    "reproduced within tolerance, 1: not, 2: could not run. Writes reproduction.md/.json.",
        example="""
        spoofbench reproduce runs/demo-quick --out runs/demo-quick-again
        spoofbench reproduce runs/demo-quick --scoring-only
        spoofbench reproduce runs/demo-quick --against runs/demo-quick-again
        spoofbench reproduce --scores ../shared/scores/rawgat_st_19la_eval/RawGAT_ST_mul.scores.txt \\
            --keys ../shared/protocols/asvspoof2019_la/ASVspoof2019.LA.cm.eval.trl.txt --claim "eer=1.06%\"""")
    parser.add_argument("run_dir", nargs="?", help="a run folder holding manifest.json")
    parser.add_argument("--cell", help="only this cell: DETECTOR/seedN/TEST_SET/CODEC (as the report names it)")
    parser.add_argument("--scoring-only", action="store_true", help="recompute metrics from stored scores; check hashes")
    parser.add_argument("--out", help="folder of the re-run (default: RUN_DIR-reproduced)")
    parser.add_argument("--against", metavar="OTHER_RUN",
                        help="compare with another finished run (e.g. from another machine) instead of re-running")
    parser.add_argument("--fresh-cache", action="store_true",
                        help="code audio again into a new codec cache instead of the recorded one")
    parser.add_argument("--scores", help="a published score file (with --keys and --claim)")
    parser.add_argument("--keys", help="keys of --scores")
    parser.add_argument("--key-format", default=None, help="keys layout (default: detected)")
    parser.add_argument("--claim", help="the published number, e.g. 'eer=2.19%%' or 'min_dcf=0.0612'")
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of Markdown")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    from .metrics import add_normalization_arguments
    add_normalization_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError, SpoofbenchError
    from ..reproduce.reproduce import (Report, check_claim, compare_runs, render_markdown, reproduce_run,
                                       scoring_only, write_report)

    try:
        if args.claim or args.scores or args.keys:
            if not (args.claim and args.scores and args.keys):
                raise ConfigError("a claim check needs --scores, --keys and --claim together", field="--claim")
            from .metrics import normalization_from_args
            report = check_claim(args.scores, args.keys, args.claim, normalization=normalization_from_args(args),
                                 key_format=args.key_format)
            folder = Path(args.out) if args.out else None
        elif not args.run_dir:
            raise ConfigError("give RUN_DIR, or --scores/--keys/--claim", field="run_dir")
        elif args.against:
            report = compare_runs(args.run_dir, args.against)
            folder = Path(args.out) if args.out else Path(args.against)
        elif args.scoring_only:
            report = scoring_only(args.run_dir, cell=args.cell)
            folder = Path(args.out) if args.out else Path(args.run_dir)
        else:
            report = reproduce_run(args.run_dir, out=args.out, cell=args.cell, fresh_cache=args.fresh_cache,
                                   progress=not args.no_progress)
            folder = Path(report.details["reproduction_dir"])
    except SpoofbenchError as err:
        report, folder = Report("error", "error", str(err)), (Path(args.out) if args.out else None)
    except Exception as err:  # a re-run that crashed: say so in one line, exit 2
        report, folder = Report("error", "error", f"the re-run failed: {type(err).__name__}: {err}"), None
    if folder is not None:
        try:
            md, _ = write_report(report, folder)
            log.info(f"report: {md}")
        except OSError as err:
            log.warning(f"report not written ({err})")
    print(json.dumps(report.to_dict(), indent=1) if args.json else render_markdown(report))
    if report.status == "error":
        log.error(report.reason)
    return report.exit_code
