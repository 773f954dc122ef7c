"""The GPU path, proven in one command (run through ``perf/gpu_check.sh``).

On a CUDA machine: train ``rawcnn_2m`` and ``aasist_l`` with ``spoofbench.engine.train`` for a
fixed number of optimiser steps (one epoch of ``steps × batch`` synthetic clips) under bf16
autocast, score held-out clips with batching on the GPU (bf16) while sampling GPU utilisation
(nvidia-smi, or NVML through pynvml), and score the same clips on the CPU in fp32. Reports per
detector: training and scoring samples/s, mean and peak GPU utilisation during scoring, peak GPU
memory, and the largest CPU↔GPU score difference.

Exit status 1 when, on CUDA, the mean GPU utilisation while scoring is below ``--min-util``
(default 80%) or the largest score difference exceeds the tolerance:
``max |s_gpu − s_cpu| ≤ --tolerance × max(1, max |s_cpu|)`` (default 0.05, i.e. 5% of the score
range; bf16 keeps 8 bits of mantissa). With ``--mode cpu`` (or ``auto`` without a GPU) the same
steps run on the CPU (bf16 autocast there too) and the GPU thresholds are skipped; the figures
are still printed. ``--json PATH`` writes them.

    perf/gpu_check.sh [--mode auto|cuda|cpu] [--steps 50] [--batch 32] [--score-clips 1024]
                      [--score-batch 128] [--workers 8] [--preset default] [--json gpu_check.json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from spoofbench.corpora.manifest import Trial
from spoofbench.engine import ScoreConfig, TrainConfig, load_run_detector, score, train

SR = 16000
DETECTORS = ("rawcnn_2m", "aasist_l")


def make_clips(root: Path, split: str, count: int, seed: int) -> list[Trial]:
    """``count`` 1–4 s synthetic clips (bona fide: harmonics; spoof: plus a high buzz) as WAV files."""
    rng = np.random.default_rng(seed)
    (root / split).mkdir(parents=True, exist_ok=True)
    trials = []
    for i in range(count):
        spoof = i % 2 == 1
        t = np.arange(int(rng.uniform(1.0, 4.0) * SR)) / SR
        x = sum(np.sin(2 * np.pi * k * rng.uniform(100, 220) * t) / k for k in range(1, 6))
        x = x + 0.02 * rng.standard_normal(t.size) + (0.3 * np.sin(2 * np.pi * 6000 * t) if spoof else 0)
        sf.write(root / split / f"{i}.wav", (0.5 * x / np.abs(x).max()).astype(np.float32), SR, subtype="PCM_16")
        trials.append(Trial(id=f"{split}_{i}", path=f"{split}/{i}.wav", label="spoof" if spoof else "bonafide",
                            corpus="gpu_check", split=split))
    return trials


class UtilisationSampler:
    """Samples GPU utilisation (%) every ``interval`` s in a thread: NVML if importable, else nvidia-smi."""

    def __init__(self, device_index: int, interval: float = 0.2):
        self.index, self.interval = device_index, interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.source = self._pick()

    def _pick(self) -> str:
        try:
            import pynvml
            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
            return "nvml"
        except Exception:  # pynvml missing or NVML unusable: fall back to the CLI
            return "nvidia-smi" if shutil.which("nvidia-smi") else "none"

    def _read(self) -> float | None:
        if self.source == "nvml":
            import pynvml
            return float(pynvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)
        if self.source == "nvidia-smi":
            out = subprocess.run(["nvidia-smi", "-i", str(self.index), "--query-gpu=utilization.gpu",
                                  "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=10)
            return float(out.stdout.strip().splitlines()[0]) if out.returncode == 0 else None
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self._read()
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.interval)

    def __enter__(self) -> "UtilisationSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _scores(path: Path) -> dict[str, float]:
    return {u: float(s) for u, s in (line.split() for line in path.read_text().splitlines())}


def check_detector(name: str, data: dict, args: argparse.Namespace, device: str, out: Path) -> dict:
    """Train ``name`` for ``args.steps`` steps and score on ``device`` (bf16) and on the CPU (fp32)."""
    cfg = TrainConfig.from_dict({
        "detector": name, "preset": None if args.preset == "default" else args.preset, "epochs": 1,
        "batch_size": args.batch, "eval_batch_size": args.score_batch, "num_workers": args.workers,
        "device": device, "precision": "bf16", "balance": "none", "patience": 0, "seed": 0,
        "optim": {"scheduler": "none"}})
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trained = train(cfg, data["train"], data["dev"], root=data["root"], out_dir=out / name, progress=False)
    detector = load_run_detector(out / name)
    scoring = ScoreConfig(batch_size=args.score_batch, num_workers=args.workers, device=device, precision="bf16",
                          resume=False)
    index = torch.cuda.current_device() if device == "cuda" else 0
    with UtilisationSampler(index) if device == "cuda" else _NoSampler() as sampler:
        on_device = score(detector, data["test"], root=data["root"], out_dir=out / f"{name}_scores_{device}",
                          testset="test", config=scoring, progress=False).files[0]
    reference = score(detector.cpu(), data["test"], root=data["root"], out_dir=out / f"{name}_scores_cpu_fp32",
                      testset="test", config=ScoreConfig(batch_size=args.score_batch, num_workers=args.workers,
                                                         device="cpu", precision="fp32", resume=False),
                      progress=False).files[0]
    a, b = _scores(on_device.scores), _scores(reference.scores)
    diff = max(abs(a[u] - b[u]) for u in b) if a.keys() == b.keys() and b else float("inf")
    scale = max(1.0, max((abs(v) for v in b.values()), default=1.0))
    row = trained.history[0]
    return {"detector": name, "train_steps": -(-len(data["train"]) // args.batch),
            "train_samples_per_s": row["samples_per_s"], "score_clips_per_s": on_device.clips_per_s,
            "gpu_util_mean": float(np.mean(sampler.samples)) if sampler.samples else None,
            "gpu_util_max": float(np.max(sampler.samples)) if sampler.samples else None,
            "gpu_util_samples": len(sampler.samples), "gpu_util_source": getattr(sampler, "source", None),
            "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2 ** 30 if device == "cuda" else None,
            "max_score_diff": diff, "score_scale": scale, "scored": len(a)}


class _NoSampler:
    samples: list[float] = []
    source = None

    def __enter__(self) -> "_NoSampler":
        return self

    def __exit__(self, *exc) -> None:
        return None


def verdict(rows: list[dict], args: argparse.Namespace, on_gpu: bool) -> list[str]:
    """The failed checks (empty when all pass); GPU thresholds only count on CUDA."""
    problems = []
    for r in rows:
        if on_gpu and not r["max_score_diff"] <= args.tolerance * r["score_scale"]:
            problems.append(
                f"{r['detector']}: max |score difference| {r['max_score_diff']:.4g} exceeds "
                f"{args.tolerance} × {r['score_scale']:.3g}")
        if on_gpu and not (r["gpu_util_mean"] or 0) >= args.min_util:
            problems.append(f"{r['detector']}: mean GPU utilisation while scoring {r['gpu_util_mean']}% "
                            f"< {args.min_util}% ({r['gpu_util_samples']} samples via {r['gpu_util_source']})")
    return problems


def _print(rows: list[dict], device: str) -> None:
    print(f"{'detector':10} {'train/s':>9} {'score/s':>9} {'GPU util mean/max':>18} {'peak GiB':>9} "
          f"{'max |Δscore|':>13}  (device {device})")
    for r in rows:
        util = (f"{r['gpu_util_mean']:.0f}/{r['gpu_util_max']:.0f}%" if r["gpu_util_mean"] is not None else "-")
        mem = f"{r['peak_gpu_memory_gib']:.2f}" if r["peak_gpu_memory_gib"] is not None else "-"
        print(f"{r['detector']:10} {r['train_samples_per_s']:9.1f} {r['score_clips_per_s']:9.1f} {util:>18} "
              f"{mem:>9} {r['max_score_diff']:13.4g}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("auto", "cuda", "cpu"), default="auto")
    p.add_argument("--steps", type=int, default=50, help="optimiser steps per detector")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--score-clips", type=int, default=1024)
    p.add_argument("--score-batch", type=int, default=128)
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument("--preset", default="default", help="detector preset (tests use tiny)")
    p.add_argument("--detectors", default=",".join(DETECTORS))
    p.add_argument("--min-util", type=float, default=80.0)
    p.add_argument("--tolerance", type=float, default=0.05)
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    if args.mode == "cuda" and not torch.cuda.is_available():
        print("gpu_check: --mode cuda but torch sees no CUDA GPU", file=sys.stderr)
        return 2
    device = "cuda" if args.mode == "cuda" or (args.mode == "auto" and torch.cuda.is_available()) else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        data = {"root": root, "train": make_clips(root, "train", args.steps * args.batch, 0),
                "dev": make_clips(root, "dev", max(8, args.batch), 1),
                "test": make_clips(root, "test", args.score_clips, 2)}
        rows = [check_detector(name, data, args, device, Path(tmp) / "runs") for name in args.detectors.split(",")]
    _print(rows, torch.cuda.get_device_name() if device == "cuda" else "cpu")
    problems = verdict(rows, args, device == "cuda")
    if device != "cuda":
        print("gpu_check: no GPU used (--mode cpu or none found): utilisation, memory and score-difference "
              "thresholds skipped")
    for line in problems:
        print(f"gpu_check: FAIL: {line}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "args": vars(args), "detectors": rows,
                                               "problems": problems}, indent=2, default=str) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
