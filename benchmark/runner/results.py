"""The ``result.json`` of a benchmark run: read and write it (through the typed model) and the tidy table
of its cells.

The shape is :class:`~spoofbench.runner.result_model.RunResult` (its JSON Schema: docs/result.schema.json)::

    {"schema": 1, "run_id": ..., "config": {...}, "environment": {...},
     "detectors": {name: {"parameters": int, "frontend": str, "sample_rate": int,
                          "input_policy": {...}, "checkpoint_sha256": ...,
                          "runs": {seed: {"train_dir", "checkpoint", "scores_dir", "train_key", "overrides"}}}},
     "test_sets": {name: {"domain": "in-domain" | "ood", "reason": str, "n_trials": int,
                          "manifest_sha256": str}},
     "codecs": {id: {"codec": ..., "bitrate": ..., "engine": ..., "library": ..., "version": ...}},
     "cells": [{"detector", "seed", "test_set", "codec", "domain", "hash", "score_file",
                "score_sha256", "n_scored", "n_failed", "n_expected", "coverage" (scored / expected),
                "complete" (false: part of the test set is missing; never reused on resume),
                "metrics": {"eer", "eer_ci95", "min_dcf", ...}}],
     "failed_cells": [{"detector", "seed", "test_set", "codec", "stage", "error"}]}

:func:`read_result` gives the model, :func:`write_result` writes it; :func:`load_result` is the same read
as a plain dict for callers that still index by key. Tables and plots are rendered from the model only
(:mod:`spoofbench.runner.tables`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..atomic import atomic_path, write_json_atomic
from ..errors import InputFileError
from .result_model import SCHEMA_VERSION, ResultLike, RunResult, as_result, parse_result

__all__ = ["SCHEMA_VERSION", "METRIC_KEYS", "RAW_KEYS", "RunResult", "as_result", "result_file", "read_result",
           "load_result", "write_result", "dev_as_test", "tidy_cells", "write_tidy"]

METRIC_KEYS = ("eer", "min_dcf", "act_dcf", "cllr", "min_cllr", "auc")
#: actDCF and Cllr of the uncalibrated scores (``act_dcf``/``cllr`` are calibrated when ``calibrated``).
RAW_KEYS = ("act_dcf_raw", "cllr_raw")


def result_file(path: str | os.PathLike) -> Path:
    """The file :func:`load_result` reads for ``path``: a run folder gives its cell log when that is newer
    than its result.json (or there is no result.json), else its result.json; a file is itself."""
    from .celllog import LOG_NAME

    path = Path(path)
    if not path.is_dir():
        return path
    log, rendered = path / LOG_NAME, path / "result.json"
    newer = log.is_file() and (not rendered.is_file() or log.stat().st_mtime_ns > rendered.stat().st_mtime_ns)
    return log if newer else rendered


def read_result(path: str | os.PathLike) -> RunResult:
    """Read (and migrate) a run result as a :class:`~spoofbench.runner.result_model.RunResult`.

    ``path``: a ``result.json``, a cell log (``cells.jsonl``), or a run folder (its cell log when that is
    newer than its result.json, e.g. while a run is going or after it was killed; else its result.json).
    """
    from .celllog import render_run

    path = result_file(path)
    if path.suffix == ".jsonl":
        return render_run(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputFileError("no such result file (run `spoofbench run` first)", path) from err
    except json.JSONDecodeError as err:
        raise InputFileError(f"not valid JSON: {err.msg}", path, err.lineno) from err
    return parse_result(raw, path)


def load_result(path: str | os.PathLike) -> dict:
    """:func:`read_result` as a plain dict (the keys of the file; for callers that index by key)."""
    return read_result(path).to_dict()


def write_result(path: str | os.PathLike, result: ResultLike) -> RunResult:
    """Write ``result`` (validated through the model) to ``path`` atomically, as indented strict JSON."""
    result = as_result(result)
    write_json_atomic(path, result.to_dict())
    return result


def dev_as_test(result: ResultLike, test_set: str) -> str | None:
    """Why ``test_set`` is not a held-out test (it shares trials with the run's dev set, which selected the
    checkpoints and fitted the calibration), or None."""
    return as_result(result).dev_as_test(test_set)


def tidy_cells(result: ResultLike):
    """One row per finished cell (pandas DataFrame): identifiers, domain and every metric."""
    import pandas as pd

    result = as_result(result)
    rows = [_tidy_row(result, cell) for cell in result.cells]
    columns = ["detector", "seed", "test_set", "codec", "domain", "complete", "coverage", "n_scored", "n_expected",
               "n_failed", *METRIC_KEYS, *RAW_KEYS, "calibrated",
               "n_bonafide", "n_spoof", "eer_ci_low", "eer_ci_high", "parameters", "dev_as_test", "stale",
               "score_file", "checkpoint", "train_dir"]
    return pd.DataFrame(rows, columns=columns)


def _tidy_row(result: RunResult, cell: Any) -> dict:
    row = {k: getattr(cell, k) for k in ("detector", "seed", "test_set", "codec", "domain", "n_failed",
                                         "n_scored", "n_expected", "coverage")}
    row["complete"] = cell.complete
    for key in METRIC_KEYS + RAW_KEYS + ("calibrated", "n_bonafide", "n_spoof"):
        row[key] = getattr(cell.metrics, key)
    ci = cell.metrics.eer_ci95
    row["eer_ci_low"], row["eer_ci_high"] = (list(ci) if ci else (None, None))
    row["parameters"] = result.detector(cell.detector).parameters
    run = result.run_of(cell.detector, cell.seed)
    row["score_file"] = cell.score_file
    row["checkpoint"] = run.checkpoint if run else None
    row["train_dir"] = run.train_dir if run else None
    row["dev_as_test"] = result.dev_as_test(cell.test_set) is not None
    row["stale"] = cell.stale is not None
    return row


def write_tidy(result: ResultLike, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``cells.csv`` (and ``cells.parquet`` when pyarrow is installed); return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = tidy_cells(result)
    written = []
    csv_path = out_dir / "cells.csv"
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    written.append(csv_path)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return written
    pq_path = out_dir / "cells.parquet"
    with atomic_path(pq_path) as tmp:
        frame.to_parquet(tmp, index=False)
    written.append(pq_path)
    return written
