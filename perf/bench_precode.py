"""Pre-coded codec augmentation vs the lazily filled codec cache, in the same run.

A synthetic demo-like training set (``--clips`` FLAC clips of 2-5 s at 16 kHz: harmonic "voices", some with a
high buzz) is read for one training epoch by the per-clip training dataset
(:class:`spoofbench.engine.data.TrainDataset`: whole clip, codec augmentation, 4-s crop) through a DataLoader
with ``--workers`` workers, as the trainer reads it, with codec augmentation over two classic codec conditions
(``--conditions``, default mp3_32k and aac_32k) at ``--probability``:

- no codec augmentation (the floor: reading and cropping only);
- the first epoch with a fresh codec cache (today's lazy path: the workers code every clip they draw);
- the pre-coding pass (:func:`spoofbench.engine.precode.precode_clips`, ``--workers`` processes), then the first
  epoch again on the filled cache (the workers only read it); the two epochs' batches must be identical.

    .venv/bin/python perf/bench_precode.py [--clips 96] [--workers 2] [--probability 0.5]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

SR = 16000


def make_set(root: Path, clips: int, seed: int = 0) -> list:
    """``clips`` FLAC files under ``root`` and their trials."""
    from spoofbench.corpora.manifest import Trial

    rng = np.random.default_rng(seed)
    trials = []
    for i in range(clips):
        n = int(rng.uniform(2.0, 5.0) * SR)
        t = np.arange(n) / SR
        f0 = rng.uniform(90, 240)
        x = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) for k in range(1, 9))
        spoof = i % 2 == 1
        if spoof:
            x = x + 0.2 * np.sin(2 * np.pi * rng.uniform(5000, 6500) * t)
        x = 0.5 * x / np.abs(x).max() + 0.005 * rng.standard_normal(n)
        sf.write(root / f"clip_{i:04d}.flac", x.astype(np.float32), SR, subtype="PCM_16")
        trials.append(Trial(id=f"clip_{i:04d}", path=f"clip_{i:04d}.flac", label="spoof" if spoof else "bonafide",
                            corpus="bench", split="train", sampling_rate=SR, num_samples=n, duration=n / SR))
    return trials


def epoch(trials, root: Path, augment, workers: int) -> tuple[float, list[torch.Tensor]]:
    """Seconds for one epoch (epoch 0) of the per-clip training dataset through a DataLoader, and its batches."""
    from spoofbench.engine.augment import Augmenter
    from spoofbench.engine.data import TrainDataset, collate_train
    from spoofbench.models.policy import InputPolicy

    dataset = TrainDataset(trials, root, sample_rate=SR, policy=InputPolicy(mode="fixed", num_samples=4 * SR),
                           min_samples=4 * SR, train=True, seed=1, max_samples=6 * SR,
                           augmenter=Augmenter(augment, SR))
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, sampler=[(0, i) for i in range(len(trials))],
                                         num_workers=workers, collate_fn=collate_train)
    start = time.perf_counter()
    batches = [batch["waves"] for batch in loader]
    return time.perf_counter() - start, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=96)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--probability", type=float, default=0.5)
    parser.add_argument("--conditions", nargs="+", default=["mp3_32k", "aac_32k"])
    args = parser.parse_args()
    from spoofbench.engine.config import AugmentConfig, CodecAugmentConfig
    from spoofbench.engine.precode import precode_clips

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench_precode_") as tmp:
        root = Path(tmp) / "corpus"
        root.mkdir()
        trials = make_set(root, args.clips)

        def augment(cache: str, probability: float = args.probability) -> AugmentConfig:
            return AugmentConfig(codec=CodecAugmentConfig(probability=probability, conditions=tuple(args.conditions),
                                                          cache_dir=str(Path(tmp) / cache)))
        floor, _ = epoch(trials, root, augment("none", 0.0), args.workers)
        lazy, lazy_batches = epoch(trials, root, augment("lazy"), args.workers)
        start = time.perf_counter()
        result = precode_clips(trials, root, augment("pre"), SR, workers=args.workers, progress=False)
        precode = time.perf_counter() - start
        warm, warm_batches = epoch(trials, root, augment("pre"), args.workers)
    same = len(lazy_batches) == len(warm_batches) and all(torch.equal(a, b) for a, b in zip(lazy_batches, warm_batches))
    print(f"{args.clips} clips (2-5 s), conditions {', '.join(args.conditions)}, probability {args.probability}, "
          f"{args.workers} workers")
    print(f"  first epoch, no codec augmentation (floor):  {floor:7.2f} s")
    print(f"  first epoch, lazy codec cache (baseline):    {lazy:7.2f} s")
    print(f"  pre-coding pass ({result.coded} clip-conditions):    {precode:7.2f} s  ({result.summary()})")
    print(f"  first epoch after pre-coding:                {warm:7.2f} s  ({lazy / warm:.1f}x faster than lazy)")
    print(f"  batches identical to the lazy epoch: {same}")


if __name__ == "__main__":
    main()
