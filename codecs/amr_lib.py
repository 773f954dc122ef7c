"""AMR-NB and AMR-WB in-process through the system's opencore-amr and VisualOn libraries (ctypes).

* AMR-NB: Debian's ``libopencore-amrnb0`` encodes (``Encoder_Interface_Encode``, DTX off) and decodes
  (``Decoder_Interface_Decode``); 160-sample frames at 8 kHz, modes MR475..MR122.
* AMR-WB: Debian's ``libvo-amrwbenc0`` encodes (``E_IF_encode``, DTX off) and ``libopencore-amrwb0``
  decodes (``D_IF_decode``); 320-sample frames at 16 kHz, modes 6.6..23.85 kbit/s.

Frames travel in the storage (RFC 4867 octet-aligned, ``.amr`` file) format both libraries use:
a table-of-contents byte, then the speech bits. The clip is coded as FFmpeg's ``libopencore_amrnb``
wrapper coded it when PyAV's wheel carried it (the ``pyav`` engine before PyAV 18.1.1): frames of
s16 samples, the last zero-padded, then one all-zero frame (the wrapper's flush), so the decoder's
delay does not cut the clip's tail. AMR-WB gets the same trailing frame. A bitrate picks the mode
as that wrapper does: the exact rate, else the nearest (the lower one on a tie).

These libraries ship no version call; the version recorded is the Debian package's
(``dpkg-query``), else the library file's real name (``libopencore-amrnb.so.0.0.5``).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from spoofbench.errors import CodecError

#: AMR-NB bit rates, index = mode (MR475 … MR122).
NB_RATES = (4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200)
#: AMR-WB bit rates, index = mode (6.60 … 23.85 kbit/s).
WB_RATES = (6600, 8850, 12650, 14250, 15850, 18250, 19850, 23050, 23850)


@dataclass(frozen=True)
class Library:
    """A system library: the name ``find_library`` takes and the Debian package that installs it."""

    name: str
    package: str

    @property
    def install(self) -> str:
        return f"apt-get install {self.package}"


AMRNB = Library("opencore-amrnb", "libopencore-amrnb0")
AMRWB_DECODER = Library("opencore-amrwb", "libopencore-amrwb0")
AMRWB_ENCODER = Library("vo-amrwbenc", "libvo-amrwbenc0")


@dataclass(frozen=True)
class Variant:
    """One AMR flavour: its rate, frame, modes and the libraries that encode and decode it."""

    codec: str
    rate: int
    frame: int
    rates: tuple[int, ...]
    encoder: Library
    decoder: Library


VARIANTS = {"amr_nb": Variant("amr_nb", 8000, 160, NB_RATES, AMRNB, AMRNB),
            "amr_wb": Variant("amr_wb", 16000, 320, WB_RATES, AMRWB_ENCODER, AMRWB_DECODER)}
_MAX_FRAME_BYTES = 64  # MR122: 32 bytes, 23.85k: 61 bytes (TOC byte included)


def mode_for(bitrate: int, rates: tuple[int, ...]) -> int:
    """The mode of ``bitrate``: its index in ``rates``, else the nearest rate's (the lower on a tie)."""
    if bitrate in rates:
        return rates.index(bitrate)
    return min(range(len(rates)), key=lambda i: (abs(rates[i] - bitrate), i))


@lru_cache(maxsize=None)
def _load(library: Library):
    """The library with its functions declared, or None when it is not installed."""
    soname = ctypes.util.find_library(library.name)
    if soname is None:
        return None
    try:
        lib = ctypes.CDLL(soname)
    except OSError:
        return None
    vp = ctypes.c_void_p
    if library is AMRNB:
        lib.Encoder_Interface_init.restype = vp
        lib.Encoder_Interface_init.argtypes = [ctypes.c_int]
        lib.Encoder_Interface_Encode.restype = ctypes.c_int
        lib.Encoder_Interface_Encode.argtypes = [vp, ctypes.c_int, vp, vp, ctypes.c_int]
        lib.Encoder_Interface_exit.argtypes = [vp]
        lib.Decoder_Interface_init.restype = vp
        lib.Decoder_Interface_init.argtypes = []
        lib.Decoder_Interface_Decode.argtypes = [vp, vp, vp, ctypes.c_int]
        lib.Decoder_Interface_exit.argtypes = [vp]
    elif library is AMRWB_ENCODER:
        lib.E_IF_init.restype = vp
        lib.E_IF_init.argtypes = []
        lib.E_IF_encode.restype = ctypes.c_int
        lib.E_IF_encode.argtypes = [vp, ctypes.c_int, vp, vp, ctypes.c_int]
        lib.E_IF_exit.argtypes = [vp]
    else:
        lib.D_IF_init.restype = vp
        lib.D_IF_init.argtypes = []
        lib.D_IF_decode.argtypes = [vp, vp, vp, ctypes.c_int]
        lib.D_IF_exit.argtypes = [vp]
    return lib


