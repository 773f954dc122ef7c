"""Codec engines: encode + decode one clip in memory.

* :class:`PyAVEngine` runs FFmpeg's libraries in-process through PyAV (``av``) with raw codec
  contexts (no container, no process): the fast path.
* :class:`FFmpegCLIEngine` pipes the clip through the system ``ffmpeg`` binary twice (encode to a
  container on stdout, decode from stdin) with ``ffmpeg-python``: the reference, and the fallback
  for encoders PyAV's bundled FFmpeg lacks (libvorbis, libgsm, libspeex, libcodec2).
* :class:`~.native.NativeEngine` (system libgsm / libspeex / libcodec2 / AMR libraries via ctypes) and
  :class:`~.vorbis.LibvorbisEngine` live in their own modules; this one only imports them (they
  import :mod:`.base` and :mod:`.pcm`, never this module).

All return :class:`Coded`: the decoded samples at the decoder's rate and the encoded byte count.
None aligns or trims; :mod:`spoofbench.codecs.apply` does that. :func:`select_engine` picks one.
"""
from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from functools import lru_cache

import numpy as np

from spoofbench.errors import CodecError

from .base import Coded, Engine
from .condition import CodecCondition
from .native import NativeEngine
from .pcm import from_frame, to_format
from .vorbis import LibvorbisEngine


class PyAVEngine:
    """In-process FFmpeg (PyAV's bundled libraries); raw packets, no container."""

    name = "pyav"

    def available(self, condition: CodecCondition) -> tuple[bool, str]:
        """Whether PyAV has the condition's encoder and a decoder for its codec, and why not."""
        try:
            import av
        except ImportError as err:  # pragma: no cover - av is a declared dependency
            return False, f"PyAV is not installed ({err})"
        if condition.quality is not None:
            return False, "quality-driven (-q:a) encoding is only wired for the ffmpeg CLI engine"
        for name, mode, what in ((condition.encoder, "w", "encoder"), (condition.codec, "r", "decoder")):
            try:
                av.Codec(name, mode)
            except Exception:  # av.codec.codec.UnknownCodecError
                return False, f"PyAV {av.__version__}'s bundled FFmpeg has no {what} {name!r}"
        return True, ""

    def provenance_for(self, condition: CodecCondition) -> dict:
        return self.provenance()  # one library codes every condition this engine accepts

    def provenance(self) -> dict:
        import av
        lib = ".".join(map(str, av.library_versions.get("libavcodec", ())))
        return {"engine": self.name, "library": f"libavcodec {lib} (bundled with PyAV)",
                "version": f"av {av.__version__}"}

    def code(self, x: np.ndarray, rate: int, condition: CodecCondition) -> Coded:
        import av

        try:
            encoder = av.CodecContext.create(condition.encoder, "w")
            fmt = encoder.codec.audio_formats[0].name
            encoder.sample_rate = rate
            encoder.layout = "mono"
            encoder.format = fmt
            encoder.time_base = Fraction(1, rate)
            if condition.bitrate:
                encoder.bit_rate = condition.bitrate
            options = dict(condition.options)
            if options:
                encoder.options = options
            encoder.open()
            frame_size = encoder.frame_size or 1024
            data = to_format(x, fmt)
            packets = []
            for start in range(0, len(data), frame_size):
                chunk = data[start:start + frame_size]
                if encoder.frame_size and len(chunk) < frame_size:  # fixed-frame codecs: pad last frame
                    chunk = np.concatenate([chunk, np.zeros(frame_size - len(chunk), chunk.dtype)])
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk[None, :]), format=fmt, layout="mono")
                frame.sample_rate = rate
                frame.pts = start
                frame.time_base = encoder.time_base
                packets.extend(encoder.encode(frame))
            packets.extend(encoder.encode(None))
            encoded_bytes = sum(p.size for p in packets)

            decoder = av.CodecContext.create(condition.codec, "r")
            decoder.sample_rate = rate
            decoder.layout = "mono"
            if encoder.bit_rate:
                decoder.bit_rate = encoder.bit_rate
            if encoder.extradata:
                decoder.extradata = encoder.extradata
            if condition.codec == "adpcm_g726":  # the raw decoder needs its code size (bits/sample)
                decoder.options = {"bits_per_coded_sample": str(round(encoder.bit_rate / rate))}
            pieces = []
            out_rate = rate
            for packet in packets:
                for frame in decoder.decode(packet):
                    out_rate = frame.sample_rate or rate
                    pieces.append(from_frame(frame))
            for frame in decoder.decode(None):
                pieces.append(from_frame(frame))
        except CodecError:
            raise
        except Exception as err:  # av.error.FFmpegError and friends carry FFmpeg's message
            raise CodecError(f"PyAV ({condition.encoder}): {err}") from err
        samples = np.concatenate(pieces) if pieces else np.zeros(0)
        return Coded(samples, out_rate, encoded_bytes)


