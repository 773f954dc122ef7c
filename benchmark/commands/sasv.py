"""``spoofbench sasv``: spoofing-aware verification metrics (t-EER, a-DCF) from CM and ASV scores."""
from __future__ import annotations

import argparse
import json

from ..cli import command_parser

EXAMPLE = ("spoofbench sasv --cm-scores ../shared/scores/rawgat_st_19la_eval/RawGAT_ST_mul.scores.txt "
           "--cm-keys ../shared/protocols/asvspoof2019_la/ASVspoof2019.LA.cm.eval.trl.txt "
           "--asv-scores ../shared/protocols/asvspoof2019_la/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "sasv", help="t-EER and a-DCF of a CM with an ASV system (ASVspoof 5 track 2)",
        description="Concurrent t-EER (Kinnunen et al., 2023) and the tandem a-DCF of a CM gating an "
                    "ASV system, from a CM score file with its keys and an ASV score file "
                    "('source key score', key target/nontarget/spoof); the a-DCF of single SASV "
                    "scores from --sasv-scores (same layout). ASVspoof 5 track 2 costs.",
        example=EXAMPLE)
    parser.add_argument("--cm-scores", default=None, help="CM score file: 'utt_id score'")
    parser.add_argument("--cm-keys", default=None, help="keys of the CM scores")
    parser.add_argument("--asv-scores", default=None, help="ASV score file: 'source key score'")
    parser.add_argument("--sasv-scores", default=None, help="SASV score file: 'source key score'")
    parser.add_argument("--key-format", default=None, help="key format of --cm-keys (default: detected)")
    parser.add_argument("--ties", choices=("safe", "official"), default="safe",
                        help="curves on tied scores: 'safe' (default) or 'official' (the ASVspoof 5 package)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..metrics.sasv_files import SasvJob, evaluate_sasv

    report = evaluate_sasv(SasvJob(cm_scores=args.cm_scores, cm_keys=args.cm_keys, asv_scores=args.asv_scores,
                                   sasv_scores=args.sasv_scores, key_format=args.key_format, ties=args.ties))
    if args.json:
        print(json.dumps(report))
        return 0
    from rich.console import Console
    from rich.table import Table

    from ..metrics.catalog import metric_info

    table = Table(title=f"SASV metrics (ties={report['ties']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("at thresholds (ASV, CM)", justify="right")
    for name in ("t_eer", "a_dcf_tandem", "a_dcf_asv", "a_dcf"):
        if name in report:
            asv, cm = report.get(f"{name}_asv_threshold"), report.get(f"{name}_cm_threshold")
            at = f"{asv:.6g}, {cm:.6g}" if asv is not None else (
                f"{report[name + '_threshold']:.6g}" if f"{name}_threshold" in report else "")
            table.add_row(metric_info(name).column_label, metric_info(name).format(report[name], unit=False), at)
    Console().print(table)
    return 0
