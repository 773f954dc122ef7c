"""Peak RSS of ``spoofbench run`` on a 600k-trial test set through 5 codec conditions (goal: < 1.5 GB).

A synthetic corpus in a temp folder: a small pool of very short real WAV clips that every trial of a
large test manifest points at (the runner allows shared paths), a tiny train/dev set, and a config
with a tiny detector (``rawcnn_2m`` preset ``tiny``, one epoch) and 5 codec conditions. Each run
happens in a fresh child process (``run_benchmark`` with the local executor, so every job runs in
the runner's process) while a thread samples its RSS with psutil every 50 ms:

* ``full``: all ``--trials`` trials. Coding and scoring 3M clips does not fit on 2 shared cores, so
  each score job's files are written beforehand with one line per trial (``utt score``, from the
  key file, streamed): the engine then resumes them (reads the 5 score files, streams the whole
  manifest and finds nothing left to code) and everything after it is the real thing at full size:
  metrics over 600k scores per cell, the cell log, result.json, cells.csv, tables and DET plots.
  Gathering inputs (key file, labelling, audio digest) and planning run on all trials too.
* ``subset``: ``--score-trials`` trials scored for real (decode, 5 codecs in one pass, detector),
  for the memory that coding and batching add on top (bounded by batch and pool, not by trials).

Prints peak RSS per phase (and its anonymous part: the CUDA build of torch alone maps ~450 MB of
library files, counted in RSS) (setup = gathering inputs + planning, train, score jobs, rendering) and the
verdict. ``--tracemalloc`` also prints the top allocation sites at the end of the full run's setup and
job phases (slow: use it only to find where memory goes).

Usage: python perf/bench_runner_memory.py [--trials 600000] [--score-trials 2000] [--pool 64]
       [--codecs none mp3_32k g711_mulaw gsm_fr opus_12k] [--keep DIR] [--tracemalloc]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf
import yaml

GOAL_BYTES = 1.5 * 1024 ** 3
RATE = 16000
DEFAULT_CODECS = ["none", "mp3_32k", "g711_mulaw", "gsm_fr", "opus_12k"]


# ---------------------------------------------------------------------------------------- data
def make_pool(folder: Path, count: int, seconds: float, seed: int = 0) -> list[str]:
    """``count`` short clips (a harmonic tone in noise; noisier for the spoof half)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        t = np.arange(int(RATE * seconds)) / RATE
        wave = sum(np.sin(2 * np.pi * rng.uniform(100, 200) * k * t) / k for k in range(1, 6))
        wave = wave + rng.normal(0, 0.3 if i % 2 else 0.05, t.size)
        sf.write(folder / f"clip_{i:03d}.wav", (0.2 * wave / np.abs(wave).max()).astype(np.float32), RATE)
        paths.append(f"pool/clip_{i:03d}.wav")
    return paths


def trials(n: int, pool: list[str], name: str, speakers: int):
    """Trials over the pool: 1 in 10 bona fide (even pool clips), spoofs from 19 attacks."""
    from spoofbench.corpora.manifest import Trial

    for i in range(n):
        bonafide = i % 10 == 0
        clip = pool[(2 * i) % len(pool)] if bonafide else pool[(2 * i + 1) % len(pool)]
        yield Trial(id=f"{name}_{i:07d}", path=clip, label="bonafide" if bonafide else "spoof", corpus="synth",
                    split=name, speaker=f"spk{i % speakers:05d}",
                    attack="bonafide" if bonafide else f"A{1 + i % 19:02d}")


