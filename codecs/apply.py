"""Apply a codec condition to one clip: the public entry point of the codec matrix.

Channel conditions (laundering, reverb, replay, silence, neural codecs, chains with codecs) go
to :mod:`.channel_apply`; what follows describes the classic codec path.

``input rate → [band-limit] → coding rate → engine (encode+decode) → align (delay removed,
length = input) → [frame loss] → input rate``. The encoder's delay (priming, look-ahead, decoder
delay) is measured once per (condition, engine) by coding a fixed probe signal and
cross-correlating, then removed from every clip, so the output is time-aligned to the input.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from spoofbench.errors import CodecError

from . import channel_apply, dsp, neural
from .cache import CodecCache
from .catalog import get_condition
from .channel import ChannelCondition
from .condition import CodecCondition
from .engines import select_engine

_DELAYS: dict[tuple, int] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class CodingReport:
    """What one coding did: ``wave`` (T,) float32 at the input rate, the encoded payload size,
    the engine's name, the delay removed (samples at the decoder's rate) and whether it came
    from the cache (then ``encoded_bytes`` is None)."""

    wave: np.ndarray
    encoded_bytes: int | None
    engine: str
    delay: int
    cached: bool
    seconds: float


def _condition(condition: CodecCondition | ChannelCondition | str) -> CodecCondition | ChannelCondition:
    return get_condition(condition) if isinstance(condition, str) else condition


def coding_rate(condition: CodecCondition, input_rate: int) -> int:
    return condition.sample_rate or int(input_rate)


def condition_provenance(condition: CodecCondition | str) -> dict:
    """Engine, library and version that code ``condition`` here (for result.json), plus the
    resampler, the encoder and whether it can run at all (``available``, ``reason``)."""
    condition = _condition(condition)
    if isinstance(condition, ChannelCondition):
        return {**channel_apply.channel_provenance(condition), "resampler": dsp.RESAMPLER}
    out = {"condition": condition.id, "codec": condition.codec, "encoder": condition.encoder,
           "resampler": dsp.RESAMPLER}
    if condition.is_identity:
        return {**out, "engine": "none", "library": "-", "version": "-", "available": True, "reason": ""}
    engine, why = select_engine(condition)
    if engine is None:
        return {**out, "engine": None, "library": None, "version": None, "available": False, "reason": why}
    prov = engine.provenance_for(condition)
    return {**out, **prov, "available": True, "reason": ""}


def _probe(rate: int) -> np.ndarray:
    """1 s of seeded, band-limited noise at about -20 dBFS under a random (aperiodic) syllable-rate
    envelope: the delay probe. Aperiodic, so the cross-correlation has a single peak."""
    n = rate
    rng = np.random.default_rng(20240611)
    x = dsp.band_limit(rng.standard_normal(n), rate, (200.0, min(3400.0, 0.45 * rate)), 4)
    knots = rng.uniform(0.02, 1.0, size=21)  # one gain every 50 ms
    envelope = np.interp(np.arange(n), np.linspace(0, n, len(knots)), knots)
    x = x * envelope
    return 0.1 * x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def engine_delay(condition: CodecCondition, engine, rate: int) -> int:
    """Samples (at the decoder's output rate) the engine's output lags its input; measured once."""
    cache_key = (condition.codec, condition.encoder, condition.bitrate, condition.quality,
                 condition.options, engine.name, rate)
    with _LOCK:
        if cache_key in _DELAYS:
            return _DELAYS[cache_key]
    probe = _probe(rate)
    coded = engine.code(probe, rate, condition)
    reference = dsp.resample(probe, rate, coded.rate)
    lag, _ = dsp.estimate_delay(reference, coded.samples, max_lag=min(len(reference) // 2, 8192))
    lag = max(lag, 0)
    with _LOCK:
        _DELAYS[cache_key] = lag
    return lag


def _validate(wave, sample_rate, condition: CodecCondition, key: str) -> np.ndarray:
    where = f"condition {condition.id!r}, clip {key!r}"
    if not isinstance(wave, np.ndarray):
        raise CodecError(f"{where}: wave must be a numpy array, got {type(wave).__name__}")
    if wave.ndim != 1:
        raise CodecError(f"{where}: wave must be 1-D (samples,), got shape {wave.shape}")
    if not np.issubdtype(wave.dtype, np.floating):
        raise CodecError(f"{where}: wave must be float in [-1, 1], got dtype {wave.dtype}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise CodecError(f"{where}: sample_rate must be a positive integer, got {sample_rate!r}")
    if len(wave) == 0:
        raise CodecError(f"{where}: the clip is empty (0 samples)")
    if not np.all(np.isfinite(wave)):
        raise CodecError(f"{where}: the clip holds NaN or infinite samples")
    return wave


def apply_condition_report(wave: np.ndarray, sample_rate: int, condition: CodecCondition | str, *,
                           key: str = "", cache: CodecCache | None = None) -> CodingReport:
    """Like :func:`apply_condition` but also says how the clip was coded."""
    condition = _condition(condition)
    wave = _validate(wave, sample_rate, condition, key)
    start = time.perf_counter()
    if isinstance(condition, ChannelCondition):
        return _apply_channel(wave, int(sample_rate), condition, key, cache, start)
    if condition.is_identity:
        return CodingReport(wave.astype(np.float32, copy=False), 0, "none", 0, False, 0.0)
    engine, why = select_engine(condition)
    if engine is None:
        raise CodecError(f"condition {condition.id!r}, clip {key!r}: no engine can run it here ({why})")
    cache_key = None
    if cache is not None:
        cache_key = cache.make_key(wave, sample_rate, condition.to_dict(), engine.provenance(),
                                   key if condition.is_random else "")
        hit = cache.get(cache_key)
        if hit is not None and len(hit) == len(wave):
            return CodingReport(hit, None, engine.name, -1, True, time.perf_counter() - start)
    try:
        out, encoded_bytes, delay = _code(wave.astype(np.float64), int(sample_rate), condition, engine, key)
    except CodecError as err:
        raise CodecError(f"condition {condition.id!r}, clip {key!r}: {err}") from err
    if cache is not None:
        cache.put(cache_key, out)
    return CodingReport(out, encoded_bytes, engine.name, delay, False, time.perf_counter() - start)


def apply_condition(wave: np.ndarray, sample_rate: int, condition: CodecCondition | str, *,
                    key: str = "", cache: CodecCache | None = None) -> np.ndarray:
    """Code ``wave`` (T,) float in [-1, 1] at ``sample_rate`` through ``condition``.

    Returns (T,) float32 at the same rate, time-aligned to the input. ``key`` (the trial id)
    seeds random elements (packet loss; noise, babble and replay of channel conditions). With
    ``cache`` a clip is coded once. A :class:`~.channel.ChannelCondition` runs its steps in this
    process; one with ``vad_trim`` / ``silence_pad`` returns a shorter / longer clip. Raises
    :class:`~spoofbench.errors.CodecError` naming the condition and clip, with FFmpeg's message.
    """
    return apply_condition_report(wave, sample_rate, condition, key=key, cache=cache).wave


#: Clips coded together at most by one :func:`apply_condition_batch` forward pass (bounds its activations:
#: the batch is padded to its longest clip).
NEURAL_BATCH = 32


def batches_well(condition: CodecCondition | ChannelCondition | str) -> bool:
    """True when coding clips of ``condition`` with :func:`apply_condition_batch` is worth it: an EnCodec or
    DAC step (several clips per forward pass) that runs on a GPU. On a CPU a batched pass was slower than
    clip by clip (EnCodec 24 kHz, 2-4 s clips: 0.44x at 32 per pass, 0.59x at 8; perf/RESULTS_engine.md),
    so scoring codes clip by clip there; :func:`apply_condition_batch` batches whenever it is asked."""
    condition = _condition(condition)
    if not isinstance(condition, ChannelCondition) or not channel_apply.batches_well(condition):
        return False
    return all(neural.device(step) == "cuda" for step in condition.steps if step.kind == "neural")


def apply_condition_batch(waves: list[np.ndarray], sample_rate: int, condition: CodecCondition | ChannelCondition | str,
                          keys: list[str], cache: CodecCache | None = None,
                          max_batch: int = NEURAL_BATCH) -> list[np.ndarray]:
    """:func:`apply_condition` of each clip ``waves[i]`` with ``key=keys[i]``, the neural steps of EnCodec
    and DAC (on any device; see :func:`batches_well` for when it pays) coded for up to ``max_batch`` clips at once (cache misses only,
    sorted by length so that little is padded; the other steps per clip, with the same seeds).

    Cache keys and hits are those of :func:`apply_condition`; the values equal its values within float
    tolerance (a batched forward pass sums in another order: EnCodec about 1e-7), and the cache writes a
    key only on a miss, so whichever of the two coded a clip first is the value every later read gets.
    Any failure raises :class:`~spoofbench.errors.CodecError` for the whole call (naming the condition
    and the clips); call :func:`apply_condition` per clip to know which clip failed.
    """
    condition = _condition(condition)
    if len(keys) != len(waves):
        raise CodecError(f"condition {condition.id!r}: {len(waves)} clips but {len(keys)} keys")
    if int(max_batch) < 1:
        raise CodecError(f"condition {condition.id!r}: max_batch must be >= 1, got {max_batch!r}")
    if not (isinstance(condition, ChannelCondition) and channel_apply.batches_well(condition)):
        return [apply_condition(w, sample_rate, condition, key=k, cache=cache) for w, k in zip(waves, keys)]
    waves = [_validate(w, sample_rate, condition, k) for w, k in zip(waves, keys)]
    rate, out = int(sample_rate), [None] * len(waves)
    cks = [channel_apply.cache_key(cache, w, rate, condition, k) if cache is not None else None
           for w, k in zip(waves, keys)]
    for i, ck in enumerate(cks):
        hit = cache.get(ck) if ck is not None else None
        if hit is not None and (len(hit) == len(waves[i]) or not condition.keeps_length):
            out[i] = hit
    misses = sorted((i for i in range(len(waves)) if out[i] is None), key=lambda i: (len(waves[i]), i))
    for start in range(0, len(misses), int(max_batch)):
        chunk = misses[start:start + int(max_batch)]
        try:
            coded = channel_apply.run_chain_batch([waves[i].astype(np.float64) for i in chunk], rate, condition,
                                                  [keys[i] for i in chunk], cache)
        except CodecError as err:
            names = ", ".join(repr(keys[i]) for i in chunk[:3]) + (", ..." if len(chunk) > 3 else "")
            raise CodecError(f"condition {condition.id!r}, clips {names} ({len(chunk)} in one batch): {err}") from err
        for i, y in zip(chunk, coded):
            out[i] = y.astype(np.float32)
            if cks[i] is not None:
                cache.put(cks[i], out[i])
    return out


def _apply_channel(wave: np.ndarray, rate: int, condition: ChannelCondition, key: str,
                   cache: CodecCache | None, start: float) -> CodingReport:
    """A channel condition, in this process (:mod:`.channel_apply`); cached like a codec."""
    ck = channel_apply.cache_key(cache, wave, rate, condition, key) if cache is not None else None
    if ck is not None:
        hit = cache.get(ck)
        if hit is not None and (len(hit) == len(wave) or not condition.keeps_length):
            return CodingReport(hit, None, "in-process", 0, True, time.perf_counter() - start)
    try:
        out = channel_apply.run_chain(wave.astype(np.float64), rate, condition, key, cache).astype(np.float32)
    except CodecError as err:
        raise CodecError(f"condition {condition.id!r}, clip {key!r}: {err}") from err
    if ck is not None:
        cache.put(ck, out)
    return CodingReport(out, None, "in-process", 0, False, time.perf_counter() - start)


def _code(x: np.ndarray, rate: int, condition: CodecCondition, engine, key: str) -> tuple[np.ndarray, int, int]:
    channel = condition.channel
    if channel is not None and channel.band is not None:
        x_in = dsp.band_limit(x, rate, channel.band, channel.band_order)
    else:
        x_in = x
    code_rate = coding_rate(condition, rate)
    at_code_rate = dsp.resample(x_in, rate, code_rate)
    coded = engine.code(at_code_rate, code_rate, condition)
    delay = engine_delay(condition, engine, code_rate)
    expected = int(round(len(at_code_rate) * coded.rate / code_rate))
    y = dsp.fit_length(coded.samples, delay, expected)
    if channel is not None and channel.loss_rate > 0:
        y, _ = dsp.erase_frames(y, coded.rate, channel.loss_rate, channel.frame_ms,
                                dsp.loss_seed(key, condition.id), channel.concealment_gain)
    back = dsp.resample(y, coded.rate, rate)
    return dsp.fit_length(back, 0, len(x)).astype(np.float32), coded.encoded_bytes, delay


channel_apply.use_codec_functions(apply_condition, condition_provenance)
