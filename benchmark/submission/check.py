"""``submission check``: everything that can be checked without the keys, one reason per problem.

Checks: ``submission.yaml`` and its required fields; one score file per test set × condition, named
``<test>__<codec>.txt``, and no other; each file's sha256 equals the declared one; each file parses
(finite numbers, no duplicate ids: the reader names file and line); every trial scored once and no
id outside the trial list; no file constant; no two conditions with identical scores.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ScoreFileError, SubmissionError
from ..hashing import sha256_file
from ..metrics.readers import ScoreNormalization, ScoreTable, read_scores
from .spec import SPEC_NAME, SubmissionSpec, load_spec
from .trials import TrialLists

_SHOW = 5
_IGNORED = ("README", "LICENSE", "LICENCE")


@dataclass
class CheckedSubmission:
    """A submission that passed :func:`check_submission`: its spec and each file's aligned scores."""

    folder: Path
    spec: SubmissionSpec
    normalization: ScoreNormalization
    scores: dict[str, np.ndarray] = field(default_factory=dict)   # file name -> scores in trial-list order
    sha256: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, dict] = field(default_factory=dict)        # file name -> extra ids dropped


def _examples(ids: list) -> str:
    return ", ".join(map(str, ids[:_SHOW])) + (", ..." if len(ids) > _SHOW else "")


def _score_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != SPEC_NAME
                  and not p.name.startswith(".") and not p.name.upper().startswith(_IGNORED))


def check_submission(folder: str | Path, trials: TrialLists,
                     normalization: ScoreNormalization | None = None) -> CheckedSubmission:
    """Check a score-file submission against trial lists; raise :class:`SubmissionError` listing every problem."""
    folder = Path(folder)
    norm = normalization or ScoreNormalization()
    if norm.on_missing != "error":
        raise SubmissionError("--on-missing drop is not accepted for a submission: every trial needs a score")
    if not folder.is_dir():
        raise SubmissionError(f"{folder}: not a folder; a submission is a folder with submission.yaml "
                              "and its score files")
    spec = load_spec(folder)
    if spec.kind != "scores":
        raise SubmissionError(f"{folder / SPEC_NAME}: a model submission has no score files to check; "
                              "`spoofbench leaderboard add` verifies and scores it")
    problems: list[str] = []
    checked = CheckedSubmission(folder, spec, norm)
    expected = trials.expected_files()
    present = _score_files(folder)
    for name in expected:
        if name not in present:
            test_set, codec = expected[name]
            problems.append(f"{folder / name}: missing score file for test set {test_set!r} × condition {codec!r}")
    for name in present:
        if name not in expected:
            problems.append(f"{folder / name}: unexpected file: not a test set × condition of leaderboard "
                            f"{trials.name!r} (expected {len(expected)} files named TEST__CONDITION.txt: "
                            f"{_examples(list(expected))})")
    declared = dict(spec.files or {})
    for name in sorted(set(declared) - set(present)):
        if name in expected:
            continue  # reported as missing above
        problems.append(f"{folder / SPEC_NAME}: files.{name}: declared but not in the folder")
    for name in present:
        if name not in expected:
            continue
        problems += _check_file(folder / name, expected[name], trials, declared.get(name), checked)
    problems += _identical_conditions(checked, expected)
    if problems:
        raise SubmissionError(f"{len(problems)} problem(s) in submission {folder}:\n"
                              + "\n".join(f"  - {p}" for p in problems))
    return checked


def _check_file(path: Path, cell: tuple[str, str], trials: TrialLists, declared: str | None,
                checked: CheckedSubmission) -> list[str]:
    test_set, _codec = cell
    digest = sha256_file(path)
    if declared is None:
        return [f"{path.parent / SPEC_NAME}: files.{path.name}: no sha256 declared (expected "
                f"'{path.name}: {digest}')"]
    if declared != digest:
        return [f"{path}: sha256 {digest} does not match the declared {declared} (files.{path.name} in "
                f"{SPEC_NAME}): the file changed after it was declared, or the declaration is stale"]
    try:
        table = read_scores(path, checked.normalization)
    except ScoreFileError as err:
        return [str(err)]
    problems = []
    ids = trials.ids[test_set]
    aligned, missing, extra = _align_to_list(table, ids)
    if extra:
        if checked.normalization.on_extra == "drop":
            checked.dropped[path.name] = {"count": len(extra), "ids": extra}
        else:
            problems.append(f"{path}: utt_id: {len(extra)} id(s) not in the trial list of {test_set!r}: "
                            f"{_examples(extra)} (expected ids of {test_set}.txt)")
    if missing:
        problems.append(f"{path}: utt_id: {len(missing)} of {len(ids)} trial(s) of {test_set!r} have no score "
                        f"({len(table)} line(s) read; truncated?): {_examples(missing)}")
    if not problems and np.ptp(aligned) == 0:
        problems.append(f"{path}: score: every score is {float(aligned[0])!r}; a constant file carries no "
                        "information (expected scores that differ between trials)")
    if not problems:
        checked.scores[path.name] = aligned
        checked.sha256[path.name] = digest
    return problems


def _align_to_list(table: ScoreTable, ids: np.ndarray) -> tuple[np.ndarray, list, list]:
    import pandas as pd

    position = table.index.get_indexer(ids)
    missing = ids[position < 0].tolist()
    extra = table.ids[pd.Index(ids).get_indexer(table.ids) < 0].tolist()
    return table.scores[position[position >= 0]], missing, extra


def _identical_conditions(checked: CheckedSubmission, expected: dict[str, tuple[str, str]]) -> list[str]:
    by_content: dict[tuple[str, bytes], list[str]] = defaultdict(list)
    for name, values in checked.scores.items():
        by_content[(expected[name][0], hashlib.sha256(values.tobytes()).digest())].append(name)
    return [f"{checked.folder}: files {', '.join(names)} hold identical scores for different conditions "
            "(expected each condition scored on its own coded audio)"
            for names in by_content.values() if len(names) > 1]


def declare_files(folder: str | Path) -> dict[str, str]:
    """``{name: sha256}`` of the score files in ``folder`` (what ``files:`` in submission.yaml lists)."""
    folder = Path(folder)
    return {name: sha256_file(folder / name) for name in _score_files(folder)}
