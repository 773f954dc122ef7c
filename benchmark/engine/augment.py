"""Seeded training-time augmentation: codecs, RawBoost (published), RawBoost-style noise and filtering, gain,
resampling. docs/augmentation.md.

Every draw comes from a ``numpy.random.Generator`` seeded by ``(seed, epoch, index)``
(:func:`sample_generator`), so an epoch is reproduced exactly after a resume, whatever worker
process handles a clip.

``augment.rawboost`` is the published RawBoost (Tak et al., ICASSP 2022; algorithms 1-8,
:mod:`~spoofbench.engine.rawboost`, matching the authors' reference outputs): it runs on the whole clip,
after the codec, before cropping, as in the authors' training. ``augment.rawboost_style`` is something else:
our own operators in the same spirit (random multi-band convolutive filtering with non-linear power terms,
signal-dependent impulsive noise, stationary coloured additive noise) with their own parameters, on the crop;
they are not the published algorithms and results with them are not comparable with RawBoost's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.signal import fftconvolve, firwin

from .audio import resample
from .config import AugmentConfig, RawBoostStyleConfig
from .rawboost import rawboost


def sample_generator(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator for clip ``index`` of ``epoch`` (independent of worker and process)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch, index])))


def random_filter(rng: np.random.Generator, sample_rate: int, num_bands: int,
                  taps: tuple[int, int] = (11, 101)) -> np.ndarray:
    """A random multi-band FIR ``(taps,)``: ``num_bands`` stop/pass bands with random edges."""
    nyquist = sample_rate / 2
    edges = np.sort(rng.uniform(20.0, nyquist - 20.0, size=2 * num_bands))
    edges = np.unique(np.round(edges))
    edges = edges[np.concatenate([[True], np.diff(edges) > 10])]  # firwin needs distinct edges
    numtaps = int(rng.integers(taps[0] // 2, taps[1] // 2 + 1)) * 2 + 1   # odd: any pass_zero works
    if edges.size == 0:
        return np.array([1.0])
    return firwin(numtaps, edges, pass_zero=bool(rng.integers(0, 2)), fs=sample_rate)


def convolutive(wave: np.ndarray, rng: np.random.Generator, sample_rate: int,
                cfg: RawBoostStyleConfig) -> np.ndarray:
    """Linear and non-linear convolutive noise: ``sum_k g_k * (h_k * x**k)``, peak-matched to x."""
    out = np.zeros_like(wave, dtype=np.float64)
    x = wave.astype(np.float64)
    for order in range(1, cfg.max_order + 1):
        h = random_filter(rng, sample_rate, cfg.num_bands)
        gain = 1.0 if order == 1 else float(rng.uniform(0.0, 0.5)) / order
        out += gain * fftconvolve(x ** order, h, mode="same")
    peak_in, peak_out = np.abs(x).max(), np.abs(out).max()
    if peak_out > 0:
        out *= peak_in / peak_out
    return out.astype(np.float32)


def impulsive(wave: np.ndarray, rng: np.random.Generator, cfg: RawBoostStyleConfig) -> np.ndarray:
    """Signal-dependent impulsive noise on a random fraction of the samples."""
    count = int(rng.integers(0, max(1, int(cfg.impulsive_fraction * wave.size)) + 1))
    out = wave.copy()
    if count:
        idx = rng.choice(wave.size, size=count, replace=False)
        out[idx] += (wave[idx] * rng.uniform(-3.0, 3.0, size=count)).astype(np.float32)
    return np.clip(out, -1.0, 1.0)


def coloured_noise(wave: np.ndarray, rng: np.random.Generator, sample_rate: int,
                   cfg: RawBoostStyleConfig) -> np.ndarray:
    """Stationary coloured noise (filtered white noise) at an SNR drawn from ``cfg.snr_db``."""
    noise = fftconvolve(rng.standard_normal(wave.size), random_filter(rng, sample_rate, cfg.num_bands),
                        mode="same")
    snr_db = float(rng.uniform(*cfg.snr_db))
    signal_power = float(np.mean(wave.astype(np.float64) ** 2)) + 1e-12
    noise_power = float(np.mean(noise ** 2)) + 1e-12
    noise *= np.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return (wave + noise).astype(np.float32)


def resample_round_trip(wave: np.ndarray, rng: np.random.Generator, sample_rate: int,
                        rates: Sequence[int]) -> np.ndarray:
    """Down to a random rate from ``rates`` and back, same length (band-limiting)."""
    lower = [r for r in rates if r < sample_rate]
    if not lower:
        return wave
    rate = int(lower[int(rng.integers(0, len(lower)))])
    back = resample(resample(wave, sample_rate, rate), rate, sample_rate)
    if back.size >= wave.size:
        return back[: wave.size]
    return np.pad(back, (0, wave.size - back.size))


@dataclass
class Augmenter:
    """Applies an :class:`AugmentConfig`; picklable, so DataLoader workers each hold a copy.

    The codec cache and conditions are opened lazily in the process that first uses them. Raises ConfigError
    when ``augment.rawboost``'s notches do not fit under ``sample_rate``'s Nyquist frequency.
    """
    config: AugmentConfig
    sample_rate: int

    def __post_init__(self) -> None:
        self._conditions: list[Any] | None = None
        self._cache: Any = None
        self.config.rawboost.check_sample_rate(self.sample_rate)

    def __getstate__(self) -> dict:
        return {"config": self.config, "sample_rate": self.sample_rate}

    def __setstate__(self, state: dict) -> None:
        self.config, self.sample_rate = state["config"], state["sample_rate"]
        self.__post_init__()

    @property
    def active(self) -> bool:
        c, style = self.config, self.config.rawboost_style
        return self.whole_clip or any(p > 0 for p in (style.linear_nonlinear, style.impulsive, style.coloured,
                                                      c.gain_probability, c.resample_probability))

    @property
    def whole_clip(self) -> bool:
        """Whether :meth:`channel` changes anything (codec augmentation or the published RawBoost is on)."""
        c = self.config
        return c.codec.probability > 0 or (c.rawboost.algo != 0 and c.rawboost.probability > 0)

    def conditions(self) -> list[Any]:
        """The codec conditions augmentation draws from (``spoofbench.codecs`` records)."""
        if self._conditions is None:
            from spoofbench import codecs
            cfg = self.config.codec
            conds = list(codecs.get_matrix(cfg.matrix)) if cfg.matrix else []
            conds += [codecs.get_condition(c) for c in cfg.conditions]
            self._conditions = [c for c in conds if getattr(c, "id", None) != "none"] or conds
            if cfg.cache_dir:
                self._cache = codecs.CodecCache(cfg.cache_dir, cfg.cache_max_bytes)
        return self._conditions

    def channel(self, wave: np.ndarray, rng: np.random.Generator, key: str) -> np.ndarray:
        """Codec augmentation, then the published RawBoost, on the whole clip (before cropping: the codec cache
        can hit, and RawBoost sees the utterance its authors' training applies it to)."""
        return self._rawboost(self._codec(wave, rng, key), rng)

    def _codec(self, wave: np.ndarray, rng: np.random.Generator, key: str) -> np.ndarray:
        cfg = self.config.codec
        if cfg.probability <= 0 or rng.random() >= cfg.probability:
            return wave
        conds = self.conditions()
        cond = conds[int(rng.integers(0, len(conds)))]
        return np.asarray(self.code(wave, cond, key).wave, dtype=np.float32)

    def code(self, wave: np.ndarray, condition: Any, key: str) -> Any:
        """The ``CodingReport`` of ``wave`` (the whole clip as read) coded through ``condition`` with the trial id
        ``key``, through the codec cache: what a draw in :meth:`channel` runs, and what the pre-coding pass
        (:mod:`~spoofbench.engine.precode`) runs to fill the cache, so both compute the same cache key."""
        from spoofbench import codecs
        self.conditions()  # opens the cache
        return codecs.apply_condition_report(wave, self.sample_rate, condition, key=key, cache=self._cache)

    @property
    def cache(self) -> Any:
        """The codec cache (``spoofbench.codecs.CodecCache``) codec draws go through, or None."""
        self.conditions()
        return self._cache

    def _rawboost(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``augment.rawboost`` with its probability. RawBoost draws from a legacy ``RandomState`` (as the
        reference does from numpy's global one) seeded by a 32-bit draw of ``rng``; both draws are made
        whether it applies or not, and none at all when it is off (older configs keep their streams)."""
        cfg = self.config.rawboost
        if cfg.algo == 0 or cfg.probability <= 0:
            return wave
        applies = rng.random() < cfg.probability
        stream = np.random.RandomState(int(rng.integers(0, 2 ** 32)))
        if not applies:
            return wave
        return np.asarray(rawboost(wave, cfg, self.sample_rate, stream), dtype=np.float32)

    def signal(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """RawBoost-style operators (``augment.rawboost_style``), resampling and gain, on the (cropped) clip."""
        c, sr = self.config, self.sample_rate
        rb = c.rawboost_style
        # every probability is drawn, used or not, so the stream does not depend on outcomes
        draws = rng.random(5)
        if draws[0] < rb.linear_nonlinear:
            wave = convolutive(wave, rng, sr, rb)
        if draws[1] < rb.impulsive:
            wave = impulsive(wave, rng, rb)
        if draws[2] < rb.coloured:
            wave = coloured_noise(wave, rng, sr, rb)
        if draws[3] < c.resample_probability:
            wave = resample_round_trip(wave, rng, sr, c.resample_rates)
        if draws[4] < c.gain_probability:
            wave = np.clip(wave * np.float32(10 ** (rng.uniform(*c.gain_db) / 20)), -1.0, 1.0)
        return wave.astype(np.float32, copy=False)
