"""``spoofbench pack``: decode a corpus once into memory-mapped waveform shards (thin over spoofbench.engine.pack)."""
from __future__ import annotations

import argparse
import os

from spoofbench.cli import command_parser, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(
        subparsers, "pack", help="decode a manifest's audio once into packed waveform shards (train/score read them)",
        description="Decode every clip of MANIFEST (resampled by the one resampler) into large numpy-memmap shards "
                    "with an index keyed by (corpus, path) and the file's sha256. Resumable: a rerun packs only "
                    "new or changed clips. train and score use the pack in ROOT/.spoofbench_pack automatically "
                    "(config data.pack: auto|on|off, data.pack_dir). See docs/packs.md.",
        example="""
        spoofbench pack runs/demo-quick/corpus/demo_a_train.jsonl.gz runs/demo-quick/corpus/demo_a_dev.jsonl.gz \\
            --root runs/demo-quick/corpus --workers 2""")
    p.add_argument("manifests", nargs="+", metavar="MANIFEST", help="manifest(s) (.jsonl[.gz]) whose audio to pack")
    p.add_argument("--root", required=True, help="corpus root the manifests' paths are relative to")
    p.add_argument("--out", help="pack folder (default: ROOT/.spoofbench_pack, where train and score look)")
    p.add_argument("--sample-rate", type=positive_int, default=16000, help="rate of the packed audio (default 16000)")
    p.add_argument("--dtype", choices=("auto", "int16", "float16", "float32"), default="auto",
                   help="stored samples: auto (default) = int16 where lossless, else float32 (bit-identical reads)")
    p.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8),
                   help="decoding processes (0 = in this process; default: the cores, at most 8)")
    p.add_argument("--shard-clips", type=positive_int, default=2000, help="at most this many clips per shard")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from spoofbench.engine.pack import DEFAULT_DIR, pack_manifests

    out = args.out or str(Path(args.root) / DEFAULT_DIR)
    result = pack_manifests(args.manifests, root=args.root, out=out, sample_rate=args.sample_rate,
                            dtype=args.dtype, workers=max(args.workers, 0), shard_clips=args.shard_clips,
                            progress=not args.no_progress)
    print(f"{out}: {result.trials} clips: {result.packed} packed, {result.refreshed} kept (touched, same bytes), "
          f"{result.unchanged} already packed, {len(result.failed)} failed; {result.shards} new shards, "
          f"{result.bytes_written / 1e6:.1f} MB in {result.seconds:.1f} s")
    for corpus, path, reason in result.failed[:20]:
        print(f"  failed: {corpus}/{path}: {reason}")
    if len(result.failed) > 20:
        print(f"  ... {len(result.failed) - 20} more in {Path(out) / 'failed.tsv'}")
    return 1 if result.failed else 0
