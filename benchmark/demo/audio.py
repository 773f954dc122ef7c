"""Signal helpers shared by the bona fide and the spoofed clips of the demo corpus.

Every clip, bona fide or spoof, passes through the same steps (resample to 16 kHz, trim
silences, cut to at most ``max_seconds`` at a quiet point, loudness-normalise, write 16-bit
FLAC atomically) so that none of them tells the two labels apart.

Waves are 1-D float arrays ``(samples,)`` in [-1, 1].
"""
from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np

from ..atomic import atomic_path

#: The sample rate of every demo clip.
SAMPLE_RATE = 16_000
#: Frame and hop (samples at 16 kHz) of the energy analysis behind trimming and cutting.
_FRAME, _HOP = 400, 160
#: Frames this far below the loudest frame count as silence.
_SILENCE_DB = 40.0
#: Silences longer than this (seconds) inside a clip are shortened to it.
_MAX_PAUSE_S = 0.3
#: Active-speech level every clip is brought to (dBFS), before a per-clip jitter.
TARGET_DBFS = -26.0


def resample(wave: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling ``(samples,)`` at ``rate`` → ``(samples * target / rate,)``."""
    from scipy.signal import resample_poly

    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim == 2:  # (samples, channels) → mono
        wave = wave.mean(axis=1)
    if rate == target:
        return wave
    g = gcd(int(rate), int(target))
    return resample_poly(wave, target // g, rate // g)


def frame_db(wave: np.ndarray) -> np.ndarray:
    """Energy (dB) of frames of 25 ms every 10 ms: ``(frames,)``."""
    if len(wave) < _FRAME:
        wave = np.pad(wave, (0, _FRAME - len(wave)))
    n = 1 + (len(wave) - _FRAME) // _HOP
    idx = np.arange(_FRAME)[None, :] + _HOP * np.arange(n)[:, None]
    power = np.mean(np.square(wave[idx]), axis=1)
    return 10.0 * np.log10(power + 1e-12)


def trim_silences(wave: np.ndarray) -> np.ndarray:
    """Drop leading/trailing silence and shorten inner pauses to at most 0.3 s."""
    db = frame_db(wave)
    active = db > db.max() - _SILENCE_DB
    if not active.any():
        return wave[:0]
    keep = np.zeros(len(wave), dtype=bool)
    max_pause = int(_MAX_PAUSE_S * SAMPLE_RATE / _HOP)
    first, last = np.flatnonzero(active)[[0, -1]]
    run = 0
    for i in range(first, last + 1):
        run = 0 if active[i] else run + 1
        if run <= max_pause:
            keep[i * _HOP:i * _HOP + _FRAME] = True
    return wave[keep]


def cut_at_quiet_point(wave: np.ndarray, max_seconds: float, min_seconds: float) -> np.ndarray:
    """The first ``≤ max_seconds`` of ``wave``, ending at its quietest frame after ``min_seconds``."""
    max_n = int(max_seconds * SAMPLE_RATE)
    if len(wave) <= max_n:
        return wave
    db = frame_db(wave[:max_n])
    lo = int(min_seconds * SAMPLE_RATE) // _HOP
    if lo >= len(db):
        return wave[:max_n]
    end = (lo + int(np.argmin(db[lo:]))) * _HOP + _FRAME // 2
    return wave[:min(end, max_n)]


def shape_clip(wave: np.ndarray, max_seconds: float, min_seconds: float = 1.0) -> np.ndarray:
    """Trim silences, cut to ``≤ max_seconds`` at a quiet point, fade 5 ms in and out."""
    wave = trim_silences(np.asarray(wave, dtype=np.float64))
    wave = cut_at_quiet_point(wave, max_seconds, min_seconds).copy()
    fade = min(80, len(wave) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[-fade:] *= ramp[::-1]
    return wave


def active_level_db(wave: np.ndarray) -> float:
    """Gated RMS level (dBFS) over the frames within 20 dB of the loudest 10 %."""
    db = frame_db(wave)
    gate = np.percentile(db, 90) - 20.0
    loud = db[db > gate]
    return float(10.0 * np.log10(np.mean(10.0 ** (loud / 10.0)))) if len(loud) else -120.0


def normalise_loudness(wave: np.ndarray, gain_jitter_db: float = 0.0) -> np.ndarray:
    """Scale to ``TARGET_DBFS + gain_jitter_db`` active level; peaks are kept below 0.97."""
    level = active_level_db(wave)
    if level <= -119.0:
        return np.zeros_like(wave, dtype=np.float32)
    out = wave * 10.0 ** ((TARGET_DBFS + gain_jitter_db - level) / 20.0)
    peak = float(np.max(np.abs(out)))
    if peak > 0.97:
        out = out * (0.97 / peak)
    return out.astype(np.float32)


def write_flac_atomic(path: Path, wave: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit FLAC via a temp file in the same folder and ``os.replace``."""
    import soundfile as sf

    with atomic_path(path, suffix=".flac") as tmp:
        sf.write(tmp, wave, rate, format="FLAC", subtype="PCM_16")
