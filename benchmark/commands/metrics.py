"""``spoofbench metrics``: score a score file against its keys (EER, minDCF, Cllr, t-DCF, ...)."""
from __future__ import annotations

import argparse
import json
import logging

from ..cli import command_parser

log = logging.getLogger(__name__)

EXAMPLE = ("spoofbench metrics --scores ../shared/scores/rawgat_st_19la_eval/RawGAT_ST_mul.scores.txt "
           "--keys ../shared/protocols/asvspoof2019_la/ASVspoof2019.LA.cm.eval.trl.txt --by attack "
           "--asv-scores ../shared/protocols/asvspoof2019_la/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt "
           "--bootstrap 200 --det det.png")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "metrics", help="compute EER, minDCF, actDCF, Cllr, t-DCF of a score file",
        description="Score a CM score file ('utt_id score', higher = bona fide) against keys "
                    "(two-column, ASVspoof 2019/2021/5 protocol, TSV/CSV with header, or a "
                    "spoofbench manifest). Rates print as percentages, and as fractions with --json.",
        example=EXAMPLE)
    parser.add_argument("--scores", required=True, help="score file: 'utt_id score' per line")
    parser.add_argument("--keys", required=True, help="key / protocol file or manifest")
    parser.add_argument("--key-format", default=None,
                        help="key format name (default: detected; see spoofbench.metrics.KEY_FORMATS)")
    parser.add_argument("--by", action="extend", nargs="+", default=[], metavar="COLUMN",
                        help="break down by key column(s) (attack, codec, speaker, ...); repeatable")
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N",
                        help="N bootstrap resamples for 95%% CIs of EER and minDCF")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--speaker-bootstrap", action="store_true",
                        help="resample speakers (the keys' speaker column) instead of utterances")
    parser.add_argument("--asv-scores", default=None,
                        help="ASVspoof 2019 ASV score file ('source key score') for min t-DCF")
    parser.add_argument("--threshold", type=float, default=None,
                        help="report FRR/FAR at this fixed threshold (score > threshold = bona fide)")
    parser.add_argument("--dev-scores", default=None,
                        help="dev score file whose EER threshold is applied to these scores")
    parser.add_argument("--dev-keys", default=None, help="keys of --dev-scores")
    parser.add_argument("--compare", default=None, metavar="SCORES_B",
                        help="paired bootstrap test against another system's scores on the same trials")
    parser.add_argument("--det", default=None, metavar="OUT.png",
                        help="write a DET plot (.png or .svg; with --compare both systems)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--ties", choices=("safe", "official"), default="safe",
                        help="EER when bona fide and spoof scores tie: 'safe' (default, never splits tied "
                             "scores) or 'official' (as the ASVspoof scorers, for leaderboard parity)")
    add_normalization_arguments(parser)
    parser.set_defaults(func=run)


def add_normalization_arguments(parser: argparse.ArgumentParser) -> None:
    """``--score-col --id-map --flip --on-missing --on-extra``: explicit, recorded score-file normalisation."""
    group = parser.add_argument_group("score-file normalisation (recorded in the JSON output)")
    group.add_argument("--score-col", type=int, default=None, metavar="N",
                       help="1-based column holding the score (default: last of 2 or 4 columns)")
    group.add_argument("--id-map", default=None, metavar="REGEX",
                       help=r"the trial id is the first group of REGEX, e.g. '([^/]+)\.\w+$' strips "
                            "folders and extensions")
    group.add_argument("--flip", action="store_true", help="negate scores (higher must mean bona fide)")
    group.add_argument("--on-missing", choices=("error", "drop"), default="error",
                       help="trials without a score: error (default) or drop and report them")
    group.add_argument("--on-extra", choices=("error", "drop"), default="error",
                       help="scored ids not in the keys: error (default) or drop and report them")


def normalization_from_args(args: argparse.Namespace):
    """The :class:`~spoofbench.metrics.readers.ScoreNormalization` the parsed options ask for."""
    from ..metrics.readers import ScoreNormalization

    return ScoreNormalization(score_col=args.score_col, id_map=args.id_map, flip=args.flip,
                              on_missing=args.on_missing, on_extra=args.on_extra)


