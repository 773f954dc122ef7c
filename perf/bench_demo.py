"""Wall time of the demo corpus generation: quick and full, 2 workers against 1, and a cache hit.

    python perf/bench_demo.py [--full] [--full-baseline]

Each build goes to a fresh temporary folder; the 1-worker quick build is the baseline the
2-worker figure is compared with in the same process.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings
from pathlib import Path

from spoofbench.demo import FULL_SIZES, QUICK_SIZES, DemoWarning, build_demo_corpus


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its finished children (workers, TTS)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _build(root: Path, quick: bool, workers: int) -> tuple[float, int]:
    start, cpu = time.perf_counter(), _cpu_s()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DemoWarning)
        corpus = build_demo_corpus(root, quick=quick, seed=0, progress=False, workers=workers)
    seconds = time.perf_counter() - start
    print(f"  ({'quick' if quick else 'full'}, {workers} worker(s): {_cpu_s() - cpu:.1f} CPU s)")
    clips = sum(c["bonafide"] + c["spoof"] for c in corpus.counts.values())
    if corpus.skipped:
        print(f"  skipped attacks: {sorted(corpus.skipped)}")
    return seconds, clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="also build the full corpus")
    parser.add_argument("--full-baseline", action="store_true",
                        help="also build the full corpus with 1 worker")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        tmp_path = Path(tmp)
        base_s, clips = _build(tmp_path / "quick1", True, 1)
        print(f"quick, 1 worker : {base_s:6.1f} s  {clips} clips  {clips / base_s:5.1f} clips/s")
        quick_s, clips = _build(tmp_path / "quick2", True, 2)
        print(f"quick, 2 workers: {quick_s:6.1f} s  {clips} clips  {clips / quick_s:5.1f} clips/s"
              f"  speed-up x{base_s / quick_s:.2f}")
        hit_s, _ = _build(tmp_path / "quick2", True, 2)
        print(f"quick, cache hit: {hit_s:6.2f} s  ({quick_s / hit_s:.0f}x faster than building)")
        sizes = QUICK_SIZES
        print(f"  quick sizes: {sizes}")
        if args.full or args.full_baseline:
            full_s, clips = _build(tmp_path / "full2", False, 2)
            print(f"full, 2 workers : {full_s:6.1f} s  {clips} clips  {clips / full_s:5.1f} clips/s")
            print(f"  full sizes: {FULL_SIZES}")
        if args.full_baseline:
            full1_s, clips = _build(tmp_path / "full1", False, 1)
            print(f"full, 1 worker  : {full1_s:6.1f} s  speed-up of 2 workers x{full1_s / full_s:.2f}")


if __name__ == "__main__":
    main()
