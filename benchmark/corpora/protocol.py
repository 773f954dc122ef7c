"""Out-of-distribution benchmark protocols declared in YAML: train on X, select on dev, test on Y.

A protocol file (typed configs: frozen pydantic dataclasses via :mod:`spoofbench.configs`, unknown keys
refused; an error names the file, the line and the full field path, e.g.
``p.yaml:7: tests.wild.where.attack: value {'within': ['A01']} is not a condition; ...``)::

    name: la19_to_wild
    train: {manifest: asvspoof2019_la_train}
    dev:   {manifest: asvspoof2019_la_dev}
    tests:
      la19_eval: {manifest: asvspoof2019_la_eval}
      la19_unseen_attacks:
        manifest: asvspoof2019_la_eval
        where: {attack: {not_in: [A16, A19]}}     # A16/A19 = A04/A06 of training
      in_the_wild: {manifest: in_the_wild_eval, disjoint_speakers: true}

``manifest`` is a name (``<manifests_dir>/<name>.jsonl.gz``), a path, or a list of them.
``where`` maps a column (a Trial field or a ``custom`` key) to a value, a list (``in``) or
``{in: [...]}`` / ``{not_in: [...]}`` / ``{equals: v}`` / ``{not_equals: v}``; all conditions
must hold. ``disjoint_speakers: true`` drops trials whose speaker occurs in the training set.

Each test set is labelled ``in-domain`` when its corpora, spoofing attacks and languages all occur
in training, else ``ood`` with the reason; overlap with training (speakers, source utterances or
file basenames, identical trials) is detected and reported.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Iterable, Iterator, Literal, Mapping, Sequence

from pydantic import AliasChoices, BeforeValidator, Field, StrictBool, model_validator
from pydantic_core import ArgsKwargs

from ..atomic import write_json_atomic
from ..configs import YamlConfig, config_dataclass, invalid
from ..errors import ConfigError
from .manifest import UNKNOWN, Trial, read_manifest, write_manifest

_OPS = ("in", "not_in", "equals", "not_equals")
_TRIAL_COLUMNS = ("id", "path", "label", "corpus", "split", "speaker", "attack", "language",
                  "sampling_rate", "num_samples", "duration")


# ---------------------------------------------------------------------------------------------
# the typed protocol config

def _filter_fields(raw: Any) -> Any:
    """A YAML ``where`` value (scalar, list, ``{in|not_in|equals|not_equals: ...}``) → op and values."""
    if isinstance(raw, Mapping) and set(raw) == {"op", "values"}:
        return raw  # already in field form (``to_dict``)
    if isinstance(raw, Mapping):
        if len(raw) != 1 or next(iter(raw)) not in _OPS:
            raise invalid(f"value {dict(raw)!r} is not a condition; expected one of {', '.join(_OPS)} "
                          "as the only key")
        op, values = next(iter(raw.items()))
        if op in ("equals", "not_equals"):
            values = [values]
            op = "in" if op == "equals" else "not_in"
    else:
        op, values = "in", raw
    if not isinstance(values, list):
        values = [values]
    if not values or any(isinstance(v, (dict, list)) for v in values):
        raise invalid(f"value {values!r} is not a condition; expected a scalar or a non-empty list of scalars")
    return {"op": op, "values": tuple(values)}


@config_dataclass
class Condition:
    """One ``where`` filter: the column's value is (``in``) or is not (``not_in``) one of ``values``."""

    op: Literal["in", "not_in"]
    values: tuple[Any, ...]

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, raw: Any) -> Any:
        return raw if isinstance(raw, ArgsKwargs) else _filter_fields(raw)  # ArgsKwargs: Condition(op, values)

    @functools.cached_property
    def text_values(self) -> frozenset[str]:
        return frozenset(str(v) for v in self.values)

    def matches(self, value: Any) -> bool:
        """Compared as text, so YAML ``64`` matches a custom ``"64"`` and vice versa."""
        hit = value is not None and str(value) in self.text_values
        return hit if self.op == "in" else not hit


def _manifest_list(raw: Any) -> tuple[str, ...]:
    manifests = [raw] if isinstance(raw, str) else raw
    if not manifests or not isinstance(manifests, (list, tuple)) or not all(
            isinstance(m, str) and m for m in manifests):
        raise invalid(f"value {raw!r} is not a manifest; expected a manifest name/path or a list of them")
    return tuple(manifests)


def _where(raw: Any) -> Any:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise invalid(f"value {raw!r} is not a mapping column: condition")
    return {str(column): value for column, value in raw.items()}


@config_dataclass
class SetSpec:
    """One set of a protocol: manifests (``manifest:``, a name/path or a list), filters, speaker hold-out.

    In YAML a bare name or list stands for ``{manifest: ...}``.
    """

    manifests: Annotated[tuple[str, ...], BeforeValidator(_manifest_list)] = Field(
        validation_alias=AliasChoices("manifest", "manifests"))
    where: Annotated[Mapping[str, Condition], BeforeValidator(_where)] = Field(default_factory=dict)
    disjoint_speakers: StrictBool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        return {"manifest": raw} if isinstance(raw, (str, list)) else raw

    def matches(self, trial: Trial) -> bool:
        """True when every ``where`` condition holds for ``trial``."""
        return all(cond.matches(column_value(trial, column)) for column, cond in self.where.items())


