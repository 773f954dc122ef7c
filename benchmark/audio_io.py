"""The one audio reader and the one resampler of spoofbench.

Every path that touches audio (probing, ``validate``, training and scoring data, ``models score``,
``codecs apply``) reads through :func:`read_audio` / :func:`probe_audio` / :func:`open_stream`
and resamples through :func:`resample`:

* libsndfile (``soundfile``) first: it is the fastest reader of WAV/FLAC;
* PyAV (FFmpeg's decoders) when libsndfile cannot open a file or stops decoding part-way. Real
  ASVspoof 2021 FLAC files defeat libsndfile 1.2.2 ("lost sync", "unknown error in flac
  decoder") although FFmpeg decodes them to the length their header declares.

:class:`AudioInfo` records which decoder read a file (``info.decoder`` is ``"libsndfile"`` or
``"pyav"``; ``info.fallback`` says why libsndfile was not used). Samples that are NaN or infinite
raise :class:`NonFiniteAudioError`, their own defect kind.

A leaf module: it imports only numpy, soundfile, av, soxr and :mod:`spoofbench.errors`, so the
plugins (``spoofbench.codecs``, ``spoofbench.models``) may use it.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from .errors import InputFileError

#: ``soxr`` quality of every resampling (``"HQ"``: 20-bit, linear phase).
RESAMPLER_QUALITY = "HQ"
LIBSNDFILE, PYAV = "libsndfile", "pyav"


class AudioReadError(InputFileError):
    """A file that cannot be used as audio. ``kind`` is the defect: ``missing``, ``empty``,
    ``unreadable``, ``truncated``, ``no_samples`` or ``non_finite``."""

    kind = "unreadable"

    def __init__(self, message: str, path: str | os.PathLike | None = None, *, kind: str | None = None):
        if kind is not None:
            self.kind = kind
        self.message = message  # without the path prefix
        super().__init__(message, path)


class NonFiniteAudioError(AudioReadError):
    """Decoded samples include NaN or infinities (a float WAV written by a broken generator)."""

    kind = "non_finite"


@dataclass(frozen=True)
class AudioInfo:
    """What was read: the file's own rate/channels/length and the decoder that read it.

    ``num_samples`` is per channel at ``sample_rate`` (the file's rate); ``output_rate`` is the
    rate of the returned samples (differs after resampling). ``declared_samples`` is what the
    header promised (None when the container does not say).
    """

    path: str
    sample_rate: int
    channels: int
    num_samples: int
    decoder: str
    format: str = ""
    subtype: str = ""
    declared_samples: int | None = None
    fallback: str | None = None
    output_rate: int = 0

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate if self.sample_rate else 0.0


# --- versions (recorded with results) ------------------------------------------------------------

def decoder_versions() -> dict[str, str]:
    """``{"libsndfile": "1.2.2", "pyav": "18.1.0 (FFmpeg 8.1.2)"}``."""
    import soundfile

    out = {LIBSNDFILE: str(soundfile.__libsndfile_version__)}
    try:
        import av
        out[PYAV] = f"{av.__version__} (FFmpeg {getattr(av, 'ffmpeg_version_info', '?')})"
    except ImportError:  # pragma: no cover - av is a dependency
        out[PYAV] = "not installed"
    return out


def resampler_info() -> dict[str, str]:
    """The one resampler: ``{"name": "soxr", "version": ..., "quality": "HQ"}``."""
    import soxr

    return {"name": "soxr", "version": str(soxr.__version__), "quality": RESAMPLER_QUALITY}


def resampler_name() -> str:
    info = resampler_info()
    return f"{info['name']} {info['version']} (quality {info['quality']})"


# --- resampling ----------------------------------------------------------------------------------

def resample(wave: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``(n,)`` or ``(n, channels)`` → ``(≈ n·to/from, ...)`` with soxr; identity when rates match.

    float32 in → float32 out, float64 in → float64 out (other dtypes become float32).
    """
    if int(from_rate) == int(to_rate):
        return wave
    import soxr

    x = np.asarray(wave)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    if x.shape[0] == 0:
        return x.copy()
    return soxr.resample(np.ascontiguousarray(x), int(from_rate), int(to_rate), quality=RESAMPLER_QUALITY)


# --- reading -------------------------------------------------------------------------------------

def read_audio(path: str | os.PathLike, *, sample_rate: int | None = None, mono: bool = True,
               check_finite: bool = True) -> tuple[np.ndarray, AudioInfo]:
    """Decode ``path`` → ``(samples float32, info)``.

    ``samples``: ``(T,)`` when ``mono`` (channels averaged), else ``(T, channels)``; resampled to
    ``sample_rate`` when given. Raises :class:`AudioReadError` (``kind`` says why: missing, empty,
    unreadable, truncated, no_samples) and :class:`NonFiniteAudioError`.
    """
    path = os.fspath(path)
    _check_file(path)
    data, info = _decode(path)
    if data.shape[0] == 0:
        raise AudioReadError("no samples: the audio header is valid but holds 0 samples", path,
                             kind="no_samples")
    if check_finite:
        check_finite_samples(data, path)
    wave = data.mean(axis=1, dtype=np.float32) if mono and data.shape[1] > 1 else (
        data[:, 0] if mono else data)
    rate = info.sample_rate
    if sample_rate is not None and int(sample_rate) != rate:
        wave = resample(wave, rate, int(sample_rate))
        rate = int(sample_rate)
    return np.ascontiguousarray(wave, dtype=np.float32), replace(info, output_rate=rate)


def check_finite_samples(data: np.ndarray, path: str | os.PathLike | None = None) -> None:
    """Raise :class:`NonFiniteAudioError` naming how many samples are NaN/inf and where."""
    finite = np.isfinite(data)
    if finite.all():
        return
    bad = ~finite
    frames = np.flatnonzero(bad.any(axis=1) if bad.ndim == 2 else bad)
    n_nan = int(np.isnan(data).sum())
    raise NonFiniteAudioError(f"non-finite samples: {int(bad.sum())} ({n_nan} NaN, "
                              f"{int(bad.sum()) - n_nan} infinite), first at sample {int(frames[0])}",
                              path)


def _check_file(path: str) -> int:
    try:
        st = os.stat(path)
    except FileNotFoundError as err:
        raise AudioReadError("missing: no such file", path, kind="missing") from err
    except OSError as err:
        raise AudioReadError(f"unreadable: {err.strerror or err}", path) from err
    if stat.S_ISDIR(st.st_mode):
        raise AudioReadError("is a directory, expected an audio file", path)
    size = st.st_size
    if size == 0:
        raise AudioReadError("empty: the file has 0 bytes", path, kind="empty")
    return size


def _decode(path: str) -> tuple[np.ndarray, AudioInfo]:
    """``(T, C)`` float32 and its info: libsndfile, else PyAV (see the module docstring)."""
    import soundfile

    declared = None
    try:
        with soundfile.SoundFile(path) as handle:
            declared = int(handle.frames)
            info = AudioInfo(path, int(handle.samplerate), int(handle.channels), 0, LIBSNDFILE,
                             str(handle.format), str(handle.subtype), declared)
            data = handle.read(dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as err:  # type: ignore[attr-defined]
        why = f"libsndfile: {err}"
    else:
        if data.shape[0] >= declared:
            return data, replace(info, num_samples=int(data.shape[0]))
        why = f"libsndfile decoded {data.shape[0]} of {declared} samples"
    try:
        data, info = _decode_pyav(path)
    except AudioReadError as err:
        raise AudioReadError(f"unreadable: {why}; {err.message.removeprefix('unreadable: ')}", path) from None
    expected = declared if declared is not None else exact_length(info)
    info = replace(info, fallback=why, declared_samples=expected)
    if expected is not None and info.num_samples < expected:
        raise AudioReadError(f"truncated: header declares {expected} samples, {info.num_samples} "
                             f"decode ({why}; pyav agrees)", path, kind="truncated")
    return data, info


def exact_length(info: AudioInfo) -> int | None:
    """The declared length where the header states it exactly (libsndfile's headers; FLAC and
    PCM through PyAV); else None (compressed formats' container durations are approximate)."""
    exact = info.decoder == LIBSNDFILE or info.subtype == "flac" or info.subtype.startswith("pcm_")
    return info.declared_samples if exact else None


def _decode_pyav(path: str) -> tuple[np.ndarray, AudioInfo]:
    stream = open_stream(path, decoder=PYAV)
    blocks = list(stream.blocks())
    if stream.error is not None and not blocks:
        raise AudioReadError(f"unreadable: {stream.error}", path)
    data = (np.concatenate(blocks) if blocks
            else np.zeros((0, stream.info.channels), dtype=np.float32))
    return data, replace(stream.info, num_samples=int(data.shape[0]))


# --- header probing ------------------------------------------------------------------------------

def probe_audio(path: str | os.PathLike) -> AudioInfo:
    """Header facts: libsndfile's header, else PyAV. ``num_samples`` is the length that
    :func:`read_audio` decodes (a file only PyAV reads is decoded once to count it: container
    durations of compressed formats are not exact)."""
    path = os.fspath(path)
    _check_file(path)
    import soundfile

    try:
        sf_info = soundfile.info(path)
    except (RuntimeError, soundfile.LibsndfileError) as err:  # type: ignore[attr-defined]
        why = f"libsndfile: {err}"
    else:
        frames = int(sf_info.frames)
        return AudioInfo(path, int(sf_info.samplerate), int(sf_info.channels), frames, LIBSNDFILE,
                         str(sf_info.format), str(sf_info.subtype), frames,
                         output_rate=int(sf_info.samplerate))
    _, info = _decode_pyav(path)
    return replace(info, fallback=why)


# --- streaming (validate) ------------------------------------------------------------------------

class AudioStream:
    """Blocks ``(n, channels)`` float32 of one file from one decoder.

    ``blocks()`` stops early when decoding fails part-way and leaves the reason in ``error``
    (``decoded`` says how far it got); opening failures raise :class:`AudioReadError`.
    """

    def __init__(self, path: str, info: AudioInfo, reader, closer):
        self.path, self.info, self._reader, self._closer = path, info, reader, closer
        self.error: str | None = None
        self.decoded = 0

    def blocks(self) -> Iterator[np.ndarray]:
        try:
            for block in self._reader():
                if block.shape[0]:
                    self.decoded += block.shape[0]
                    yield block
        except Exception as err:  # the decoder's own exception types (libsndfile, FFmpeg)
            self.error = f"{type(err).__name__}: {err}" if not str(err) else str(err)
        finally:
            self.close()

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None


def open_stream(path: str | os.PathLike, *, decoder: str = LIBSNDFILE, block_frames: int = 65_536,
                fallback: str | None = None) -> AudioStream:
    """An :class:`AudioStream` of ``path`` through ``decoder`` (``"libsndfile"`` or ``"pyav"``)."""
    path = os.fspath(path)
    if decoder == LIBSNDFILE:
        return _open_libsndfile(path, block_frames)
    if decoder == PYAV:
        return _open_pyav(path, block_frames, fallback)
    raise ValueError(f"unknown decoder {decoder!r}; expected {LIBSNDFILE!r} or {PYAV!r}")


def _open_libsndfile(path: str, block_frames: int) -> AudioStream:
    import soundfile

    try:
        handle = soundfile.SoundFile(path)
    except (RuntimeError, soundfile.LibsndfileError) as err:  # type: ignore[attr-defined]
        raise AudioReadError(f"unreadable: libsndfile: {err}", path) from err
    frames = int(handle.frames)
    info = AudioInfo(path, int(handle.samplerate), int(handle.channels), frames, LIBSNDFILE,
                     str(handle.format), str(handle.subtype), frames, output_rate=int(handle.samplerate))

    def reader() -> Iterator[np.ndarray]:
        while True:
            block = handle.read(block_frames, dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                return
            yield block

    return AudioStream(path, info, reader, handle.close)


_PYAV_SCALE = {"s16": 1 / 32768, "s32": 1 / 2 ** 31, "s64": 1 / 2 ** 63}


def _open_pyav(path: str, block_frames: int, fallback: str | None) -> AudioStream:
    import av

    try:
        container = av.open(path)
        stream = container.streams.audio[0]
    except IndexError:
        container.close()
        raise AudioReadError("unreadable: pyav: no audio stream in the file", path) from None
    except (av.FFmpegError, OSError, ValueError) as err:
        raise AudioReadError(f"unreadable: pyav: {err}", path) from err
    rate = int(stream.rate or stream.codec_context.sample_rate)
    channels = int(stream.codec_context.layout.nb_channels or 1)
    declared = None
    if stream.duration and stream.time_base:
        declared = int(round(float(stream.duration * stream.time_base) * rate))
    info = AudioInfo(path, rate, channels, declared or 0, PYAV, container.format.name,
                     stream.codec_context.name, declared, fallback, output_rate=rate)

    def reader() -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        count = 0
        for frame in container.decode(stream):
            pending.append(_frame_samples(frame, channels))
            count += pending[-1].shape[0]
            if count >= block_frames:
                yield np.concatenate(pending)
                pending, count = [], 0
        if pending:
            yield np.concatenate(pending)

    return AudioStream(path, info, reader, container.close)


def _frame_samples(frame, channels: int) -> np.ndarray:
    """One decoded PyAV frame → ``(n, channels)`` float32 scaled like libsndfile."""
    raw = frame.to_ndarray()
    name = frame.format.name
    planar = frame.format.is_planar
    data = raw.T if planar else raw.reshape(-1, channels)
    base = name.rstrip("p")
    if base in _PYAV_SCALE:
        return (data.astype(np.float32) * np.float32(_PYAV_SCALE[base])).astype(np.float32, copy=False)
    if base == "u8":
        return (data.astype(np.float32) - 128.0) / 128.0
    return np.ascontiguousarray(data, dtype=np.float32)
