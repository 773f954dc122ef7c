"""Ogg Vorbis in-process: the system libvorbisenc encodes (ctypes), PyAV's FFmpeg decodes.

The encoder is set up and fed as ffmpeg's ``libvorbis`` wrapper does (``-q:a Q`` →
``vorbis_encode_setup_vbr(q / 10)``; 64-sample frames, the input read as float32), so the packets
are the ones ``ffmpeg -c:a libvorbis`` writes and the decoded audio equals the
``ffmpeg+pyav`` engine's bit for bit, without an ffmpeg process per clip. Packets go to FFmpeg's
Vorbis decoder raw (headers as Xiph-laced extradata); the output is cut at the last packet's
granule position, as the Ogg demuxer does.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache

import numpy as np

from spoofbench.errors import CodecError

from .base import Coded
from .condition import CodecCondition
from .pcm import from_frame

#: ffmpeg's LIBVORBIS_FRAME_SIZE: libvorbis's block decisions depend on how input arrives.
FRAME = 64
_STATE_BYTES = 4096  # generous room for vorbis_info / _comment / _dsp_state / _block (opaque here)


class OggPacket(ctypes.Structure):
    """``ogg_packet`` from ogg.h."""

    _fields_ = [("packet", ctypes.POINTER(ctypes.c_ubyte)), ("bytes", ctypes.c_long),
                ("b_o_s", ctypes.c_long), ("e_o_s", ctypes.c_long), ("granulepos", ctypes.c_int64),
                ("packetno", ctypes.c_int64)]


@lru_cache(maxsize=1)
def _libraries():
    """(libvorbis, libvorbisenc, "libvorbisenc.so.X") with argument types declared, or Nones."""
    names = ctypes.util.find_library("vorbis"), ctypes.util.find_library("vorbisenc")
    if None in names:
        return None, None, None
    try:
        vorbis, enc = ctypes.CDLL(names[0]), ctypes.CDLL(names[1])
    except OSError:
        return None, None, None
    vp = ctypes.c_void_p
    enc.vorbis_encode_setup_vbr.argtypes = [vp, ctypes.c_long, ctypes.c_long, ctypes.c_float]
    enc.vorbis_encode_setup_init.argtypes = [vp]
    for name in ("vorbis_info_init", "vorbis_comment_init", "vorbis_info_clear", "vorbis_comment_clear",
                 "vorbis_dsp_clear", "vorbis_block_clear", "vorbis_bitrate_addblock"):
        getattr(vorbis, name).argtypes = [vp]
    for name in ("vorbis_analysis_init", "vorbis_block_init", "vorbis_analysis_blockout", "vorbis_analysis",
                 "vorbis_bitrate_flushpacket"):
        getattr(vorbis, name).argtypes = [vp, vp]
    vorbis.vorbis_analysis_headerout.argtypes = [vp, vp, vp, vp, vp]
    vorbis.vorbis_analysis_buffer.argtypes = [vp, ctypes.c_int]
    vorbis.vorbis_analysis_buffer.restype = ctypes.POINTER(ctypes.POINTER(ctypes.c_float))
    vorbis.vorbis_analysis_wrote.argtypes = [vp, ctypes.c_int]
    return vorbis, enc, _real_name(names[1])


def _real_name(soname: str) -> str:
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib", "/usr/lib64"):
        candidate = os.path.join(folder, soname)
        if os.path.exists(candidate):
            return os.path.basename(os.path.realpath(candidate))
    return soname


def encode(x: np.ndarray, rate: int, quality: float) -> tuple[list[bytes], list[bytes], int]:
    """Mono float PCM → (3 header packets, audio packets, last granule position)."""
    vorbis, enc, _ = _libraries()
    info, comment, dsp, block = (ctypes.create_string_buffer(_STATE_BYTES) for _ in range(4))
    vorbis.vorbis_info_init(info)
    try:
        if enc.vorbis_encode_setup_vbr(info, 1, int(rate), float(quality) / 10.0) != 0 \
                or enc.vorbis_encode_setup_init(info) != 0:
            raise CodecError(f"libvorbis cannot code mono {rate} Hz at quality {quality}")
        vorbis.vorbis_comment_init(comment)
        vorbis.vorbis_analysis_init(dsp, info)
        vorbis.vorbis_block_init(dsp, block)
        heads = [OggPacket() for _ in range(3)]
        vorbis.vorbis_analysis_headerout(dsp, comment, *(ctypes.byref(h) for h in heads))
        headers = [ctypes.string_at(h.packet, h.bytes) for h in heads]
        packets: list[bytes] = []
        granule = [0]
        samples = np.ascontiguousarray(x, dtype=np.float32)
        for start in range(0, len(samples), FRAME):
            chunk = samples[start:start + FRAME]
            buffer = vorbis.vorbis_analysis_buffer(dsp, len(chunk))
            ctypes.memmove(buffer[0], chunk.ctypes.data, chunk.nbytes)
            vorbis.vorbis_analysis_wrote(dsp, len(chunk))
            _drain(vorbis, dsp, block, packets, granule)
        vorbis.vorbis_analysis_wrote(dsp, 0)  # end of stream
        _drain(vorbis, dsp, block, packets, granule)
    finally:
        vorbis.vorbis_block_clear(block)
        vorbis.vorbis_dsp_clear(dsp)
        vorbis.vorbis_comment_clear(comment)
        vorbis.vorbis_info_clear(info)
    return headers, packets, granule[0]


def _drain(vorbis, dsp, block, packets: list[bytes], granule: list[int]) -> None:
    packet = OggPacket()
    while vorbis.vorbis_analysis_blockout(dsp, block) == 1:
        vorbis.vorbis_analysis(block, None)
        vorbis.vorbis_bitrate_addblock(block)
        while vorbis.vorbis_bitrate_flushpacket(dsp, ctypes.byref(packet)) == 1:
            packets.append(ctypes.string_at(packet.packet, packet.bytes))
            granule[0] = packet.granulepos


def _lace(size: int) -> bytes:
    return b"\xff" * (size // 255) + bytes([size % 255])


def decode(headers: list[bytes], packets: list[bytes], rate: int, length: int) -> np.ndarray:
    """FFmpeg's Vorbis decoder over raw packets; the first ``length`` samples (the granule position)."""
    import av


    decoder = av.CodecContext.create("vorbis", "r")
    decoder.extradata = b"\x02" + _lace(len(headers[0])) + _lace(len(headers[1])) + b"".join(headers)
    pieces = []
    for packet in [*(av.Packet(p) for p in packets), None]:
        for frame in decoder.decode(packet):
            if frame.sample_rate != rate:
                raise CodecError(f"decoder returned {frame.sample_rate} Hz, expected {rate} Hz")
            pieces.append(from_frame(frame))
    samples = np.concatenate(pieces) if pieces else np.zeros(0)
    return samples[:length]


