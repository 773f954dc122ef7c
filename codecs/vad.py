"""Leading/trailing silence removal with silero-vad, whose model ships inside its pip package.

``silero_vad`` is loaded from the package's own files (``silero_vad/data/silero_vad.jit``); nothing
is downloaded. Importing ``silero_vad`` sets torch's thread count to 1 as a side effect; it is put
back, and each detection runs on one thread (the model steps through 32 ms windows; more threads
only contend). Speech is detected at 16 kHz (the clip is resampled for the detector only) and the cut is
made on the clip at its own rate.
"""
from __future__ import annotations

import contextlib
import threading
import warnings
from functools import lru_cache

import numpy as np

from spoofbench.errors import CodecError

VAD_RATE = 16000
_LOCK = threading.Lock()


@contextlib.contextmanager
def _torch_threads_kept():
    """Importing ``silero_vad`` (even to find its model file) sets torch's thread count to 1: put it back."""
    import torch

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@lru_cache(maxsize=1)
def _model():
    import torch

    threads = torch.get_num_threads()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
            warnings.simplefilter("ignore", DeprecationWarning)  # silero's importlib.resources.path
            from silero_vad import load_silero_vad
            model = load_silero_vad(onnx=False)
    except ImportError as err:
        raise CodecError("vad_trim needs the silero-vad package (pip install silero-vad)") from err
    finally:
        torch.set_num_threads(threads)  # silero_vad.model sets 1 on import
    return model


def provenance() -> dict:
    """Library, version and the sha256 of the model file the package ships."""
    from importlib import metadata, resources

    try:
        version = metadata.version("silero-vad")
        with _torch_threads_kept():
            path = resources.files("silero_vad.data").joinpath("silero_vad.jit")
        return {"library": "silero-vad", "version": version, "model": "silero_vad.jit",
                "weights_sha256": _sha(str(path)), "available": True, "reason": ""}
    except (metadata.PackageNotFoundError, ModuleNotFoundError, OSError) as err:
        return {"library": "silero-vad", "version": None, "available": False,
                "reason": f"silero-vad is not installed ({err}); pip install silero-vad"}


@lru_cache(maxsize=4)
def _sha(path: str) -> str:
    from spoofbench.hashing import sha256_file
    return sha256_file(path)


def speech_bounds(x: np.ndarray, rate: int, threshold: float, pad_ms: float,
                  min_speech_ms: float) -> tuple[int, int] | None:
    """``(start, end)`` samples at ``rate`` from the first speech onset to the last offset (padded
    by ``pad_ms``), or None when silero-vad finds no speech."""
    import torch

    from spoofbench.audio_io import resample

    at16 = np.asarray(resample(np.asarray(x, dtype=np.float32), rate, VAD_RATE), dtype=np.float32)
    with _LOCK:
        model = _model()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # 512-sample windows: extra threads only contend (0.1 s vs 3+ s a clip)
        try:
            with torch.inference_mode():
                from silero_vad import get_speech_timestamps
                stamps = get_speech_timestamps(torch.from_numpy(at16), model, threshold=threshold,
                                               sampling_rate=VAD_RATE, min_speech_duration_ms=int(min_speech_ms),
                                               speech_pad_ms=0)
        finally:
            torch.set_num_threads(threads)
    if not stamps:
        return None
    pad = pad_ms / 1000.0
    start = max(0, int(np.floor((stamps[0]["start"] / VAD_RATE - pad) * rate)))
    end = min(len(x), int(np.ceil((stamps[-1]["end"] / VAD_RATE + pad) * rate)))
    return (start, end) if end > start else None


def vad_trim(x: np.ndarray, rate: int, step) -> np.ndarray:
    """The clip from its first to its last speech (see :func:`speech_bounds`); unchanged when no
    speech is found."""
    bounds = speech_bounds(x, rate, step.threshold, step.pad_ms, step.min_speech_ms)
    return x if bounds is None else x[bounds[0]:bounds[1]]
