"""Header probing throughput: serial soundfile.info baseline vs spoofbench's probe (header
parser, thread pool) with a cold and a warm cache.

Builds a synthetic tree of N tiny WAV/FLAC files under /tmp (reused across runs), then probes it
three ways in one process and prints files/s and the ratios to the serial baseline. Also times
streaming a manifest of N trials through ``prepare``-style probing + ``write_manifest``.

    python perf/bench_probe.py --n 100000
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from spoofbench.corpora.manifest import Trial, read_manifest, write_manifest
from spoofbench.corpora.probe import ProbeCache, default_workers, probe_files, probe_trials


def build_tree(root: Path, n: int) -> list[str]:
    """N tiny files (0.05 s, 16 kHz; every 10th a FLAC) in folders of 1,000."""
    marker = root / f".complete_{n}"
    paths = [str(root / f"d{i // 1000:04d}" / (f"{i:07d}.flac" if i % 10 == 0 else f"{i:07d}.wav"))
             for i in range(n)]
    if marker.exists():
        return paths
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(800)).astype(np.float32)
    wav_bytes = flac_bytes = None
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if path.endswith(".flac"):
            if flac_bytes is None:
                soundfile.write(path, wave, 16000)
                flac_bytes = Path(path).read_bytes()
            else:
                Path(path).write_bytes(flac_bytes)
        else:
            if wav_bytes is None:
                soundfile.write(path, wave, 16000)
                wav_bytes = Path(path).read_bytes()
            else:
                Path(path).write_bytes(wav_bytes)
    marker.touch()
    return paths


def timed(label: str, fn) -> float:
    start = time.perf_counter()
    count = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<38} {count:>8,} files {seconds:8.2f} s {count / seconds:>10,.0f} files/s")
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--tree", default=os.path.join(tempfile.gettempdir(), "spoofbench_probe_tree"))
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()

    root = Path(args.tree)
    start = time.perf_counter()
    paths = build_tree(root, args.n)
    print(f"tree: {args.n:,} files under {root} ({time.perf_counter() - start:.1f} s to build/check)")
    print(f"cpu cores: {os.cpu_count()}, probe threads: {args.workers}")
    cache_dir = Path(tempfile.mkdtemp(prefix="spoofbench_probe_cache_"))
    try:
        def run(**kwargs):
            results = probe_files(paths, **kwargs)
            return sum(1 for r in results if r.ok)

        serial = timed("baseline: serial soundfile.info loop",
                       lambda: sum(1 for p in paths if soundfile.info(p).frames >= 0))
        timed("probe_files serial, no cache", lambda: run(serial=True))
        timed("probe_files thread pool, no cache", lambda: run(workers=args.workers))
        cold = ProbeCache(cache_dir)
        parallel_cold = timed("thread pool, cold cache (fills it)",
                              lambda: run(cache=cold, workers=args.workers))
        cold.close()
        warm = ProbeCache(cache_dir)
        parallel_warm = timed("thread pool, warm cache", lambda: run(cache=warm, workers=args.workers))
        serial_warm = timed("serial, warm cache", lambda: run(cache=warm, serial=True))
        print(f"ratios vs the soundfile.info baseline: cold pool {parallel_cold / serial:.2f}x, warm pool "
              f"{parallel_warm / serial:.2f}x, warm serial {serial_warm / serial:.2f}x")

        manifest = cache_dir / "bench.jsonl.gz"
        prefix = len(str(root)) + 1
        trials = (Trial(f"u{i}", p[prefix:], "spoof" if i % 2 else "bonafide",
                        "bench", "all", attack="A01" if i % 2 else "bonafide")
                  for i, p in enumerate(paths))
        timed("probe_trials (warm) + write_manifest",
              lambda: write_manifest(manifest, (t for t, _ in probe_trials(
                  trials, root, cache=warm, workers=args.workers))))
        timed("read_manifest (stream)", lambda: sum(1 for _ in read_manifest(manifest)))
        print(f"manifest: {manifest.stat().st_size / 1e6:.1f} MB gzip for {args.n:,} trials")
        warm.close()
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
