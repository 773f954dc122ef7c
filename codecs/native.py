"""In-process GSM-FR, Speex, Codec 2, AMR-NB and AMR-WB through the system's libgsm / libspeex /
libcodec2 / libopencore-amrnb / libvo-amrwbenc + libopencore-amrwb (ctypes).

Codec 2 goes through :mod:`.codec2_lib`, which maps the library afresh per clip (its decoder keeps
process-wide random state); AMR through :mod:`.amr_lib` (encoder and decoder both from the system
libraries, so AMR results do not depend on how a PyAV wheel's FFmpeg was built).

These are the very libraries the Debian ffmpeg links for its ``libgsm``, ``libspeex`` and
``libcodec2`` encoders (Speex is set up as ffmpeg's libspeex does by default: CBR at the
condition's bitrate, complexity 3; the decoder keeps libspeex's perceptual enhancer on); calling them directly codes a clip without starting two ffmpeg processes. The engine
only claims a condition when the library loads and the condition uses those encoders.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache

import numpy as np

from spoofbench.errors import CodecError

from . import amr_lib, codec2_lib
from .base import Coded
from .codec2_lib import CODEC2_MODES
from .condition import CodecCondition
from .pcm import to_s16


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


def _codec2_version():
    """(None, version) like the loaders, without keeping libcodec2 mapped (see codec2_lib)."""
    return None, codec2_lib.library_version() if codec2_lib.loadable() else None


def _gsm():
    lib, version = _load("gsm")
    if lib is not None:
        lib.gsm_create.restype = ctypes.c_void_p
        lib.gsm_destroy.argtypes = [ctypes.c_void_p]
        lib.gsm_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.gsm_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.gsm_decode.restype = ctypes.c_int
    return lib, version


class _SpeexBits(ctypes.Structure):
    """``SpeexBits`` from speex_bits.h."""

    _fields_ = [("chars", ctypes.c_char_p), ("nbBits", ctypes.c_int), ("charPtr", ctypes.c_int),
                ("bitPtr", ctypes.c_int), ("owner", ctypes.c_int), ("overflow", ctypes.c_int),
                ("buf_size", ctypes.c_int), ("reserved1", ctypes.c_int), ("reserved2", ctypes.c_void_p)]


_SPEEX_SET_ENH, _SPEEX_GET_FRAME_SIZE, _SPEEX_SET_COMPLEXITY, _SPEEX_SET_BITRATE = 0, 3, 16, 18
_SPEEX_MODES = {8000: 0}  # narrow band (mode 0) only. At 16 kHz (wide band) the decodings disagree: one FFmpeg
# stream decoded by FFmpeg's own `speex` decoder vs by libspeex differs by 17 dB SNR, and this path's encode +
# decode differs from either by 12-13 dB (narrow band: all agree, > 40 dB). Until that is understood a wide-band
# condition goes to an FFmpeg engine (libspeex encoder, FFmpeg's default decoder), one documented path


def _speex():
    lib, version = _load("speex")
    if lib is not None:
        vp = ctypes.c_void_p
        lib.speex_lib_get_mode.restype = vp
        lib.speex_lib_get_mode.argtypes = [ctypes.c_int]
        for name in ("speex_encoder_init", "speex_decoder_init"):
            getattr(lib, name).restype = vp
            getattr(lib, name).argtypes = [vp]
        for name in ("speex_encoder_ctl", "speex_decoder_ctl", "speex_encode_int", "speex_decode_int"):
            getattr(lib, name).argtypes = [vp, vp, vp] if "ctl" not in name else [vp, ctypes.c_int, vp]
        lib.speex_bits_write.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
        lib.speex_bits_read_from.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
        for name in ("speex_bits_init", "speex_bits_reset", "speex_bits_destroy",
                     "speex_encoder_destroy", "speex_decoder_destroy"):
            getattr(lib, name).argtypes = [vp]
    return lib, version


#: Condition encoder names (FFmpeg's) the AMR codecs are coded for.
_AMR_ENCODERS = {"amr_nb": "libopencore_amrnb", "amr_wb": "libvo_amrwbenc"}


class NativeEngine:
    """libgsm (GSM 06.10 full rate), libspeex, libcodec2 and the AMR libraries called in-process via ctypes."""

    name = "native"

    def available(self, condition: CodecCondition) -> tuple[bool, str]:
        if condition.encoder == "libgsm" and condition.codec == "gsm":
            lib, _ = _gsm()
            if lib is None:
                return False, "the system libgsm is not installed (apt-get install libgsm1)"
            if (condition.sample_rate or 0) != 8000:
                return False, "GSM-FR codes at 8000 Hz only"
            return True, ""
        if condition.encoder == "libcodec2" and condition.codec == "codec2":
            # Deterministic although libcodec2 keeps process-wide random state: codec2_lib maps the
            # library afresh for every clip.
            if not codec2_lib.loadable():
                return False, "the system libcodec2 is not installed (apt-get install libcodec2-1.0)"
            if (condition.sample_rate or 0) != 8000:
                return False, "Codec 2 codes at 8000 Hz only"
            options = dict(condition.options)
            if set(options) - {"mode"} or options.get("mode", "3200") not in CODEC2_MODES:
                return False, f"native Codec 2 takes only the 'mode' option, one of {sorted(CODEC2_MODES)}"
            return True, ""
        if condition.encoder == "libspeex" and condition.codec == "speex":
            lib, _ = _speex()
            if lib is None:
                return False, "the system libspeex is not installed (apt-get install libspeex1)"
            if (condition.sample_rate or 0) not in _SPEEX_MODES:
                return False, ("native Speex codes at 8000 Hz (narrow band) only; wide band goes through FFmpeg's "
                               "libspeex (the native path disagreed with it)")
            if not condition.bitrate or set(dict(condition.options)) - {"complexity"}:
                return False, "native Speex needs a bitrate (CBR) and takes only the 'complexity' option"
            return True, ""
        if condition.codec in _AMR_ENCODERS and condition.encoder == _AMR_ENCODERS[condition.codec]:
            variant = amr_lib.VARIANTS[condition.codec]
            why = amr_lib.missing_message(condition.codec)
            if why:
                return False, why
            if (condition.sample_rate or 0) != variant.rate:
                return False, f"{condition.codec.upper().replace('_', '-')} codes at {variant.rate} Hz only"
            if not condition.bitrate or condition.options:
                return False, (f"native {condition.codec} needs a bitrate (one of {list(variant.rates)} bit/s) "
                               f"and takes no options (DTX is off)")
            return True, ""
        return False, f"no native binding for encoder {condition.encoder!r}"

    def provenance_for(self, condition: CodecCondition) -> dict:
        if condition.codec in _AMR_ENCODERS:
            version = amr_lib.versions(condition.codec)
            mode = amr_lib.mode_for(condition.bitrate or 0, amr_lib.VARIANTS[condition.codec].rates)
            return {"engine": self.name, "library": f"{version} (system libraries via ctypes; mode {mode})",
                    "version": version}
        version = {"gsm": _gsm, "speex": _speex}.get(condition.codec, _codec2_version)()[1]
        return {"engine": self.name, "library": f"{version} (system library via ctypes)", "version": version}

    def provenance(self) -> dict:
        names = (f"{_gsm()[1]}, {_speex()[1]}, {_codec2_version()[1]}, {amr_lib.versions('amr_nb')}, "
                 f"{amr_lib.versions('amr_wb')}")
        return {"engine": self.name, "library": f"{names} (system libraries via ctypes)", "version": names}

    def code(self, x: np.ndarray, rate: int, condition: CodecCondition):
        ok, why = self.available(condition)
        if not ok or rate != condition.sample_rate:
            raise CodecError(why or f"{condition.encoder} codes at {condition.sample_rate} Hz, got {rate} Hz")
        pcm = to_s16(x)
        if condition.codec == "speex":
            return self._speex(pcm, rate, condition)
        if condition.codec == "gsm":
            return self._gsm(pcm, rate)
        if condition.codec in _AMR_ENCODERS:
            packets = amr_lib.encode(pcm, condition.codec, condition.bitrate)
            decoded = amr_lib.decode(packets, condition.codec)
            return Coded(decoded.astype(np.float64) / 32768.0, rate, sum(len(p) for p in packets))
        # Rounded from float32, as the ffmpeg CLI reads the clip: output equals the CLI's bit for bit.
        pcm = to_s16(x.astype(np.float32).astype(np.float64))
        return self._codec2(pcm, rate, CODEC2_MODES[dict(condition.options).get("mode", "3200")])

    def _speex(self, pcm: np.ndarray, rate: int, condition: CodecCondition):
        lib, _ = _speex()
        mode = lib.speex_lib_get_mode(_SPEEX_MODES[rate])
        enc, dec = lib.speex_encoder_init(mode), lib.speex_decoder_init(mode)
        if not enc or not dec:
            raise CodecError("libspeex: speex_encoder_init/speex_decoder_init failed")
        bits, read_bits = _SpeexBits(), _SpeexBits()
        lib.speex_bits_init(ctypes.byref(bits))
        lib.speex_bits_init(ctypes.byref(read_bits))
        try:
            for ctl, value in ((_SPEEX_SET_BITRATE, condition.bitrate),
                               (_SPEEX_SET_COMPLEXITY, int(dict(condition.options).get("complexity", 3)))):
                arg = ctypes.c_int(int(value))
                lib.speex_encoder_ctl(enc, ctl, ctypes.byref(arg))
            enhance = ctypes.c_int(1)
            lib.speex_decoder_ctl(dec, _SPEEX_SET_ENH, ctypes.byref(enhance))
            size = ctypes.c_int()
            lib.speex_encoder_ctl(enc, _SPEEX_GET_FRAME_SIZE, ctypes.byref(size))
            frames = self._frames(pcm, size.value)
            out = np.zeros_like(frames)
            buffer = ctypes.create_string_buffer(1024)
            total = 0
            for i, frame in enumerate(frames):
                frame = np.ascontiguousarray(frame)
                lib.speex_bits_reset(ctypes.byref(bits))
                lib.speex_encode_int(enc, frame.ctypes.data, ctypes.byref(bits))
                n_bytes = lib.speex_bits_write(ctypes.byref(bits), buffer, len(buffer))
                total += n_bytes
                lib.speex_bits_read_from(ctypes.byref(read_bits), buffer, n_bytes)
                target = out[i]
                if lib.speex_decode_int(dec, ctypes.byref(read_bits), target.ctypes.data) != 0:
                    raise CodecError(f"libspeex: speex_decode_int rejected frame {i}")
        finally:
            lib.speex_bits_destroy(ctypes.byref(bits))
            lib.speex_bits_destroy(ctypes.byref(read_bits))
            lib.speex_encoder_destroy(enc)
            lib.speex_decoder_destroy(dec)
        return Coded(out.reshape(-1).astype(np.float64) / 32768.0, rate, total)

    @staticmethod
    def _frames(pcm: np.ndarray, size: int) -> np.ndarray:
        n_frames = max(1, -(-len(pcm) // size))
        padded = np.zeros(n_frames * size, np.int16)
        padded[: len(pcm)] = pcm
        return padded.reshape(n_frames, size)

    def _gsm(self, pcm: np.ndarray, rate: int):
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
        bits, size, n_bytes = codec2_lib.encode(pcm, mode)
        decoded = codec2_lib.decode(bits, mode, size, n_bytes)
        return Coded(decoded.astype(np.float64) / 32768.0, rate, len(bits))