def run(args: argparse.Namespace) -> int:
    from ..metrics import EvaluationOptions, evaluate, load_trials, plot_det

    options = EvaluationOptions(
        by=tuple(args.by), bootstrap=args.bootstrap, seed=args.seed,
        speaker_bootstrap=args.speaker_bootstrap, asv_scores=args.asv_scores,
        threshold=args.threshold, dev_scores=args.dev_scores, dev_keys=args.dev_keys,
        compare_scores=args.compare, key_format=args.key_format, ties=args.ties,
        progress=True, normalization=normalization_from_args(args))
    report = evaluate(args.scores, args.keys, options)
    if args.det:
        trials = load_trials(args.scores, args.keys, args.key_format, options.normalization)
        systems = {_name(args.scores): (trials.scores, trials.labels)}
        if args.compare:
            other = load_trials(args.compare, args.keys, args.key_format)
            systems[_name(args.compare)] = (other.scores, other.labels)
        report["det_plot"] = str(plot_det(systems, args.det, title=f"DET: {' vs '.join(systems)}"))
    for kind, dropped in report.get("normalization", {}).get("dropped", {}).items():
        log.warning(f"dropped {dropped['count']} {kind} id(s): {', '.join(dropped['ids'][:5])}"
                    f"{', ...' if dropped['count'] > 5 else ''}")
    for message in report["warnings"]:
        log.warning(message)
    if args.json:
        print(json.dumps(report, indent=None))
    else:
        _print_tables(report)
    return 0


def _name(path: str) -> str:
    from pathlib import Path
    return Path(path).name


def _percent(value: float) -> str:
    return f"{value * 100:.2f}%"


def _print_tables(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{report['scores']}  vs  {report['keys']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    ci = {"eer": report.get("eer_ci95"), "min_dcf": report.get("min_dcf_ci95")}
    rows = [("EER", "eer", _percent), ("EER threshold", "eer_threshold", "{:.6g}".format),
            ("minDCF", "min_dcf", "{:.4f}".format), ("actDCF", "act_dcf", "{:.4f}".format),
            ("Cllr (bits)", "cllr", "{:.4f}".format), ("minCllr (bits)", "min_cllr", "{:.4f}".format),
            ("ROC AUC", "auc", "{:.4f}".format), ("min t-DCF (2019)", "min_tdcf_2019", "{:.4f}".format),
            ("min t-DCF (2021)", "min_tdcf_2021", "{:.4f}".format), ("t-EER", "t_eer", _percent),
            ("tandem a-DCF", "a_dcf_tandem", "{:.4f}".format)]
    for label, key, fmt in rows:
        if key in report:
            interval = ci.get(key)
            shown = "" if not interval else (
                f"[{_percent(interval[0])}, {_percent(interval[1])}]" if key == "eer"
                else f"[{interval[0]:.4f}, {interval[1]:.4f}]")
            table.add_row(label, fmt(report[key]), shown)
    table.add_row("trials", f"{report['n_bonafide']} bona fide / {report['n_spoof']} spoof", "")
    if "at_threshold" in report:
        at = report["at_threshold"]
        table.add_row(f"at threshold {at['threshold']:.6g}",
                      f"FRR {_percent(at['frr'])}  FAR {_percent(at['far'])}", at["source"])
    console.print(table)
    for metric, test in report.get("compare", {}).items():
        if metric == "scores_b":
            continue
        fmt = _percent if metric == "eer" else "{:.4f}".format
        console.print(f"paired bootstrap vs {report['compare']['scores_b']} ({metric}): "
                      f"A {fmt(test['a'])}, B {fmt(test['b'])}, delta {fmt(test['delta'])} "
                      f"[{fmt(test['delta_ci95'][0])}, {fmt(test['delta_ci95'][1])}], "
                      f"p = {test['p_value']:.4g} ({test['n_resamples']} resamples)")
    for column, groups in report.get("by", {}).items():
        sub = Table(title=f"by {column}")
        for name in (column, "bona fide", "spoof", "EER", "minDCF", "actDCF", "Cllr"):
            sub.add_column(name, justify="left" if name == column else "right")
        for value, metrics in groups.items():
            if "skipped" in metrics:
                sub.add_row(value, str(metrics["n_bonafide"]), str(metrics["n_spoof"]),
                            metrics["skipped"], "", "", "")
                continue
            sub.add_row(value, str(metrics["n_bonafide"]), str(metrics["n_spoof"]),
                        _percent(metrics["eer"]), f"{metrics['min_dcf']:.4f}",
                        f"{metrics['act_dcf']:.4f}", f"{metrics['cllr']:.4f}")
        sub.add_row("pooled", str(report["n_bonafide"]), str(report["n_spoof"]),
                    _percent(report["eer"]), f"{report['min_dcf']:.4f}", f"{report['act_dcf']:.4f}",
                    f"{report['cllr']:.4f}", style="bold")
        console.print(sub)
    if "det_plot" in report:
        console.print(f"DET plot: {report['det_plot']}")