def _text(raw: Any) -> str:
    if isinstance(raw, (Mapping, list, tuple)):
        raise invalid(f"value {raw!r} is not a string")
    return "" if raw is None else str(raw)


def _test_sets(raw: Any) -> Any:
    if not isinstance(raw, Mapping) or not raw:
        raise invalid(f"value {raw!r} is not a test set mapping; expected a non-empty mapping test_name: set")
    return {str(name): value for name, value in raw.items()}


@config_dataclass
class ProtocolSpec(YamlConfig):
    """A protocol YAML: ``train``, ``dev`` and named ``tests`` sets (required), ``name``, ``description``."""

    train: SetSpec
    dev: SetSpec
    tests: Annotated[Mapping[str, SetSpec], BeforeValidator(_test_sets)]
    name: Annotated[str, BeforeValidator(_text)] = ""
    description: Annotated[str, BeforeValidator(_text)] = ""

    def validate(self, path: Any = None) -> "ProtocolSpec":
        return self


@dataclass(frozen=True)
class OverlapReport:
    """What a test set shares with the training set (sorted examples, up to 10 each)."""

    speakers: tuple[str, ...] = ()
    speaker_count: int = 0
    source_utterances: tuple[str, ...] = ()
    source_utterance_count: int = 0
    trials: tuple[str, ...] = ()
    trial_count: int = 0

    @property
    def any(self) -> bool:
        return bool(self.speaker_count or self.source_utterance_count or self.trial_count)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {"speakers": {"count": self.speaker_count, "examples": list(self.speakers)},
                "source_utterances": {"count": self.source_utterance_count,
                                      "examples": list(self.source_utterances)},
                "trials": {"count": self.trial_count, "examples": list(self.trials)}}


@dataclass(frozen=True)
class TestSet:
    """A labelled test set: ``domain`` is ``"in-domain"`` or ``"ood"`` (``reason`` says why)."""

    __test__ = False  # not a pytest class
    name: str
    trials: list[Trial]
    domain: str  # "in-domain" | "ood"
    overlap: OverlapReport
    reason: str = ""


@dataclass(frozen=True)
class Protocol:
    """Resolved protocol: the trials of each set, test sets labelled and checked for overlap."""

    train: list[Trial]
    dev: list[Trial]
    tests: dict[str, TestSet]
    name: str = "protocol"
    spec: ProtocolSpec | None = None
    description: str = ""


# ---------------------------------------------------------------------------------------------
# parsing

def column_value(trial: Trial, column: str) -> Any:
    """A Trial field, or ``custom[column]`` (``custom.x`` also accepted); None when absent."""
    if column in _TRIAL_COLUMNS:
        return getattr(trial, column)
    return trial.custom.get(column.removeprefix("custom."))


def parse_protocol(path: str | os.PathLike) -> ProtocolSpec:
    """Read and type-check a protocol YAML (no manifests are read); ``name`` defaults to the file's stem."""
    path = Path(path)
    spec = ProtocolSpec.from_yaml(path)
    return spec if spec.name else dataclasses.replace(spec, name=path.stem)


# ---------------------------------------------------------------------------------------------
# resolving

def resolve_manifest(ref: str, manifests_dir: Path | None, base: Path) -> Path:
    """``ref`` as a file: a path (absolute, or under ``manifests_dir`` / the YAML's folder) or a
    name ``<ref>.jsonl.gz`` / ``<ref>.jsonl`` in ``manifests_dir``."""
    candidates: list[Path] = []
    for folder in ([manifests_dir] if manifests_dir else []) + [base]:
        for suffix in ("", ".jsonl.gz", ".jsonl"):
            candidates.append(Path(ref + suffix) if Path(ref).is_absolute()
                              else folder / (ref + suffix))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(f"manifest {ref!r} not found; looked for "
                      f"{', '.join(str(c) for c in candidates[:3])}, ...", field="manifest")


def _select(spec: SetSpec, manifests_dir: Path | None, base: Path,
            train_speakers: set[str] | None) -> list[Trial]:
    out = []
    for ref in spec.manifests:
        for trial in read_manifest(resolve_manifest(ref, manifests_dir, base)):
            if not spec.matches(trial):
                continue
            if spec.disjoint_speakers and train_speakers and trial.speaker in train_speakers:
                continue
            out.append(trial)
    return out


def source_utterance(trial: Trial) -> str:
    """The utterance a trial was made from: ``custom['source_utterance']`` or the file's stem."""
    value = trial.custom.get("source_utterance")
    return str(value) if value else PurePosixPath(trial.path).stem


def _examples(values: set[str]) -> tuple[str, ...]:
    return tuple(sorted(values)[:10])


