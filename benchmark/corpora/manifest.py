"""Trials and their manifests: one JSON object per line, optionally gzip-compressed.

A :class:`Trial` is one utterance to score. Its field names follow lhotse so the two interoperate:

=================  ==========================================================================
Trial field        lhotse
=================  ==========================================================================
``id``             ``Recording.id`` and ``SupervisionSegment.id`` / ``.recording_id``
``path``           ``Recording.sources[0].source`` (made absolute with the corpus root)
``sampling_rate``  ``Recording.sampling_rate``
``num_samples``    ``Recording.num_samples``
``duration``       ``Recording.duration`` and ``SupervisionSegment.duration`` (start 0)
``speaker``        ``SupervisionSegment.speaker``
``language``       ``SupervisionSegment.language``
``label``,         ``SupervisionSegment.custom["label"]``, ``["attack"]``, ``["corpus"]``,
``attack``, ...    ``["split"]``, plus every key of ``Trial.custom``
=================  ==========================================================================

Paths are stored relative to a corpus root given at run time (``Trial.audio_path(root)``), so a
manifest moves between machines. Manifests are streamed: ``read_manifest`` yields one trial at a
time and ``write_manifest`` consumes any iterable, writing atomically.
"""
from __future__ import annotations

import gzip
import io
import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from collections.abc import Mapping
from typing import IO, Any, Iterable, Iterator

from ..atomic import atomic_path
from ..errors import ManifestError

#: The two label values (numeric arrays elsewhere use 1 = bona fide, 0 = spoof).
LABELS = ("bonafide", "spoof")
#: ``attack`` value of every bona fide trial.
BONAFIDE_ATTACK = "bonafide"
#: Placeholder for an unknown speaker or language.
UNKNOWN = "-"

_CUSTOM_TYPES = (str, int, float, bool)


