"""``spoofbench calibrate``: fit a linear score-to-LLR calibration on dev scores, apply it elsewhere."""
from __future__ import annotations

import argparse
import json

from ..cli import command_parser

EXAMPLE = ("spoofbench calibrate --scores ../shared/scores/asvspoof5_fusion_demo/cm_score.tsv "
           "--keys ../shared/scores/asvspoof5_fusion_demo/cm_key.tsv --save cal.json "
           "--apply ../shared/scores/asvspoof5_fusion_demo/cm_score.tsv --out llr.txt")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "calibrate", help="fit a score calibration (linear logistic, to LLRs) on dev scores",
        description="Fit llr = scale * score + offset on a dev score file by prior-weighted linear "
                    "logistic regression, report actDCF and Cllr before and after, save the "
                    "calibration as JSON and optionally write calibrated scores ('utt_id llr') for "
                    "another score file. EER and minDCF do not change (the map is increasing).",
        example=EXAMPLE)
    parser.add_argument("--scores", required=True, metavar="DEV", help="dev score file: 'utt_id score'")
    parser.add_argument("--keys", required=True, metavar="DEV_KEYS", help="keys of the dev scores")
    parser.add_argument("--key-format", default=None, help="key format name (default: detected)")
    parser.add_argument("--prior", type=float, default=0.5,
                        help="bona fide prior of the fit (default 0.5: minimises dev Cllr; "
                             "0.655 targets the ASVspoof 5 actDCF)")
    parser.add_argument("--no-smoothing", action="store_true",
                        help="fit to 1/0 targets instead of Platt's pseudo-count targets (unbounded on "
                             "perfectly separated dev scores)")
    parser.add_argument("--calibration", default=None, metavar="CAL.json",
                        help="use this saved calibration instead of fitting one")
    parser.add_argument("--save", default=None, metavar="CAL.json", help="write the calibration here")
    parser.add_argument("--apply", default=None, metavar="SCORES", help="score file to calibrate")
    parser.add_argument("--out", default=None, metavar="OUT", help="where to write the calibrated --apply scores")
    parser.add_argument("--apply-keys", default=None, metavar="KEYS",
                        help="keys of --apply: report its actDCF/Cllr before and after")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..metrics.calibration_files import CalibrationJob, calibrate_files

    job = CalibrationJob(scores=args.scores, keys=args.keys, prior=args.prior, key_format=args.key_format,
                         apply_scores=args.apply, apply_keys=args.apply_keys, out=args.out,
                         save=args.save, calibration=args.calibration, smoothing=not args.no_smoothing)
    report = calibrate_files(job)
    if args.json:
        print(json.dumps(report))
    else:
        _print(report)
    return 0


def _print(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..metrics.calibration_files import CALIBRATION_METRICS
    from ..metrics.catalog import metric_info

    cal = report["calibration"]
    console = Console()
    console.print(f"calibration: llr = {cal['scale']:.6g} * score + {cal['offset']:.6g} "
                  f"(prior {cal['prior']:g}, {cal['n_bonafide']} bona fide / {cal['n_spoof']} spoof)")
    sets = [("dev", report["dev"])]
    if "raw" in report.get("apply", {}):
        sets.append(("apply", report["apply"]))
    table = Table(title="actDCF and Cllr before / after calibration")
    table.add_column("metric")
    for name, _ in sets:
        table.add_column(f"{name} raw", justify="right")
        table.add_column(f"{name} calibrated", justify="right")
    for metric in CALIBRATION_METRICS:
        info = metric_info(metric)
        cells = [info.format(part[stage][metric]) for _, part in sets for stage in ("raw", "calibrated")]
        table.add_row(info.column_label, *cells)
    console.print(table)
    if "saved" in report:
        console.print(f"calibration saved: {report['saved']}")
    if "out" in report.get("apply", {}):
        console.print(f"calibrated scores: {report['apply']['out']} ({report['apply']['n_trials']} trials)")
