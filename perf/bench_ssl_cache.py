"""Epoch time with and without the frozen SSL feature cache (``ssl.cache_features``).

Trains the tiny s3prl WavLM the tests build (``wavlm_base``, preset ``tiny``: a 2-layer random-init
upstream, linear back-end, frozen) for ``--epochs`` epochs on synthetic clips, once without the
cache and once with it, and prints each epoch's seconds: epoch 1 fills the cache, later epochs read
it. The cached run trains on the eval crop (the cache needs a deterministic crop), the plain one
on random crops of the same length: the same work per clip.

    python perf/bench_ssl_cache.py [--clips 256] [--epochs 3] [--preset tiny] [--threads 1]
    python perf/bench_ssl_cache.py --preset default --clips 32 --epochs 2   # WavLM Base size, random init
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_check import make_clips  # noqa: E402

from spoofbench.engine import TrainConfig, train  # noqa: E402


def run(data: dict, out: Path, cache: bool, args: argparse.Namespace) -> list[float]:
    cfg = TrainConfig.from_dict({
        "detector": "wavlm_base", "preset": args.preset, "epochs": args.epochs, "batch_size": 16,
        "overrides": {"random_init": True} if args.preset == "default" else {},
        "num_workers": 0, "cpu_threads": args.threads, "seed": 0, "patience": 0, "device": "cpu",
        "ssl": {"cache_features": cache, "cache_dir": str(out / "cache")}})
    result = train(cfg, data["train"], data["dev"], root=data["root"], out_dir=out / "run", progress=False)
    return [row["seconds"] for row in result.history]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=256)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--preset", default="tiny")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        data = {"root": root, "train": make_clips(root, "train", args.clips, 0),
                "dev": make_clips(root, "dev", max(16, args.clips // 4), 1)}
        plain = run(data, Path(tmp) / "plain", False, args)
        cached = run(data, Path(tmp) / "cached", True, args)
    print(f"wavlm_base {args.preset}, {args.clips} train clips, {args.threads} thread(s); seconds per epoch")
    print("no cache   " + "  ".join(f"{s:7.2f}" for s in plain))
    print("with cache " + "  ".join(f"{s:7.2f}" for s in cached))
    warm = sum(cached[1:]) / max(len(cached) - 1, 1)
    base = sum(plain[1:]) / max(len(plain) - 1, 1)
    print(f"warm-epoch speed-up {base / warm:.2f}x (epochs 2-{args.epochs}); first epoch "
          f"{cached[0] / plain[0]:.2f}x the uncached time (it fills the cache)")


if __name__ == "__main__":
    main()
