"""The signal steps of a channel condition (laundering, reverberation, replay, silence padding).

Each function takes ``(x, rate, step, rng_seed, key)``-style arguments, is pure given them and
returns a 1-D float64 array. The libraries doing the work are the kept ones: soxr / scipy
(resampling), pyloudnorm (loudness), colorednoise (coloured noise), scipy.signal (filters),
pyroomacoustics (room impulse responses). silero-vad trimming lives in :mod:`.vad`.
"""
from __future__ import annotations

import threading
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import signal

from spoofbench.errors import CodecError

_EPS = 1e-12


def power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x))) if len(x) else 0.0


# ---------------------------------------------------------------------------------------- resampling
def _resample_once(x: np.ndarray, src: int, dst: int, resampler: str, quality: str) -> np.ndarray:
    if src == dst:
        return x
    if resampler == "soxr":
        import soxr
        return soxr.resample(np.ascontiguousarray(x, dtype=np.float64), src, dst, quality=quality)
    ratio = Fraction(dst, src)
    return signal.resample_poly(x, ratio.numerator, ratio.denominator, window=("kaiser", 5.0))


def resample_chain(x: np.ndarray, rate: int, step) -> np.ndarray:
    """``rate → rates[0] → … → rates[-1] → rate``; the output has exactly the input's length."""
    y, current = x, rate
    for target in (*step.rates, rate):
        y = _resample_once(y, current, int(target), step.resampler, step.quality)
        current = int(target)
    return fit(y, len(x))


