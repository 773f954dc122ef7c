"""The codec condition: a frozen record of how one clip is coded (data, not code).

A condition names an FFmpeg codec and encoder, its bitrate or quality, the sample rate it codes at
and an optional telephone channel chain around it::

    input rate ─▶ [band-limit 300–3400 Hz] ─▶ coding rate ─▶ encode ─▶ decode ─▶ [packet loss] ─▶ input rate

The record is what a result file stores; ``to_dict()`` / ``condition_from_dict()`` round-trip it.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from os import PathLike
from typing import Any, Mapping

from spoofbench.errors import ConfigError

ENGINES = ("auto", "pyav", "native", "native+pyav", "ffmpeg+pyav", "ffmpeg")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class ChannelChain:
    """A telephone channel around the codec.

    ``band`` is the (low, high) pass band in Hz applied at the input rate before coding (zero-phase
    Butterworth, ``band_order``); ``loss_rate`` is the fraction of ``frame_ms`` frames erased after
    decoding (seeded from the trial key and the condition id; erased frames are concealed by
    repeating the previous frame at ``concealment_gain``).
    """

    band: tuple[float, float] | None = (300.0, 3400.0)
    band_order: int = 6
    loss_rate: float = 0.0
    frame_ms: float = 20.0
    concealment_gain: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["band"] = list(self.band) if self.band else None
        return out


@dataclass(frozen=True)
class CodecCondition:
    """One codec condition.

    Attributes:
        id: stable identifier (``mp3_32k``), used in score file names and result.json.
        codec: FFmpeg codec name (``mp3``, ``aac``, ``opus``, ``amr_nb``, ``gsm``, ``pcm_mulaw`` ...);
            ``none`` for the identity condition.
        encoder: FFmpeg encoder name (``libmp3lame``, ``libopencore_amrnb``, ``libgsm`` ...).
        bitrate: nominal bitrate in bit/s, or None for quality-driven / fixed-rate codecs.
        quality: encoder quality (Vorbis ``-q:a``), or None.
        sample_rate: the rate the codec runs at (Hz); None means the input's rate.
        channel: telephone channel chain, or None.
        engine: ``auto`` (PyAV, then the native libgsm/libspeex/libcodec2 binding, then native
            libvorbis, then the ffmpeg CLI), ``pyav``, ``native``, ``native+pyav`` (libvorbisenc via
            ctypes, PyAV decode), ``ffmpeg+pyav`` (CLI encode, in-process decode) or ``ffmpeg``.
        options: extra encoder options as sorted ``(name, value)`` string pairs.
        description: one line for listings.
    """

    id: str
    codec: str
    encoder: str = ""
    bitrate: int | None = None
    quality: float | None = None
    sample_rate: int | None = None
    channel: ChannelChain | None = None
    engine: str = "auto"
    options: tuple[tuple[str, str], ...] = ()
    description: str = ""

    @property
    def is_identity(self) -> bool:
        return self.codec == "none"

    @property
    def is_narrowband(self) -> bool:
        """True when nothing above 4 kHz can survive (coding rate ≤ 8 kHz or a telephone band)."""
        if self.channel is not None and self.channel.band is not None and self.channel.band[1] <= 4000:
            return True
        return self.sample_rate is not None and self.sample_rate <= 8000

    @property
    def is_random(self) -> bool:
        """True when the output depends on the trial key (packet loss)."""
        return self.channel is not None and self.channel.loss_rate > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "codec": self.codec, "encoder": self.encoder, "bitrate": self.bitrate,
            "quality": self.quality, "sample_rate": self.sample_rate,
            "channel": self.channel.to_dict() if self.channel else None, "engine": self.engine,
            "options": {k: v for k, v in self.options}, "description": self.description,
        }


_CONDITION_FIELDS = {"id", "codec", "encoder", "bitrate", "quality", "sample_rate", "channel",
                     "engine", "options", "description"}
_CHANNEL_FIELDS = {"band", "band_order", "loss_rate", "frame_ms", "concealment_gain"}


def _number(value: Any, kind: type, where: str, field_name: str, path, *, positive: bool = True):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise ConfigError(f"{value!r} is not a{'n integer' if kind is int else ' number'}",
                          path, field=f"{where}.{field_name}")
    if positive and value <= 0:
        raise ConfigError(f"{value!r} must be > 0", path, field=f"{where}.{field_name}")
    return kind(value)


def _parse_bitrate(value: Any, where: str, path) -> int | None:
    """``32000``, ``"32k"`` or ``"12.2k"`` → bit/s."""
    if value is None:
        return None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kK]?)\s*", value)
        if not match:
            raise ConfigError(f"{value!r} is not a bitrate; expected bit/s like 32000 or '32k'",
                              path, field=f"{where}.bitrate")
        return int(round(float(match.group(1)) * (1000 if match.group(2) else 1)))
    return _number(value, int, where, "bitrate", path)


def _parse_channel(raw: Any, where: str, path) -> ChannelChain | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a mapping with keys {sorted(_CHANNEL_FIELDS)}, got {raw!r}",
                          path, field=f"{where}.channel")
    unknown = set(raw) - _CHANNEL_FIELDS
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)}; expected {sorted(_CHANNEL_FIELDS)}",
                          path, field=f"{where}.channel")
    where = f"{where}.channel"
    kwargs: dict[str, Any] = {}
    if "band" in raw:
        band = raw["band"]
        if band is not None:
            if (not isinstance(band, (list, tuple)) or len(band) != 2
                    or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in band)
                    or not 0 < band[0] < band[1]):
                raise ConfigError(f"{band!r} is not a pass band; expected [low_hz, high_hz] with "
                                  f"0 < low < high", path, field=f"{where}.band")
            band = (float(band[0]), float(band[1]))
        kwargs["band"] = band
    if "band_order" in raw:
        kwargs["band_order"] = _number(raw["band_order"], int, where, "band_order", path)
    if "loss_rate" in raw:
        rate = raw["loss_rate"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ConfigError(f"{rate!r} is not a loss rate; expected a fraction in [0, 1)",
                              path, field=f"{where}.loss_rate")
        kwargs["loss_rate"] = float(rate)
    if "frame_ms" in raw:
        kwargs["frame_ms"] = _number(raw["frame_ms"], float, where, "frame_ms", path)
    if "concealment_gain" in raw:
        gain = raw["concealment_gain"]
        if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not 0 <= gain <= 1:
            raise ConfigError(f"{gain!r} is not a gain in [0, 1]", path, field=f"{where}.concealment_gain")
        kwargs["concealment_gain"] = float(gain)
    return ChannelChain(**kwargs)


def condition_from_dict(raw: Mapping[str, Any], path: str | PathLike | None = None,
                        where: str | None = None) -> CodecCondition:
    """Build a :class:`CodecCondition` from a YAML mapping; errors name the file and field."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a mapping, got {raw!r}", path, field=where)
    cid = raw.get("id")
    where = where or f"conditions.{cid}"
    if not isinstance(cid, str) or not _ID_RE.match(cid):
        raise ConfigError(f"{cid!r} is not a condition id; expected lower-case letters, digits, _ . -",
                          path, field=f"{where}.id")
    unknown = set(raw) - _CONDITION_FIELDS
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)}; expected {sorted(_CONDITION_FIELDS)}",
                          path, field=where)
    codec = raw.get("codec")
    if not isinstance(codec, str) or not codec:
        raise ConfigError(f"{codec!r} is not a codec name; expected an FFmpeg codec such as 'mp3'",
                          path, field=f"{where}.codec")
    encoder = raw.get("encoder", "" if codec == "none" else codec)
    if not isinstance(encoder, str):
        raise ConfigError(f"{encoder!r} is not an encoder name", path, field=f"{where}.encoder")
    quality = raw.get("quality")
    if quality is not None:
        quality = _number(quality, float, where, "quality", path, positive=False)
    sample_rate = raw.get("sample_rate")
    if sample_rate is not None:
        sample_rate = _number(sample_rate, int, where, "sample_rate", path)
    engine = raw.get("engine", "auto")
    if engine not in ENGINES:
        raise ConfigError(f"{engine!r} is not an engine; expected one of {ENGINES}", path,
                          field=f"{where}.engine")
    options = raw.get("options") or {}
    if not isinstance(options, Mapping):
        raise ConfigError(f"{options!r} is not a mapping of encoder options", path, field=f"{where}.options")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{description!r} is not a string", path, field=f"{where}.description")
    return CodecCondition(
        id=cid, codec=codec, encoder=encoder, bitrate=_parse_bitrate(raw.get("bitrate"), where, path),
        quality=quality, sample_rate=sample_rate, channel=_parse_channel(raw.get("channel"), where, path),
        engine=engine, options=tuple(sorted((str(k), str(v)) for k, v in options.items())),
        description=description)