def missing(codec: str) -> list[Library]:
    """The libraries ``codec`` (``amr_nb`` / ``amr_wb``) needs that do not load here."""
    variant = VARIANTS[codec]
    needed = dict.fromkeys((variant.encoder, variant.decoder))  # NB: one library does both
    return [library for library in needed if _load(library) is None]


def missing_message(codec: str) -> str:
    """'' when ``codec`` can run, else which library is missing and the apt command that installs it."""
    gone = missing(codec)
    if not gone:
        return ""
    names = ", ".join(f"lib{library.name}" for library in gone)
    packages = " ".join(library.package for library in gone)
    return f"the system {names} is not installed (apt-get install {packages}; setup.sh installs it)"


@lru_cache(maxsize=None)
def library_version(library: Library) -> str | None:
    """``libopencore-amrnb.so.0.0.5 (Debian libopencore-amrnb0 0.1.6-1)``, or None when not installed."""
    soname = ctypes.util.find_library(library.name)
    if soname is None:
        return None
    name = soname
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib",
                   "/usr/lib64"):
        candidate = os.path.join(folder, soname)
        if os.path.exists(candidate):
            name = os.path.basename(os.path.realpath(candidate))
            break
    dpkg = shutil.which("dpkg-query")
    if dpkg is not None:
        found = subprocess.run([dpkg, "-W", "-f=${Version}", library.package], capture_output=True,
                               text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            return f"{name} (Debian {library.package} {found.stdout.strip()})"
    return name


def versions(codec: str) -> str:
    """The version of the library that codes ``codec``, or ``encode: …; decode: …`` when two do."""
    variant = VARIANTS[codec]
    if variant.encoder == variant.decoder:
        return str(library_version(variant.encoder))
    return f"encode: {library_version(variant.encoder)}; decode: {library_version(variant.decoder)}"


def _frames(pcm: np.ndarray, size: int) -> np.ndarray:
    """int16 frames of ``size``: the clip, the last frame zero-padded, then one all-zero frame."""
    n_frames = -(-len(pcm) // size) + 1
    padded = np.zeros(n_frames * size, np.int16)
    padded[: len(pcm)] = pcm
    return padded.reshape(n_frames, size)


def _need(codec: str) -> Variant:
    why = missing_message(codec)
    if why:
        raise CodecError(why)
    return VARIANTS[codec]


def encode(pcm: np.ndarray, codec: str, bitrate: int) -> list[bytes]:
    """int16 PCM at the codec's rate → one storage-format frame (TOC byte + bits) per frame."""
    variant = _need(codec)
    lib = _load(variant.encoder)
    mode = mode_for(int(bitrate), variant.rates)
    nb = codec == "amr_nb"
    state = lib.Encoder_Interface_init(0) if nb else lib.E_IF_init()
    if not state:
        raise CodecError(f"lib{variant.encoder.name}: the encoder did not initialise")
    buffer = ctypes.create_string_buffer(_MAX_FRAME_BYTES)
    packets = []
    try:
        for i, frame in enumerate(_frames(pcm, variant.frame)):
            frame = np.ascontiguousarray(frame)
            if nb:
                n = lib.Encoder_Interface_Encode(state, mode, frame.ctypes.data, buffer, 0)
            else:
                n = lib.E_IF_encode(state, mode, frame.ctypes.data, buffer, 0)
            if not 0 < n <= _MAX_FRAME_BYTES:
                raise CodecError(f"lib{variant.encoder.name}: encoding frame {i} returned {n}")
            packets.append(buffer.raw[:n])
    finally:
        (lib.Encoder_Interface_exit if nb else lib.E_IF_exit)(state)
    return packets


def decode(packets: list[bytes], codec: str) -> np.ndarray:
    """Storage-format frames → int16 PCM at the codec's rate (``frame`` samples per packet)."""
    variant = _need(codec)
    lib = _load(variant.decoder)
    nb = codec == "amr_nb"
    state = lib.Decoder_Interface_init() if nb else lib.D_IF_init()
    if not state:
        raise CodecError(f"lib{variant.decoder.name}: the decoder did not initialise")
    out = np.zeros((len(packets), variant.frame), np.int16)
    buffer = ctypes.create_string_buffer(_MAX_FRAME_BYTES)
    try:
        for i, packet in enumerate(packets):
            ctypes.memmove(buffer, packet, len(packet))  # the decoder reads the size from the TOC byte
            (lib.Decoder_Interface_Decode if nb else lib.D_IF_decode)(state, buffer, out[i].ctypes.data, 0)
    finally:
        (lib.Decoder_Interface_exit if nb else lib.D_IF_exit)(state)
    return out.reshape(-1)
