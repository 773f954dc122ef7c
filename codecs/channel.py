"""Channel conditions: what happens to a clip besides (or around) a codec, as data.

A :class:`ChannelCondition` is an ordered chain of typed steps, each a frozen record::

    input ─▶ step 1 ─▶ step 2 ─▶ … ─▶ output (same rate; same length unless a step trims or pads)

Steps (``kind:`` picks one):

* laundering: ``resample`` (a rate chain with a named resampler), ``loudness`` (ITU-R BS.1770
  loudness to a target LUFS, pyloudnorm), ``noise`` (white/pink/brown at an SNR, colorednoise;
  ``babble`` from the vendored bona fide speech of other speakers), ``clip`` (gain then hard clip
  at full scale), ``band`` (zero-phase Butterworth low-, high- or band-pass, scipy);
* ``reverb``: a pyroomacoustics image-source room impulse response from a stated shoebox room,
  RT60 and source/microphone positions (computed once per parameters and rate, then cached);
* ``replay``: a *simulated* loudspeaker → room → microphone chain (loudspeaker band and tanh
  non-linearity, a ``reverb`` room, microphone band, noise floor);
* silence: ``vad_trim`` (silero-vad; leading and trailing non-speech removed, so the clip gets
  shorter) and ``silence_pad`` (N s of digital silence added, so it gets longer);
* ``codec``: any other registered condition by id (``{kind: codec, id: amr_nb_12k2}``), so a chain
  composes with the classic codecs (reverb then AMR);
* ``neural``: a neural codec (EnCodec, SNAC) from local weights (:mod:`.neural`).

Random steps (noise, babble, replay's noise floor, neural codecs with stochastic decoders) draw from
a seed derived from the condition id, the step's index, the step's own ``seed`` and the clip key
(the trial id), so a clip gives the same output on every run and machine.

Conditions are typed configs (:func:`spoofbench.configs.config_dataclass`); they live in the same
registry, YAML files and matrices as :class:`~.condition.CodecCondition` (a mapping with ``steps:``
is a channel condition).
"""
from __future__ import annotations

from os import PathLike
from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import BeforeValidator, Field, StrictStr

from spoofbench.configs import LineMap, build, config_dataclass, parse_field_path, to_plain

from .condition import _band, _condition_id

PositiveInt = Annotated[int, Field(strict=True, gt=0)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Float = Annotated[float, Field(allow_inf_nan=False)]
Seed = Annotated[int, Field(strict=True, ge=0)]


def _point(value: Any) -> tuple[float, float, float]:
    if (not isinstance(value, (list, tuple)) or len(value) != 3
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)):
        from spoofbench.configs import invalid
        raise invalid(f"value {value!r} is not a point; expected [x, y, z] in metres, each > 0")
    return float(value[0]), float(value[1]), float(value[2])


Point = Annotated[tuple[float, float, float], BeforeValidator(_point)]
Band = Annotated[tuple[float, float] | None, BeforeValidator(_band)]


# ------------------------------------------------------------------------------------------ steps
@config_dataclass
class ResampleStep:
    """Resample the clip through ``rates`` in order and back to its own rate (``[8000]``: 16 → 8 → 16 kHz).

    ``resampler``: ``soxr`` (libsoxr, ``quality`` HQ or VHQ) or ``scipy`` (polyphase
    ``scipy.signal.resample_poly``, Kaiser window)."""

    kind: Literal["resample"]
    rates: Annotated[tuple[PositiveInt, ...], Field(min_length=1)]
    resampler: Literal["soxr", "scipy"] = "soxr"
    quality: Literal["HQ", "VHQ"] = "HQ"


@config_dataclass
class LoudnessStep:
    """Normalise the integrated loudness (ITU-R BS.1770-4, pyloudnorm) to ``target_lufs``; when
    ``peak_limit`` is set and a sample would exceed it, the whole clip is scaled down to it (the
    loudness then ends below the target; nothing is clipped). Silent clips pass unchanged."""

    kind: Literal["loudness"]
    target_lufs: Annotated[float, Field(lt=0, allow_inf_nan=False)] = -23.0
    peak_limit: Annotated[float, Field(gt=0, le=1)] | None = 1.0


