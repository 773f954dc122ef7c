"""Pure-Python readers of WAV (RIFF) and FLAC (STREAMINFO) headers.

They read one small block per file instead of opening it through libsndfile, which makes probing
a corpus of short clips several times faster. Anything they do not recognise (RF64, AIFF, MP3,
odd chunks) returns None and the caller falls back to ``soundfile.info``.
"""
from __future__ import annotations

import struct

#: WAVE format tags → soundfile-style subtype names (PCM ones get the bit depth).
_WAV_TAGS = {1: "PCM", 3: "FLOAT", 6: "ALAW", 7: "ULAW"}
_HEAD = 4096


def read_header(path: str, size: int) -> tuple[int, int, int, str, str] | None:
    """``(sampling_rate, num_samples, channels, format, subtype)`` of a WAV/FLAC file, or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _wav(head, size)
    if head[:4] == b"fLaC":
        return _flac(head)
    return None


def _wav(head: bytes, size: int) -> tuple[int, int, int, str, str] | None:
    offset, fmt = 12, None
    while offset + 8 <= len(head):
        chunk_id = head[offset:offset + 4]
        chunk_size = struct.unpack_from("<I", head, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"fmt ":
            if chunk_size < 16 or body + 16 > len(head):
                return None
            tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", head, body)
            if tag == 0xFFFE and chunk_size >= 40 and body + 26 <= len(head):
                tag = struct.unpack_from("<H", head, body + 24)[0]  # sub-format GUID
            fmt = (tag, channels, rate, block_align, bits)
        elif chunk_id == b"data":
            if fmt is None:
                return None
            tag, channels, rate, block_align, bits = fmt
            if tag not in _WAV_TAGS or not block_align or not channels or not rate:
                return None
            available = max(0, size - body)
            data = available if chunk_size in (0, 0xFFFFFFFF) else min(chunk_size, available)
            subtype = _WAV_TAGS[tag]
            if subtype == "PCM":
                subtype = "PCM_U8" if bits == 8 else f"PCM_{bits}"
            elif subtype == "FLOAT" and bits == 64:
                subtype = "DOUBLE"
            return rate, data // block_align, channels, "WAV", subtype
        offset = body + chunk_size + (chunk_size & 1)
    return None


def _flac(head: bytes) -> tuple[int, int, int, str, str] | None:
    # the first metadata block must be STREAMINFO (type 0, 34 bytes)
    if len(head) < 8 + 34 or head[4] & 0x7F != 0:
        return None
    info = head[8:8 + 34]
    packed = int.from_bytes(info[10:18], "big")
    rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    bits = ((packed >> 36) & 0x1F) + 1
    total = packed & 0xFFFFFFFFF
    if not rate or not total:
        return None  # unknown length: let libsndfile count
    subtype = "PCM_S8" if bits == 8 else f"PCM_{bits}"
    return rate, total, channels, "FLAC", subtype