@dataclass(frozen=True)
class Trial:
    """One utterance of a corpus split.

    ``path`` is relative to the corpus root (POSIX separators). ``attack`` is the generator /
    attack system (``"bonafide"`` for bona fide speech). ``duration`` (seconds),
    ``sampling_rate`` (Hz) and ``num_samples`` are filled in by probing, else None. ``custom``
    holds corpus-specific scalar fields (codec, vocoder, source_corpus, bitrate, ...).
    """

    id: str
    path: str
    label: str
    corpus: str
    split: str
    speaker: str = UNKNOWN
    attack: str = UNKNOWN
    language: str = UNKNOWN
    duration: float | None = None
    sampling_rate: int | None = None
    num_samples: int | None = None
    custom: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.label == "bonafide" and self.attack == UNKNOWN:
            object.__setattr__(self, "attack", BONAFIDE_ATTACK)
        problem = _check_trial(self)
        if problem:
            name, message = problem
            raise ManifestError(message, field=name)
        if not isinstance(self.custom, dict):  # keep it JSON-able and comparable
            object.__setattr__(self, "custom", dict(self.custom))

    def __hash__(self) -> int:  # ``custom`` is a dict, so hash the identifying fields only
        return hash((self.id, self.corpus, self.split, self.path))

    @property
    def is_bonafide(self) -> bool:
        return self.label == "bonafide"

    @property
    def target(self) -> int:
        """1 for bona fide, 0 for spoof (the numeric convention of the metrics)."""
        return 1 if self.label == "bonafide" else 0

    def audio_path(self, root: str | os.PathLike) -> Path:
        """The audio file of this trial under corpus ``root``."""
        return Path(root, self.path)

    def with_probe(self, sampling_rate: int, num_samples: int) -> "Trial":
        """A copy with sampling rate, sample count and duration filled in."""
        if int(sampling_rate) < 0 or int(num_samples) < 0:
            raise ManifestError(f"expected non-negative probe values, got {sampling_rate} Hz, "
                                f"{num_samples} samples", field="sampling_rate")
        new = object.__new__(Trial)  # skip re-validating the unchanged fields (hot path)
        new.__dict__.update(self.__dict__, sampling_rate=int(sampling_rate),
                            num_samples=int(num_samples),
                            duration=round(num_samples / sampling_rate, 6) if sampling_rate else None)
        return new

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to a manifest line (custom copied)."""
        out = dict(self.__dict__)  # the dataclass fields, in declaration order
        out["custom"] = dict(self.custom)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Trial":
        """Build from a manifest object; raises :class:`ManifestError` naming the bad field."""
        if type(data) is not dict and not isinstance(data, Mapping):
            raise ManifestError(f"expected a JSON object, got {type(data).__name__}")
        unknown = sorted(data.keys() - _FIELD_NAMES)
        if unknown:
            raise ManifestError(f"unknown field(s) {unknown}; expected only {sorted(_FIELD_NAMES)}",
                                field=unknown[0])
        if len(data) < len(_FIELD_NAMES):
            missing = [name for name in _REQUIRED if name not in data]
            if missing:
                raise ManifestError(f"missing required field(s) {missing}", field=missing[0])
        return cls(**data)


_FIELD_NAMES = {f.name for f in fields(Trial)}
_REQUIRED = ("id", "path", "label", "corpus", "split")


def _check_trial(trial: Trial) -> tuple[str, str] | None:
    """``(field, message)`` of the first invalid field, or None (kept cheap: runs per row)."""
    for name, value in (("id", trial.id), ("path", trial.path), ("label", trial.label),
                        ("corpus", trial.corpus), ("split", trial.split),
                        ("speaker", trial.speaker), ("attack", trial.attack),
                        ("language", trial.language)):
        if type(value) is not str or not value:
            return name, f"expected a non-empty string, got {value!r}"
    if trial.label != "bonafide" and trial.label != "spoof":
        return "label", f"expected one of {LABELS}, got {trial.label!r}"
    if " " in trial.id or "\t" in trial.id or "\n" in trial.id or "\r" in trial.id:
        return "id", f"expected no whitespace (score files are 'utt_id score'), got {trial.id!r}"
    if trial.label == "spoof" and trial.attack == BONAFIDE_ATTACK:
        return "attack", "a spoof trial cannot have attack 'bonafide' (use '-' when unknown)"
    path = trial.path
    if path[0] == "/" or "\\" in path or (".." in path and ".." in path.split("/")):
        return "path", (f"expected a POSIX path relative to the corpus root (no leading '/', "
                        f"no '..', no backslashes), got {path!r}")
    duration = trial.duration
    if duration is not None and (type(duration) not in (int, float) or not math.isfinite(duration)
                                 or duration < 0):
        return "duration", f"expected a finite number of seconds >= 0 or null, got {duration!r}"
    for name, value in (("sampling_rate", trial.sampling_rate), ("num_samples", trial.num_samples)):
        if value is not None and (type(value) is not int or value < 0):
            return name, f"expected a non-negative integer or null, got {value!r}"
    custom = trial.custom
    if type(custom) is not dict and not isinstance(custom, Mapping):
        return "custom", f"expected an object of scalar fields, got {custom!r}"
    for key, value in custom.items():
        if type(key) is not str or not (value is None or isinstance(value, _CUSTOM_TYPES)):
            return "custom", (f"expected str keys with str/int/float/bool/null values, "
                              f"got {key!r}: {value!r}")
    return None


def _open_text(path: Path, mode: str) -> IO[str]:
    if mode == "r":
        with open(path, "rb") as probe:
            magic = probe.read(2)
        if magic == b"\x1f\x8b":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
        return open(path, "r", encoding="utf-8")
    raise ValueError(mode)


def read_manifest(path: str | os.PathLike) -> Iterator[Trial]:
    """Stream the trials of a ``.jsonl.gz`` or ``.jsonl`` manifest (gzip detected by content).

    Raises :class:`ManifestError` with ``file:line: field:`` for a bad line.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError("manifest not found (expected a .jsonl.gz or .jsonl file)", path=path)
    with _open_text(path, "r") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ManifestError(f"not valid JSON ({err.msg} at column {err.colno}): "
                                        f"{line.strip()[:80]!r}", path=path, line=number) from err
                try:
                    yield Trial.from_dict(data)
                except ManifestError as err:
                    value = data.get(err.field) if isinstance(data, dict) and err.field else None
                    message = str(err).split(": ", 1)[1] if err.field else str(err)
                    hint = f" (value {value!r})" if value is not None and repr(value) not in message else ""
                    raise ManifestError(message + hint, path=path, line=number,
                                        field=err.field) from None
                except TypeError as err:
                    raise ManifestError(str(err), path=path, line=number) from err
        except (OSError, EOFError, UnicodeDecodeError) as err:
            raise ManifestError(f"cannot read manifest ({err}); truncated or not UTF-8 JSON lines?",
                                path=path) from err


