"""The one audio reader vs plain soundfile: clips/s on real LibriSpeech FLAC.

* before: ``soundfile.read`` (float32, channels averaged, NaN check) — the engine's old reader;
* after: :func:`spoofbench.audio_io.read_audio` (libsndfile first, PyAV fallback, same checks);
* pyav: every clip through PyAV, for scale (what reading everything with FFmpeg would cost);
* the ASVspoof 2021 samples: how many clips each reader decodes (libsndfile alone loses five).

Rounds alternate (before, after, before, after, ...) and the best round of each is reported, so
a busy machine hurts both alike. Also the 44.1 → 16 kHz resampler: soxr vs scipy's resample_poly.

    python perf/bench_reader.py [--clips 200] [--rounds 3]
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from spoofbench import audio_io

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


def read_soundfile(path: Path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(wave)):
        raise ValueError("non-finite")
    return wave


def read_ours(path: Path) -> np.ndarray:
    return audio_io.read_audio(path)[0]


def read_pyav(path: Path) -> np.ndarray:
    stream = audio_io.open_stream(path, decoder=audio_io.PYAV)
    return np.concatenate(list(stream.blocks())).mean(axis=1)


def clips_per_second(reader, paths: list[Path]) -> tuple[float, float]:
    start = time.perf_counter()
    seconds = 0.0
    for path in paths:
        seconds += len(reader(path)) / 16000
    elapsed = time.perf_counter() - start
    return len(paths) / elapsed, seconds / elapsed


def decodable(reader, paths: list[Path]) -> int:
    ok = 0
    for path in paths:
        try:
            reader(path)
            ok += 1
        except Exception:  # noqa: BLE001 - counting what each reader survives
            pass
    return ok


def resampler_rates(repeats: int = 50) -> dict[str, float]:
    from scipy.signal import resample_poly

    wave = np.random.default_rng(0).uniform(-0.5, 0.5, 44100 * 4).astype(np.float32)
    out = {}
    for name, fn in (("soxr HQ", lambda: audio_io.resample(wave, 44100, 16000)),
                     ("scipy resample_poly", lambda: resample_poly(wave.astype(np.float64), 160, 441))):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        out[name] = repeats * 4 / (time.perf_counter() - start)  # seconds of audio per second
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = sorted((SHARED / "librispeech").rglob("*.flac"))[: args.clips]
    if not paths:
        raise SystemExit(f"no LibriSpeech FLAC under {SHARED / 'librispeech'}")
    for path in paths[:20]:  # warm the page cache
        path.read_bytes()
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name, reader in (("before (soundfile)", read_soundfile), ("after (audio_io)", read_ours),
                             ("pyav only", read_pyav)):
            rate = clips_per_second(reader, paths)
            if rate[0] > best.get(name, (0.0, 0.0))[0]:
                best[name] = rate
    print(f"{platform.processor() or platform.machine()}, libsndfile/pyav {audio_io.decoder_versions()}")
    print(f"LibriSpeech FLAC, {len(paths)} clips, best of {args.rounds} rounds:")
    for name, (clips, realtime) in best.items():
        print(f"  {name:20} {clips:8.1f} clips/s  {realtime:8.0f}x real time")
    ratio = best["after (audio_io)"][0] / best["before (soundfile)"][0]
    print(f"  after / before: {ratio:.2f}")
    samples = sorted((SHARED / "asvspoof2021_samples" / "flac").glob("*.flac"))
    if samples:
        print(f"ASVspoof 2021 samples decoded: soundfile {decodable(read_soundfile, samples)}/{len(samples)}, "
              f"audio_io {decodable(read_ours, samples)}/{len(samples)}")
    for name, rate in resampler_rates().items():
        print(f"resample 44.1 -> 16 kHz, {name}: {rate:,.0f}x real time")


if __name__ == "__main__":
    main()
