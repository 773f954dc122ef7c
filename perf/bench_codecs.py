"""Codec-matrix throughput: seconds of audio coded per wall second.

Runs the default matrix over N real speech clips (LibriSpeech in ../shared, cut to 3.5 s) with
spoofbench.codecs on a process pool (both cores), and compares with
  (a) what research scripts do: one ffmpeg process per clip and step, temp files (2 threads), and
  (b) the engine's own bound: each condition's engine run once over the concatenated clips
      (one process), against spoofbench per clip in one process on the same clips (the ratio of
      the two totals is the harmonic mean over conditions); also the pool against 2x the bound.
Usage: python perf/bench_codecs.py [--clips 200] [--baseline-clips 30] [--bound-clips 60]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from spoofbench.codecs import apply_condition, condition_provenance, dsp, get_matrix
from spoofbench.codecs.engines import select_engine

RATE = 16000
SECONDS = 3.5
LIBRISPEECH = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "librispeech"
_CLIPS: list[np.ndarray] = []
_EXT = {"mp3": "mp3", "aac": "m4a", "opus": "opus", "vorbis": "ogg", "speex": "spx", "gsm": "gsm",
        "pcm_mulaw": "wav", "pcm_alaw": "wav", "adpcm_g722": "g722", "adpcm_g726": "wav", "codec2": "c2"}


def load_clips(count: int) -> list[np.ndarray]:
    files = sorted(LIBRISPEECH.glob("*/*.flac"))
    if not files:
        raise SystemExit(f"no LibriSpeech clips under {LIBRISPEECH}")
    clips = []
    for path in files:
        x, sr = sf.read(str(path), dtype="float32")
        if sr == RATE and len(x) >= int(RATE * SECONDS):
            clips.append(x[: int(RATE * SECONDS)])
        if len(clips) == count:
            break
    return clips


def _work(task: tuple[str, int, int]) -> tuple[int, list[str]]:
    cid, start, stop = task
    failures = []
    for i in range(start, stop):
        try:
            apply_condition(_CLIPS[i], RATE, cid, key=f"clip{i}")
        except Exception as err:  # recorded, the run goes on
            failures.append(f"{cid} clip{i}: {err}")
    return stop - start, failures


def run_ours(conditions, clips, workers: int) -> tuple[float, float, dict]:
    """Total audio seconds and wall seconds for the whole matrix on a process pool."""
    chunk = 20
    tasks = [(c.id, s, min(s + chunk, len(clips))) for c in conditions for s in range(0, len(clips), chunk)]
    start = time.perf_counter()
    failures: list[str] = []
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        for _done, failed in tqdm(pool.map(_work, tasks), total=len(tasks), desc="matrix"):
            failures += failed
    wall = time.perf_counter() - start
    return len(conditions) * len(clips) * SECONDS, wall, {"failures": failures}


def _baseline_clip(condition, x: np.ndarray) -> None:
    """One clip the research-script way: wav → ffmpeg encode → file → ffmpeg decode → wav."""
    with tempfile.TemporaryDirectory() as tmp:
        src, coded, out = Path(tmp, "in.wav"), Path(tmp, f"coded.{_EXT[condition.codec]}"), Path(tmp, "out.wav")
        sf.write(src, x, RATE)
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-ac", "1",
               "-ar", str(condition.sample_rate or RATE), "-c:a", condition.encoder]
        if condition.bitrate:
            cmd += ["-b:a", str(condition.bitrate)]
        if condition.quality is not None:
            cmd += ["-q:a", str(condition.quality)]
        for key, value in condition.options:
            cmd += [f"-{key}", value]
        if condition.channel is not None and condition.channel.band is not None:
            cmd += ["-af", f"highpass=f={condition.channel.band[0]},lowpass=f={condition.channel.band[1]}"]
        subprocess.run(cmd + [str(coded)], check=True)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(coded), "-ar", str(RATE),
                        str(out)], check=True)
        sf.read(out, dtype="float32")


def run_baseline(conditions, clips, workers: int) -> tuple[float, float, list[str]]:
    from spoofbench.codecs.engines import ENGINES
    usable = [c for c in conditions if ENGINES["ffmpeg"].available(c)[0]]
    skipped = [c.id for c in conditions if c not in usable]
    jobs = [(c, x) for c in usable for x in clips]
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(tqdm(pool.map(lambda job: _baseline_clip(*job), jobs), total=len(jobs), desc="baseline (a)"))
    return len(jobs) * SECONDS, time.perf_counter() - start, skipped, usable


def breakdown(conditions, clips, *, quiet: bool = False) -> tuple[float, float, float]:
    """Per condition, one process: per-clip apply_condition vs the engine once over the concatenation
    (the engine's own bound). Returns (audio seconds, per-clip wall, bound wall) summed over conditions,
    so audio / wall is the harmonic mean of the per-condition throughputs."""
    long = np.concatenate(clips).astype(np.float64)
    audio = len(long) / RATE
    totals = [0.0, 0.0, 0.0]
    if not quiet:
        print(f"{'condition':16} {'engine':12} {'per-clip s/s':>12} {'bound s/s':>10} {'ratio':>6}")
    for cond in tqdm(conditions, desc="per-clip vs bound", disable=not quiet):
        apply_condition(clips[0], RATE, cond, key="warm")
        start = time.perf_counter()
        for i, x in enumerate(clips):
            apply_condition(x, RATE, cond, key=f"clip{i}")
        per_clip = time.perf_counter() - start
        engine, _ = select_engine(cond)
        rate = cond.sample_rate or RATE
        x = dsp.resample(long, RATE, rate)
        start = time.perf_counter()
        engine.code(x, rate, cond)
        bound = time.perf_counter() - start
        for j, value in enumerate((audio, per_clip, bound)):
            totals[j] += value
        if not quiet:
            print(f"{cond.id:16} {engine.name:12} {audio / per_clip:12.1f} {audio / bound:10.1f} "
                  f"{per_clip / bound:6.2f}")
    return totals[0], totals[1], totals[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--baseline-clips", type=int, default=30)
    parser.add_argument("--bound-clips", type=int, default=60)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--matrix", default="default")
    parser.add_argument("--breakdown", action="store_true",
                        help="only print per-condition per-clip vs bound throughput (one process)")
    args = parser.parse_args()

    global _CLIPS
    _CLIPS = load_clips(args.clips)
    conditions = [c for c in get_matrix(args.matrix) if not c.is_identity]
    print(f"{len(_CLIPS)} clips x {SECONDS} s, {len(conditions)} conditions, {args.workers} workers, "
          f"ffmpeg {shutil.which('ffmpeg')}")
    if args.breakdown:
        audio, per_clip, bound = breakdown(conditions, _CLIPS)
        print(f"whole matrix, one process: per-clip {audio / per_clip:.1f} s/s, bound {audio / bound:.1f} s/s "
              f"-> {per_clip / bound:.2f}x from the bound")
        return
    engines = {}
    for c in conditions:
        engines.setdefault(condition_provenance(c)["engine"], []).append(c.id)
    print("engines:", {k: len(v) for k, v in engines.items()})

    audio, wall, info = run_ours(conditions, _CLIPS, args.workers)
    ours = audio / wall
    print(f"spoofbench.codecs: {audio:.0f} s of audio in {wall:.1f} s = {ours:.1f} s/s "
          f"({len(info['failures'])} failures)")
    for line in info["failures"][:5]:
        print("  failure:", line)

    b_audio, b_wall, skipped, usable = run_baseline(conditions, _CLIPS[: args.baseline_clips], args.workers)
    base = b_audio / b_wall
    usable_ids = {c.id for c in usable}
    # Same condition set for a fair ratio: our throughput on the conditions the baseline can run.
    sub_audio, sub_wall, _ = run_ours([c for c in conditions if c.id in usable_ids], _CLIPS[: args.baseline_clips * 2],
                                      args.workers)
    ours_sub = sub_audio / sub_wall
    print(f"(a) ffmpeg process per clip + temp files, {args.workers} threads: {base:.1f} s/s "
          f"(skipped, no CLI encoder: {skipped}); spoofbench on the same conditions: {ours_sub:.1f} s/s "
          f"-> {ours_sub / base:.1f}x")

    bound_audio, per_clip_wall, bound_wall = breakdown(conditions, _CLIPS[: args.bound_clips], quiet=True)
    bound, per_clip = bound_audio / bound_wall, bound_audio / per_clip_wall
    print(f"(b) engine bound, one process over {args.bound_clips} concatenated clips: {bound:.1f} s/s; per clip in "
          f"one process: {per_clip:.1f} s/s -> {bound / per_clip:.2f}x from the bound; pool({args.workers}) / "
          f"(bound x{args.workers}) = {ours / (bound * args.workers):.2f}")
    print(f"SUMMARY clips={len(_CLIPS)} ours={ours:.1f} baseline_a={base:.1f} ours_same_conditions={ours_sub:.1f} "
          f"speedup_vs_a={ours_sub / base:.1f}x per_clip_1proc={per_clip:.1f} bound_b_1proc={bound:.1f} "
          f"bound_over_per_clip={bound / per_clip:.2f}x pool_fraction_of_{args.workers}x_bound="
          f"{ours / (bound * args.workers):.2f} load={os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
    main()