def write_manifest(path: str | os.PathLike, trials: Iterable[Trial]) -> int:
    """Write ``trials`` as JSON lines, gzip when ``path`` ends in ``.gz``; return the count.

    Atomic: written to a temporary file beside ``path``, then renamed. Gzip output has a fixed
    timestamp so identical trials give byte-identical files (stable sha256 in result.json).
    """
    path = Path(path)
    count = 0
    with atomic_path(path, suffix=".tmp") as tmp_name:
        with open(tmp_name, "wb") as raw:
            if path.suffix == ".gz":
                binary: IO[bytes] = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                  compresslevel=6)
            else:
                binary = raw
            with io.TextIOWrapper(binary, encoding="utf-8", newline="\n") as text:
                for trial in trials:
                    if not isinstance(trial, Trial):
                        raise ManifestError(f"expected Trial objects, got {type(trial).__name__}",
                                            path=path, line=count + 1)
                    text.write(json.dumps(trial.to_dict(), ensure_ascii=False,
                                          separators=(",", ":")))
                    text.write("\n")
                    count += 1
                text.flush()
                if binary is not raw:
                    binary.close()
                raw.flush()
                os.fsync(raw.fileno())
    return count


def to_lhotse_cutset(trials: Iterable[Trial], root: str | os.PathLike):
    """A lhotse ``CutSet`` (one mono cut per trial) with the mapping of the module docstring.

    Needs ``lhotse`` (optional) and probed trials, or readable audio for unprobed ones.
    """
    try:
        from lhotse import CutSet, Recording, SupervisionSegment
        from lhotse.audio import AudioSource
    except ImportError as err:
        raise ManifestError("to_lhotse_cutset needs lhotse: pip install lhotse") from err
    cuts = []
    for trial in trials:
        source = str(trial.audio_path(root))
        if trial.sampling_rate and trial.num_samples is not None:
            recording = Recording(id=trial.id, sources=[AudioSource(type="file", channels=[0],
                                                                    source=source)],
                                  sampling_rate=trial.sampling_rate, num_samples=trial.num_samples,
                                  duration=trial.num_samples / trial.sampling_rate)
        else:
            recording = Recording.from_file(source, recording_id=trial.id)
        supervision = SupervisionSegment(
            id=trial.id, recording_id=trial.id, start=0.0, duration=recording.duration, channel=0,
            speaker=trial.speaker, language=trial.language,
            custom={"label": trial.label, "attack": trial.attack, "corpus": trial.corpus,
                    "split": trial.split, **dict(trial.custom)})
        cut = recording.to_cut()
        cut.supervisions = [supervision]
        cuts.append(cut)
    return CutSet.from_cuts(cuts)


def trial_from_lhotse_cut(cut, root: str | os.PathLike, corpus: str | None = None,
                          split: str | None = None) -> Trial:
    """The inverse of :func:`to_lhotse_cutset` for one cut (paths made relative to ``root``)."""
    sup = cut.supervisions[0]
    custom = dict(sup.custom or {})
    source = Path(cut.recording.sources[0].source)
    try:
        rel = source.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError as err:
        raise ManifestError(f"cut audio {source} is not under root {root}", field="path") from err
    return Trial(id=cut.id, path=rel, label=custom.pop("label"),
                 corpus=corpus or custom.pop("corpus", UNKNOWN),
                 split=split or custom.pop("split", UNKNOWN), speaker=sup.speaker or UNKNOWN,
                 attack=custom.pop("attack", UNKNOWN), language=sup.language or UNKNOWN,
                 duration=cut.recording.duration, sampling_rate=cut.recording.sampling_rate,
                 num_samples=cut.recording.num_samples,
                 custom={k: v for k, v in custom.items() if k not in ("corpus", "split")})
