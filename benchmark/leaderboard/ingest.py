"""``leaderboard add`` for score files: check, score against the keys, label domains, store atomically.

Nothing reaches the store unless every check passes: the submitter-side checks
(:func:`spoofbench.submission.check.check_submission`, here against the keys' trial lists), then
polarity (a mean cell EER above 50% is rejected with the EER ``--flip`` would give). Each cell is
in-domain when its test set's corpora meet the declared training data, else OOD; speaker /
utterance overlap with the test set is flagged where the operator knows the declared corpora's
manifests (``training_corpora``), and ``"unknown"`` otherwise.
"""
from __future__ import annotations

import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import SubmissionError
from ..metrics.readers import ScoreNormalization
from ..submission.check import CheckedSubmission, check_submission
from .board import Leaderboard

CELL_METRICS = ("eer", "min_dcf", "act_dcf", "cllr", "auc", "n_bonafide", "n_spoof")


@dataclass(frozen=True)
class AddResult:
    """What ``leaderboard add`` stored."""

    id: int
    system: str
    version: int
    pooled_ood_eer: float | None
    pooled_ood_ci: tuple[float, float] | None
    in_domain_eer: float | None
    cells: int
    coverage: tuple[int, int] = (0, 0)          # test sets covered, of the board's
    filled: int = 0                             # missing trials scored as the worst score
    duplicates: tuple[str, ...] = ()            # "NAME: same sha256 as SYSTEM vN (FILE)"


def add_submission(board: Leaderboard, folder: str | Path, normalization: ScoreNormalization | None = None,
                   *, kind: str = "scores", verified: dict | None = None) -> AddResult:
    """Check and score a score-file submission folder and store it as a new version of its system.

    ``verified`` (model submissions): ``{"parameters": int, "parameters_verified": bool, "rtf": float, ...}``
    measured by the operator. Contacts and the operator's paths are kept out of every public field.
    """
    cfg = board.config
    checked = check_submission(folder, board.trial_lists(), normalization, missing_trials=cfg.missing_trials,
                               max_file_mb=cfg.max_score_file_mb)
    labelled = _labelled_scores(board, checked)
    _reject_inverted(labelled, checked)
    domains = {t: _domain(board, t, checked.spec.training_data) for t in checked.covered}
    cell_rows = [_cell_row(board, name, values, labels, domains[test_set], test_set, codec,
                           checked.filled.get(name, 0))
                 for name, (test_set, codec, values, labels) in labelled.items()]
    pooled = _pooled(board, labelled, domains, "ood")
    in_domain = _pooled(board, labelled, domains, "in-domain", bootstrap=False)
    by_codec = {codec: _eer(*_concat(parts)) for codec in board.codecs
                if (parts := [v for v in labelled.values() if v[1] == codec])}
    duplicates = _duplicates(board, checked)
    _keep_files(board, checked)
    spec = checked.spec
    details = {"spec": _public_spec(spec), "domains": domains, "by_codec_eer": by_codec,
               "rank_values": _rank_values(board, labelled, domains),
               "coverage": {"covered": list(checked.covered), "of": [t.name for t in cfg.test_sets]},
               "missing_trials": {"policy": cfg.missing_trials, "filled": dict(checked.filled)},
               "duplicates": list(duplicates),
               **({"verified": {k: v for k, v in verified.items() if k != "verification"}} if verified else {})}
    record = {
        "system": spec.system, "kind": kind, "authors": list(spec.authors), "contact": spec.contact,
        "training_data": list(spec.training_data),
        "parameters": (verified or {}).get("parameters", spec.parameters),
        "parameters_verified": bool((verified or {}).get("parameters_verified")), "rtf": (verified or {}).get("rtf"),
        "description": spec.description, "licence": spec.licence,
        "normalization": {**checked.normalization.to_dict(), "dropped": checked.dropped,
                          **({"id_map_by_test_set": dict(spec.normalise["id_map"])}
                             if isinstance((spec.normalise or {}).get("id_map"), Mapping) else {})},
        "pooled_ood_eer": pooled[0] if pooled else None,
        "pooled_ood_ci_low": pooled[1] if pooled else None,
        "pooled_ood_ci_high": pooled[2] if pooled else None,
        "in_domain_eer": in_domain[0] if in_domain else None,
        "details": details,
    }
    file_rows = [{"name": name, "test_set": labelled[name][0], "codec": labelled[name][1],
                  "sha256": checked.sha256[name], "n_scores": int(labelled[name][2].size)} for name in labelled]
    stored = board.store.add_submission(record, file_rows, cell_rows, reason=f"{kind} submission accepted")
    return AddResult(stored["id"], spec.system, stored["version"], record["pooled_ood_eer"],
                     (pooled[1], pooled[2]) if pooled else None, record["in_domain_eer"], len(cell_rows),
                     checked.coverage, sum(checked.filled.values()), duplicates)


def _public_spec(spec) -> dict:
    """The submission's spec without its contact (kept in the store's private ``contact`` column)."""
    data = spec.to_dict()
    data.pop("contact", None)
    return data


def _duplicates(board: Leaderboard, checked: CheckedSubmission) -> tuple[str, ...]:
    """Score files byte-identical to a stored one of another system (or version): flagged to the operator."""
    found = board.store.same_files(list(checked.sha256.values()))
    by_digest: dict[str, list[str]] = {}
    for row in found:
        by_digest.setdefault(row["sha256"], []).append(f"{row['system']} v{row['version']} ({row['name']}"
                                                        f"{', ' + row['status'] if row['status'] != 'accepted' else ''})")
    return tuple(f"{name}: same sha256 as {'; '.join(by_digest[digest])}"
                 for name, digest in checked.sha256.items() if digest in by_digest)


