"""Codec 2 in-process through the system libcodec2 (ctypes), deterministic despite its global state.

libcodec2's decoder draws synthesis phases from ``codec2_rand()``, a linear congruential
generator whose state is a static variable of the shared library (seed 1 when the library is
mapped). A process that decodes several clips would give each clip output depending on what it
decoded before. The ffmpeg CLI avoids this by being a fresh process per clip; here each clip gets a
freshly mapped library instead: ``dlopen`` → code → ``dlclose`` (≈ 0.6 ms), under a lock.

Freshness is checked, not assumed: a load first draws ``codec2_rand()``'s first values and
compares them with the generator's start; only then is the library closed and loaded again for
coding. If other code in this process holds libcodec2 (so ``dlclose`` cannot unmap it, e.g. a
system libavcodec loaded in-process), a private copy of the library file is loaded instead, which
has its own static state (and is used from then on in this process).

Output equals the ffmpeg CLI's (``ffmpeg … -c:a libcodec2`` then a decoding ``ffmpeg``) bit for bit:
the same gray-code setting, zero-padded last frame, and the decoder's random state advanced the way
ffmpeg's stream probing advances it (one frame decoded and discarded by a first decoder instance).
"""
from __future__ import annotations

import _ctypes
import atexit
import ctypes
import ctypes.util
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from spoofbench.errors import CodecError

#: Codec 2 mode names → the library's CODEC2_MODE_* constants (codec2.h).
CODEC2_MODES = {"3200": 0, "2400": 1, "1600": 2, "1400": 3, "1300": 4, "1200": 5, "700C": 8}
#: What ``codec2_rand()`` returns first from its initial state (next = 1; next = next*1103515245 + 12345).
_FIRST_DRAWS = (16838, 5758, 10113)
#: Frames ffmpeg's stream probing decodes (and drops) before the real decoding: it advances the state.
_PROBE_FRAMES = 1
_LOCK = threading.Lock()
_PRIVATE: dict[str, str] = {}


@lru_cache(maxsize=1)
def library_path() -> str | None:
    """The soname of the system libcodec2 (``libcodec2.so.1.0``), or None when it is not installed."""
    return ctypes.util.find_library("codec2")


@lru_cache(maxsize=1)
def library_file() -> str | None:
    """The real path of the system libcodec2's file, or None when it cannot be found."""
    name = library_path()
    if name is None:
        return None
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib", "/usr/lib64"):
        candidate = os.path.join(folder, name)
        if os.path.exists(candidate):
            return os.path.realpath(candidate)
    return None


def library_version() -> str | None:
    """The library file's real name (its version), as the native engine's provenance records it."""
    found = library_file()
    return os.path.basename(found) if found else library_path()


@lru_cache(maxsize=1)
def loadable() -> bool:
    """Whether libcodec2 loads here (tried once, then unloaded again)."""
    name = library_path()
    if name is None:
        return False
    try:
        handle = _ctypes.dlopen(name, ctypes.RTLD_LOCAL)
    except OSError:
        return False
    _ctypes.dlclose(handle)
    return True


def _declare(lib) -> None:
    vp = ctypes.c_void_p
    lib.codec2_create.restype = vp
    lib.codec2_create.argtypes = [ctypes.c_int]
    for name in ("codec2_destroy", "codec2_samples_per_frame", "codec2_bytes_per_frame"):
        getattr(lib, name).argtypes = [vp]
    lib.codec2_set_natural_or_gray.argtypes = [vp, ctypes.c_int]
    lib.codec2_encode.argtypes = [vp, vp, vp]
    lib.codec2_decode.argtypes = [vp, vp, vp]


def _open_fresh(path: str):
    """(handle, lib) of ``path`` with its random state at the start, or None when it was not fresh."""
    handle = _ctypes.dlopen(path, ctypes.RTLD_LOCAL)
    lib = ctypes.CDLL(path, handle=handle)
    draws = tuple(lib.codec2_rand() for _ in _FIRST_DRAWS)
    _ctypes.dlclose(handle)
    if draws != _FIRST_DRAWS:
        return None
    handle = _ctypes.dlopen(path, ctypes.RTLD_LOCAL)  # nobody else held it: this mapping is new
    lib = ctypes.CDLL(path, handle=handle)
    _declare(lib)
    return handle, lib


