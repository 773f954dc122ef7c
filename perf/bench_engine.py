"""Engine throughput: batched, multi-worker scoring vs a plain loop, and training samples/s.

Scoring: the same detector (rawcnn_2m, default preset: ~2 M parameters, 64,600-sample input) and
the same synthetic clips (2-5 s, 16 kHz WAV files on disk) scored

* by a plain loop: read a clip with soundfile, apply the input policy, ``detector.score`` on a
  batch of one, no worker processes; and
* by ``spoofbench.engine.score``: length-bucketed batches, DataLoader worker processes,
  ``torch.inference_mode``, streaming to a score file.

The two score sets are checked to agree (max |difference|), then clips/s and the ratio are
printed. Training: ``spoofbench.engine.train`` on rawcnn_2m, samples/s of the training loop.

    python perf/bench_engine.py [--clips 96] [--batch 32] [--workers 2] [--threads 2]
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from spoofbench.corpora.manifest import Trial, write_manifest
from spoofbench.engine import ScoreConfig, TrainConfig, score, train
from spoofbench.engine.audio import read_audio
from spoofbench.models import build_detector

SR = 16000


def make_clips(root: Path, count: int, seed: int = 0) -> list[Trial]:
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(count):
        n = int(rng.uniform(2.0, 5.0) * SR)
        t = np.arange(n) / SR
        wave = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) + 0.05 * rng.standard_normal(n)
        if i % 2:
            wave += 0.1 * np.sin(2 * np.pi * 6000 * t)
        rel = f"clips/c{i:04d}.wav"
        (root / "clips").mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, wave.astype(np.float32), SR, subtype="PCM_16")
        trials.append(Trial(id=f"c{i:04d}", path=rel, label="spoof" if i % 2 else "bonafide", corpus="bench",
                            split="eval", sampling_rate=SR, num_samples=n, duration=n / SR))
    return trials


def plain_loop(detector, trials: list[Trial], root: Path) -> tuple[dict[str, float], float]:
    scores = {}
    t0 = time.perf_counter()
    with torch.inference_mode():
        for trial in trials:
            wave = read_audio(trial.audio_path(root), detector.sample_rate)
            x = detector.input_policy.apply(wave, train=False)
            scores[trial.id] = float(detector.score(x[None]))
    return scores, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=96)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--train-clips", type=int, default=64)
    parser.add_argument("--train-epochs", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, cuda {torch.cuda.is_available()}")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        trials = make_clips(root, args.clips)
        manifest = root / "eval.jsonl.gz"
        write_manifest(manifest, trials)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            detector = build_detector("rawcnn_2m").eval()
        print(f"detector: rawcnn_2m default, input policy {detector.input_policy.describe()}; {args.clips} clips")

        plain_loop(detector, trials[:4], root)  # warm-up (allocator, oneDNN kernels)
        base_scores, base_s = plain_loop(detector, trials, root)
        cfg = ScoreConfig(batch_size=args.batch, num_workers=args.workers, bucket_pool=4 * args.batch,
                          resume=False, device="cpu")
        t0 = time.perf_counter()
        result = score(detector, manifest, root=root, out_dir=root / "scores", testset="bench", config=cfg,
                       progress=False)
        engine_s = time.perf_counter() - t0
        engine_scores = {u: float(v) for u, v in (line.split() for line in
                                                   result.files[0].scores.read_text().splitlines())}
        diff = max(abs(engine_scores[u] - base_scores[u]) for u in base_scores)
        base_rate, engine_rate = args.clips / base_s, args.clips / engine_s
        print(f"scoring, plain loop (batch 1, no workers): {base_rate:8.2f} clips/s ({base_s:.1f} s)")
        print(f"scoring, engine (batch {args.batch}, {args.workers} workers):   {engine_rate:8.2f} clips/s "
              f"({engine_s:.1f} s, incl. worker start-up)")
        print(f"scoring speed-up: {engine_rate / base_rate:.2f}x   (max |score difference| {diff:.2e})")

        train_trials = make_clips(root / "train", args.train_clips, seed=1)
        dev_trials = make_clips(root / "dev", 16, seed=2)
        tcfg = TrainConfig(detector="rawcnn_2m", epochs=args.train_epochs, batch_size=16, num_workers=args.workers,
                           device="cpu", seed=0, patience=0)
        res = train(tcfg, train_trials, dev_trials, root=root / "train", dev_root=root / "dev",
                    out_dir=root / "run", progress=False)
        for h in res.history:
            print(f"training rawcnn_2m (batch 16, {args.workers} workers), epoch {h['epoch']}: "
                  f"{h['samples_per_s']:.2f} samples/s ({h['train_samples']} samples)")


if __name__ == "__main__":
    main()