#: Container (muxer) and demuxer options per FFmpeg codec for the CLI pipes.
_CONTAINERS: dict[str, tuple[str, dict]] = {
    "mp3": ("mp3", {}),
    "aac": ("adts", {}),
    "opus": ("ogg", {}),
    "vorbis": ("ogg", {}),
    "speex": ("ogg", {}),
    "amr_nb": ("amr", {}),
    "gsm": ("gsm", {}),
    "pcm_mulaw": ("mulaw", {"ac": 1}),
    "pcm_alaw": ("alaw", {"ac": 1}),
    "adpcm_g722": ("g722", {}),
    "adpcm_g726": ("g726", {}),
    "codec2": ("codec2", {}),
}
#: Bytes of container header not counted as payload (fixed headers only).
_HEADER_BYTES = {"amr": 6, "codec2": 7}


@lru_cache(maxsize=1)
def ffmpeg_binary() -> str | None:
    return shutil.which("ffmpeg")


@lru_cache(maxsize=1)
def ffmpeg_version() -> str:
    binary = ffmpeg_binary()
    if binary is None:
        return "not installed"
    first = subprocess.run([binary, "-version"], capture_output=True, text=True, check=False).stdout
    return first.splitlines()[0].split(" Copyright")[0] if first else "unknown"


@lru_cache(maxsize=1)
def ffmpeg_codecs() -> tuple[frozenset, frozenset]:
    """(encoder names, decoder names) of the system ffmpeg; empty when it is missing."""
    binary = ffmpeg_binary()
    if binary is None:
        return frozenset(), frozenset()
    names = []
    for flag in ("-encoders", "-decoders"):
        out = subprocess.run([binary, "-hide_banner", flag], capture_output=True, text=True, check=False).stdout
        found = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] == "A":
                found.add(parts[1])
                if "(codec " in line:
                    found.add(line.split("(codec ")[1].split(")")[0])
        names.append(frozenset(found))
    return names[0], names[1]


def ogg_audio_payload_bytes(stream: bytes) -> int:
    """Bytes of codec packets in an Ogg stream, without page headers and the header packets
    (pages with granule position 0 or -1 carry only stream headers)."""
    total, pos = 0, 0
    while pos + 27 <= len(stream):
        if stream[pos:pos + 4] != b"OggS":
            raise CodecError(f"not an Ogg page at byte {pos}")
        granule = int.from_bytes(stream[pos + 6:pos + 14], "little", signed=True)
        n_segments = stream[pos + 26]
        payload = sum(stream[pos + 27:pos + 27 + n_segments])
        if granule > 0:
            total += payload
        pos += 27 + n_segments + payload
    return total


class FFmpegCLIEngine:
    """The system ``ffmpeg`` over pipes (ffmpeg-python): encode to a container, decode back."""

    name = "ffmpeg"

    def available(self, condition: CodecCondition) -> tuple[bool, str]:
        if ffmpeg_binary() is None:
            return False, "no ffmpeg binary on PATH (apt-get install ffmpeg)"
        if condition.codec not in _CONTAINERS:
            return False, f"no pipe container known for codec {condition.codec!r}"
        encoders, decoders = ffmpeg_codecs()
        if condition.encoder not in encoders:
            return False, f"{ffmpeg_version()} has no encoder {condition.encoder!r}"
        if condition.codec not in decoders:
            return False, f"{ffmpeg_version()} has no decoder for {condition.codec!r}"
        return True, ""

    def provenance_for(self, condition: CodecCondition) -> dict:
        return self.provenance()  # one binary codes every condition this engine accepts

    def provenance(self) -> dict:
        return {"engine": self.name, "library": f"{ffmpeg_version()} (system binary, pipes)",
                "version": ffmpeg_version()}

    def code(self, x: np.ndarray, rate: int, condition: CodecCondition) -> Coded:
        import ffmpeg

        binary = ffmpeg_binary()
        if binary is None:
            raise CodecError("no ffmpeg binary on PATH (apt-get install ffmpeg)")
        container, demux = _CONTAINERS.get(condition.codec, (None, {}))
        if container is None:
            raise CodecError(f"no pipe container known for codec {condition.codec!r}")
        out_kwargs: dict = {"format": container, "acodec": condition.encoder, "ar": rate, "ac": 1,
                            "fflags": "+bitexact", "flags:a": "+bitexact"}
        if condition.bitrate:
            out_kwargs["b:a"] = condition.bitrate
        if condition.quality is not None:
            out_kwargs["q:a"] = condition.quality
        out_kwargs.update(dict(condition.options))
        demux = dict(demux)
        if condition.codec in ("pcm_mulaw", "pcm_alaw"):
            demux["ar"] = rate
        if condition.codec == "adpcm_g726":
            demux.update(code_size=max(2, min(5, int(round((condition.bitrate or 32000) / rate)))),
                         sample_rate=rate)
        pcm = x.astype("<f4").tobytes()
        encoded = self._run(ffmpeg.input("pipe:", format="f32le", ar=rate, ac=1).output("pipe:", **out_kwargs),
                            pcm, binary, condition, "encode")
        payload = ogg_audio_payload_bytes(encoded) if container == "ogg" else max(
            0, len(encoded) - _HEADER_BYTES.get(container, 0))
        decoded_in_process = self._decode(encoded, container, rate, condition)
        if decoded_in_process is not None:
            return Coded(decoded_in_process, rate, payload)
        decoded = self._run(ffmpeg.input("pipe:", format=container, **demux)
                            .output("pipe:", format="f32le", acodec="pcm_f32le", ac=1, ar=rate),
                            encoded, binary, condition, "decode")
        samples = np.frombuffer(decoded, dtype="<f4").astype(np.float64)
        return Coded(samples, rate, payload)

    def _decode(self, encoded: bytes, container: str, rate: int, condition: CodecCondition):
        """Decode in another way than the CLI; None means "use the CLI" (this reference engine)."""
        return None

    @staticmethod
    def _run(stream, data: bytes, binary: str, condition: CodecCondition, step: str) -> bytes:
        import ffmpeg

        try:
            out, _ = (stream.global_args("-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1")
                      .run(cmd=binary, input=data, capture_stdout=True, capture_stderr=True, quiet=True))
        except ffmpeg.Error as err:
            message = (err.stderr or b"").decode("utf-8", "replace").strip() or str(err)
            raise CodecError(f"ffmpeg {step} with {condition.encoder} failed: {message}") from err
        return out


