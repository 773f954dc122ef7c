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
    calibration: true    # per detector and seed, fit llr = a * score + b on the dev set (uncoded);
                         # actDCF and Cllr are then reported on calibrated scores (raw: act_dcf_raw, cllr_raw)
    detectors:
      - {name: rawcnn_2m}
      - {name: aasist_l, train: {optim: {lr: 0.0005}}}
      - {name: aasist, label: aasist_official, checkpoint: /weights/AASIST.pth,   # scored as is
         trained_on: [asvspoof2019_la]}             # corpus ids: decides in-domain / OOD for it

The whole config is checked when it is loaded, before any work: keys and types (pydantic), detector
names, codec ids, seeds, and the nested ``training:``, ``scoring:`` and per-detector ``train:``
sections against :class:`~spoofbench.engine.TrainConfig` / :class:`~spoofbench.engine.ScoreConfig`.
Every error names the YAML file, the line and the full field path. :meth:`BenchmarkConfig.check_files`
checks that manifests, roots and checkpoints exist (``from_yaml(..., check_files=True)``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import field
from pathlib import Path
from typing import Any, Mapping

from ..configs import YamlConfig, build, config_dataclass, field_path, load_yaml_lines, located_errors
from ..errors import ConfigError

DOMAINS = ("in-domain", "ood")
DEVICES = ("auto", "cpu", "cuda")
#: TrainConfig / ScoreConfig keys the runner sets itself (from the detector spec, ``seeds``, ``codecs``).
RUNNER_TRAIN_KEYS = {"detector": "detectors[].name", "preset": "detectors[].preset",
                     "overrides": "detectors[].overrides", "seed": "seeds"}
RUNNER_SCORE_KEYS = {"codecs": "the top-level codecs", "cache_dir": "codec_cache"}


@config_dataclass
class DataSpec:
    """A manifest and the corpus root its relative paths hang from."""
    manifest: str
    root: str


@config_dataclass
class TestSetSpec:
    """A named test set; ``domain`` overrides the automatic in-domain / OOD label."""
    name: str
    manifest: str
    root: str
    domain: str | None = None


@config_dataclass
class ProtocolRef:
    """An OOD protocol YAML (:mod:`spoofbench.corpora.protocol`) giving train, dev and test sets.

    ``manifests``: folder its manifest names resolve in; ``roots``: corpus name → corpus root.
    """
    file: str
    roots: Mapping[str, str]
    manifests: str | None = None


@config_dataclass
class DetectorSpec:
    """A detector of the registry; with ``checkpoint`` it is scored as is (no training).

    ``trained_on``: corpus ids the detector's weights were trained on (a pretrained checkpoint);
    when given, the in-domain / OOD label and the overlap check use it instead of the config's
    training set.
    """
    name: str
    preset: str | None = None
    label: str | None = None
    checkpoint: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)
    trained_on: tuple[str, ...] | None = None

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        return self.name if not self.preset else f"{self.name}:{self.preset}"

    @property
    def slug(self) -> str:
        """The display label as a file-system-safe folder name (``lfcc_gmm:tiny`` → ``lfcc_gmm-tiny``)."""
        return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in self.display)


