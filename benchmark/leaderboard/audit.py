"""``leaderboard audit``: recompute every stored number from the stored score files and report any drift.

For every submission (withdrawn ones too): each stored score file ``files/<sha256>.txt`` must exist
and hash to its name and to the sha256 the store recorded; its scores, read with the normalisation the
store recorded and aligned to the keys as at ``add`` (the board's ``missing_trials`` policy; the count
of filled trials must match), must give the same cell metrics and CIs, the same domains, pooled OOD /
in-domain EERs, per-condition EERs and rank-key values. What a nightly re-verification runs: exit 1 on
any drift.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScoreFileError
from ..hashing import sha256_file
from ..metrics.readers import ScoreNormalization, read_scores
from .board import Leaderboard
from .ingest import (
    CELL_METRICS,
    _cell_row,
    _concat,
    _domain,
    _eer,
    _pooled,
    _rank_values,
)

_CELL_FIELDS = (*CELL_METRICS, "eer_ci_low", "eer_ci_high", "domain", "n_missing")


@dataclass
class AuditReport:
    submissions: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def audit_board(board: Leaderboard) -> AuditReport:
    """Recompute everything; the report lists each drift as ``SYSTEM vN: what (stored X, recomputed Y)``."""
    report = AuditReport()
    for sub in board.store.submissions(include_withdrawn=True):
        report.submissions += 1
        name = f"{sub['system']} v{sub['version']} (id {sub['id']})"
        labelled = _stored_scores(board, sub, name, report)
        if labelled is None:
            continue
        _audit_numbers(board, sub, name, labelled, report)
    return report


def _normalization(sub: dict, test_set: str) -> ScoreNormalization:
    stored = sub["normalization"]
    id_map = (stored.get("id_map_by_test_set") or {}).get(test_set, stored.get("id_map"))
    return ScoreNormalization(score_col=stored.get("score_col"), id_map=id_map, flip=bool(stored.get("flip")),
                              on_extra=stored.get("on_extra", "error"))


def _stored_scores(board: Leaderboard, sub: dict, name: str, report: AuditReport) -> dict | None:
    """``{file: (test set, codec, scores, labels)}`` from the stored files; None when one is unusable."""
    labelled, filled, ok = {}, {}, True
    for row in board.store.files(sub["id"]):
        report.files += 1
        path = board.directory / "files" / f"{row['sha256']}.txt"
        if not path.is_file():
            report.problems.append(f"{name}: {row['name']}: stored file {path.name} is missing")
            ok = False
            continue
        digest = sha256_file(path)
        if digest != row["sha256"]:
            report.problems.append(f"{name}: {row['name']}: {path.name} now hashes to {digest} (stored "
                                   f"{row['sha256']}): the file changed")
            ok = False
            continue
        try:
            table = read_scores(path, _normalization(sub, row["test_set"]))
        except ScoreFileError as err:
            report.problems.append(f"{name}: {row['name']}: no longer reads: {err}")
            ok = False
            continue
        keys = board.keys(row["test_set"])
        ids = keys.ids.astype(object)
        position = table.index.get_indexer(ids)
        scores = np.full(len(ids), float(table.scores.min()), dtype=np.float64)
        scores[position >= 0] = table.scores[position[position >= 0]]
        filled[row["name"]] = int((position < 0).sum())
        labelled[row["name"]] = (row["test_set"], row["codec"], scores, keys.labels.astype(np.int8))
    return _with_fill_counts(labelled, filled) if ok else None


def _with_fill_counts(labelled: dict, filled: dict) -> dict:
    return {k: (*v, filled[k]) for k, v in labelled.items()}


def _audit_numbers(board: Leaderboard, sub: dict, name: str, labelled: dict, report: AuditReport) -> None:
    scores4 = {k: v[:4] for k, v in labelled.items()}
    domains = {t: _domain(board, t, tuple(sub["training_data"])) for t in {v[0] for v in labelled.values()}}
    stored_cells = {(c["test_set"], c["codec"]): c for c in board.store.cells(sub["id"])}
    for file, (test_set, codec, values, labels, n_missing) in labelled.items():
        cell = stored_cells.get((test_set, codec))
        if cell is None:
            report.problems.append(f"{name}: {file}: no stored cell for {test_set} × {codec}")
            continue
        again = _cell_row(board, file, values, labels, domains[test_set], test_set, codec, n_missing)
        for key in _CELL_FIELDS:
            if not _same(cell.get(key), again.get(key)):
                report.problems.append(f"{name}: cell {test_set} × {codec}: {key} stored {cell.get(key)!r}, "
                                       f"recomputed {again.get(key)!r}")
    pooled = _pooled(board, scores4, domains, "ood") or (None, None, None)
    in_domain = _pooled(board, scores4, domains, "in-domain", bootstrap=False) or (None, None, None)
    recomputed = {"pooled_ood_eer": pooled[0], "pooled_ood_ci_low": pooled[1], "pooled_ood_ci_high": pooled[2],
                  "in_domain_eer": in_domain[0]}
    for key, value in recomputed.items():
        if not _same(sub[key], value):
            report.problems.append(f"{name}: {key} stored {sub[key]!r}, recomputed {value!r}")
    details = sub["details"]
    by_codec = {c: _eer(*_concat(parts)) for c in board.codecs
                if (parts := [v for v in scores4.values() if v[1] == c])}
    for label, stored, again in (("by_codec_eer", details.get("by_codec_eer"), by_codec),
                                 ("rank_values", details.get("rank_values"), _rank_values(board, scores4, domains))):
        if stored is None:
            continue
        for key in set(stored) | set(again):
            if not _same(stored.get(key), again.get(key)):
                report.problems.append(f"{name}: {label}.{key} stored {stored.get(key)!r}, recomputed "
                                       f"{again.get(key)!r}")


__all__ = ["AuditReport", "audit_board"]