@config_dataclass
class NoiseStep:
    """Add ``color`` noise at ``snr_db`` (relative to the clip's mean power).

    ``white``/``pink``/``brown``: Gaussian 1/f^beta noise (beta 0, 1, 2; colorednoise).
    ``babble``: ``talkers`` bona fide utterances of other speakers from spoofbench's vendored demo
    speech (``data_manifests/demo``, split ``babble_split``), summed at equal power, each looped and
    started at a seeded offset. A talker whose speaker id appears in the clip key is never used."""

    kind: Literal["noise"]
    snr_db: Float
    color: Literal["white", "pink", "brown", "babble"] = "white"
    talkers: Annotated[int, Field(strict=True, ge=1, le=16)] = 4
    babble_split: Literal["train", "dev", "eval"] = "train"
    seed: Seed = 0


@config_dataclass
class ClipStep:
    """Amplify by ``gain_db`` and hard-clip at ±``level`` (full scale by default)."""

    kind: Literal["clip"]
    gain_db: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 6.0
    level: Annotated[float, Field(gt=0, le=1)] = 1.0


@config_dataclass
class BandStep:
    """Zero-phase Butterworth filter (scipy ``sosfiltfilt``): ``low``/``high`` in Hz; only ``low``
    is a high-pass, only ``high`` a low-pass, both a band-pass. A cut-off at or above the clip's
    Nyquist frequency is left out."""

    kind: Literal["band"]
    low: PositiveFloat | None = None
    high: PositiveFloat | None = None
    order: Annotated[int, Field(strict=True, gt=0, le=16)] = 6


@config_dataclass
class ReverbStep:
    """Convolve with a pyroomacoustics image-source RIR of a shoebox ``room`` (metres) whose
    absorption and reflection order come from ``rt60`` (Sabine's inverse), ``source`` and ``mic``
    inside it. The output is aligned to the direct path (its delay removed), cut to the input's
    length and scaled to the input's RMS. ``wet`` mixes the reverberant signal with the dry one."""

    kind: Literal["reverb"]
    room: Point
    rt60: Annotated[float, Field(gt=0, le=3, allow_inf_nan=False)]
    source: Point
    mic: Point
    wet: Annotated[float, Field(ge=0, le=1)] = 1.0
    max_rir_s: Annotated[float, Field(gt=0, le=4)] = 1.0


@config_dataclass
class ReplayStep:
    """A simulated replay: loudspeaker band (``speaker_band``, zero-phase Butterworth order 2) and
    soft non-linearity (``tanh(drive·x)/tanh(drive)`` on the peak-normalised signal) → ``room``
    (a reverb step) → microphone band (``mic_band``) → noise floor (pink, ``noise_floor_db`` dB
    below the clip's power). A simulation, not a re-recording."""

    kind: Literal["replay"]
    room: ReverbStep
    speaker_band: Band = (150.0, 7000.0)
    drive: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 1.5
    mic_band: Band = (50.0, 7600.0)
    noise_floor_db: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 45.0
    seed: Seed = 0


@config_dataclass
class VadTrimStep:
    """Remove leading and trailing non-speech with silero-vad (the model inside its pip package):
    keep from ``pad_ms`` before the first speech segment to ``pad_ms`` after the last one. The
    clip gets shorter; a clip with no speech found passes unchanged. Inner pauses are kept."""

    kind: Literal["vad_trim"]
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    pad_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 30.0
    min_speech_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 250.0


@config_dataclass
class SilencePadStep:
    """Add ``seconds`` of digital silence at the ``where`` end(s) (``both`` splits it in half)."""

    kind: Literal["silence_pad"]
    seconds: PositiveFloat
    where: Literal["both", "start", "end"] = "both"


@config_dataclass
class CodecStep:
    """Apply the registered condition ``id`` (a classic codec or another channel condition)."""

    kind: Literal["codec"]
    id: Annotated[str, BeforeValidator(_condition_id)]


@config_dataclass
class NeuralStep:
    """Code the clip through a neural codec (see :mod:`.neural`): ``model`` names the architecture,
    ``bandwidth`` its target kbit/s (EnCodec: 1.5, 3, 6, 12, 24; DAC 16 kHz: 0.5 to 6 by 0.5, one
    codebook each), ``weights`` a local file or folder (default: the neural weights folder,
    ``spoofbench codecs check`` says which are found);
    ``device`` ``cpu``, ``cuda`` or ``auto``. Nothing is ever downloaded."""

    kind: Literal["neural"]
    model: Literal["encodec_24khz", "snac_24khz", "snac_32khz", "snac_44khz", "dac_16khz"]
    bandwidth: PositiveFloat | None = None
    weights: StrictStr | None = None
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    seed: Seed = 0