@config_dataclass
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
    calibration: bool = True           # fit a linear calibration per detector and seed on the dev set

    def validate(self, path: Any = None) -> "BenchmarkConfig":
        self._check_shape(path)
        self._check_detectors(path)
        self._check_test_sets(path)
        self._check_seeds_and_codecs(path)
        self.train_config(None, 0, path=path)  # training: + every detector's train:, typed
        for i in range(len(self.detectors)):
            self.train_config(i, 0, path=path)
        self.score_config(("none",), path=path)
        return self

    # --------------------------------------------------------------------------------- checks
    def _check_shape(self, path: Any) -> None:
        if not self.detectors:
            raise ConfigError("no detectors; expected at least one", path, field="detectors")
        if not self.test_sets and self.protocol is None:
            raise ConfigError("no test sets; expected 'test_sets' or a 'protocol'", path, field="test_sets")
        if self.protocol is not None and (self.train is not None or self.dev is not None):
            raise ConfigError("give either a 'protocol' or 'train' + 'dev', not both", path, field="protocol")
        needs_training = [d.display for d in self.detectors if not d.checkpoint]
        if needs_training and self.protocol is None and (self.train is None or self.dev is None):
            raise ConfigError(f"detectors {needs_training} need training but 'train' and 'dev' are not "
                              "both given; add them or give each a 'checkpoint'", path, field="train")
        if self.bootstrap < 0:
            raise ConfigError(f"value {self.bootstrap} must be >= 0", path, field="bootstrap")
        if self.device not in DEVICES:
            raise ConfigError(f"value {self.device!r} is not allowed; expected one of {', '.join(DEVICES)}",
                              path, field="device")

    def _check_detectors(self, path: Any) -> None:
        from ..models import DETECTORS
        from ..registry import is_object_spec

        labels = [d.display for d in self.detectors]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ConfigError(f"detector label(s) {dupes} appear twice; give each a distinct 'label'",
                              path, field="detectors")
        slugs = [d.slug for d in self.detectors]
        if len(set(slugs)) != len(slugs):
            raise ConfigError(f"detector labels {labels} clash as folder names {slugs}; give each a distinct "
                              "'label'", path, field="detectors")
        for i, spec in enumerate(self.detectors):
            if spec.name not in DETECTORS and not is_object_spec(spec.name):  # or 'pkg.module:factory'
                import difflib
                close = difflib.get_close_matches(spec.name, DETECTORS.names(), n=1, cutoff=0.5)
                hint = f", did you mean {close[0]}?" if close else f"; known: {', '.join(DETECTORS.names())}"
                raise ConfigError(f"unknown detector {spec.name!r}{hint}", path, field=f"detectors[{i}].name")
            if spec.trained_on is not None and not spec.trained_on:
                raise ConfigError("trained_on is empty; expected corpus ids (or leave it out)", path,
                                  field=f"detectors[{i}].trained_on")

    def _check_test_sets(self, path: Any) -> None:
        names = [t.name for t in self.test_sets]
        if len(set(names)) != len(names):
            raise ConfigError(f"test set names {names} are not unique", path, field="test_sets")
        for i, test in enumerate(self.test_sets):
            if test.domain is not None and test.domain not in DOMAINS:
                raise ConfigError(f"value {test.domain!r} is not allowed; expected one of {DOMAINS}",
                                  path, field=f"test_sets[{i}].domain")
            if "__" in test.name or "/" in test.name or not test.name:
                raise ConfigError(f"test set name {test.name!r} may not be empty or contain '__' or '/'", path,
                                  field=f"test_sets[{i}].name")

    def _check_seeds_and_codecs(self, path: Any) -> None:
        if not self.seeds:
            raise ConfigError("no seeds; expected at least one", path, field="seeds")
        for i, seed in enumerate(self.seeds):
            if seed < 0:
                raise ConfigError(f"seed {seed} is negative; expected integers >= 0", path, field=f"seeds[{i}]")
            if seed in self.seeds[:i]:
                raise ConfigError(f"seed {seed} appears twice; expected unique seeds", path, field=f"seeds[{i}]")
        if not self.codecs:
            raise ConfigError("no codecs; expected at least one condition id (e.g. 'none')", path, field="codecs")
        from .conditions import expand_codecs

        for i, item in enumerate(self.codecs):
            try:
                expand_codecs([item])
            except ConfigError:
                raise
            except Exception as err:  # UnknownPluginError / CodecError from the codec catalog
                raise ConfigError(f"{err}", path, field=f"codecs[{i}]") from err

    # --------------------------------------------------------------------------------- sections
    def train_config(self, detector: int | None, seed: int, *, path: Any = None):
        """The TrainConfig of detector ``detector`` (index) and ``seed``: ``training:``, then its ``train:``.

        With ``detector=None``, ``training:`` alone is checked (for a stand-in detector).
        """
        from ..engine import TrainConfig

        layers = [(("training",), self.training)]
        if detector is not None:
            layers.append((("detectors", detector, "train"), self.detectors[detector].train))
        merged: dict[str, Any] = {"device": self.device}
        for where, section in layers:
            for key in section:
                if key in RUNNER_TRAIN_KEYS:
                    raise ConfigError(f"{key!r} is set by the runner; use {RUNNER_TRAIN_KEYS[key]}", path,
                                      field=field_path(where + (key,)))
            merged.update(section)
        spec = self.detectors[detector] if detector is not None else DetectorSpec(name="rawcnn_2m")
        merged.update({"detector": spec.name, "preset": spec.preset, "overrides": dict(spec.overrides),
                       "seed": seed})
        return TrainConfig.from_dict(merged, path, prefix=layers[-1][0])

    def score_config(self, codecs: tuple[str, ...], *, path: Any = None):
        """The ScoreConfig for ``codecs``: ``scoring:`` plus the device and the codec cache."""
        from ..engine import ScoreConfig

        for key in self.scoring:
            if key in RUNNER_SCORE_KEYS:
                raise ConfigError(f"{key!r} is set by the runner; use {RUNNER_SCORE_KEYS[key]}", path,
                                  field=f"scoring.{key}")
        return ScoreConfig.from_dict({"device": self.device, **dict(self.scoring), "codecs": list(codecs),
                                      "cache_dir": self.codec_cache}, path, prefix=("scoring",))

    # --------------------------------------------------------------------------------- files
    def check_files(self, path: Any = None) -> "BenchmarkConfig":
        """Every manifest, corpus root, checkpoint and protocol file named must exist."""
        wanted: list[tuple[tuple, str | None, str]] = []
        for key in ("train", "dev"):
            spec = getattr(self, key)
            if spec is not None:
                wanted += [((key, "manifest"), spec.manifest, "file"), ((key, "root"), spec.root, "dir")]
        for i, test in enumerate(self.test_sets):
            wanted += [(("test_sets", i, "manifest"), test.manifest, "file"),
                       (("test_sets", i, "root"), test.root, "dir")]
        for i, spec in enumerate(self.detectors):
            if spec.checkpoint:
                wanted.append((("detectors", i, "checkpoint"), spec.checkpoint, "file"))
        if self.protocol is not None:
            wanted.append((("protocol", "file"), self.protocol.file, "file"))
            if self.protocol.manifests:
                wanted.append((("protocol", "manifests"), self.protocol.manifests, "dir"))
            wanted += [(("protocol", "roots", corpus), root, "dir") for corpus, root in self.protocol.roots.items()]
        for where, value, kind in wanted:
            target = Path(value) if value else None
            ok = target is not None and (target.is_file() if kind == "file" else target.is_dir())
            if not ok:
                what = "file" if kind == "file" else "folder"
                raise ConfigError(f"{what} {value} does not exist; expected an existing {what}", path,
                                  field=field_path(where))
        return self

    # --------------------------------------------------------------------------------- loading
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Any = None, lines: Any = None, *, prefix: tuple = (),
                  base: Path | None = None, check_files: bool = False) -> "BenchmarkConfig":
        """Build and check; relative paths resolve against ``base`` when it is given."""
        with located_errors(path, lines):
            config = build(cls, data, prefix, path, lines)
            if base is not None:
                config = config.resolve_paths(base)
            config.validate(path)
            if check_files:
                config.check_files(path)
        return config

    @classmethod
    def from_yaml(cls, path: str | Path, *, check_files: bool = False) -> "BenchmarkConfig":
        """Load ``path``; relative manifest, root and checkpoint paths resolve against its folder.

        ``check_files``: also require every named manifest, root and checkpoint to exist.
        """
        path = Path(path)
        data, lines = load_yaml_lines(path)
        config = cls.from_dict(data, path, lines, base=path.resolve().parent, check_files=check_files)
        add_plugin_folder(config, path.resolve().parent)
        return config

    def plugin_modules(self) -> list[str]:
        """The module names of the ``module:factory`` detectors (those not in the registry)."""
        from ..models import DETECTORS

        return [d.name.partition(":")[0] for d in self.detectors if d.name not in DETECTORS]

    def resolve_paths(self, base: Path) -> "BenchmarkConfig":
        """Relative manifests, roots, checkpoints, the codec cache and ``*_path`` overrides → absolute under ``base``."""
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
            detectors=tuple(dataclasses.replace(d, checkpoint=absolute(d.checkpoint), overrides={
                k: absolute(v) if k.endswith("_path") and isinstance(v, str) else v for k, v in d.overrides.items()})
                for d in self.detectors),
            codec_cache=absolute(self.codec_cache))