def overlap_report(train: Sequence[Trial], test: Sequence[Trial]) -> OverlapReport:
    """Speakers, source utterances (or basenames) and trials a test set shares with training."""
    speakers = {t.speaker for t in train if t.speaker != UNKNOWN}
    sources = {source_utterance(t) for t in train}
    trials = {(t.corpus, t.id) for t in train}
    shared_speakers = {t.speaker for t in test if t.speaker in speakers}
    shared_sources = {source_utterance(t) for t in test} & sources
    shared_trials = {f"{t.corpus}:{t.id}" for t in test if (t.corpus, t.id) in trials}
    return OverlapReport(_examples(shared_speakers), len(shared_speakers),
                         _examples(shared_sources), len(shared_sources),
                         _examples(shared_trials), len(shared_trials))


def domain_of(train: Sequence[Trial], test: Sequence[Trial]) -> tuple[str, str]:
    """``("in-domain", "")`` when the test's corpora, attacks and languages occur in training,
    else ``("ood", reason)``."""
    corpora = {t.corpus for t in train}
    attacks = {(t.corpus, t.attack) for t in train if t.label == "spoof"}
    languages = {t.language for t in train}
    reasons = []
    new_corpora = sorted({t.corpus for t in test} - corpora)
    if new_corpora:
        reasons.append(f"corpus not in training: {', '.join(new_corpora)}")
    new_attacks = sorted({t.attack for t in test if t.label == "spoof" and t.corpus in corpora
                          and (t.corpus, t.attack) not in attacks})
    if new_attacks:
        reasons.append(f"{len(new_attacks)} attack(s) unseen in training: "
                       f"{', '.join(new_attacks[:12])}{' ...' if len(new_attacks) > 12 else ''}")
    new_languages = sorted({t.language for t in test if t.language != UNKNOWN} - languages)
    if new_languages:
        reasons.append(f"language(s) not in training: {', '.join(new_languages)}")
    return ("ood", "; ".join(reasons)) if reasons else ("in-domain", "")


def load_protocol(yaml_path: str | os.PathLike, manifests_dir: str | os.PathLike | None = None
                  ) -> Protocol:
    """Read a protocol YAML and the manifests it names; label and overlap-check every test set.

    Manifest names resolve under ``manifests_dir`` (then the YAML's own folder).
    """
    yaml_path = Path(yaml_path)
    spec = parse_protocol(yaml_path)
    folder = Path(manifests_dir) if manifests_dir is not None else None
    base = yaml_path.parent

    def select(set_spec: SetSpec, name: str, speakers: set[str] | None) -> list[Trial]:
        try:
            return _select(set_spec, folder, base, speakers)
        except ConfigError as err:
            raise ConfigError(str(err).split(": ", 1)[-1], path=yaml_path,
                              field=f"{name}.manifest") from None

    train = select(spec.train, "train", None)
    if not train:
        raise ConfigError("the training set is empty after filtering", path=yaml_path,
                          field="train")
    speakers = {t.speaker for t in train if t.speaker != UNKNOWN}
    dev = select(spec.dev, "dev", None)
    tests = {}
    for name, test_spec in spec.tests.items():
        trials = select(test_spec, f"tests.{name}", speakers)
        domain, reason = domain_of(train, trials)
        tests[name] = TestSet(name, trials, domain, overlap_report(train, trials), reason)
    return Protocol(train, dev, tests, name=spec.name, spec=spec, description=spec.description)


def _labelled(trials: Iterable[Trial], protocol: str, role: str, domain: str) -> Iterator[Trial]:
    from dataclasses import replace

    for trial in trials:
        yield replace(trial, custom={**trial.custom, "protocol": protocol, "role": role,
                                     "domain": domain})


def write_protocol(protocol: Protocol, out: str | os.PathLike) -> dict[str, Any]:
    """Write ``train``, ``dev`` and ``test_<name>`` manifests (each trial's ``custom`` gets
    ``protocol``, ``role`` and ``domain``) and ``protocol_report.json``; return the report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"name": protocol.name, "description": protocol.description}
    for role, trials in (("train", protocol.train), ("dev", protocol.dev)):
        name = f"{role}.jsonl.gz"
        write_manifest(out / name, _labelled(trials, protocol.name, role, "in-domain"))
        report[role] = _set_summary(trials, name)
    report["tests"] = {}
    for test in protocol.tests.values():
        name = f"test_{test.name}.jsonl.gz"
        write_manifest(out / name, _labelled(test.trials, protocol.name, "test", test.domain))
        report["tests"][test.name] = {**_set_summary(test.trials, name), "domain": test.domain,
                                      "reason": test.reason, "overlap": test.overlap.to_dict()}
    write_json_atomic(out / "protocol_report.json", report)
    return report


def _set_summary(trials: Sequence[Trial], manifest: str) -> dict[str, Any]:
    return {"manifest": manifest, "trials": len(trials),
            "bonafide": sum(t.label == "bonafide" for t in trials),
            "spoof": sum(t.label == "spoof" for t in trials),
            "corpora": sorted({t.corpus for t in trials}),
            "attacks": sorted({t.attack for t in trials if t.label == "spoof"})}