def _rank_values(board: Leaderboard, labelled: dict, domains: dict) -> dict:
    """Every rank key's value for this submission (the page ranks by the one the YAML names)."""
    from ..metrics import compute_metrics

    scores, labels = _concat(list(labelled.values()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pooled = compute_metrics(scores, labels)
    ood = [v for v in labelled.values() if domains[v[0]]["domain"] == "ood"]
    return {"pooled_ood_eer": _eer(*_concat(ood)) if ood else None, "pooled_eer": float(pooled["eer"]),
            "min_dcf": float(pooled["min_dcf"])}


def _labelled_scores(board: Leaderboard, checked: CheckedSubmission) -> dict:
    """``{file: (test set, codec, scores (N,), labels (N,))}``; the checked scores follow the trial lists,
    which :meth:`Leaderboard.trial_lists` makes in the keys' own order, so the labels line up."""
    expected = board.trial_lists().expected_files()
    out = {}
    for name, values in checked.scores.items():
        test_set, codec = expected[name]
        out[name] = (test_set, codec, values, board.keys(test_set).labels.astype(np.int8))
    return out


def _concat(parts: list) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[2] for p in parts]), np.concatenate([p[3] for p in parts])


def _eer(scores: np.ndarray, labels: np.ndarray) -> float:
    from ..metrics import compute_eer

    return float(compute_eer(scores[labels == 1], scores[labels == 0])[0])


def _reject_inverted(labelled: dict, checked: CheckedSubmission) -> None:
    """Reject when the EER averaged over the cells exceeds 50% (scores the wrong way round)."""
    eers = [_eer(v[2], v[3]) for v in labelled.values()]
    flipped = [_eer(-v[2], v[3]) for v in labelled.values()]
    mean, mean_flipped = float(np.mean(eers)), float(np.mean(flipped))
    if mean > 0.5:
        hint = "without --flip" if checked.normalization.flip else "with --flip"
        raise SubmissionError(f"1 problem(s) in submission {checked.folder}:\n  - inverted polarity: the EER "
                              f"averaged over its {len(eers)} file(s) is {mean * 100:.2f}%, above 50% "
                              f"(spoofbench expects higher = more bona fide); {hint} it would be "
                              f"{mean_flipped * 100:.2f}%")


def _domain(board: Leaderboard, test_set: str, training_data: tuple[str, ...]) -> dict:
    from ..corpora.protocol import overlap_report

    corpora = board.corpora(test_set)
    shared = sorted(set(corpora) & set(training_data))
    domain = "in-domain" if shared else "ood"
    reason = (f"declared training data includes {', '.join(shared)}" if shared
              else f"test corpora {', '.join(corpora)} not in the declared training data")
    overlap: dict = {}
    for corpus in training_data:
        manifests = board.config.training_corpora.get(corpus)
        test_trials = board.trials(test_set)
        if not manifests or test_trials is None:
            overlap[corpus] = "unknown"
            continue
        train = [t for path in manifests for t in _read_manifest(path)]
        report = overlap_report(train, test_trials).to_dict()
        overlap[corpus] = {k: v["count"] for k, v in report.items()}
    flagged = sorted(c for c, o in overlap.items() if isinstance(o, dict) and any(o.values()))
    return {"domain": domain, "reason": reason, "corpora": corpora, "overlap": overlap, "overlap_flagged": flagged}


def _read_manifest(path: str) -> list:
    from ..corpora.manifest import read_manifest

    return list(read_manifest(path))


def _cell_row(board: Leaderboard, name: str, values: np.ndarray, labels: np.ndarray, domain: dict,
              test_set: str, codec: str, n_missing: int = 0) -> dict:
    from ..metrics import bootstrap_ci, compute_metrics

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics = compute_metrics(values, labels)
    row = {"test_set": test_set, "codec": codec, "domain": domain["domain"],
           **{k: metrics[k] for k in CELL_METRICS},
           "overlap": {"flagged": domain["overlap_flagged"], "by_corpus": domain["overlap"]},
           "eer_ci_low": None, "eer_ci_high": None, "n_missing": int(n_missing)}
    if board.config.bootstrap:
        ci = bootstrap_ci(values, labels, n_resamples=board.config.bootstrap, seed=board.config.seed,
                          metrics=("eer",))["eer"]
        row["eer_ci_low"], row["eer_ci_high"] = ci.low, ci.high
    return row


def _pooled(board: Leaderboard, labelled: dict, domains: dict, domain: str, *, bootstrap: bool = True
            ) -> tuple[float, float | None, float | None] | None:
    """EER over every cell of ``domain`` pooled (all its test sets × conditions), with a 95% CI."""
    from ..metrics import bootstrap_ci

    parts = [(v[2], v[3]) for v in labelled.values() if domains[v[0]]["domain"] == domain]
    if not parts:
        return None
    scores = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    eer = _eer(scores, labels)
    if not bootstrap or not board.config.bootstrap:
        return eer, None, None
    ci = bootstrap_ci(scores, labels, n_resamples=board.config.bootstrap, seed=board.config.seed,
                      metrics=("eer",))["eer"]
    return eer, ci.low, ci.high


def _keep_files(board: Leaderboard, checked: CheckedSubmission) -> None:
    """Copy each accepted score file to ``DIR/files/<sha256>.txt`` (content-addressed, idempotent)."""
    for name, digest in checked.sha256.items():
        target = board.directory / "files" / f"{digest}.txt"
        if not target.exists():
            with atomic_path(target) as tmp:
                shutil.copyfile(checked.folder / name, tmp)
