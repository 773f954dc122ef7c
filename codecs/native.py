"""In-process GSM-FR and Codec 2 through the system's own libgsm / libcodec2 (ctypes).

These are the very libraries the Debian ffmpeg links for its ``libgsm`` and ``libcodec2``
encoders; calling them directly codes a clip without starting two ffmpeg processes. The engine
only claims a condition when the library loads and the condition uses those encoders.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache

import numpy as np

from spoofbench.errors import CodecError

from .condition import CodecCondition

#: Codec 2 mode names → the library's CODEC2_MODE_* constants (codec2.h).
CODEC2_MODES = {"3200": 0, "2400": 1, "1600": 2, "1400": 3, "1300": 4, "1200": 5, "700C": 8}


@lru_cache(maxsize=None)
def _load(name: str):
    path = ctypes.util.find_library(name)
    if path is None:
        return None, None
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None, None
    resolved = path
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib", "/usr/lib64"):
        candidate = os.path.join(folder, path)
        if os.path.exists(candidate):
            resolved = os.path.basename(os.path.realpath(candidate))
            break
    return lib, resolved


def _gsm():
    lib, version = _load("gsm")
    if lib is not None:
        lib.gsm_create.restype = ctypes.c_void_p
        lib.gsm_destroy.argtypes = [ctypes.c_void_p]
        lib.gsm_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.gsm_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.gsm_decode.restype = ctypes.c_int
    return lib, version


def _codec2():
    lib, version = _load("codec2")
    if lib is not None:
        lib.codec2_create.restype = ctypes.c_void_p
        lib.codec2_create.argtypes = [ctypes.c_int]
        lib.codec2_destroy.argtypes = [ctypes.c_void_p]
        lib.codec2_samples_per_frame.argtypes = [ctypes.c_void_p]
        lib.codec2_bytes_per_frame.argtypes = [ctypes.c_void_p]
        lib.codec2_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.codec2_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    return lib, version


def _to_s16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


class NativeEngine:
    """libgsm (GSM 06.10 full rate) and libcodec2 called in-process via ctypes."""

    name = "native"

    def available(self, condition: CodecCondition) -> tuple[bool, str]:
        if condition.encoder == "libgsm" and condition.codec == "gsm":
            lib, _ = _gsm()
            if lib is None:
                return False, "the system libgsm (libgsm1) is not installed"
            if (condition.sample_rate or 0) != 8000:
                return False, "GSM-FR codes at 8000 Hz only"
            return True, ""
        if condition.encoder == "libcodec2" and condition.codec == "codec2":
            lib, _ = _codec2()
            if lib is None:
                return False, "the system libcodec2 is not installed"
            mode = dict(condition.options).get("mode", "3200")
            if mode not in CODEC2_MODES:
                return False, f"unknown Codec 2 mode {mode!r}; expected one of {sorted(CODEC2_MODES)}"
            if (condition.sample_rate or 0) != 8000:
                return False, "Codec 2 codes at 8000 Hz only"
            return True, ""
        return False, f"no native binding for encoder {condition.encoder!r}"

    def provenance_for(self, condition: CodecCondition) -> dict:
        _, version = _gsm() if condition.codec == "gsm" else _codec2()
        return {"engine": self.name, "library": f"{version} (system library via ctypes)", "version": version}

    def provenance(self) -> dict:
        gsm, codec2 = _gsm()[1], _codec2()[1]
        return {"engine": self.name, "library": f"{gsm}, {codec2} (system libraries via ctypes)",
                "version": f"{gsm}; {codec2}"}

    def code(self, x: np.ndarray, rate: int, condition: CodecCondition):
        from .engines import Coded

        ok, why = self.available(condition)
        if not ok or rate != 8000:
            raise CodecError(why or f"{condition.encoder} codes at 8000 Hz only, got {rate} Hz")
        pcm = _to_s16(x)
        if condition.codec == "gsm":
            return self._gsm(pcm, rate)
        return self._codec2(pcm, rate, CODEC2_MODES[dict(condition.options).get("mode", "3200")])

    @staticmethod
    def _frames(pcm: np.ndarray, size: int) -> np.ndarray:
        n_frames = max(1, -(-len(pcm) // size))
        padded = np.zeros(n_frames * size, np.int16)
        padded[: len(pcm)] = pcm
        return padded.reshape(n_frames, size)

    def _gsm(self, pcm: np.ndarray, rate: int):
        from .engines import Coded

        lib, _ = _gsm()
        frames = self._frames(pcm, 160)
        out = np.zeros_like(frames)
        coded = ctypes.create_string_buffer(33)
        enc, dec = lib.gsm_create(), lib.gsm_create()
        if not enc or not dec:
            raise CodecError("libgsm: gsm_create failed")
        try:
            for i, frame in enumerate(frames):
                frame = np.ascontiguousarray(frame)
                lib.gsm_encode(enc, frame.ctypes.data, coded)
                target = out[i]
                if lib.gsm_decode(dec, coded, target.ctypes.data) != 0:
                    raise CodecError(f"libgsm: gsm_decode rejected frame {i}")
        finally:
            lib.gsm_destroy(enc)
            lib.gsm_destroy(dec)
        return Coded(out.reshape(-1).astype(np.float64) / 32768.0, rate, 33 * len(frames))

    def _codec2(self, pcm: np.ndarray, rate: int, mode: int):
        from .engines import Coded

        lib, _ = _codec2()
        enc, dec = lib.codec2_create(mode), lib.codec2_create(mode)
        if not enc or not dec:
            raise CodecError(f"libcodec2: codec2_create({mode}) failed")
        try:
            size = lib.codec2_samples_per_frame(enc)
            n_bytes = lib.codec2_bytes_per_frame(enc)
            frames = self._frames(pcm, size)
            out = np.zeros_like(frames)
            coded = ctypes.create_string_buffer(n_bytes)
            for i, frame in enumerate(frames):
                frame = np.ascontiguousarray(frame)
                lib.codec2_encode(enc, coded, frame.ctypes.data)
                target = out[i]
                lib.codec2_decode(dec, target.ctypes.data, coded)
        finally:
            lib.codec2_destroy(enc)
            lib.codec2_destroy(dec)
        return Coded(out.reshape(-1).astype(np.float64) / 32768.0, rate, n_bytes * len(frames))
