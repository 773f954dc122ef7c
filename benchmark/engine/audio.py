"""Reading trial audio for the engine: a thin layer over :mod:`spoofbench.audio_io`.

Mono float32 at the detector's rate, read by libsndfile or (where it fails) PyAV, resampled by
the one resampler (soxr). Use :func:`read_audio_info` to also get which decoder read the clip.
"""
from __future__ import annotations

import os

import numpy as np

from ..audio_io import (AudioInfo, AudioReadError, NonFiniteAudioError, probe_audio, resample,
                        resampler_info)
from ..audio_io import read_audio as _read

__all__ = ["AudioInfo", "AudioReadError", "NonFiniteAudioError", "probe_audio", "read_audio",
           "read_audio_info", "resample", "resampler_info"]


def read_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """``(samples,)`` float32 mono audio of ``path`` at ``sample_rate``.

    Raises :class:`AudioReadError` (its ``kind``: missing, empty, unreadable, truncated,
    no_samples, non_finite) for clips that cannot be used.
    """
    return _read(path, sample_rate=sample_rate)[0]


def read_audio_info(path: str | os.PathLike, sample_rate: int) -> tuple[np.ndarray, AudioInfo]:
    """Like :func:`read_audio`, with the :class:`AudioInfo` (``info.decoder``: libsndfile|pyav)."""
    return _read(path, sample_rate=sample_rate)
