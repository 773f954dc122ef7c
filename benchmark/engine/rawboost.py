"""RawBoost as published: Tak, Kamble, Patino, Todisco, Evans, "RawBoost: A Raw Data Boosting and Augmentation
Method applied to Automatic Speaker Verification Anti-Spoofing", ICASSP 2022 (arXiv:2111.04433).

Three operators on a raw waveform and their combinations (``RawBoostConfig.algo``):

1. **LnL**, linear and non-linear convolutive noise: ``sum_{j=1..N_f} h_j * x**j``, each ``h_j`` a cascade of
   ``n_bands`` random FIR notch (band-stop) filters scaled to a random gain; the terms ``j >= 2`` draw their gain
   ``min/max_bias_lin_nonlin`` dB lower. The sum has its mean removed and is peak-limited to 1.
2. **ISD**, impulsive signal-dependent noise: a random ``beta`` in ``[0, p)`` %, that share of the samples
   (a random permutation's head) each gets ``g_sd * x[i] * u1 * u2`` added, ``u1, u2 ~ U(-1, 1)``; peak-limited.
3. **SSI**, stationary signal-independent noise: white Gaussian noise through a random notch filter bank,
   scaled to a random SNR in ``[snr_min, snr_max]`` dB against the whole signal, added.

4 = 1, 2, 3 in series; 5 = 1, 2; 6 = 1, 3; 7 = 2, 3; 8 = 1 and 2 each on the input, summed, peak-limited.

This is our own implementation, written to be bit-compatible with the authors' reference code
(``RawBoost.py`` / ``process_Rawboost_feature`` of TakHemlata/RawBoost-antispoofing and SSL_Anti-spoofing):
the same draws from a legacy ``numpy.random.RandomState`` stream in the same order, the same filter design
(``scipy.signal.firwin`` Hamming band-stops, their gain normalised on a 512-point ``freqz``) and the same
filtering (``scipy.signal.lfilter``, the output taken ``(len(b) + 1) // 2`` samples in, as the reference does,
which is one sample past the linear-phase delay). Transcendental steps (``10 ** (g / 20)``, ``np.power``) go
through the same numpy array ufuncs on the same dtypes, so a ``RandomState(seed)`` here gives the output of the
reference after ``np.random.seed(seed)`` (tests/engine/test_rawboost.py checks it against fixtures the reference
made; tests/engine/data/make_rawboost_reference.py). Like the reference, the arithmetic keeps the input's dtype
where it does (ISD writes into a copy of its input; SSI takes the input's norm in its own dtype).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.signal import firwin, freqz, lfilter

from .config import RawBoostConfig

#: What each ``algo`` is (docs, logs).
ALGORITHMS: dict[int, str] = {
    0: "off", 1: "LnL convolutive noise", 2: "ISD impulsive noise", 3: "SSI coloured noise",
    4: "LnL, ISD, SSI in series", 5: "LnL, ISD in series", 6: "LnL, SSI in series", 7: "ISD, SSI in series",
    8: "LnL and ISD in parallel",
}

#: Nyquist-edge margin of a notch, Hz (the reference's 1/1000 at either end of the band).
_EDGE = 1e-3
#: Points of the frequency response a filter bank's peak gain is measured on (``freqz``'s default).
_RESPONSE_POINTS = 512


def as_random_state(rng: np.random.RandomState | np.random.Generator | int) -> np.random.RandomState:
    """The legacy stream RawBoost draws from: ``rng`` itself, ``RandomState(rng)`` for an int seed, or one
    seeded by a 32-bit draw from a ``Generator`` (one draw; deterministic for the generator's state)."""
    if isinstance(rng, np.random.RandomState):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.RandomState(int(rng.integers(0, 2 ** 32)))
    return np.random.RandomState(int(rng))


def _draw(rs: np.random.RandomState, low: float, high: float) -> np.ndarray:
    """One uniform draw kept as a 1-element array (the later arithmetic then runs the same array ufuncs)."""
    return rs.uniform(low, high, size=1)


def _peak_limit(x: np.ndarray, always: bool = False) -> np.ndarray:
    """``x`` divided by its peak magnitude when that exceeds 1 (or ``always``)."""
    peak = np.max(np.abs(x))
    return x / peak if always or peak > 1 else x


def notch_bank(rs: np.random.RandomState, cfg: RawBoostConfig, sample_rate: int,
               gain_db: tuple[float, float]) -> np.ndarray:
    """A random cascade of ``cfg.n_bands`` FIR band-stop filters, scaled so its peak gain is a draw from
    ``gain_db`` (dB). Per band: centre, width, taps (odd); then the gain."""
    nyquist = sample_rate / 2
    taps = np.ones(1)
    for _ in range(cfg.n_bands):
        centre = _draw(rs, cfg.min_f, cfg.max_f)
        width = _draw(rs, cfg.min_bw, cfg.max_bw)
        numtaps = int(_draw(rs, cfg.min_coeff, cfg.max_coeff)[0])
        numtaps += 1 - numtaps % 2                      # a band-stop needs an odd length
        low, high = float((centre - width / 2)[0]), float((centre + width / 2)[0])
        low = low if low > 0 else _EDGE
        high = high if high < nyquist else nyquist - _EDGE
        band = firwin(numtaps, [low, high], window="hamming", fs=sample_rate)   # pass_zero: band-stop
        taps = np.convolve(band, taps)
    gain = _draw(rs, *gain_db)
    response = freqz(taps, 1, worN=_RESPONSE_POINTS, fs=sample_rate)[1]
    return np.power(10.0, gain / 20) * taps / np.max(np.abs(response))


def fir_centred(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """``x`` through the FIR ``taps`` (``lfilter``), same length, the output read from ``(len(taps) + 1) // 2``
    on (the reference's alignment: zero-pad ``len(taps) + 1`` samples, drop half of that at each end)."""
    pad = taps.size + 1
    full = lfilter(taps, 1, np.concatenate([x, np.zeros(pad, dtype=x.dtype)]))
    return full[pad // 2: pad // 2 + x.size]


def linear_nonlinear(x: np.ndarray, rs: np.random.RandomState, cfg: RawBoostConfig,
                     sample_rate: int) -> np.ndarray:
    """Algorithm 1 (LnL): ``sum_j notch_bank_j * x**j`` for ``j = 1..n_f``, mean removed, peak-limited."""
    out = np.zeros(x.size)
    linear = (cfg.min_g, cfg.max_g)
    higher = (cfg.min_g - cfg.min_bias_lin_nonlin, cfg.max_g - cfg.max_bias_lin_nonlin)
    for order in range(1, cfg.n_f + 1):
        taps = notch_bank(rs, cfg, sample_rate, linear if order == 1 else higher)
        out = out + fir_centred(np.power(x, float(order)), taps)
    return _peak_limit(out - np.mean(out))


def impulsive(x: np.ndarray, rs: np.random.RandomState, cfg: RawBoostConfig) -> np.ndarray:
    """Algorithm 2 (ISD): up to ``p`` % of the samples get ``g_sd * x * u1 * u2`` added; peak-limited.
    Works in a copy of ``x`` (its dtype)."""
    share = _draw(rs, 0, cfg.p)
    count = int((x.size * (share / 100))[0])
    hit = rs.permutation(x.size)[:count]
    first = 2 * rs.rand(count) - 1
    second = 2 * rs.rand(count) - 1
    out = x.copy()
    out[hit] = x[hit] + cfg.g_sd * x[hit] * (first * second)
    return _peak_limit(out)


def stationary(x: np.ndarray, rs: np.random.RandomState, cfg: RawBoostConfig, sample_rate: int) -> np.ndarray:
    """Algorithm 3 (SSI): Gaussian noise through a random notch bank, peak-normalised, added at a random SNR
    (dB, against the energy of the whole ``x``)."""
    noise = rs.normal(0, 1, x.size)
    noise = _peak_limit(fir_centred(noise, notch_bank(rs, cfg, sample_rate, (cfg.min_g, cfg.max_g))), always=True)
    snr_db = _draw(rs, cfg.snr_min, cfg.snr_max)
    # unit energy, times the signal's norm, over the SNR's amplitude ratio (in this order: same rounding)
    noise = noise / np.linalg.norm(noise, 2) * np.linalg.norm(x, 2) / 10.0 ** (0.05 * snr_db)
    return x + noise


_Step = Callable[[np.ndarray, np.random.RandomState, RawBoostConfig, int], np.ndarray]
_STEPS: dict[str, _Step] = {
    "lnl": linear_nonlinear,
    "isd": lambda x, rs, cfg, sample_rate: impulsive(x, rs, cfg),
    "ssi": stationary,
}
#: The operators each algorithm applies one after the other (8 is the parallel one).
_SERIES: dict[int, tuple[str, ...]] = {
    0: (), 1: ("lnl",), 2: ("isd",), 3: ("ssi",), 4: ("lnl", "isd", "ssi"), 5: ("lnl", "isd"),
    6: ("lnl", "ssi"), 7: ("isd", "ssi"),
}


def rawboost(x: np.ndarray, cfg: RawBoostConfig, sample_rate: int,
             rng: np.random.RandomState | np.random.Generator | int) -> np.ndarray:
    """``x`` (1-D) boosted by RawBoost algorithm ``cfg.algo`` (``cfg.probability`` is the caller's business).

    Returns a new array (float64 for every algorithm but 2, which keeps the input's dtype, as the reference);
    algorithm 0 and an empty ``x`` return ``x`` itself. ``rng``: see :func:`as_random_state`.
    """
    if cfg.algo not in ALGORITHMS:
        raise ValueError(f"RawBoost algo {cfg.algo!r}; expected 0 to 8")
    if cfg.algo == 0 or x.size == 0:
        return x
    if x.ndim != 1:
        raise ValueError(f"RawBoost takes a 1-D waveform; got shape {x.shape}")
    rs = as_random_state(rng)
    if cfg.algo == 8:
        return _peak_limit(linear_nonlinear(x, rs, cfg, sample_rate) + impulsive(x, rs, cfg))
    for step in _SERIES[cfg.algo]:
        x = _STEPS[step](x, rs, cfg, sample_rate)
    return x
