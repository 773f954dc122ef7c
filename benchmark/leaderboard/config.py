"""The operator's leaderboard config: test sets with their keys, codec conditions, metric, bootstrap.

Example (paths relative to the YAML file; the manifests hold the keys and never leave the operator)::

    name: demo-leaderboard
    test_sets:
      - {name: a_eval, manifest: manifests/demo_a_eval.jsonl.gz, root: corpus}
      - {name: b_eval, manifest: manifests/demo_b_eval.jsonl.gz, root: corpus}
    codecs: [none, g711_mulaw]            # condition ids or "matrix:NAME"
    bootstrap: 1000                       # resamples for the 95% CIs (EER)
    seed: 0                               # bootstrap seed and trial-list shuffling
    training_corpora:                     # declared corpus id -> manifests the operator knows,
      demo_a: [manifests/demo_a_train.jsonl.gz]   # for speaker / utterance overlap flags
    scoring: {batch_size: 32}             # ScoreConfig fields for model submissions
    device: cpu
    rank_by: pooled_ood_eer               # pooled_ood_eer | pooled_eer | min_dcf | <test set name>
    coverage: tiers                       # tiers: systems covering more test sets rank first; penalty:
    coverage_penalty: 0.05                #   one ranking, each missing test set adds this to the key
    missing_trials: reject                # reject | worst_score (a missing trial gets the system's most-spoof score)
    max_score_file_mb: 512                # larger score files are refused before they are read

The keys of a test set (``root`` is only needed to score model submissions) are the trials of its
spoofbench manifest, or a key file in any format ``spoofbench metrics`` reads (``keys: ..., corpus:
asvspoof2019_la``; no overlap flags and no model submissions for such a test set).

The rank key (``rank_by``): ``pooled_ood_eer`` (default) is the EER pooled over a system's
out-of-domain cells, and where a system has none, the EER pooled over all its cells (said on the
page); ``pooled_eer`` pools every cell; ``min_dcf`` is the minimum DCF of every cell pooled; a test
set's name ranks by that test set's EER (its uncoded condition). Systems may cover only some test sets
(every condition of each); ``coverage`` says how they rank (see docs/leaderboard.md).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

from ..configs import YamlConfig
from ..configs import config_dataclass as dataclass
from ..errors import ConfigError

METRICS = ("eer",)
RANK_KEYS = ("pooled_ood_eer", "pooled_eer", "min_dcf")
COVERAGE = ("tiers", "penalty")
MISSING_TRIALS = ("reject", "worst_score")


@dataclass
class LeaderboardTestSet:
    """A named test set: a spoofbench manifest (keys, speakers, corpus; ``root`` for model submissions),
    or a key file of any :data:`~spoofbench.metrics.KEY_FORMATS` format with the ``corpus`` it comes from."""
    name: str
    manifest: str | None = None
    root: str | None = None
    keys: str | None = None
    key_format: str | None = None
    corpus: str | None = None

    @property
    def key_path(self) -> str:
        return self.manifest or self.keys or ""


@dataclass
class LeaderboardConfig(YamlConfig):
    """What one leaderboard measures; fixed at ``leaderboard init``."""
    name: str
    test_sets: tuple[LeaderboardTestSet, ...]
    codecs: tuple[str, ...] = ("none",)
    metric: str = "eer"
    bootstrap: int = 1000
    seed: int = 0
    training_corpora: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    scoring: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    device: str = "cpu"
    rank_by: str = "pooled_ood_eer"
    coverage: str = "tiers"
    coverage_penalty: float = 0.05
    missing_trials: str = "reject"
    max_score_file_mb: int = 512

    def validate(self, path: Any = None) -> "LeaderboardConfig":
        if not self.test_sets:
            raise ConfigError("no test sets; expected at least one", path, field="test_sets")
        names = [t.name for t in self.test_sets]
        if len(set(names)) != len(names):
            raise ConfigError(f"test set names {names} are not unique", path, field="test_sets")
        for i, test in enumerate(self.test_sets):
            if not test.name or "__" in test.name or "/" in test.name:
                raise ConfigError(f"test set name {test.name!r} may not be empty or contain '__' or '/'",
                                  path, field=f"test_sets[{i}].name")
            if (test.manifest is None) == (test.keys is None):
                raise ConfigError("give either 'manifest' (a spoofbench manifest) or 'keys' (a key file), "
                                  "exactly one", path, field=f"test_sets[{i}]")
            if test.keys is not None and not test.corpus:
                raise ConfigError("a key file needs the corpus id it comes from ('corpus': decides in-domain / "
                                  "OOD for each submission's declared training data)", path,
                                  field=f"test_sets[{i}].corpus")
        if self.metric not in METRICS:
            raise ConfigError(f"value {self.metric!r} is not allowed; expected one of {', '.join(METRICS)}",
                              path, field="metric")
        if self.bootstrap < 0:
            raise ConfigError(f"value {self.bootstrap} must be >= 0", path, field="bootstrap")
        if not self.codecs:
            raise ConfigError("no codec conditions; expected at least one (e.g. none)", path, field="codecs")
        self._validate_ranking(path, names)
        return self

    def _validate_ranking(self, path: Any, names: list[str]) -> None:
        if self.rank_by not in RANK_KEYS and self.rank_by not in names:
            raise ConfigError(f"value {self.rank_by!r} is not allowed; expected one of "
                              f"{', '.join(RANK_KEYS + tuple(names))} (a test set name ranks by its EER)",
                              path, field="rank_by")
        for name, value, allowed in (("coverage", self.coverage, COVERAGE),
                                     ("missing_trials", self.missing_trials, MISSING_TRIALS)):
            if value not in allowed:
                raise ConfigError(f"value {value!r} is not allowed; expected one of {', '.join(allowed)}",
                                  path, field=name)
        if not 0 <= self.coverage_penalty <= 1:
            raise ConfigError(f"value {self.coverage_penalty} must be between 0 and 1 (an EER fraction)",
                              path, field="coverage_penalty")
        if self.max_score_file_mb <= 0:
            raise ConfigError(f"value {self.max_score_file_mb} must be > 0", path, field="max_score_file_mb")

    @classmethod
    def load(cls, path: str | Path) -> "LeaderboardConfig":
        """Load ``path``; relative manifest and root paths resolve against its folder."""
        path = Path(path)
        config = cls.from_yaml(path)
        base = path.resolve().parent

        def absolute(value: str | None) -> str | None:
            return None if value is None else str((base / Path(value).expanduser()).resolve())

        tests = tuple(dataclasses.replace(t, manifest=absolute(t.manifest), root=absolute(t.root),
                                          keys=absolute(t.keys)) for t in config.test_sets)
        corpora = {k: tuple(absolute(v) for v in paths) for k, paths in config.training_corpora.items()}
        return dataclasses.replace(config, test_sets=tests, training_corpora=corpora)

    def condition_ids(self) -> list[str]:
        """The codec condition ids, ``matrix:NAME`` expanded (unknown ids raise)."""
        from ..codecs import get_condition, get_matrix

        ids: list[str] = []
        for item in self.codecs:
            if item.startswith("matrix:"):
                ids += [c.id for c in get_matrix(item.partition(":")[2])]
            else:
                get_condition(item)
                ids.append(item)
        return list(dict.fromkeys(ids))

    def test_set(self, name: str) -> LeaderboardTestSet:
        return next(t for t in self.test_sets if t.name == name)
