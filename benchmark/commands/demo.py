"""``spoofbench demo``: the embedded benchmark on speech that ships with spoofbench."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..cli import command_parser


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "demo", help="run the embedded demo benchmark (no data, GPU or network needed)",
        description="Build the demo corpus (vendored real speech + spoofs from offline TTS engines and "
                    "vocoders), train rawcnn_2m, lfcc_lcnn and lfcc_gmm (and aasist_l on a GPU) on corpus A, and score A-eval "
                    "(in-domain) and corpus B (out of distribution) through the codec matrix. Prints the "
                    "EER table and writes result.json, tables and plots. Generated audio and finished "
                    "cells are cached: a second run only does what is new.",
        example="spoofbench demo --quick --out runs/demo-quick")
    parser.add_argument("--quick", action="store_true",
                        help="small corpus, 2 epochs, 5 codec conditions (under 3 minutes on 2 CPU cores)")
    parser.add_argument("--out", help="run directory (default: runs/demo or runs/demo-quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="training epochs (default: 2 quick, 8 full)")
    parser.add_argument("--detectors", nargs="+", help="detectors to train (default: rawcnn_2m lfcc_lcnn lfcc_gmm, plus aasist_l on a GPU)")
    parser.add_argument("--codecs", nargs="+", help="condition ids or matrix:NAME (default: quick set / matrix:default)")
    parser.add_argument("--ssl-checkpoint", help="a local WavLM Base+ checkpoint (s3prl .pt or HF dir): adds "
                                                 "an SSL pipeline to the demo")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--bootstrap", type=int, help="bootstrap resamples for CIs (default: 0 quick, 200 full)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo.benchmark import DemoSettings, run_demo
    from ..runner.report import print_summary

    settings = DemoSettings(quick=args.quick, seed=args.seed, epochs=args.epochs,
                            detectors=tuple(args.detectors) if args.detectors else None,
                            codecs=tuple(args.codecs) if args.codecs else None,
                            ssl_checkpoint=args.ssl_checkpoint, device=args.device, bootstrap=args.bootstrap)
    out = Path(args.out) if args.out else Path("runs") / ("demo-quick" if args.quick else "demo")
    started = time.perf_counter()
    result, corpus = run_demo(out, settings, progress=not args.no_progress)
    from ..demo.benchmark import demo_config
    from ..reproduce.record import record_command, settings_dict
    record_command(out, None, demo_config(corpus, settings), (settings.seed,),
                   {"settings": settings_dict(settings), "corpus_dir": str(corpus.root)}, command="demo")
    if corpus.skipped:
        for attack, why in corpus.skipped.items():
            print(f"note: attack {attack} skipped: {why}")
    print_summary(result, out)
    print(f"demo wall time: {time.perf_counter() - started:.0f} s")
    return 1 if result["failed_cells"] else 0