def build(root: Path, n_test: int, n_subset: int, pool_size: int, codecs: list[str]) -> dict[str, Path]:
    from spoofbench.corpora.manifest import write_manifest

    pool = make_pool(root / "pool", pool_size, 0.1)
    write_manifest(root / "train.jsonl.gz", trials(40, pool, "train", 20))
    write_manifest(root / "dev.jsonl.gz", trials(20, pool, "dev", 10))
    write_manifest(root / "test.jsonl.gz", trials(n_test, pool, "test", 20_000))
    write_manifest(root / "subset.jsonl.gz", trials(n_subset, pool, "test", 20_000))
    configs = {}
    for name, manifest in (("full", "test.jsonl.gz"), ("subset", "subset.jsonl.gz")):
        config = {"name": f"scale-{name}", "train": {"manifest": "train.jsonl.gz", "root": "."},
                  "dev": {"manifest": "dev.jsonl.gz", "root": "."},
                  "test_sets": [{"name": "big", "manifest": manifest, "root": "."}],
                  "codecs": codecs, "seeds": [0],
                  "training": {"epochs": 1, "batch_size": 8, "num_workers": 0},
                  "scoring": {"batch_size": 64, "num_workers": 0}, "device": "cpu",
                  "detectors": [{"name": "rawcnn_2m", "preset": "tiny"}]}
        configs[name] = root / f"{name}.yaml"
        configs[name].write_text(yaml.safe_dump(config, sort_keys=False))
    return configs


# ---------------------------------------------------------------------------------------- child
def rss_anon(pid: int) -> int:
    """Anonymous resident memory (heap, arrays: what data costs), without mapped library files."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Peak RSS of this process (and of its children) per phase, sampled every 50 ms."""

    def __init__(self):
        super().__init__(daemon=True)
        self.me = psutil.Process()
        self.phase = "setup"
        self.peaks: dict[str, dict] = {}
        self.stop = threading.Event()

    def mark(self, phase: str) -> None:
        self.sample()
        self.phase = phase
        self.sample()

    def sample(self) -> None:
        rss = self.me.memory_info().rss
        anon = rss_anon(self.me.pid)
        children = 0
        for child in self.me.children(recursive=True):
            try:
                children += child.memory_info().rss
            except psutil.Error:
                pass
        peak = self.peaks.setdefault(self.phase, {"rss": 0, "anon": 0, "children": 0, "start": time.perf_counter()})
        peak["rss"], peak["children"] = max(peak["rss"], rss), max(peak["children"], children)
        peak["anon"] = max(peak["anon"], anon)
        peak["end"] = time.perf_counter()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.sample()


def prescore(job) -> int:
    """One ``utt score`` line per trial of the job's test set for each of its codecs, streamed from the key file."""
    from spoofbench.engine.scoring import score_file_stem

    folder = Path(job.score_dir)
    folder.mkdir(parents=True, exist_ok=True)
    lines = 0
    for cell in job.cells:
        rng = random.Random(f"{cell.codec}")
        with open(job.test_set.keys_path, encoding="utf-8") as keys, \
                open(folder / f"{score_file_stem(job.test_set.name, cell.codec)}.txt", "w", encoding="utf-8") as out:
            for line in keys:
                parts = line.split()
                mean = 1.0 if parts[-1] == "bonafide" else -1.0
                out.write(f"{parts[1]} {rng.gauss(mean, 1.0):.6f}\n")
                lines += 1
    return lines


def snapshot(label: str) -> None:
    import tracemalloc

    if not tracemalloc.is_tracing():
        return
    current, peak = tracemalloc.get_traced_memory()
    print(f"tracemalloc {label}: current {current / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB", flush=True)
    for stat in tracemalloc.take_snapshot().statistics("lineno")[:12]:
        print(f"   {stat.size / 2**20:8.1f} MiB  {stat.count:9d} blocks  {stat.traceback[0]}", flush=True)