def fit(x: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad ``x`` at the end to ``length``."""
    if len(x) >= length:
        return x[:length]
    return np.concatenate([x, np.zeros(length - len(x), x.dtype)])


# ---------------------------------------------------------------------------------------- loudness
def loudness(x: np.ndarray, rate: int, step) -> np.ndarray:
    """Integrated loudness → ``step.target_lufs`` (pyloudnorm); a clip shorter than the 400 ms
    gating block is measured with one block as long as the clip."""
    import pyloudnorm

    block = min(0.4, len(x) / rate)
    if block * rate < 64 or power(x) < _EPS:
        return x
    meter = pyloudnorm.Meter(rate, block_size=block)
    measured = meter.integrated_loudness(x)
    if not np.isfinite(measured):  # every block gated out as silence
        return x
    y = x * (10.0 ** ((step.target_lufs - measured) / 20.0))
    peak = float(np.max(np.abs(y)))
    if step.peak_limit is not None and peak > step.peak_limit:
        y = y * (step.peak_limit / peak)
    return y


# ---------------------------------------------------------------------------------------- noise
_BETA = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def coloured_noise(color: str, n: int, seed: int) -> np.ndarray:
    """Unit-power Gaussian 1/f^beta noise (colorednoise)."""
    import colorednoise

    noise = np.asarray(colorednoise.powerlaw_psd_gaussian(_BETA[color], n, random_state=np.random.default_rng(seed)),
                       dtype=np.float64)
    noise = noise - noise.mean()
    return noise / np.sqrt(power(noise) + _EPS)


def add_noise(x: np.ndarray, rate: int, step, seed: int, key: str) -> np.ndarray:
    """``x + noise`` at ``step.snr_db`` below the clip's power; a silent clip passes unchanged."""
    p = power(x)
    if p < _EPS:
        return x
    if step.color == "babble":
        noise = babble(len(x), rate, step.talkers, step.babble_split, seed, key)
    else:
        noise = coloured_noise(step.color, len(x), seed)
    return x + noise * np.sqrt(p / 10.0 ** (step.snr_db / 10.0))


# ---------------------------------------------------------------------------------------- babble
DEMO_DIR = Path(__file__).resolve().parent.parent / "data_manifests" / "demo"
_BABBLE_LOCK = threading.Lock()


def _demo_dir() -> Path:
    try:  # installed: spoofbench.data_manifests/demo
        from spoofbench import data_manifests
        return Path(data_manifests.__file__).resolve().parent / "demo"
    except ImportError:  # pragma: no cover - the package always ships it
        return DEMO_DIR


@lru_cache(maxsize=8)
def babble_pool(split: str) -> tuple[tuple[str, str, str], ...]:
    """``(clip_id, speaker, path)`` of the vendored bona fide demo speech in ``split`` of corpus A
    (data_manifests/demo/index.tsv), one utterance (chunk 0) per source file, sorted by clip id."""
    index = _demo_dir() / "index.tsv"
    try:
        lines = index.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise CodecError(f"babble noise needs the vendored demo speech: cannot read {index}: {err}") from err
    header = lines[0].split("\t")
    col = {name: i for i, name in enumerate(header)}
    rows = []
    for line in lines[1:]:
        cells = line.split("\t")
        if cells[col["corpus"]] == "A" and cells[col["split"]] == split and cells[col["chunk"]] == "0":
            rows.append((cells[col["clip_id"]], cells[col["speaker"]], str(index.parent / cells[col["path"]])))
    if not rows:
        raise CodecError(f"{index}: no bona fide clips in corpus A split {split!r} for babble noise")
    return tuple(sorted(rows))


def _speaker_tokens(speaker: str) -> tuple[str, ...]:
    """Ways a speaker's id shows in a trial key: ``libri6415`` → ``libri6415``, ``-6415-``, ``_6415_``."""
    digits = "".join(ch for ch in speaker if ch.isdigit())
    tokens = [speaker.lower()]
    if digits:
        tokens += [f"-{digits}-", f"_{digits}_", f"librispeech-{digits}"]
    return tuple(tokens)


def babble_talkers(key: str, talkers: int, split: str, seed: int) -> list[tuple[str, str, str]]:
    """The ``talkers`` pool entries (distinct speakers, none named in ``key``) a clip's babble uses."""
    pool = babble_pool(split)
    lowered = f"-{key.lower()}-"
    allowed = [row for row in pool if not any(tok in lowered for tok in _speaker_tokens(row[1]))]
    order = np.random.default_rng(seed).permutation(len(allowed))
    chosen, speakers = [], set()
    for i in order:
        row = allowed[int(i)]
        if row[1] not in speakers:
            chosen.append(row)
            speakers.add(row[1])
        if len(chosen) == talkers:
            break
    if len(chosen) < talkers:
        raise CodecError(f"babble needs {talkers} other speakers; split {split!r} has {len(chosen)} usable")
    return chosen


@lru_cache(maxsize=256)
def _talker_audio(path: str, rate: int) -> np.ndarray:
    from spoofbench.audio_io import read_audio

    wave, _ = read_audio(path, sample_rate=rate)
    wave = np.asarray(wave, dtype=np.float64)
    return wave / np.sqrt(power(wave) + _EPS)


def babble(n: int, rate: int, talkers: int, split: str, seed: int, key: str) -> np.ndarray:
    """Unit-power babble: the chosen talkers, each looped to ``n`` samples from a seeded offset, summed."""
    rng = np.random.default_rng(seed)
    mix = np.zeros(n)
    for _, _, path in babble_talkers(key, talkers, split, seed):
        with _BABBLE_LOCK:
            talker = _talker_audio(path, rate)
        start = int(rng.integers(0, len(talker)))
        reps = -(-(start + n) // len(talker))
        mix += np.tile(talker, reps)[start:start + n]
    mix = mix - mix.mean()
    return mix / np.sqrt(power(mix) + _EPS)


# ---------------------------------------------------------------------------------------- clip, band
def clip(x: np.ndarray, step) -> np.ndarray:
    return np.clip(x * 10.0 ** (step.gain_db / 20.0), -step.level, step.level)


@lru_cache(maxsize=128)
def _sos(low: float | None, high: float | None, order: int, rate: int) -> np.ndarray | None:
    nyquist = rate / 2.0
    low = low if low is not None and low < nyquist * 0.98 else None
    high = high if high is not None and high < nyquist * 0.98 else None
    if low is None and high is None:
        return None
    if low is not None and high is not None:
        return signal.butter(order, [low / nyquist, high / nyquist], btype="bandpass", output="sos")
    if low is not None:
        return signal.butter(order, low / nyquist, btype="highpass", output="sos")
    return signal.butter(order, high / nyquist, btype="lowpass", output="sos")


def band(x: np.ndarray, rate: int, low: float | None, high: float | None, order: int) -> np.ndarray:
    """Zero-phase Butterworth (``sosfiltfilt``); too short a clip or no cut-off below Nyquist passes."""
    sos = _sos(low, high, int(order), int(rate))
    if sos is None or len(x) <= 3 * (2 * len(sos) + 1):
        return x
    return signal.sosfiltfilt(sos, x)


# ---------------------------------------------------------------------------------------- rooms
_RIR_LOCK = threading.Lock()


def _rir_params(step) -> tuple:
    return (step.room, step.rt60, step.source, step.mic, step.max_rir_s)


@lru_cache(maxsize=64)
def room_rir(room: tuple, rt60: float, source: tuple, mic: tuple, max_rir_s: float, rate: int) -> tuple[np.ndarray, int]:
    """The image-source RIR (pyroomacoustics ShoeBox, absorption and order from ``rt60`` by
    inverse Sabine) and its direct-path sample index. Deterministic: no random image sources."""
    import pyroomacoustics as pra

    for name, point in (("source", source), ("mic", mic)):
        if any(p >= r for p, r in zip(point, room)):
            raise CodecError(f"reverb: {name} {list(point)} is outside the room {list(room)}")
    try:
        absorption, max_order = pra.inverse_sabine(rt60, list(room))
    except ValueError as err:
        raise CodecError(f"reverb: rt60 {rt60} s cannot be reached in a {list(room)} m room: {err}") from err
    shoebox = pra.ShoeBox(list(room), fs=int(rate), materials=pra.Material(absorption), max_order=int(max_order),
                          use_rand_ism=False, air_absorption=False)
    shoebox.add_source(list(source))
    shoebox.add_microphone(np.array(mic, dtype=float).reshape(3, 1))
    shoebox.compute_rir()
    rir = np.asarray(shoebox.rir[0][0], dtype=np.float64)[: int(max_rir_s * rate)]
    distance = float(np.linalg.norm(np.subtract(source, mic)))
    # pyroomacoustics centres each image's fractional-delay filter: the direct path lands near here.
    expected = int(round(distance / pra.constants.get("c") * rate)) + pra.constants.get("frac_delay_length") // 2
    window = slice(max(0, expected - 40), expected + 40)
    direct = window.start + int(np.argmax(np.abs(rir[window])))
    return rir, direct


def reverb(x: np.ndarray, rate: int, step) -> np.ndarray:
    """Convolve with the room's RIR, align to the direct path, keep length and RMS, mix ``wet``."""
    with _RIR_LOCK:
        rir, direct = room_rir(*_rir_params(step), int(rate))
    wet = signal.fftconvolve(x, rir)[direct:direct + len(x)]
    wet = fit(wet, len(x))
    scale = np.sqrt(power(x) / (power(wet) + _EPS)) if power(wet) > _EPS else 0.0
    wet = wet * scale
    return step.wet * wet + (1.0 - step.wet) * x


# ---------------------------------------------------------------------------------------- replay
def replay(x: np.ndarray, rate: int, step, seed: int) -> np.ndarray:
    """Loudspeaker band + tanh soft clipping → room → microphone band → pink noise floor."""
    y = band(x, rate, step.speaker_band[0], step.speaker_band[1], 2)
    peak = float(np.max(np.abs(y)))
    if step.drive > 0 and peak > _EPS:
        y = peak * np.tanh(step.drive * y / peak) / np.tanh(step.drive)
    y = reverb(y, rate, step.room)
    y = band(y, rate, step.mic_band[0], step.mic_band[1], 2)
    p = power(y)
    if p > _EPS:
        y = y + coloured_noise("pink", len(y), seed) * np.sqrt(p / 10.0 ** (step.noise_floor_db / 10.0))
    return y


# ---------------------------------------------------------------------------------------- silence
def silence_pad(x: np.ndarray, rate: int, step) -> np.ndarray:
    n = int(round(step.seconds * rate))
    head = {"both": n // 2, "start": n, "end": 0}[step.where]
    return np.concatenate([np.zeros(head), x, np.zeros(n - head)])
