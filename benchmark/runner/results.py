"""The ``result.json`` of a benchmark run: schema helpers and the tidy table of cells.

A run writes one JSON object with nested keys and real numbers::

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

Tables and plots are rendered from this file only (:mod:`spoofbench.runner.tables`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..atomic import atomic_path
from ..errors import InputFileError

SCHEMA_VERSION = 1
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


def load_result(path: str | os.PathLike) -> dict:
    """Read and sanity-check a ``result.json``, or render it from a cell log.

    ``path``: a ``result.json``, a cell log (``cells.jsonl``), or a run folder (its cell log when that is
    newer than its result.json, e.g. while a run is going or after it was killed; else its result.json).
    """
    from .celllog import render_result

    path = result_file(path)
    if path.suffix == ".jsonl":
        return _checked(render_result(path), path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputFileError("no such result file (run `spoofbench run` first)", path) from err
    except json.JSONDecodeError as err:
        raise InputFileError(f"not valid JSON: {err.msg}", path, err.lineno) from err
    return _checked(result, path)


def _checked(result: object, path: Path) -> dict:
    if not isinstance(result, dict) or "cells" not in result:
        raise InputFileError("not a spoofbench result.json: no 'cells' key", path)
    if result.get("schema") != SCHEMA_VERSION:
        raise InputFileError(f"schema {result.get('schema')!r} is not supported "
                             f"(expected {SCHEMA_VERSION})", path, field="schema")
    return result


def dev_as_test(result: dict, test_set: str) -> str | None:
    """Why ``test_set`` is not a held-out test (it shares trials with the run's dev set, which selected the
    checkpoints and fitted the calibration), or None."""
    info = (result.get("test_sets", {}).get(test_set) or {}).get("dev_overlap") or {}
    shared, total = info.get("n_shared_trials") or 0, info.get("n_trials")
    if not shared:
        return None
    if info.get("same_manifest") or shared == total:
        return (f"{test_set} is the dev set ({shared} trials) that selected the checkpoints and fitted the "
                "calibration: not a held-out result")
    return (f"{shared} of {total} trials of {test_set} are in the dev set that selected the checkpoints and "
            "fitted the calibration: not a held-out result")


def tidy_cells(result: dict):
    """One row per finished cell (pandas DataFrame): identifiers, domain and every metric."""
    import pandas as pd

    rows = []
    for cell in result["cells"]:
        row = {k: cell.get(k) for k in ("detector", "seed", "test_set", "codec", "domain", "n_failed",
                                        "n_scored", "n_expected", "coverage")}
        row["complete"] = cell.get("complete", True)
        metrics = cell.get("metrics", {})
        for key in METRIC_KEYS + RAW_KEYS + ("calibrated", "n_bonafide", "n_spoof"):
            row[key] = metrics.get(key)
        ci = metrics.get("eer_ci95")
        row["eer_ci_low"], row["eer_ci_high"] = (ci if ci else (None, None))
        row["parameters"] = result.get("detectors", {}).get(cell["detector"], {}).get("parameters")
        run = ((result.get("detectors", {}).get(cell["detector"]) or {}).get("runs") or {}).get(str(cell["seed"])) or {}
        row["score_file"] = cell.get("score_file")
        row["checkpoint"] = run.get("checkpoint")
        row["train_dir"] = run.get("train_dir")
        row["dev_as_test"] = dev_as_test(result, cell["test_set"]) is not None
        row["stale"] = bool(cell.get("stale"))
        rows.append(row)
    columns = ["detector", "seed", "test_set", "codec", "domain", "complete", "coverage", "n_scored", "n_expected",
               "n_failed", *METRIC_KEYS, *RAW_KEYS, "calibrated",
               "n_bonafide", "n_spoof", "eer_ci_low", "eer_ci_high", "parameters", "dev_as_test", "stale",
               "score_file", "checkpoint", "train_dir"]
    return pd.DataFrame(rows, columns=columns)


def write_tidy(result: dict, out_dir: str | os.PathLike) -> list[Path]:
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
