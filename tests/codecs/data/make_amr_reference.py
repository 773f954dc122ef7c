"""Records the AMR reference outputs in ``amr_reference.npz`` (run by hand; the tests only read the file).

Why: PyAV 18.1.0's wheel bundled FFmpeg with ``libopencore_amrnb``; 18.1.1's does not, so the
``amr_nb_*`` conditions moved to the native engine (Debian's libopencore-amrnb0 through ctypes,
``spoofbench.codecs.amr_lib``). This script codes a fixed signal the way the old ``pyav`` engine did
(``spoofbench.codecs.engines.PyAVEngine.code``: s16 frames of 160 samples, the last one zero-padded,
then the encoder flushed, which codes one more all-zero frame) and records the packets and
the audio decoded by PyAV 18.1.0's ``libopencore_amrnb`` decoder. ``tests/codecs/test_amr_native.py``
asserts that the native engine writes the same packets and decodes the same samples, bit for bit.

AMR-WB has no encoder in any PyAV wheel or in Debian's ffmpeg, so no independent encoder reference
exists here: the WB packets below come from Debian's libvo-amrwbenc0 (a ctypes call in this script,
independent of spoofbench's binding), and the reference is the half that can be checked: PyAV
18.1.0's bundled ``libopencore_amrwb`` decoder (its own build of opencore-amr) decoding them.

Run (outside the repository's venv; needs libvo-amrwbenc0 from apt)::

    python3 -m venv /tmp/av1810 && /tmp/av1810/bin/pip install av==18.1.0 numpy
    /tmp/av1810/bin/python tests/codecs/data/make_amr_reference.py

It also prints how far the old path's *default* decoder (FFmpeg's own float ``amrnb`` decoder,
which the ``pyav`` engine picked for codec ``amr_nb``) is from opencore's decoder.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

OUT = Path(__file__).with_name("amr_reference.npz")
NB_BITRATES = (12200, 4750)
WB_MODES = {12650: 2, 23850: 8}


def signal(rate: int, seconds: float, seed: int) -> np.ndarray:
    """Seeded voiced-speech-like int16: a pulse train with wandering pitch, a resonance, noise and an envelope."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    f0 = 140 + 50 * np.sin(2 * np.pi * 1.3 * t)
    pulses = (np.diff(np.floor(np.cumsum(f0 / rate)), prepend=0) > 0).astype(float)
    x = np.zeros(n)
    r, centre = 0.97, 700.0 / rate
    for i in range(n):  # one two-pole resonator (numpy only: this venv has no scipy)
        x[i] = pulses[i] + 2 * r * np.cos(2 * np.pi * centre) * x[i - 1] - r * r * x[i - 2]
    x = x / np.abs(x).max() + 0.05 * rng.standard_normal(n)
    x *= 0.3 * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def pyav_encode(pcm: np.ndarray, encoder_name: str, rate: int, bitrate: int) -> list[bytes]:
    """PyAVEngine.code's encoding: fixed frames, the last one zero-padded, then a flush."""
    encoder = av.CodecContext.create(encoder_name, "w")
    encoder.sample_rate, encoder.layout, encoder.format = rate, "mono", "s16"
    encoder.time_base = Fraction(1, rate)
    encoder.bit_rate = bitrate
    encoder.open()
    size = encoder.frame_size
    packets = []
    for start in range(0, len(pcm), size):
        chunk = pcm[start:start + size]
        chunk = np.concatenate([chunk, np.zeros(size - len(chunk), np.int16)])
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, encoder.time_base
        packets.extend(encoder.encode(frame))
    packets.extend(encoder.encode(None))
    return [bytes(p) for p in packets]


def pyav_decode(packets: list[bytes], decoder_name: str, rate: int) -> np.ndarray:
    decoder = av.CodecContext.create(decoder_name, "r")
    decoder.sample_rate, decoder.layout = rate, "mono"
    pieces = []
    for packet in [*(av.Packet(p) for p in packets), None]:
        for frame in decoder.decode(packet):
            data = frame.to_ndarray().reshape(-1)
            if data.dtype != np.int16:  # FFmpeg's float decoder: as the engine read it, then to s16
                data = np.clip(np.round(data.astype(np.float64) * 32768.0), -32768, 32767)
            pieces.append(data.astype(np.int16))
    return np.concatenate(pieces)


def vo_amrwbenc(pcm: np.ndarray, mode: int) -> list[bytes]:
    lib = ctypes.CDLL(ctypes.util.find_library("vo-amrwbenc"))
    lib.E_IF_init.restype = ctypes.c_void_p
    lib.E_IF_encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.E_IF_exit.argtypes = [ctypes.c_void_p]
    state = lib.E_IF_init()
    n_frames = -(-len(pcm) // 320) + 1  # zero-padded last frame, then one all-zero frame (as NB's flush)
    frames = np.zeros(n_frames * 320, np.int16)
    frames[:len(pcm)] = pcm
    out, buffer = [], ctypes.create_string_buffer(64)
    for i in range(n_frames):
        chunk = np.ascontiguousarray(frames[i * 320:(i + 1) * 320])
        n = lib.E_IF_encode(state, mode, chunk.ctypes.data, buffer, 0)
        out.append(buffer.raw[:n])
    lib.E_IF_exit(state)
    return out


def main() -> int:
    if av.__version__ != "18.1.0":
        print(f"needs PyAV 18.1.0 (its wheel has libopencore_amrnb); this is {av.__version__}", file=sys.stderr)
        return 1
    arrays = {"nb_input": signal(8000, 0.3, 1), "wb_input": signal(16000, 0.2, 2)}
    for bitrate in NB_BITRATES:
        packets = pyav_encode(arrays["nb_input"], "libopencore_amrnb", 8000, bitrate)
        ours = pyav_decode(packets, "libopencore_amrnb", 8000)
        old = pyav_decode(packets, "amr_nb", 8000)  # what the pyav engine decoded with
        arrays[f"nb_{bitrate}_sizes"] = np.array([len(p) for p in packets], np.int16)
        arrays[f"nb_{bitrate}_packets"] = np.frombuffer(b"".join(packets), np.uint8)
        arrays[f"nb_{bitrate}_decoded"] = ours
        diff = np.abs(ours.astype(int) - old.astype(int))
        print(f"AMR-NB {bitrate}: {len(packets)} packets; opencore vs FFmpeg amrnb decoder: max |diff| "
              f"{diff.max()} LSB, mean {diff.mean():.2f} LSB (of 32768)")
    for bitrate, mode in WB_MODES.items():
        packets = vo_amrwbenc(arrays["wb_input"], mode)
        arrays[f"wb_{bitrate}_sizes"] = np.array([len(p) for p in packets], np.int16)
        arrays[f"wb_{bitrate}_packets"] = np.frombuffer(b"".join(packets), np.uint8)
        arrays[f"wb_{bitrate}_decoded"] = pyav_decode(packets, "libopencore_amrwb", 16000)
        print(f"AMR-WB {bitrate}: {len(packets)} packets")
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) with av {av.__version__}, "
          f"libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
