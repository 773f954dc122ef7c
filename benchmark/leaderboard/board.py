"""A leaderboard folder: its config, the operator's keys and the store.

Layout of ``DIR`` (``leaderboard init``)::

    leaderboard.yaml        the config, resolved (test-set manifests point into keys/)
    leaderboard.json        {"name", "store_url", "created"}
    keys/<test>.jsonl.gz    the test sets' manifests (or key files): the keys, never handed out
    leaderboard.sqlite      the store (unless another --db URL was given)
    files/<sha256>.txt      every accepted score file, content-addressed
    runs/                   the operator's benchmark runs of model submissions
"""
from __future__ import annotations

import dataclasses
import functools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..atomic import write_json_atomic, write_text_atomic
from ..errors import SpoofbenchError
from ..submission.trials import TrialLists, write_trial_lists
from .config import LeaderboardConfig
from .store import Store, now, sqlite_url

CONFIG_NAME = "leaderboard.yaml"
INFO_NAME = "leaderboard.json"


@dataclass(eq=False)
class Leaderboard:
    """An open leaderboard folder."""

    directory: Path
    config: LeaderboardConfig
    store: Store
    _keys: dict = dataclasses.field(default_factory=dict, repr=False)
    _trials: dict = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, directory: str | Path) -> "Leaderboard":
        directory = Path(directory)
        info_path = directory / INFO_NAME
        if not info_path.is_file():
            raise SpoofbenchError(f"{directory}: not a leaderboard folder (no {INFO_NAME}); run "
                                  "`spoofbench leaderboard init DIR --benchmark B.yaml` first")
        info = json.loads(info_path.read_text(encoding="utf-8"))
        config = LeaderboardConfig.load(directory / CONFIG_NAME)
        return cls(directory, config, Store.open(info["store_url"]))

    def close(self) -> None:
        self.store.close()

    @functools.cached_property
    def codecs(self) -> list[str]:
        return self.config.condition_ids()

    def keys(self, test_set: str):
        """The keys of ``test_set`` (:class:`~spoofbench.metrics.KeyTable` from its manifest or key file)."""
        from ..metrics import read_keys

        if test_set not in self._keys:
            spec = self.config.test_set(test_set)
            self._keys[test_set] = (read_keys(spec.manifest, "manifest") if spec.manifest
                                    else read_keys(spec.keys, spec.key_format))
        return self._keys[test_set]

    def corpora(self, test_set: str) -> list[str]:
        """The corpus ids of ``test_set`` (from its manifest, else the one its config names)."""
        spec = self.config.test_set(test_set)
        if spec.manifest:
            return sorted(set(self.keys(test_set).column("corpus").tolist()))
        return [spec.corpus]

    def trials(self, test_set: str) -> list | None:
        """The manifest's trials (speakers, sources for overlap checks); None for a plain key file."""
        from ..corpora.manifest import read_manifest

        if test_set not in self._trials:
            spec = self.config.test_set(test_set)
            self._trials[test_set] = list(read_manifest(spec.manifest)) if spec.manifest else None
        return self._trials[test_set]

    def trial_lists(self) -> TrialLists:
        return TrialLists(self.config.name, {t.name: self.keys(t.name).ids.astype(object)
                                             for t in self.config.test_sets}, tuple(self.codecs),
                          tuple(self.corpus_ids()), self.config.max_score_file_mb)

    def corpus_ids(self) -> list[str]:
        """The corpus ids a submission's ``training_data`` may name: spoofbench's corpus recipes (less the
        generic csv/folder readers), the test sets' corpora and the operator's ``training_corpora``."""
        from ..corpora import RECIPES

        ids = {name for name in RECIPES.names() if name not in ("csv", "folder")}
        ids.update(self.config.training_corpora)
        for test in self.config.test_sets:
            ids.update(self.corpora(test.name))
        return sorted(ids)

    def export_trials(self, out_dir: str | Path) -> list[Path]:
        """Write the submitters' trial lists (ids only, seeded shuffle) and the valid corpus ids into ``out_dir``."""
        lists = self.trial_lists()
        return write_trial_lists(out_dir, self.config.name, lists.ids, lists.codecs, self.config.seed,
                                 lists.corpora, lists.max_file_mb)


def init_leaderboard(directory: str | Path, benchmark: str | Path, db_url: str | None = None) -> Leaderboard:
    """Create a leaderboard folder for the config ``benchmark``; the keys are copied into ``DIR/keys``."""
    directory = Path(directory)
    if (directory / INFO_NAME).exists():
        raise SpoofbenchError(f"{directory}: already a leaderboard ({INFO_NAME} exists); choose another folder")
    config = LeaderboardConfig.load(benchmark)
    config.condition_ids()  # unknown conditions fail before anything is written
    keys_dir = directory / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    tests = []
    for test in config.test_sets:
        source = Path(test.key_path)
        if not source.is_file():
            raise SpoofbenchError(f"{benchmark}: test set {test.name!r}: {source} not found")
        suffix = (".jsonl.gz" if source.name.endswith(".gz") else ".jsonl") if test.manifest else source.suffix
        target = keys_dir / f"{test.name}{suffix}"
        shutil.copyfile(source, target)
        field = "manifest" if test.manifest else "keys"
        tests.append(dataclasses.replace(test, **{field: str(target.resolve())}))
    resolved = dataclasses.replace(config, test_sets=tuple(tests))
    write_text_atomic(directory / CONFIG_NAME, yaml.safe_dump(resolved.to_dict(), sort_keys=False))
    url = db_url or sqlite_url(directory)
    store = Store.open(url, create=True)
    (directory / "files").mkdir(exist_ok=True)
    write_json_atomic(directory / INFO_NAME, {"name": config.name, "store_url": url, "created": now()})
    board = Leaderboard(directory, LeaderboardConfig.load(directory / CONFIG_NAME), store)
    for test in board.config.test_sets:
        board.keys(test.name)  # a bad manifest fails at init, not at the first submission
    return board