def child(config_path: str, out: str, mode: str, trace: bool) -> None:
    if trace:
        import tracemalloc
        tracemalloc.start(1)
    sampler = Sampler()
    sampler.start()
    from spoofbench.runner.executor import LocalExecutor
    from spoofbench.runner.jobs import ScoreJob
    from spoofbench.runner.benchmark import run_benchmark

    class PhaseExecutor(LocalExecutor):
        def run(self, jobs, on_result, on_start=None):
            snapshot("after setup (gather inputs, plan)")
            def started(job):
                if isinstance(job, ScoreJob):
                    sampler.mark("prescore (bench only)" if mode == "full" else "score jobs")
                    if mode == "full":
                        prescore(job)
                    sampler.mark("score jobs")
                else:
                    sampler.mark("train")
                if on_start is not None:
                    on_start(job)
            super().run(jobs, on_result, started)
            snapshot("after the jobs")
            sampler.mark("render (result.json, tables, plots)")

    start = time.perf_counter()
    result = run_benchmark(config_path, out, progress=False, log=lambda msg: None, executor=PhaseExecutor())
    sampler.mark("done")
    sampler.stop.set()
    cells = [c for c in result["cells"] if "metrics" in c]
    print("RESULT " + json.dumps({"mode": mode, "seconds": time.perf_counter() - start, "peaks": {
        k: {"rss": v["rss"], "anon": v["anon"], "children": v["children"], "seconds": v["end"] - v["start"]}
        for k, v in sampler.peaks.items() if k != "done"},
        "cells": len(cells), "failed": len(result["cells"]) - len(cells),
        "n_scored": [c["n_scored"] for c in cells]}), flush=True)


# ---------------------------------------------------------------------------------------- parent
def run_child(config: Path, out: Path, mode: str, trace: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(config), str(out)] + (["--tracemalloc"] if trace else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if not line.startswith("RESULT "):
            print("  " + line)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(next(line[7:] for line in proc.stdout.splitlines() if line.startswith("RESULT ")))


def report(result: dict, trials: int) -> float:
    print(f"\n{result['mode']}: {trials:,} trials, {result['cells']} cells ({result['failed']} failed), "
          f"n_scored {sorted(set(result['n_scored']))}, {result['seconds']:.0f} s")
    print(f"  {'phase':38} {'peak RSS':>10} {'of it anon':>10} {'children':>10} {'seconds':>8}")
    for phase, peak in result["peaks"].items():
        print(f"  {phase:38} {peak['rss'] / 2**20:6.0f} MiB {peak['anon'] / 2**20:6.0f} MiB "
              f"{peak['children'] / 2**20:6.0f} MiB {peak['seconds']:8.1f}")
    # The runner's own RSS; children (short forks such as `git rev-parse`, DataLoader workers when
    # num_workers > 0) share its pages copy-on-write, so they are shown apart, not added.
    return max(p["rss"] for k, p in result["peaks"].items() if "bench only" not in k)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[3], sys.argv[4], sys.argv[2], "--tracemalloc" in sys.argv)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=600_000)
    parser.add_argument("--score-trials", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=64)
    parser.add_argument("--codecs", nargs="+", default=DEFAULT_CODECS)
    parser.add_argument("--keep", help="build the data here and keep it (default: a temp folder, deleted)")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="spoofbench-scale-"))
    try:
        t0 = time.perf_counter()
        configs = build(root, args.trials, args.score_trials, args.pool, args.codecs)
        print(f"data: {args.trials:,} + {args.score_trials:,} trials over {args.pool} clips of 0.1 s, codecs "
              f"{args.codecs}, built in {time.perf_counter() - t0:.0f} s under {root}; load {os.getloadavg()[0]:.1f}")
        peak_full = report(run_child(configs["full"], root / "run_full", "full", args.tracemalloc), args.trials)
        peak_subset = report(run_child(configs["subset"], root / "run_subset", "subset", False), args.score_trials)
        peak = max(peak_full, peak_subset)
        verdict = "MET" if peak < GOAL_BYTES else "NOT MET"
        print(f"\nSUMMARY peak_rss_full={peak_full / 2**20:.0f}MiB peak_rss_subset={peak_subset / 2**20:.0f}MiB "
              f"goal=1536MiB verdict={verdict} load={os.getloadavg()[0]:.1f}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
