"""The run's inputs, gathered once before planning: train/dev manifests and labelled test sets.

Test sets are streamed, never held: one pass over a test manifest writes its key file and keeps only
counts and the small sets that labelling needs (corpora, attacks, languages, and the speakers, source
utterances and trials it *shares* with training). The labels follow
:func:`spoofbench.corpora.protocol.domain_of` and :func:`~spoofbench.corpora.protocol.overlap_report`
(a test checks that both give the same answer). The test set's audio content is digested with
:func:`spoofbench.digests.audio_digest` (cached by path and stat in ``<run>/digests``), so a
replaced clip makes exactly the cells of its test set stale. The digest equals ``audio_digest``'s; it is
computed in the same single pass (only trial id → sha256 is kept).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..atomic import atomic_path
from ..errors import ConfigError
from .config import BenchmarkConfig
from .plan import TestSet, content_hash


@dataclass
class TrainProfile:
    """What labelling needs from the training set (sets of small strings, no trials)."""
    corpora: set = field(default_factory=set)
    attacks: set = field(default_factory=set)          # (corpus, attack) of spoofs
    languages: set = field(default_factory=set)
    speakers: set = field(default_factory=set)
    sources: set = field(default_factory=set)
    trials: set = field(default_factory=set)           # (corpus, id)

    @classmethod
    def of(cls, trials: Iterable[Any]) -> "TrainProfile":
        from ..corpora.manifest import UNKNOWN
        from ..corpora.protocol import source_utterance

        profile = cls()
        for t in trials:
            profile.corpora.add(t.corpus)
            if t.label == "spoof":
                profile.attacks.add((t.corpus, t.attack))
            profile.languages.add(t.language)
            if t.speaker != UNKNOWN:
                profile.speakers.add(t.speaker)
            profile.sources.add(source_utterance(t))
            profile.trials.add((t.corpus, t.id))
        return profile


@dataclass
class TestProfile:
    """One pass over a test set: counts, its corpora/attacks/languages and what it shares with training."""
    __test__ = False  # not a pytest class
    n_trials: int = 0
    corpora: set = field(default_factory=set)
    new_attacks: set = field(default_factory=set)
    languages: set = field(default_factory=set)
    shared_speakers: set = field(default_factory=set)
    shared_sources: set = field(default_factory=set)
    shared_trials: set = field(default_factory=set)

    def add(self, t: Any, train: TrainProfile | None) -> None:
        from ..corpora.manifest import UNKNOWN
        from ..corpora.protocol import source_utterance

        self.n_trials += 1
        self.corpora.add(t.corpus)
        if t.language != UNKNOWN:
            self.languages.add(t.language)
        if train is None:
            return
        if t.label == "spoof" and t.corpus in train.corpora and (t.corpus, t.attack) not in train.attacks:
            self.new_attacks.add(t.attack)
        if t.speaker in train.speakers:
            self.shared_speakers.add(t.speaker)
        source = source_utterance(t)
        if source in train.sources:
            self.shared_sources.add(source)
        if (t.corpus, t.id) in train.trials:
            self.shared_trials.add(f"{t.corpus}:{t.id}")

    def domain(self, train: TrainProfile) -> tuple[str, str]:
        """As :func:`spoofbench.corpora.protocol.domain_of`."""
        reasons = []
        new_corpora = sorted(self.corpora - train.corpora)
        if new_corpora:
            reasons.append(f"corpus not in training: {', '.join(new_corpora)}")
        new_attacks = sorted(self.new_attacks)
        if new_attacks:
            reasons.append(f"{len(new_attacks)} attack(s) unseen in training: "
                           f"{', '.join(new_attacks[:12])}{' ...' if len(new_attacks) > 12 else ''}")
        new_languages = sorted(self.languages - train.languages)
        if new_languages:
            reasons.append(f"language(s) not in training: {', '.join(new_languages)}")
        return ("ood", "; ".join(reasons)) if reasons else ("in-domain", "")

    def overlap(self) -> dict:
        """As :func:`spoofbench.corpora.protocol.overlap_report` (``to_dict``)."""
        from ..corpora.protocol import OverlapReport

        def examples(values: set) -> tuple[str, ...]:
            return tuple(sorted(values)[:10])

        return OverlapReport(examples(self.shared_speakers), len(self.shared_speakers),
                             examples(self.shared_sources), len(self.shared_sources),
                             examples(self.shared_trials), len(self.shared_trials)).to_dict()


@dataclass(frozen=True)
class RunData:
    """Train/dev manifests and roots, their hash, and the labelled test sets."""
    train_manifest: str | None
    dev_manifest: str | None
    train_root: Any
    dev_root: Any
    test_sets: tuple[TestSet, ...]
    data_hash: str


def gather_inputs(config: BenchmarkConfig, out: Path, *, progress: bool = False) -> RunData:
    """Label every test set against the training set (streamed), write key files, digest the audio."""
    from ..corpora.manifest import read_manifest
    from ..digests import DigestCache, file_sha256

    labelled: dict[str, tuple[str, str]] = {}
    tests: list[tuple[str, str, Any, str | None]] = []   # name, manifest, root, forced domain
    if config.protocol is not None:
        train_manifest, dev_manifest, roots, protocol_tests = _write_protocol(config, out)
        train_root = dev_root = roots
        for name, (manifest, domain, reason) in protocol_tests.items():
            tests.append((name, manifest, roots, None))
            labelled[name] = (domain, reason)
    else:
        train_manifest = config.train.manifest if config.train else None
        dev_manifest = config.dev.manifest if config.dev else None
        train_root = config.train.root if config.train else None
        dev_root = config.dev.root if config.dev else None
    tests += [(t.name, t.manifest, t.root, t.domain) for t in config.test_sets]
    train = TrainProfile.of(read_manifest(train_manifest)) if train_manifest else None
    dev = _DevSet.of(dev_manifest) if dev_manifest else None
    data_hash = content_hash(*(file_sha256(p) if p else None for p in (train_manifest, dev_manifest)),
                             train_root, dev_root)
    with DigestCache(out / "digests") as digests:
        sets = tuple(_test_set(name, manifest, root, forced, labelled.get(name), train, out, digests, progress, dev)
                     for name, manifest, root, forced in tests)
    return RunData(train_manifest and str(train_manifest), dev_manifest and str(dev_manifest), train_root, dev_root,
                   sets, data_hash)


def _write_protocol(config: BenchmarkConfig, out: Path) -> tuple[str, str, dict, dict]:
    from ..corpora.protocol import load_protocol, write_protocol

    ref = config.protocol
    protocol = load_protocol(ref.file, ref.manifests)
    folder = out / "protocol"
    report = write_protocol(protocol, folder)
    tests = {name: (str(folder / report["tests"][name]["manifest"]), test.domain, test.reason)
             for name, test in protocol.tests.items()}
    return str(folder / "train.jsonl.gz"), str(folder / "dev.jsonl.gz"), dict(ref.roots), tests


def _test_set(name: str, manifest: str, root: Any, forced: str | None, labelled: tuple[str, str] | None,
              train: TrainProfile | None, out: Path, digests: Any, progress: bool,
              dev: "_DevSet | None" = None) -> TestSet:
    """One streamed pass over a test manifest: key file, labels, overlap and the audio content digest."""
    from ..corpora.manifest import read_manifest
    from ..digests import digest_of, file_sha256

    keys_path = out / "keys" / f"{name}.txt"
    keys_path.parent.mkdir(parents=True, exist_ok=True)
    profile = TestProfile()
    hashes: dict[str, str] = {}   # trial id → audio sha256: what digests.audio_digest digests
    shared_dev: list[str] = []
    with atomic_path(keys_path) as tmp, open(tmp, "w", encoding="utf-8") as keys:
        for trial in _progress(read_manifest(manifest), progress, f"reading {name}", manifest):
            profile.add(trial, train)
            if dev is not None and (trial.corpus, trial.id) in dev.trials:
                shared_dev.append(f"{trial.corpus}:{trial.id}")
            keys.write(_key_line(trial))
            hashes[trial.id] = _audio_sha256(digests, root, trial)
    if not profile.n_trials:
        raise ConfigError(f"test set {name!r} has no trials", manifest)
    if forced:
        domain, reason = forced, "set in the config"
    elif labelled:
        domain, reason = labelled
    elif train is not None:
        domain, reason = profile.domain(train)
    else:
        domain, reason = "ood", "no training data known (pretrained checkpoints)"
    overlap = profile.overlap() if train is not None else {}
    sha256 = file_sha256(manifest)
    dev_overlap = dev.overlap(shared_dev, profile.n_trials, sha256) if dev is not None else {}
    return TestSet(name, str(manifest), root, sha256, digest_of(hashes), profile.n_trials, domain,
                   reason, overlap, str(keys_path), tuple(sorted(profile.corpora)), forced_domain=bool(forced),
                   dev_overlap=dev_overlap)


@dataclass
class _DevSet:
    """The dev set's trial ids (corpus, id) and manifest sha256: a test set sharing them is not held out."""
    trials: set
    sha256: str

    @classmethod
    def of(cls, manifest: str) -> "_DevSet":
        from ..corpora.manifest import read_manifest
        from ..digests import file_sha256

        return cls({(t.corpus, t.id) for t in read_manifest(manifest)}, file_sha256(manifest))

    def overlap(self, shared: list[str], n_trials: int, sha256: str) -> dict:
        return {"n_shared_trials": len(shared), "n_trials": n_trials, "same_manifest": sha256 == self.sha256,
                "examples": sorted(shared)[:10]}


def _audio_sha256(digests: Any, root: Any, trial: Any) -> str:
    """The sha256 of a trial's audio (cached by path and stat), or ``missing`` when it cannot be read."""
    from ..digests import MISSING

    try:
        base = root[trial.corpus] if isinstance(root, Mapping) else root
        return digests.sha256(trial.audio_path(base))
    except (OSError, KeyError):
        return MISSING


def _progress(items: Iterable[Any], enabled: bool, what: str, manifest: str) -> Iterable[Any]:
    if not enabled:
        return items
    from ..corpora.validate import count_rows
    from ..logs import progress as show_progress
    return show_progress(items, total=count_rows(Path(manifest)), desc=what)


def _key_line(t: Any) -> str:
    """A key in the ASVspoof 2019 protocol layout: ``speaker utt_id - attack label``."""
    return f"{_token(t.speaker)} {t.id} - {'-' if t.label == 'bonafide' else _token(t.attack)} {t.label}\n"


def _token(text: str) -> str:
    return "_".join(str(text).split()) or "-"
