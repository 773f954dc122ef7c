"""The benchmark config: detectors × seeds × test sets × codec conditions, from YAML.

Example (paths are relative to the YAML file)::

    name: my-benchmark
    train: {manifest: manifests/a_train.jsonl.gz, root: corpus_a}
    dev: {manifest: manifests/a_dev.jsonl.gz, root: corpus_a}
    # or, instead of train/dev/test_sets, an OOD protocol (spoofbench.corpora.protocol):
    #   protocol: {file: protocols/la19_to_wild.yaml, manifests: manifests/,
    #              roots: {asvspoof2019_la: /data/LA, in_the_wild: /data}}
    test_sets:
      - {name: a_eval, manifest: manifests/a_eval.jsonl.gz, root: corpus_a}
      - {name: itw, manifest: manifests/in_the_wild.jsonl.gz, root: /data/release_in_the_wild}
    codecs: [none, mp3_32k, "matrix:telephony"]
    seeds: [0, 1]
    training: {epochs: 10, batch_size: 32}          # TrainConfig fields for every detector
    scoring: {batch_size: 32}                       # ScoreConfig fields
    detectors:
      - {name: rawcnn_2m}
      - {name: aasist_l, train: {optim: {lr: 0.0005}}}
      - {name: aasist, label: aasist_official, checkpoint: /weights/AASIST.pth}   # scored as is
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..configs import YamlConfig, load_yaml
from ..errors import ConfigError

DOMAINS = ("in-domain", "ood")


@dataclass(frozen=True)
class DataSpec:
    """A manifest and the corpus root its relative paths hang from."""
    manifest: str
    root: str


@dataclass(frozen=True)
class TestSetSpec:
    """A named test set; ``domain`` overrides the automatic in-domain / OOD label."""
    name: str
    manifest: str
    root: str
    domain: str | None = None


@dataclass(frozen=True)
class ProtocolRef:
    """An OOD protocol YAML (:mod:`spoofbench.corpora.protocol`) giving train, dev and test sets.

    ``manifests``: folder its manifest names resolve in; ``roots``: corpus name → corpus root.
    """
    file: str
    roots: Mapping[str, str]
    manifests: str | None = None


@dataclass(frozen=True)
class DetectorSpec:
    """A detector of the registry; with ``checkpoint`` it is scored as is (no training)."""
    name: str
    preset: str | None = None
    label: str | None = None
    checkpoint: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        return self.name if not self.preset else f"{self.name}:{self.preset}"


@dataclass(frozen=True)
class BenchmarkConfig(YamlConfig):
    """Everything one ``spoofbench run`` computes."""
    name: str
    detectors: tuple[DetectorSpec, ...]
    test_sets: tuple[TestSetSpec, ...] = ()
    protocol: ProtocolRef | None = None
    train: DataSpec | None = None
    dev: DataSpec | None = None
    codecs: tuple[str, ...] = ("none",)
    seeds: tuple[int, ...] = (0,)
    training: Mapping[str, Any] = field(default_factory=dict)
    scoring: Mapping[str, Any] = field(default_factory=dict)
    bootstrap: int = 0
    device: str = "auto"
    codec_cache: str | None = None

    def validate(self, path: Any = None) -> "BenchmarkConfig":
        if not self.detectors:
            raise ConfigError("no detectors; expected at least one", path, field="detectors")
        if not self.test_sets and self.protocol is None:
            raise ConfigError("no test sets; expected 'test_sets' or a 'protocol'", path, field="test_sets")
        if self.protocol is not None and (self.train is not None or self.dev is not None):
            raise ConfigError("give either a 'protocol' or 'train' + 'dev', not both", path, field="protocol")
        labels = [d.display for d in self.detectors]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ConfigError(f"detector label(s) {dupes} appear twice; give each a distinct 'label'",
                              path, field="detectors")
        names = [t.name for t in self.test_sets]
        if len(set(names)) != len(names):
            raise ConfigError(f"test set names {names} are not unique", path, field="test_sets")
        for i, test in enumerate(self.test_sets):
            if test.domain is not None and test.domain not in DOMAINS:
                raise ConfigError(f"value {test.domain!r} is not allowed; expected one of {DOMAINS}",
                                  path, field=f"test_sets[{i}].domain")
            if "__" in test.name or "/" in test.name:
                raise ConfigError(f"test set name {test.name!r} may not contain '__' or '/'", path,
                                  field=f"test_sets[{i}].name")
        needs_training = [d.display for d in self.detectors if not d.checkpoint]
        if needs_training and self.protocol is None and (self.train is None or self.dev is None):
            raise ConfigError(f"detectors {needs_training} need training but 'train' and 'dev' are not "
                              "both given; add them or give each a 'checkpoint'", path, field="train")
        if not self.seeds:
            raise ConfigError("no seeds; expected at least one", path, field="seeds")
        if self.bootstrap < 0:
            raise ConfigError(f"value {self.bootstrap} must be >= 0", path, field="bootstrap")
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> "BenchmarkConfig":
        """Load ``path``; relative manifest, root and checkpoint paths resolve against its folder."""
        path = Path(path)
        config = cls.from_dict(load_yaml(path), path)
        return config.resolve_paths(path.resolve().parent)

    def resolve_paths(self, base: Path) -> "BenchmarkConfig":
        def absolute(value: str | None) -> str | None:
            return None if value is None else str((base / Path(value).expanduser()).resolve())

        def data(spec):
            return None if spec is None else dataclasses.replace(
                spec, manifest=absolute(spec.manifest), root=absolute(spec.root))

        protocol = self.protocol
        if protocol is not None:
            protocol = dataclasses.replace(
                protocol, file=absolute(protocol.file), manifests=absolute(protocol.manifests),
                roots={corpus: absolute(root) for corpus, root in protocol.roots.items()})
        return dataclasses.replace(
            self, protocol=protocol, train=data(self.train), dev=data(self.dev),
            test_sets=tuple(data(t) for t in self.test_sets),
            detectors=tuple(dataclasses.replace(d, checkpoint=absolute(d.checkpoint)) for d in self.detectors),
            codec_cache=absolute(self.codec_cache))