class LibvorbisEngine:
    """libvorbisenc (ctypes) encodes, PyAV decodes: quality-driven Vorbis without a process."""

    name = "native+pyav"

    def available(self, condition: CodecCondition) -> tuple[bool, str]:
        if condition.encoder != "libvorbis" or condition.codec != "vorbis":
            return False, f"only libvorbis is wired in-process, not {condition.encoder!r}"
        if condition.quality is None or condition.options:
            return False, "in-process libvorbis takes a quality (-q:a) and no other options"
        if _libraries()[0] is None:
            return False, "the system libvorbis / libvorbisenc is not installed (apt-get install libvorbisenc2)"
        try:
            import av
            av.Codec("vorbis", "r")
        except Exception:
            return False, "PyAV has no Vorbis decoder"
        return True, ""

    def provenance_for(self, condition: CodecCondition) -> dict:
        return self.provenance()

    def provenance(self) -> dict:
        import av

        lib = ".".join(map(str, av.library_versions.get("libavcodec", ())))
        version = _libraries()[2]
        return {"engine": self.name,
                "library": f"encode: {version} (system library via ctypes); decode: libavcodec {lib} (PyAV)",
                "version": f"{version}; av {av.__version__}"}

    def code(self, x: np.ndarray, rate: int, condition: CodecCondition) -> Coded:
        ok, why = self.available(condition)
        if not ok:
            raise CodecError(why)
        headers, packets, granule = encode(x, rate, condition.quality)
        try:
            samples = decode(headers, packets, rate, granule)
        except CodecError:
            raise
        except Exception as err:  # av.error.FFmpegError
            raise CodecError(f"PyAV decode of vorbis failed: {err}") from err
        return Coded(samples, rate, sum(len(p) for p in packets))
