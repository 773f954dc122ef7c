"""The codec condition: a frozen record of how one clip is coded (data, not code).

A condition names an FFmpeg codec and encoder, its bitrate or quality, the sample rate it codes at
and an optional telephone channel chain around it::

    input rate ─▶ [band-limit 300–3400 Hz] ─▶ coding rate ─▶ encode ─▶ decode ─▶ [packet loss] ─▶ input rate

The record is a typed config (:func:`spoofbench.configs.config_dataclass`: a frozen pydantic dataclass,
extra keys forbidden, hashable); a YAML mapping becomes one through :func:`condition_from_dict`, whose
errors name the file, the line and the full field path (``conditions.yaml:12: conditions[3].bitrate:
value 'fast' is not a bitrate; ...``). It is what a result file stores; ``to_dict()`` /
``condition_from_dict()`` round-trip it.
"""
from __future__ import annotations

import re
from dataclasses import asdict
from os import PathLike
from typing import Annotated, Any, Literal, Mapping

from pydantic import BeforeValidator, Field, StrictStr

from spoofbench.configs import LineMap, build, config_dataclass, invalid, parse_field_path

ENGINES = ("auto", "pyav", "native", "native+pyav", "ffmpeg+pyav", "ffmpeg")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


# ------------------------------------------------------------------------------------- field types
# Scalars are pydantic's own strict, constrained types; only what parses or relates values is checked here.
PositiveInt = Annotated[int, Field(strict=True, gt=0)]
PositiveFloat = Annotated[float, Field(strict=True, gt=0)]


def _condition_id(value: Any) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise invalid(f"value {value!r} is not a condition id; expected lower-case letters, digits, _ . -")
    return value


def _bitrate(value: Any) -> int | None:
    """``32000``, ``"32k"`` or ``"12.2k"`` → bit/s."""
    if value is None:
        return None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kK]?)\s*", value)
        if not match:
            raise invalid(f"value {value!r} is not a bitrate; expected bit/s like 32000 or '32k'")
        value = int(round(float(match.group(1)) * (1000 if match.group(2) else 1)))
    return value  # then typed as a PositiveInt


def _options(value: Any) -> tuple[tuple[str, str], ...]:
    """A mapping (sorted by name) or ``(name, value)`` pairs (kept in order), as strings."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), str(v)) for k, v in value.items()))
    if isinstance(value, (tuple, list)) and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in value):
        return tuple((str(k), str(v)) for k, v in value)
    raise invalid(f"value {value!r} is not a mapping of encoder options")


def _band(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in value)
            or not 0 < value[0] < value[1]):
        raise invalid(f"value {value!r} is not a pass band; expected [low_hz, high_hz] with 0 < low < high")
    return float(value[0]), float(value[1])


# ------------------------------------------------------------------------------------- records
@config_dataclass
class ChannelChain:
    """A telephone channel around the codec.

    ``band`` is the (low, high) pass band in Hz applied at the input rate before coding (zero-phase
    Butterworth, ``band_order``); ``loss_rate`` is the fraction of ``frame_ms`` frames erased after
    decoding (seeded from the trial key and the condition id; erased frames are concealed by
    repeating the previous frame at ``concealment_gain``).
    """

    band: Annotated[tuple[float, float] | None, BeforeValidator(_band)] = (300.0, 3400.0)
    band_order: PositiveInt = 6
    loss_rate: Annotated[float, Field(strict=True, ge=0, lt=1)] = 0.0
    frame_ms: PositiveFloat = 20.0
    concealment_gain: Annotated[float, Field(strict=True, ge=0, le=1)] = 0.5

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["band"] = list(self.band) if self.band else None
        return out


@config_dataclass
class CodecCondition:
    """One codec condition.

    Attributes:
        id: stable identifier (``mp3_32k``), used in score file names and result.json.
        codec: FFmpeg codec name (``mp3``, ``aac``, ``opus``, ``amr_nb``, ``gsm``, ``pcm_mulaw`` ...);
            ``none`` for the identity condition.
        encoder: FFmpeg encoder name (``libmp3lame``, ``libopencore_amrnb``, ``libgsm`` ...);
            :func:`condition_from_dict` defaults it to the codec's name.
        bitrate: nominal bitrate in bit/s (``32000``, ``"32k"``), or None for quality-driven / fixed-rate codecs.
        quality: encoder quality (Vorbis ``-q:a``), or None.
        sample_rate: the rate the codec runs at (Hz); None means the input's rate.
        channel: telephone channel chain, or None.
        engine: ``auto`` (the native libgsm/libspeex/libcodec2/AMR bindings, then PyAV, then native
            libvorbis, then the ffmpeg CLI), ``pyav``, ``native``, ``native+pyav`` (libvorbisenc via
            ctypes, PyAV decode), ``ffmpeg+pyav`` (CLI encode, in-process decode) or ``ffmpeg``.
        options: extra encoder options as ``(name, value)`` string pairs (a mapping is sorted by name).
        description: one line for listings.
    """

    id: Annotated[str, BeforeValidator(_condition_id)]
    codec: Annotated[StrictStr, Field(min_length=1)]
    encoder: StrictStr = ""
    bitrate: Annotated[PositiveInt | None, BeforeValidator(_bitrate)] = None
    quality: Annotated[float, Field(strict=True)] | None = None
    sample_rate: PositiveInt | None = None
    channel: ChannelChain | None = None
    engine: Literal[ENGINES] = "auto"
    options: Annotated[tuple[tuple[str, str], ...], BeforeValidator(_options)] = ()
    description: StrictStr = ""

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


def condition_from_dict(raw: Mapping[str, Any], path: str | PathLike | None = None,
                        where: str | tuple | None = None, lines: LineMap | None = None) -> CodecCondition:
    """Build a :class:`CodecCondition` from a YAML mapping; errors name the file, line and field.

    ``where`` is the mapping's field path in the file (``conditions[3]``; default ``conditions.<id>``),
    ``lines`` the file's line map (:func:`spoofbench.configs.load_yaml_lines`). A missing ``encoder``
    defaults to the codec's name (``""`` for ``none``).
    """
    prefix = parse_field_path(where) if isinstance(where, str) else tuple(where or ())
    data: Any = raw
    if isinstance(raw, Mapping):
        data = dict(raw)
        prefix = prefix or ("conditions", str(data.get("id")))
        if isinstance(data.get("codec"), str) and "encoder" not in data:
            data["encoder"] = "" if data["codec"] == "none" else data["codec"]
    return build(CodecCondition, data, prefix, path, lines)
