"""Sample conversions every engine shares: float in [-1, 1] → a codec's sample format, a decoded
PyAV frame → float64. Below the engines (``engines``, ``native``, ``vorbis`` import it; it imports none
of them), so no engine module needs another for them."""
from __future__ import annotations

import numpy as np

from spoofbench.errors import CodecError


def to_s16(x: np.ndarray) -> np.ndarray:
    """float in [-1, 1] → int16, rounded and clipped (as FFmpeg's s16 conversion)."""
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def to_format(x: np.ndarray, fmt: str) -> np.ndarray:
    """float samples → the numpy array of FFmpeg sample format ``fmt`` (``s16``, ``s32``, ``flt``, ``dbl``, planar or not)."""
    if fmt.startswith("s16"):
        return to_s16(x)
    if fmt.startswith("s32"):
        return np.clip(np.round(x * 2147483648.0), -2147483648, 2147483647).astype(np.int32)
    if fmt.startswith("flt"):
        return x.astype(np.float32)
    if fmt.startswith("dbl"):
        return x.astype(np.float64)
    raise CodecError(f"unsupported sample format {fmt!r}")


def from_frame(frame) -> np.ndarray:
    """A decoded PyAV audio frame → its first channel as float64 in [-1, 1]."""
    data = frame.to_ndarray()
    data = data[:1].reshape(-1) if frame.format.is_planar else data.reshape(-1)[:: max(1, frame.layout.nb_channels)]
    if data.dtype == np.int16:
        return data.astype(np.float64) / 32768.0
    if data.dtype == np.int32:
        return data.astype(np.float64) / 2147483648.0
    return data.astype(np.float64)
