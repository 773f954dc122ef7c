"""Reading trial audio for the engine: soundfile, mono, float32, at the detector's rate."""
from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly


class AudioReadError(Exception):
    """A clip that cannot be used; the message is the reason recorded for the trial."""


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """``(samples,)`` float32 mono audio of ``path`` resampled to ``sample_rate``.

    Raises :class:`AudioReadError` for missing, unreadable or empty files.
    """
    path = Path(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except FileNotFoundError as err:
        raise AudioReadError(f"missing file {path}") from err
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as err:
        raise AudioReadError(f"unreadable audio {path}: {err}") from err
    if data.shape[0] == 0:
        raise AudioReadError(f"empty audio {path} (0 samples)")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(wave)):
        raise AudioReadError(f"non-finite samples in {path}")
    return resample(wave, rate, sample_rate)


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling of a ``(samples,)`` array; a no-op when the rates agree."""
    if rate_in == rate_out:
        return np.ascontiguousarray(wave, dtype=np.float32)
    g = gcd(int(rate_in), int(rate_out))
    out = resample_poly(wave.astype(np.float64), int(rate_out) // g, int(rate_in) // g)
    return out.astype(np.float32)
