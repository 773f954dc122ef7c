"""``spoofbench score``: score a manifest through codec conditions (thin over spoofbench.engine)."""
from __future__ import annotations

import argparse

from spoofbench.cli import add_device_option, command_parser, positive_float, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(
        subparsers, "score", help="score a test manifest with a trained detector, one file per codec condition",
        example="""
        spoofbench score --detector aasist --checkpoint ../shared/reference/aasist/AASIST.pth \\
            --manifest runs/demo-quick/corpus/demo_b_eval.jsonl.gz --root runs/demo-quick/corpus --out runs/aasist_official/scores
        spoofbench score --run runs/rawcnn_demo --manifest runs/demo-quick/corpus/demo_b_eval.jsonl.gz --root runs/demo-quick/corpus --codec none --codec g711_mulaw --codec mp3_32k""")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--run", help="a `spoofbench train` run dir (uses its best checkpoint)")
    who.add_argument("--detector", help="detector name (with --checkpoint)")
    who.add_argument("--model-module", dest="detector", metavar="PKG.MODULE:FACTORY",
                     help="instead of --detector: a detector from your own module (with --checkpoint)")
    p.add_argument("--preset", help="detector preset")
    p.add_argument("--checkpoint", help="checkpoint file (spoofbench or official weights)")
    p.add_argument("--manifest", required=True, help="test manifest (.jsonl[.gz])")
    p.add_argument("--root", required=True, help="corpus root the manifest's paths are relative to")
    p.add_argument("--testset", help="name in the score file names (default: from the manifest file name)")
    p.add_argument("--codec", action="extend", nargs="+", metavar="CODEC",
                   help="codec condition id(s): --codec none mp3_32k, or repeated (default: none)")
    p.add_argument("--out", help="output dir (default: RUN/scores with --run)")
    p.add_argument("--config", help="score config YAML (ScoreConfig fields)")
    p.add_argument("--batch-size", type=positive_int,
                   help="clips per batch (default: the score config's, else chosen from the memory budget); wins "
                        "over --memory-budget")
    p.add_argument("--memory-budget", type=positive_float, metavar="GB", dest="memory_budget",
                   help="memory for the activations of all batches scored at once, in GB (default: the score "
                        "config's memory_budget_gb, else half the available RAM, at most 2 GB, on a CPU; 70%% "
                        "of free GPU memory on CUDA); batch size and streams are chosen to fit it")
    p.add_argument("--workers", type=int, help="DataLoader worker processes")
    add_device_option(p)
    p.add_argument("--threads", type=int, help="torch CPU threads while scoring (default: torch's)")
    p.add_argument("--cache-dir", help="codec cache directory")
    p.add_argument("--no-resume", action="store_true", help="rescore from scratch instead of skipping done trials")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="exit 0 even when some trials could not be scored (default: exit 1)")
    p.add_argument("--score-format", action="extend", nargs="+", default=None, metavar="FORMAT",
                   choices=("asvspoof5", "asvspoof2019", "asvspoof2021"),
                   help="also write each score file in these layouts beside it: asvspoof5 (TSV with header), "
                        "asvspoof2019 (utt source key score), asvspoof2021 (utt score)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from spoofbench.commands.train import disk_errors
    from spoofbench.engine import ScoreConfig, load_run_detector, score
    from spoofbench.errors import ConfigError

    if args.run:
        detector = load_run_detector(args.run)
        out = args.out or str(Path(args.run) / "scores")
    else:
        if not args.checkpoint:
            raise ConfigError("--detector needs --checkpoint (or use --run RUN_DIR)", field="--checkpoint")
        if not args.out:
            raise ConfigError("--out is required with --detector", field="--out")
        from spoofbench.models import build_detector
        detector = build_detector(args.detector, args.preset, checkpoint=args.checkpoint)
        out = args.out
    config = ScoreConfig.from_yaml(args.config) if args.config else ScoreConfig()
    changes = {"codecs": tuple(args.codec) if args.codec else None, "batch_size": args.batch_size,
               "memory_budget_gb": args.memory_budget,
               "num_workers": args.workers, "device": args.device, "cpu_threads": args.threads, "cache_dir": args.cache_dir,
               "resume": False if args.no_resume else None}
    changes = {k: v for k, v in changes.items() if v is not None}
    if changes:
        config = ScoreConfig.from_dict({**config.to_dict(), **changes})
    with disk_errors(out):
        result = score(detector, args.manifest, root=args.root, out_dir=out, testset=args.testset, config=config,
                       progress=not args.no_progress)
    from spoofbench.reproduce.record import record_command
    record_command(out, None, config, (), {k: getattr(args, k) for k in ("run", "detector", "preset", "checkpoint",
                                           "manifest", "root", "testset")} | {"out": str(out)}, command="score")
    if args.score_format:
        _convert(result.files, args.score_format, args.manifest)
    code = _report(result.files, args.allow_incomplete)
    from spoofbench.metrics.score_summary import labelled_summary  # metrics when the manifest carries labels
    for line in filter(None, (labelled_summary(f.scores, args.manifest) for f in result.files)):
        print(line)
    return code


def _convert(files, formats, manifest) -> None:
    """The score files again in the field's layouts (``--score-format``)."""
    from spoofbench.corpora.manifest import read_manifest
    from spoofbench.metrics.score_formats import convert_score_file

    trials = list(read_manifest(manifest)) if "asvspoof2019" in formats else None
    for f in files:
        for fmt in dict.fromkeys(formats):
            print(f"{convert_score_file(f.scores, fmt, trials=trials)}: {fmt} layout")


def _report(files, allow_incomplete: bool) -> int:
    """One line per score file; exit 1 when a file misses trials (unless ``allow_incomplete``)."""
    import logging

    log = logging.getLogger(__name__)
    incomplete = 0
    for f in files:
        print(f"{f.scores}: {f.n_scored} of {f.n_expected} scored ({100 * f.coverage:.1f}%), {f.n_failed} failed, "
              f"{f.n_resumed} from an earlier run, {f.n_retried} retried ({f.clips_per_s:.1f} clips/s)")
        if not f.complete:
            incomplete += 1
            log.log(logging.WARNING if allow_incomplete else logging.ERROR,
                    f"{f.scores.name}: {f.n_expected - f.n_scored} of {f.n_expected} trials have no score "
                    f"({f.n_failed} failed; list and reasons in {f.failed}); rerun to retry them"
                    + ("" if allow_incomplete else " or pass --allow-incomplete"), extra={"codec": f.codec})
    return 1 if incomplete and not allow_incomplete else 0
