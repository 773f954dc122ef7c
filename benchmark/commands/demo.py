"""``spoofbench demo``: the embedded benchmark on speech that ships with spoofbench."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..cli import add_device_option, command_parser, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "demo", help="run the embedded demo benchmark (no data, GPU or network needed)",
        description="Build the demo corpus (vendored real speech + spoofs from offline TTS engines and vocoders, "
                    "plus 200 real ASVspoof 2019 LA utterances), train rawcnn_2m and lfcc_gmm (plus "
                    "lfcc_lcnn and aasist_l on a GPU) with 3 seeds on corpus A and score a ladder of shifts: unseen "
                    "speakers, unseen voices/settings, unseen generator families, unseen bona fide corpora, "
                    "telephone codecs, and real ASVspoof attacks. The reverse direction trains on the real 2019 "
                    "LA mini train half; the official AASIST weights are scored as is (flagged: its training "
                    "data). Prints the ladder with 95% CIs and which detectors the paired tests separate; "
                    "writes result.json, tables, plots and report.md/html. Generated audio and finished cells "
                    "are cached: a second run only does what is new.",
        example="spoofbench demo --quick --out runs/demo-quick")
    parser.add_argument("--quick", action="store_true",
                        help="small sets, 1 seed, few epochs, one telephone codec (under 3 minutes on "
                             "2 quiet CPU cores, estimated)")
    parser.add_argument("--out", help="run directory (default: runs/demo or runs/demo-quick)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--seeds", type=int, nargs="+", action="extend",
                        help="training seeds per detector (default: 0 1 2; quick: 0)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: 3 full, 2 quick; LA mini: 4)")
    parser.add_argument("--detectors", nargs="+", action="extend", help="detectors to train (default: rawcnn_2m lfcc_gmm; on a GPU also aasist_l and lfcc_lcnn)")
    parser.add_argument("--codecs", nargs="+", action="extend", help="rung 5's telephone condition ids (default: g711_mulaw "
                                                    "tel_gsm; quick: tel_gsm)")
    parser.add_argument("--ssl-checkpoint", help="a local WavLM Base+ checkpoint (s3prl .pt or HF dir): adds "
                                                 "an SSL pipeline to the demo")
    parser.add_argument("--aasist-weights", help="official AASIST weights for the pretrained row (default: "
                                                 "../shared/reference/aasist/AASIST.pth beside the checkout; "
                                                 "'none' skips the row)")
    parser.add_argument("--no-real-attacks", action="store_true",
                        help="leave out the ASVspoof 2019 LA rungs and the pretrained row")
    add_device_option(parser)
    parser.add_argument("--bootstrap", type=int, help="bootstrap resamples for CIs and tests (default: 200 quick, 1000 full)")
    parser.add_argument("--jobs", type=positive_int, metavar="N",
                        help="jobs at once, each in a worker process (default: one per usable core, at most 8, "
                             "on a CPU, where every job runs on one thread so that the numbers do not depend on "
                             "N; 1 on a GPU)")
    parser.add_argument("--no-pack", action="store_true",
                        help="read every clip from its FLAC file in every epoch and condition instead of packing "
                             "the corpus once into CORPUS/.spoofbench_pack (the numbers are the same either way)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace):
    from ..demo.runs import DEFAULT_AASIST, DemoSettings

    weights = args.aasist_weights or str(DEFAULT_AASIST)
    seeds = tuple(args.seeds) if args.seeds else None
    return DemoSettings(quick=args.quick, seed=args.seed, epochs=args.epochs,
                        detectors=tuple(args.detectors) if args.detectors else None,
                        codecs=tuple(args.codecs) if args.codecs else None, ssl_checkpoint=args.ssl_checkpoint,
                        device=args.device or "auto", bootstrap=args.bootstrap, seeds=seeds,
                        aasist_weights=None if weights.lower() == "none" else weights,
                        real_attacks=not args.no_real_attacks, jobs=args.jobs,
                        pack=not args.no_pack)


def run(args: argparse.Namespace) -> int:
    from ..demo.runs import run_demo
    from ..runner.report import print_summary

    settings = settings_from_args(args)
    out = Path(args.out) if args.out else Path("runs") / ("demo-quick" if args.quick else "demo")
    started = time.perf_counter()
    result, corpus = run_demo(out, settings, progress=not args.no_progress)
    from ..reproduce.record import record_command, settings_dict
    record_command(out, None, settings, settings.seed_list(), {"settings": settings_dict(settings), "corpus_dir": str(
        corpus.root), "corpus_manifests": {k: str(v) for k, v in corpus.manifests.items()}}, command="demo")
    if corpus.skipped:
        for attack, why in corpus.skipped.items():
            print(f"note: attack {attack} skipped: {why}")
    summary = out / "demo_summary.md"
    if summary.is_file():
        print(summary.read_text(encoding="utf-8"))
    print_summary(result, out, tables=False)
    print(f"report: {out / 'report.md'}  ·  {out / 'report.html'}")
    print(f"demo wall time: {time.perf_counter() - started:.0f} s")
    return 1 if result["failed_cells"] else 0

