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

Issue 27 (feed the GPU): the synthetic corpus is packed first (``spoofbench pack``; ``--no-pack`` decodes
the WAVs as before), so training and scoring read shards; on CUDA the test set defaults to 20,000 clips so
start-up does not dominate the utilisation figure. The compute bound: the same detector trained for the same
steps on one batch already on the device (no loader), in the same run; ``loader_vs_bound`` is the loader-fed
training samples/s over it (target ≥ 0.9 on CUDA, ``--min-bound``). The driver version is recorded.

    perf/gpu_check.sh [--mode auto|cuda|cpu] [--steps 50] [--batch 32] [--score-clips 20000 on CUDA, else 1024]
                      [--score-batch 128] [--workers 8] [--preset default] [--no-pack] [--json gpu_check.json]
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
    bound = compute_bound(name, args, device)
    return {"detector": name, "train_steps": -(-len(data["train"]) // args.batch),
            "train_samples_per_s": row["samples_per_s"], "score_clips_per_s": on_device.clips_per_s,
            "data_wait_share": row["data_wait_seconds"] / row["train_seconds"],
            "bound_samples_per_s": bound, "loader_vs_bound": row["samples_per_s"] / bound,
            "gpu_util_mean": float(np.mean(sampler.samples)) if sampler.samples else None,
            "gpu_util_max": float(np.max(sampler.samples)) if sampler.samples else None,
            "gpu_util_samples": len(sampler.samples), "gpu_util_source": getattr(sampler, "source", None),
            "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2 ** 30 if device == "cuda" else None,
            "max_score_diff": diff, "score_scale": scale, "scored": len(a)}


def compute_bound(name: str, args: argparse.Namespace, device: str, seconds_per_clip: float = 2.5) -> float:
    """Training samples/s of ``name`` fed from one batch already on ``device`` (no loader): the compute bound."""
    from spoofbench.models import build_detector

    torch.manual_seed(0)
    detector = build_detector(name, None if args.preset == "default" else args.preset).to(device).train()
    n = detector.input_policy.num_samples or int(seconds_per_clip * SR)   # the mean synthetic clip: 2.5 s
    waves = torch.randn(args.batch, n, device=device) * 0.1
    lengths = torch.full((args.batch,), n, dtype=torch.int64, device=device)
    targets = torch.arange(args.batch, device=device) % 2
    optimizer = torch.optim.Adam([p for p in detector.parameters() if p.requires_grad], lr=1e-4)

    def step() -> None:
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            logits = detector(waves, lengths)
        loss = torch.nn.functional.cross_entropy(logits.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up (cuDNN autotuning, allocator)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return args.steps * args.batch / (time.perf_counter() - start)


def driver_version() -> str | None:
    if not shutil.which("nvidia-smi"):
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                         text=True, timeout=10)
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


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
        ratio, floor = r.get("loader_vs_bound"), getattr(args, "min_bound", 0.9)
        if on_gpu and ratio is not None and not ratio >= floor:
            problems.append(f"{r['detector']}: loader-fed training {r['train_samples_per_s']:.1f} samples/s is "
                            f"{100 * r['loader_vs_bound']:.0f}% of the on-GPU-tensor bound "
                            f"{r['bound_samples_per_s']:.1f}/s (< {100 * floor:.0f}%)")
    return problems


def _print(rows: list[dict], device: str) -> None:
    print(f"{'detector':10} {'train/s':>9} {'bound/s':>9} {'ratio':>6} {'wait':>6} {'score/s':>9} "
          f"{'GPU util mean/max':>18} {'peak GiB':>9} {'max |Δscore|':>13}  (device {device})")
    for r in rows:
        util = (f"{r['gpu_util_mean']:.0f}/{r['gpu_util_max']:.0f}%" if r["gpu_util_mean"] is not None else "-")
        mem = f"{r['peak_gpu_memory_gib']:.2f}" if r["peak_gpu_memory_gib"] is not None else "-"
        print(f"{r['detector']:10} {r['train_samples_per_s']:9.1f} {r['bound_samples_per_s']:9.1f} "
              f"{r['loader_vs_bound']:6.2f} {100 * r['data_wait_share']:5.1f}% {r['score_clips_per_s']:9.1f} {util:>18} "
              f"{mem:>9} {r['max_score_diff']:13.4g}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("auto", "cuda", "cpu"), default="auto")
    p.add_argument("--steps", type=int, default=50, help="optimiser steps per detector")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--score-clips", type=int, default=None, help="test clips (default: 20000 on CUDA, else 1024)")
    p.add_argument("--score-batch", type=int, default=128)
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument("--preset", default="default", help="detector preset (tests use tiny)")
    p.add_argument("--detectors", default=",".join(DETECTORS))
    p.add_argument("--min-util", type=float, default=80.0)
    p.add_argument("--tolerance", type=float, default=0.05)
    p.add_argument("--min-bound", type=float, default=0.9, help="loader-fed / on-GPU-tensor training samples/s")
    p.add_argument("--no-pack", action="store_true", help="decode the WAVs (the path before issue 27)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    if args.mode == "cuda" and not torch.cuda.is_available():
        print("gpu_check: --mode cuda but torch sees no CUDA GPU", file=sys.stderr)
        return 2
    device = "cuda" if args.mode == "cuda" or (args.mode == "auto" and torch.cuda.is_available()) else "cpu"
    args.score_clips = args.score_clips or (20000 if device == "cuda" else 1024)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        data = {"root": root, "train": make_clips(root, "train", args.steps * args.batch, 0),
                "dev": make_clips(root, "dev", max(8, args.batch), 1),
                "test": make_clips(root, "test", args.score_clips, 2)}
        if not args.no_pack:
            from spoofbench.engine.pack import DEFAULT_DIR, pack_manifests
            packed = pack_manifests(data["train"] + data["dev"] + data["test"], root=root, out=root / DEFAULT_DIR,
                                    workers=args.workers, progress=False)
            print(f"packed {packed.packed} clips in {packed.seconds:.1f} s")
        rows = [check_detector(name, data, args, device, Path(tmp) / "runs") for name in args.detectors.split(",")]
    _print(rows, torch.cuda.get_device_name() if device == "cuda" else "cpu")
    problems = verdict(rows, args, device == "cuda")
    if device != "cuda":
        print("gpu_check: no GPU used (--mode cpu or none found): utilisation, memory and score-difference "
              "thresholds skipped")
    for line in problems:
        print(f"gpu_check: FAIL: {line}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "driver": driver_version(), "args": vars(args),
                                               "detectors": rows,
                                               "problems": problems}, indent=2, default=str) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