def _private_copy() -> str:
    """A copy of the library file only this process loads (made once, deleted at exit)."""
    if "path" not in _PRIVATE:
        source = library_file()
        if source is None:
            raise OSError(f"the file of {library_path()} was not found")
        folder = tempfile.mkdtemp(prefix="spoofbench-codec2-")
        target = os.path.join(folder, os.path.basename(source))
        shutil.copyfile(source, target)
        atexit.register(shutil.rmtree, folder, True)
        _PRIVATE["path"] = target
    return _PRIVATE["path"]


@contextmanager
def fresh_codec2():
    """libcodec2 mapped anew (static state at its start) for the duration of the block."""
    with _LOCK:
        # Once another holder was seen, stay on the private copy: the check draws from (and so
        # disturbs) the holder's generator.
        opened = None if "path" in _PRIVATE else _open_fresh(library_path())
        if opened is None:  # another holder keeps the system copy mapped
            try:
                opened = _open_fresh(_private_copy())
            except OSError as err:
                raise CodecError(f"libcodec2 is held elsewhere in this process and no private copy "
                                 f"could be loaded ({err})") from err
            if opened is None:
                raise CodecError("libcodec2's random state could not be reset (a private copy was not fresh)")
        handle, lib = opened
        try:
            yield lib
        finally:
            _ctypes.dlclose(handle)


def _frames(pcm: np.ndarray, size: int) -> np.ndarray:
    n_frames = max(1, -(-len(pcm) // size))
    padded = np.zeros(n_frames * size, np.int16)
    padded[: len(pcm)] = pcm
    return padded.reshape(n_frames, size)


def encode(pcm: np.ndarray, mode: int) -> tuple[bytes, int, int]:
    """int16 PCM at 8 kHz → (bitstream, samples per frame, bytes per frame)."""
    with fresh_codec2() as lib:
        enc = lib.codec2_create(mode)
        if not enc:
            raise CodecError(f"libcodec2: codec2_create({mode}) failed")
        try:
            lib.codec2_set_natural_or_gray(enc, 1)  # as ffmpeg's libcodec2 wrapper
            size, n_bytes = lib.codec2_samples_per_frame(enc), lib.codec2_bytes_per_frame(enc)
            frames = _frames(pcm, size)
            bits = ctypes.create_string_buffer(n_bytes * len(frames))
            for i, frame in enumerate(frames):
                lib.codec2_encode(enc, ctypes.byref(bits, i * n_bytes), np.ascontiguousarray(frame).ctypes.data)
        finally:
            lib.codec2_destroy(enc)
    return bits.raw, size, n_bytes


def decode(bits: bytes, mode: int, size: int, n_bytes: int) -> np.ndarray:
    """Bitstream → int16 PCM, decoded as a fresh ffmpeg process does (after its probe frame)."""
    n_frames = len(bits) // n_bytes
    buffer = ctypes.create_string_buffer(bits, len(bits))
    out = np.zeros((n_frames, size), np.int16)
    with fresh_codec2() as lib:
        for instance in ("probe", "decode"):
            dec = lib.codec2_create(mode)
            if not dec:
                raise CodecError(f"libcodec2: codec2_create({mode}) failed")
            try:
                lib.codec2_set_natural_or_gray(dec, 1)
                if instance == "probe":
                    scratch = np.zeros(size, np.int16)
                    for i in range(min(_PROBE_FRAMES, n_frames)):
                        lib.codec2_decode(dec, scratch.ctypes.data, ctypes.byref(buffer, i * n_bytes))
                    continue
                for i in range(n_frames):
                    lib.codec2_decode(dec, out[i].ctypes.data, ctypes.byref(buffer, i * n_bytes))
            finally:
                lib.codec2_destroy(dec)
    return out.reshape(-1)
