"""Trial lists: what a submitter receives (ids only, shuffled), one file per test set.

Folder layout (written by ``spoofbench leaderboard trials``)::

    leaderboard.json     {"name", "test_sets": [...], "codecs": [...], "files": [expected score files],
                          "corpus_ids": [the ids training_data may name], "max_score_file_mb"}
    <test_set>.txt       one trial id per line, in a seeded random order (no labels)

A score file is expected for every test set × codec condition: ``<test_set>__<codec>.txt``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..atomic import write_json_atomic, write_text_atomic
from ..errors import SubmissionError

INDEX = "leaderboard.json"


def score_file_name(test_set: str, codec: str) -> str:
    return f"{test_set}__{codec}.txt"


@dataclass(frozen=True)
class TrialLists:
    """Ids per test set and the codec conditions each needs a score file for."""

    name: str
    ids: Mapping[str, np.ndarray]
    codecs: tuple[str, ...]
    corpora: tuple[str, ...] = ()   # the corpus ids training_data may name (empty: not checked)
    max_file_mb: int = 512          # the leaderboard's size limit per score file

    @property
    def test_sets(self) -> list[str]:
        return list(self.ids)

    def expected_files(self) -> dict[str, tuple[str, str]]:
        """``{file name: (test set, codec)}`` in test-set, codec order."""
        return {score_file_name(t, c): (t, c) for t in self.ids for c in self.codecs}


def write_trial_lists(out_dir: str | Path, name: str, ids: Mapping[str, Sequence[str]],
                      codecs: Iterable[str], seed: int, corpora: Iterable[str] = (),
                      max_file_mb: int = 512) -> list[Path]:
    """Write shuffled id lists (a seeded permutation per test set) and the index; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (test_set, values) in enumerate(ids.items()):
        order = np.random.default_rng([seed, index]).permutation(len(values))
        shuffled = [str(values[i]) for i in order]
        path = out / f"{test_set}.txt"
        write_text_atomic(path, "".join(f"{utt}\n" for utt in shuffled))
        written.append(path)
    codecs = tuple(codecs)
    files = [score_file_name(t, c) for t in ids for c in codecs]
    write_json_atomic(out / INDEX, {"name": name, "test_sets": list(ids), "codecs": list(codecs),
                                    "files": files, "corpus_ids": sorted(corpora),
                                    "max_score_file_mb": max_file_mb})
    written.append(out / INDEX)
    return written


def read_trial_lists(folder: str | Path) -> TrialLists:
    """Read a trial-list folder written by :func:`write_trial_lists`."""
    folder = Path(folder)
    index_path = folder / INDEX
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise SubmissionError(f"{index_path}: missing; expected the trial-list folder written by "
                              "`spoofbench leaderboard trials`") from err
    except json.JSONDecodeError as err:
        raise SubmissionError(f"{index_path}:{err.lineno}: not valid JSON ({err.msg})") from err
    ids = {}
    for test_set in index.get("test_sets", []):
        path = folder / f"{test_set}.txt"
        try:
            lines = path.read_text(encoding="utf-8").split()
        except FileNotFoundError as err:
            raise SubmissionError(f"{path}: missing trial list of test set {test_set!r}") from err
        ids[test_set] = np.asarray(lines, dtype=object)
    return TrialLists(index.get("name", ""), ids, tuple(index.get("codecs", [])),
                      tuple(index.get("corpus_ids", [])), int(index.get("max_score_file_mb", 512)))
