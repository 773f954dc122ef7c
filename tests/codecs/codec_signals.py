"""Test signals and quality measures for the codec tests."""
from __future__ import annotations


import numpy as np
from scipy import signal

from testenv import SHARED, ffmpeg_or_skip
LIBRISPEECH = SHARED / "corpora" / "librispeech"


def speech_like(rate: int = 16000, seconds: float = 3.0, seed: int = 7) -> np.ndarray:
    """A synthetic voiced-speech-like signal (T,) float32: a glottal pulse train with a wandering
    pitch (90–220 Hz) through three moving formant resonators, syllable-rate envelope, pauses."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    f0 = 150 + 60 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)) + 10 * rng.standard_normal(n).cumsum() / np.sqrt(n)
    phase = np.cumsum(f0 / rate)
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
    source = pulses + 0.02 * rng.standard_normal(n)
    out = np.zeros(n)
    block = rate // 10
    for start in range(0, n, block):
        seg = source[max(0, start - 512):start + block]
        y = seg
        for centre, bw in ((rng.uniform(400, 800), 80), (rng.uniform(1000, 2000), 120), (rng.uniform(2300, 3200), 200)):
            r = np.exp(-np.pi * bw / rate)
            a = [1, -2 * r * np.cos(2 * np.pi * centre / rate), r * r]
            y = signal.lfilter([1 - r], a, y) + 0.3 * y
        out[start:start + block] = y[-min(block, n - start):] if start else y[:block]
    knots = np.abs(rng.normal(0.6, 0.4, int(seconds * 5) + 2))
    knots[rng.random(len(knots)) < 0.2] = 0.01  # pauses
    envelope = np.interp(t, np.linspace(0, seconds, len(knots)), knots)
    x = out * envelope
    x = x - x.mean()
    return (0.1 * x / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def real_speech(count: int, rate: int = 16000, seconds: float = 3.0) -> list[tuple[str, np.ndarray]]:
    """Up to ``count`` LibriSpeech clips (name, (T,) float32), each cut to ``seconds``; [] when absent."""
    import soundfile as sf

    files = sorted(LIBRISPEECH.glob("*/*.flac"))[:count] if LIBRISPEECH.is_dir() else []
    clips = []
    for path in files:
        x, sr = sf.read(str(path), dtype="float32")
        if sr == rate:
            clips.append((path.stem, x[: int(rate * seconds)]))
    return clips


def reference_for(condition, x: np.ndarray, rate: int) -> np.ndarray:
    """What a perfect codec under ``condition`` would return: the same band limits and rates."""
    from spoofbench.codecs import dsp

    y = x.astype(np.float64)
    if condition.channel is not None and condition.channel.band is not None:
        y = dsp.band_limit(y, rate, condition.channel.band, condition.channel.band_order)
    code_rate = condition.sample_rate or rate
    if code_rate < rate:
        y = dsp.fit_length(dsp.resample(dsp.resample(y, rate, code_rate), code_rate, rate), 0, len(x))
    return y


def snr_db(reference: np.ndarray, coded: np.ndarray) -> float:
    noise = np.sum((reference - coded) ** 2)
    return float(10 * np.log10(np.sum(reference ** 2) / max(noise, 1e-20)))


def log_spectral_distance(reference: np.ndarray, coded: np.ndarray, rate: int, max_hz: float) -> float:
    """Mean over active frames of the RMS difference (dB) of log power spectra below ``max_hz``."""
    _, _, a = signal.stft(reference, rate, nperseg=512)
    f, _, b = signal.stft(coded, rate, nperseg=512)
    keep = (f > 100) & (f < max_hz)
    pa = np.abs(a[keep]) ** 2 + 1e-10
    pb = np.abs(b[keep]) ** 2 + 1e-10
    active = pa.sum(axis=0) > 1e-3 * pa.sum(axis=0).max()
    d = 10 * np.log10(pa[:, active]) - 10 * np.log10(pb[:, active])
    return float(np.mean(np.sqrt(np.mean(d ** 2, axis=0))))


def energy_above(x: np.ndarray, rate: int, hz: float) -> float:
    """Fraction of the signal's energy above ``hz``."""
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spectrum[freqs > hz].sum() / max(spectrum.sum(), 1e-20))


def envelope_lag(reference: np.ndarray, coded: np.ndarray, frame: int = 40, max_frames: int = 50) -> int:
    """Lag in samples (coded later > 0) maximising the correlation of frame energies."""
    def env(x):
        usable = len(x) // frame * frame
        e = np.log(np.mean(x[:usable].reshape(-1, frame) ** 2, axis=1) + 1e-8)
        return e - e.mean()
    a, b = env(reference), env(coded)
    best, best_lag = -np.inf, 0
    for lag in range(-max_frames, max_frames + 1):
        if lag >= 0:
            value = np.dot(a[: len(a) - lag], b[lag:])
        else:
            value = np.dot(a[-lag:], b[: len(b) + lag])
        if value > best:
            best, best_lag = value, lag
    return best_lag * frame


def needs_ffmpeg() -> None:
    """The ``require_ffmpeg`` fixture's guard, for a call inside a test: skip without ffmpeg, fail under CI=true."""
    ffmpeg_or_skip()
