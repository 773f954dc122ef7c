"""Planning a run: the cells of a config, each keyed by a content hash, as plain frozen data.

:func:`plan_cells` is a pure function of the config and the facts about its inputs that the runner
gathered once (:class:`PlanInputs`: manifest hashes, test-set labels, versions, codec provenance).
It returns one :class:`TrainCell` per (detector, seed) that needs training and one :class:`ScoreCell`
per (detector, seed, test set, codec); a score cell depends on its detector's train cell
(``train_key``). Nothing here trains, scores or imports torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Union

from ..hashing import sha256_json
from .conditions import expand_codecs  # noqa: F401  (importable from here, as before)
from .config import BenchmarkConfig, DetectorSpec


#: Bumped when what a score cell's metrics hold changes (2: calibrated actDCF / Cllr, coverage).
METRICS_VERSION = 2


def content_hash(*parts: Any) -> str:
    """A stable hash of JSON-able parts: :func:`spoofbench.hashing.sha256_json` of them as a list."""
    return sha256_json(list(parts))


@dataclass(frozen=True)
class TestSet:
    """A labelled test set (no trials held: the manifest is streamed wherever they are needed).

    ``corpora``: the corpus ids of its trials (for detectors that declare ``trained_on``).
    ``audio_sha256``: digest of the content of every audio file it names (a replaced clip changes it).
    """
    __test__ = False  # not a pytest class
    name: str
    manifest: str
    root: Any                      # corpus root, or {corpus: root}
    sha256: str                    # of the manifest file
    audio_sha256: str
    n_trials: int
    domain: str
    reason: str
    overlap: Mapping[str, Any]
    keys_path: str
    corpora: tuple[str, ...] = ()
    forced_domain: bool = False    # the config set the domain: it holds for every detector
    #: trials shared with the run's dev set (checkpoint selection, calibration): {"n_shared_trials",
    #: "n_trials", "same_manifest", "examples"}; empty without a dev set. Not part of any cache key.
    dev_overlap: Mapping[str, Any] = field(default_factory=dict)

    def label_for(self, trained_on: tuple[str, ...] | None) -> tuple[str, str]:
        """(domain, reason) for a detector trained on ``trained_on`` corpora (None: the config's training set)."""
        if trained_on is None or self.forced_domain:
            return self.domain, self.reason
        unseen = sorted(set(self.corpora) - set(trained_on))
        if unseen:
            return "ood", (f"corpus not in the detector's training data (trained_on: {', '.join(trained_on)}): "
                           f"{', '.join(unseen)}")
        return "in-domain", f"corpus in the detector's training data (trained_on: {', '.join(trained_on)})"


@dataclass(frozen=True)
class PlanInputs:
    """What planning needs to know about the inputs, gathered once by the runner."""
    test_sets: tuple[TestSet, ...]
    data_hash: str                 # train/dev manifests and roots
    versions: Mapping[str, Any]    # package versions that decide whether a cell may be reused
    codecs: Mapping[str, Mapping[str, Any]]  # condition id → provenance (in the config's order)


@dataclass(frozen=True)
class TrainCell:
    """Train ``spec`` with ``seed`` (or load its checkpoint: ``spec.checkpoint``)."""
    detector: str                  # display label
    spec: DetectorSpec
    seed: int
    key: str
    kind: str = field(default="train", init=False)

    @property
    def folder(self) -> str:
        return f"{self.spec.slug}__seed{self.seed}__{self.key[:10]}"

    @property
    def needs_training(self) -> bool:
        return not self.spec.checkpoint


@dataclass(frozen=True)
class ScoreCell:
    """Score one test set under one codec condition with a trained detector; compute its metrics."""
    detector: str
    seed: int
    test_set: str
    codec: str
    domain: str
    reason: str
    key: str
    train_key: str                 # the TrainCell this cell depends on
    kind: str = field(default="score", init=False)

    @property
    def ident(self) -> str:
        """A readable id: ``detector/seed/test_set/codec`` (for ``--rescore``)."""
        return f"{self.detector}/{self.seed}/{self.test_set}/{self.codec}"


Cell = Union[TrainCell, ScoreCell]


def plan_cells(config: BenchmarkConfig, inputs: PlanInputs) -> list[Cell]:
    """Every cell of ``config``: per detector and seed, its train cell, then its score cells."""
    cells: list[Cell] = []
    version_key = {k: inputs.versions.get(k) for k in ("spoofbench", "torch", "av")}
    for spec in config.detectors:
        for seed in config.seeds:
            train_key = content_hash(spec.display, asdict(spec), seed, config.training, inputs.data_hash,
                                     version_key, config.device)
            cells.append(TrainCell(spec.display, spec, seed, train_key))
            for test in inputs.test_sets:
                domain, reason = test.label_for(spec.trained_on)
                for codec, provenance in inputs.codecs.items():
                    key = content_hash(train_key, test.sha256, test.audio_sha256, provenance, METRICS_VERSION,
                                       config.calibration)
                    cells.append(ScoreCell(spec.display, seed, test.name, codec, domain, reason, key, train_key))
    return cells