Step = Annotated[Union[ResampleStep, LoudnessStep, NoiseStep, ClipStep, BandStep, ReverbStep, ReplayStep,
                       VadTrimStep, SilencePadStep, CodecStep, NeuralStep], Field(discriminator="kind")]
STEP_KINDS = ("resample", "loudness", "noise", "clip", "band", "reverb", "replay", "vad_trim", "silence_pad",
              "codec", "neural")
#: Steps whose output depends on the clip key (seeded) — the key is then part of the cache key.
RANDOM_KINDS = frozenset({"noise", "replay", "neural"})
#: Steps that change the clip's length.
LENGTH_KINDS = frozenset({"vad_trim", "silence_pad"})


@config_dataclass
class ChannelCondition:
    """One channel condition: ``id``, the ``steps`` applied in order, a one-line ``description``
    and ``sources`` (where the condition's definition comes from, e.g. a paper; shown in listings)."""

    id: Annotated[str, BeforeValidator(_condition_id)]
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]
    description: StrictStr = ""
    sources: tuple[StrictStr, ...] = ()

    # The CodecCondition attributes listings and result files read.
    @property
    def codec(self) -> str:
        return "neural" if self.is_neural else "channel"

    encoder = ""
    bitrate = None
    quality = None
    sample_rate = None
    channel = None
    engine = "in-process"

    @property
    def is_identity(self) -> bool:
        return False

    @property
    def is_neural(self) -> bool:
        return any(s.kind == "neural" for s in self.steps)

    @property
    def is_simulation(self) -> bool:
        return any(s.kind == "replay" for s in self.steps)

    @property
    def is_random(self) -> bool:
        return any(s.kind in RANDOM_KINDS for s in self.steps)

    @property
    def keeps_length(self) -> bool:
        return not any(s.kind in LENGTH_KINDS for s in self.steps)

    @property
    def is_narrowband(self) -> bool:
        for step in self.steps:
            if step.kind == "resample" and min(step.rates) <= 8000:
                return True
            if step.kind == "band" and step.high is not None and step.high <= 4000:
                return True
        return False

    @property
    def codec_ids(self) -> tuple[str, ...]:
        """The registered conditions this chain applies (``codec`` steps)."""
        return tuple(s.id for s in self.steps if s.kind == "codec")

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    def summary(self) -> str:
        """The steps in one line: ``reverb(room=5x4x3 m, rt60=0.6 s) -> codec(amr_nb_12k2)``."""
        return " -> ".join(step_summary(s) for s in self.steps)


def step_summary(step: Any) -> str:
    """One step with its parameters, for listings."""
    plain = to_plain(step)
    plain.pop("kind")
    if step.kind == "codec":
        return f"codec({step.id})"
    if step.kind in ("reverb", "replay"):
        room = step if step.kind == "reverb" else step.room
        text = (f"room={'x'.join(f'{v:g}' for v in room.room)} m, rt60={room.rt60:g} s, "
                f"src={list(room.source)}, mic={list(room.mic)}")
        if step.kind == "replay":
            text = (f"SIMULATED speaker {step.speaker_band[0]:g}-{step.speaker_band[1]:g} Hz drive={step.drive:g}, "
                    f"{text}, mic {step.mic_band[0]:g}-{step.mic_band[1]:g} Hz, floor -{step.noise_floor_db:g} dB")
        return f"{step.kind}({text})"
    items = ", ".join(f"{k}={v}" for k, v in plain.items() if v is not None and k != "seed")
    return f"{step.kind}({items})"


def is_channel_mapping(raw: Any) -> bool:
    """A YAML condition mapping that describes a channel condition (it has ``steps``)."""
    return isinstance(raw, Mapping) and "steps" in raw


def channel_from_dict(raw: Mapping[str, Any], path: str | PathLike | None = None,
                      where: str | tuple | None = None, lines: LineMap | None = None) -> ChannelCondition:
    """Build a :class:`ChannelCondition` from a YAML mapping; errors name the file, line and field."""
    prefix = parse_field_path(where) if isinstance(where, str) else tuple(where or ())
    if isinstance(raw, Mapping):
        prefix = prefix or ("conditions", str(raw.get("id")))
    return build(ChannelCondition, raw, prefix, path, lines)