def add_plugin_folder(config: BenchmarkConfig, base: Path) -> Path | None:
    """Resolve ``module:factory`` detector specs relative to the YAML first, like its manifest paths.

    When a plugin module of ``config`` is a file (``my_detector.py``) or package beside the YAML (in
    ``base``), ``base`` goes first on ``sys.path`` (and on ``PYTHONPATH``, for worker processes), so the
    module beside the config wins over one of the same name elsewhere, whatever the working directory.
    The spec itself is unchanged (it is part of the cells' cache keys). Returns ``base`` when added.
    """
    import importlib
    import os
    import sys

    for module in config.plugin_modules():
        stem = base.joinpath(*module.split("."))
        if stem.with_suffix(".py").is_file() or (stem / "__init__.py").is_file():
            folder = str(base)
            if folder in sys.path:
                sys.path.remove(folder)
            sys.path.insert(0, folder)
            entries = [folder] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != folder]
            os.environ["PYTHONPATH"] = os.pathsep.join(entries)
            importlib.invalidate_caches()
            return base
    return None


def resolve_specs(config: BenchmarkConfig) -> None:
    """Import every ``module:factory`` detector spec; a misspelled one is a :class:`ConfigError` naming
    ``detectors[i].name`` (with a did-you-mean over the module's callables)."""
    from ..errors import SpoofbenchError
    from ..models import DETECTORS, resolve_detector

    for i, spec in enumerate(config.detectors):
        if spec.name in DETECTORS:
            continue
        try:
            resolve_detector(spec.name)
        except SpoofbenchError as err:
            raise ConfigError(f"{err}{_did_you_mean(spec.name)}", field=f"detectors[{i}].name") from err


def _did_you_mean(spec: str) -> str:
    import difflib
    import importlib

    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception:  # the module itself is missing or broken: the error says so
        return ""
    names = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n, None))]
    close = difflib.get_close_matches(attr, names, n=1, cutoff=0.5)
    return f"; did you mean {module_name}:{close[0]}?" if close else f"; callables in {module_name}: {', '.join(names)}"