class FFmpegEncodePyAVDecodeEngine(FFmpegCLIEngine):
    """The ffmpeg CLI encodes (it has the encoder); PyAV decodes the container bytes in-process,
    saving one process per clip. Used for encoders only the system ffmpeg has (libvorbis, libspeex)."""

    name = "ffmpeg+pyav"
    _PYAV_DEMUX = {"ogg": "ogg"}

    def available(self, condition: CodecCondition) -> tuple[bool, str]:
        ok, why = super().available(condition)
        if not ok:
            return ok, why
        container = _CONTAINERS[condition.codec][0]
        if container not in self._PYAV_DEMUX:
            return False, f"in-process demuxing of {container!r} is not wired"
        try:
            import av
            av.Codec(condition.codec, "r")
        except Exception:
            return False, f"PyAV has no decoder for {condition.codec!r}"
        return True, ""

    def provenance(self) -> dict:
        import av
        lib = ".".join(map(str, av.library_versions.get("libavcodec", ())))
        return {"engine": self.name,
                "library": f"encode: {ffmpeg_version()} (system binary, pipes); decode: libavcodec {lib} (PyAV)",
                "version": f"{ffmpeg_version()}; av {av.__version__}"}

    def _decode(self, encoded: bytes, container: str, rate: int, condition: CodecCondition):
        import io

        import av

        try:
            with av.open(io.BytesIO(encoded), format=self._PYAV_DEMUX[container]) as source:
                pieces = []
                decoded_rate = rate
                for frame in source.decode(audio=0):
                    decoded_rate = frame.sample_rate
                    pieces.append(from_frame(frame))
        except Exception as err:
            raise CodecError(f"PyAV decode of {condition.codec} failed: {err}") from err
        if decoded_rate != rate:
            raise CodecError(f"decoder returned {decoded_rate} Hz, expected {rate} Hz")
        return np.concatenate(pieces) if pieces else np.zeros(0)


ENGINES = {"native": NativeEngine(), "pyav": PyAVEngine(), "native+pyav": LibvorbisEngine(),
           "ffmpeg+pyav": FFmpegEncodePyAVDecodeEngine(), "ffmpeg": FFmpegCLIEngine()}


def engine_attempts(condition: CodecCondition) -> list[tuple[str, str]]:
    """The engines ``auto`` (or the condition's own engine) tries for ``condition``, in order, as
    ``(name, why not)``, up to and including the first that can code it (its reason is ``""``)."""
    order = (["native", "pyav", "native+pyav", "ffmpeg+pyav", "ffmpeg"] if condition.engine == "auto"
             else [condition.engine])
    tried = []
    for name in order:
        ok, why = ENGINES[name].available(condition)
        tried.append((name, "" if ok else why))
        if ok:
            break
    return tried


def select_engine(condition: CodecCondition) -> tuple[Engine | None, str]:
    """The engine that will code ``condition`` here, or (None, reasons) when none can.

    ``auto`` prefers the in-process engines (the system libgsm / libspeex / libcodec2 / AMR
    libraries via ctypes, then PyAV, then libvorbisenc via ctypes with PyAV decoding: several times
    faster), then ffmpeg CLI encoding with PyAV decoding, then the pure ffmpeg CLI (the reference).
    The system libraries come first so that a condition they code (AMR above all) is coded the
    same whichever codecs a PyAV wheel's FFmpeg was built with."""
    tried = engine_attempts(condition)
    name, why = tried[-1]
    if not why:
        return ENGINES[name], ""
    return None, "; ".join(f"{name}: {why}" for name, why in tried)
