"""``submission check``: everything that can be checked without the keys, one reason per problem.

Checks: ``submission.yaml`` and its required fields; one score file per test set × condition, named
``<test>__<codec>.txt``, and no other; each file's sha256 equals the declared one; each file parses
(finite numbers, no duplicate ids: the reader names file and line); every trial scored once and no
id outside the trial list; no file constant; no two conditions with identical scores.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
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
    filled: dict[str, int] = field(default_factory=dict)          # file name -> missing trials given the worst score
    covered: list[str] = field(default_factory=list)              # test sets with score files

    @property
    def coverage(self) -> tuple[int, int]:
        """``(test sets covered, test sets of the leaderboard)``."""
        return len(self.covered), self.n_test_sets

    n_test_sets: int = 0


def _examples(ids: list) -> str:
    return ", ".join(map(str, ids[:_SHOW])) + (", ..." if len(ids) > _SHOW else "")


def _score_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != SPEC_NAME
                  and not p.name.startswith(".") and not p.name.upper().startswith(_IGNORED))


def check_submission(folder: str | Path, trials: TrialLists, normalization: ScoreNormalization | None = None,
                     *, missing_trials: str = "reject", max_file_mb: int | None = None) -> CheckedSubmission:
    """Check a score-file submission against trial lists; raise :class:`SubmissionError` listing every problem.

    A submission may cover only some test sets (every condition of each one it covers). The
    normalisation is ``normalization`` when given (the operator's command line), else the one the
    submission declares (``normalise:`` in submission.yaml). ``missing_trials``: ``reject``, or
    ``worst_score`` (a trial without a score gets the file's lowest, most-spoof score; counted).
    ``max_file_mb``: larger score files are refused unread (default: the trial lists' limit).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder}: not a folder; a submission is a folder with submission.yaml "
                              "and its score files")
    spec = load_spec(folder)
    norm = normalization if normalization not in (None, ScoreNormalization()) else spec_normalization(spec)
    if norm.on_missing != "error":
        raise SubmissionError("--on-missing drop is not accepted for a submission: every trial needs a score "
                              "(a leaderboard may set missing_trials: worst_score)")
    if spec.kind != "scores":
        raise SubmissionError(f"{folder / SPEC_NAME}: a model submission has no score files to check; "
                              "`spoofbench leaderboard add` verifies and scores it")
    checked = CheckedSubmission(folder, spec, norm, n_test_sets=len(trials.test_sets))
    problems = _spec_problems(folder, spec, trials)
    expected = trials.expected_files()
    present = _score_files(folder)
    problems += _coverage_problems(folder, expected, present, trials, checked)
    declared = dict(spec.files or {})
    for name in sorted(set(declared) - set(present)):
        if name not in expected or expected[name][0] in checked.covered:
            problems.append(f"{folder / SPEC_NAME}: files.{name}: declared but not in the folder")
    for name in present:
        if name in expected:
            problems += _check_file(folder / name, expected[name], trials, declared.get(name), checked,
                                    missing_trials, max_file_mb or trials.max_file_mb)
    problems += _identical_conditions(checked, expected)
    if problems:
        raise SubmissionError(f"{len(problems)} problem(s) in submission {folder}:\n"
                              + "\n".join(f"  - {p}" for p in problems))
    return checked


def spec_normalization(spec: SubmissionSpec) -> ScoreNormalization:
    """The normalisation a submission declares (``normalise:`` in submission.yaml); the default without one."""
    declared = dict(spec.normalise or {})
    id_map = declared.get("id_map")
    return ScoreNormalization(score_col=declared.get("score_col"), flip=bool(declared.get("flip", False)),
                              id_map=id_map if isinstance(id_map, str) else None)


def _file_normalization(checked: CheckedSubmission, test_set: str) -> ScoreNormalization:
    """A per-test-set ``id_map`` (``normalise: {id_map: {TEST: REGEX}}``) applies to that test set's files."""
    id_map = dict(checked.spec.normalise or {}).get("id_map")
    if isinstance(id_map, Mapping) and checked.normalization == spec_normalization(checked.spec):
        return dataclasses.replace(checked.normalization, id_map=id_map.get(test_set))
    return checked.normalization


def _spec_problems(folder: Path, spec: SubmissionSpec, trials: TrialLists) -> list[str]:
    """Declared training data that looks like a known corpus id but is not one (a typo) is refused with the id
    it resembles; an id like none of them is taken as private data (out of domain everywhere)."""
    if not trials.corpora:
        return []
    problems = []
    for i, corpus in enumerate(spec.training_data):
        if corpus not in trials.corpora and close_corpus(corpus, trials.corpora):
            problems.append(f"{folder / SPEC_NAME}: training_data[{i}]: {unknown_corpus(corpus, trials.corpora)}")
    return problems


def close_corpus(corpus: str, known: Sequence[str]) -> str | None:
    """The known corpus id ``corpus`` most resembles (case, ``-``/``_`` and small typos aside), or None."""
    import difflib

    canon = {k.lower().replace("-", "_"): k for k in known}
    close = difflib.get_close_matches(corpus.lower().replace("-", "_"), list(canon), n=1, cutoff=0.75)
    return canon[close[0]] if close else None


def unknown_corpus(corpus: str, known: Sequence[str]) -> str:
    """``'X' is not a known corpus id; did you mean 'y'? (valid: ...)``."""
    close = close_corpus(corpus, known)
    hint = f"; did you mean {close!r}?" if close else ""
    return (f"{corpus!r} is not a known corpus id{hint} (valid: {', '.join(sorted(known))}); a wrong id would "
            "count the system's in-domain test sets as out-of-domain evidence")


def _coverage_problems(folder: Path, expected: dict, present: list[str], trials: TrialLists,
                       checked: CheckedSubmission) -> list[str]:
    problems = []
    for name in present:
        if name not in expected:
            problems.append(f"{folder / name}: unexpected file: not a test set × condition of leaderboard "
                            f"{trials.name!r} (expected {len(expected)} files named TEST__CONDITION.txt: "
                            f"{_examples(list(expected))})")
    by_test: dict[str, list[str]] = defaultdict(list)
    for name, (test_set, _codec) in expected.items():
        by_test[test_set].append(name)
    for test_set, names in by_test.items():
        have = [n for n in names if n in present]
        if have:
            checked.covered.append(test_set)
            problems += [f"{folder / n}: missing score file for test set {test_set!r} × condition "
                         f"{expected[n][1]!r} (a covered test set needs every condition)" for n in names if n not in have]
    if not checked.covered:
        problems.append(f"{folder}: no score file for any test set (expected files named TEST__CONDITION.txt: "
                        f"{_examples(list(expected))})")
    return problems


def _check_file(path: Path, cell: tuple[str, str], trials: TrialLists, declared: str | None,
                checked: CheckedSubmission, missing_trials: str = "reject", max_file_mb: int = 512) -> list[str]:
    test_set, _codec = cell
    if path.is_symlink():  # never read: its target may be any file of the operator's
        return [f"{path}: a symbolic link; submit the score file itself"]
    size = path.stat().st_size
    if size > max_file_mb << 20:
        return [f"{path}: {size / 2 ** 20:.0f} MB, over this leaderboard's limit of {max_file_mb} MB per score file"]
    digest = sha256_file(path)
    if declared is None:
        return [f"{path.parent / SPEC_NAME}: files.{path.name}: no sha256 declared (expected "
                f"'{path.name}: {digest}')"]
    if declared != digest:
        return [f"{path}: sha256 {digest} does not match the declared {declared} (files.{path.name} in "
                f"{SPEC_NAME}): the file changed after it was declared, or the declaration is stale"]
    try:
        table = read_scores(path, _file_normalization(checked, test_set))
    except ScoreFileError as err:
        return [_with_hint(str(err))]
    ids = trials.ids[test_set]
    aligned, missing, extra = _align_to_list(table, ids)
    if missing and len(missing) == len(ids) and len(extra) == len(table):
        return [f"{path}: utt_id: none of its {len(table)} ids is a trial id of {test_set!r}: yours look like "
                f"{str(table.ids[0])!r}, the trial list's like {str(ids[0])!r}; if only their shape differs, declare "
                "normalise: {id_map: REGEX} in submission.yaml (the trial id is REGEX's first group; per test set: "
                "id_map: {TEST: REGEX})"]
    problems = []
    if extra:
        if checked.normalization.on_extra == "drop":
            checked.dropped[path.name] = {"count": len(extra), "ids": extra}
        else:
            problems.append(f"{path}: utt_id: {len(extra)} id(s) not in the trial list of {test_set!r}: "
                            f"{_examples(extra)} (expected ids of {test_set}.txt)")
    if missing and missing_trials == "worst_score" and not problems:
        aligned = _fill_worst(table, ids)
        checked.filled[path.name] = len(missing)
    elif missing:
        problems.append(f"{path}: utt_id: {len(missing)} of {len(ids)} trial(s) of {test_set!r} have no score "
                        f"({len(table)} line(s) read; truncated?): {_examples(missing)}")
    if not problems and np.ptp(aligned) == 0:
        problems.append(f"{path}: score: every score is {float(aligned[0])!r}; a constant file carries no "
                        "information (expected scores that differ between trials)")
    if not problems:
        checked.scores[path.name] = aligned
        checked.sha256[path.name] = digest
    return problems


def _with_hint(message: str) -> str:
    if "columns" in message and "--score-col" not in message.split("got")[0]:
        return (message + " (if the score is in another column, declare normalise: {score_col: N} in "
                "submission.yaml, N counted from 1, or pass --score-col N)")
    return message


def _fill_worst(table: ScoreTable, ids: np.ndarray) -> np.ndarray:
    """Scores in trial-list order, a missing trial scored as the file's lowest (most-spoof) score."""
    position = table.index.get_indexer(ids)
    out = np.full(len(ids), float(table.scores.min()), dtype=np.float64)
    out[position >= 0] = table.scores[position[position >= 0]]
    return out


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
