"""Signal steps around the codec: resampling, band-limiting, alignment, frame loss.

All functions take and return 1-D float64 numpy arrays ``(samples,)``; none keeps state, so the
chain is deterministic.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from scipy import signal

from spoofbench import audio_io

#: The one resampler used everywhere (named in every condition's provenance): spoofbench.audio_io's.
RESAMPLER = audio_io.resampler_name()


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``(n,) → (≈ n·to/from,)`` through :func:`spoofbench.audio_io.resample` (soxr); identity when
    the rates match."""
    return audio_io.resample(x, from_rate, to_rate)


@lru_cache(maxsize=64)
def _band_sos(low: float, high: float, order: int, rate: int) -> np.ndarray:
    nyquist = rate / 2
    high = min(high, nyquist * 0.98)
    return signal.butter(order, [low / nyquist, high / nyquist], btype="bandpass", output="sos")


def band_limit(x: np.ndarray, rate: int, band: tuple[float, float], order: int) -> np.ndarray:
    """Zero-phase Butterworth band-pass (``sosfiltfilt``), so the output stays time-aligned."""
    if len(x) <= 3 * (2 * order + 1):
        return x  # too short to filter; sosfiltfilt needs padlen samples
    return signal.sosfiltfilt(_band_sos(float(band[0]), float(band[1]), int(order), int(rate)), x)


def fit_length(x: np.ndarray, start: int, length: int) -> np.ndarray:
    """``x[start:start+length]``, zero-padded at the end (and at the start when ``start < 0``)."""
    if start < 0:
        x = np.concatenate([np.zeros(-start, x.dtype), x])
        start = 0
    out = x[start:start + length]
    if len(out) < length:
        out = np.concatenate([out, np.zeros(length - len(out), x.dtype)])
    return out


def estimate_delay(reference: np.ndarray, coded: np.ndarray, max_lag: int) -> tuple[int, float]:
    """Lag (samples, ``coded`` later than ``reference`` when > 0) maximising the cross-correlation
    within ``[-max_lag, max_lag]``, and the normalised peak value. Falls back to the energy envelope
    when the waveform correlation is weak (vocoders do not keep the phase)."""
    n = len(reference)
    lag, peak = _xcorr_lag(reference, coded[:n + max_lag], max_lag)
    if peak < 0.3:
        frame = max(1, n // 400)
        env_ref = _envelope(reference, frame)
        env_cod = _envelope(coded[:n + max_lag], frame)
        coarse, env_peak = _xcorr_lag(env_ref - env_ref.mean(), env_cod - env_cod.mean(), max_lag // frame + 1)
        return coarse * frame, min(peak, env_peak)
    return lag, peak


def _envelope(x: np.ndarray, frame: int) -> np.ndarray:
    usable = len(x) // frame * frame
    return np.sqrt((x[:usable].reshape(-1, frame) ** 2).mean(axis=1))


def _xcorr_lag(reference: np.ndarray, coded: np.ndarray, max_lag: int) -> tuple[int, float]:
    corr = signal.correlate(coded, reference, mode="full", method="fft")
    lags = np.arange(-len(reference) + 1, len(coded))
    keep = np.abs(lags) <= max_lag
    corr, lags = corr[keep], lags[keep]
    best = int(np.argmax(corr))
    norm = float(np.sqrt(np.dot(reference, reference) * np.dot(coded, coded))) or 1.0
    return int(lags[best]), float(corr[best] / norm)


def loss_seed(key: str, condition_id: str) -> int:
    """A 64-bit seed from the trial key and the condition id (stable across runs and machines)."""
    digest = hashlib.sha256(f"{condition_id}\0{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def erase_frames(x: np.ndarray, rate: int, loss_rate: float, frame_ms: float, seed: int,
                 concealment_gain: float) -> tuple[np.ndarray, np.ndarray]:
    """Erase a ``loss_rate`` fraction of ``frame_ms`` frames (Bernoulli, seeded) and conceal each
    by repeating the previous received frame scaled by ``concealment_gain`` (gain compounds over
    consecutive losses). Returns the signal and the boolean loss mask ``(frames,)``."""
    frame = max(1, int(round(rate * frame_ms / 1000)))
    n_frames = -(-len(x) // frame)
    lost = np.random.default_rng(seed).random(n_frames) < loss_rate
    if not lost.any():
        return x, lost
    out = x.copy()
    previous = np.zeros(frame, x.dtype)
    for i in range(n_frames):
        segment = slice(i * frame, min((i + 1) * frame, len(x)))
        width = segment.stop - segment.start
        if lost[i]:
            previous = previous * concealment_gain
            out[segment] = previous[:width]
        else:
            previous = np.zeros(frame, x.dtype)
            previous[:width] = out[segment]
    return out, lost
