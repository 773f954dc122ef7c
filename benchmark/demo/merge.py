"""Merge the demo's sub-runs into one ``result.json`` that tables, plots and reports read.

Each sub-run is an ordinary run folder under the demo folder. The merged result keeps every cell with
its score file path made relative to the demo folder, copies the key files into ``keys/``, maps the
telephone run's per-seed checkpoint labels (``rawcnn_2m@seed1``) back to (detector, seed), and records
per detector what it was trained on (only detectors trained on the same data are ranked together) and
which test sets are not OOD evidence for it.
"""
from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from ..errors import SpoofbenchError
from ..runner.results import SCHEMA_VERSION, write_result


def _relabel(cell: dict, seed_labels: bool) -> dict:
    if seed_labels and "@seed" in cell["detector"]:
        label, _, seed = cell["detector"].rpartition("@seed")
        return {**cell, "detector": label, "seed": int(seed)}
    return cell


def _prefixed(cell: dict, sub: str) -> dict:
    out = dict(cell)
    for key in ("score_file", "failed_file"):
        if out.get(key):
            out[key] = f"{sub}/{out[key]}"
    return out


def _copy_keys(run: Path, out: Path, test_sets: dict) -> None:
    for name in test_sets:
        source, target = run / "keys" / f"{name}.txt", out / "keys" / f"{name}.txt"
        if not source.is_file():
            continue
        if target.is_file():
            if not filecmp.cmp(source, target, shallow=False):
                raise SpoofbenchError(f"test set {name!r} has different trials in two demo sub-runs "
                                      f"({source} vs {target})")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def merge_results(out: Path, runs: dict[str, dict], *, name: str, trained_on: dict[str, list[str]],
                  not_ood_evidence: dict[str, dict[str, str]], extra: dict | None = None,
                  rescored: tuple[str, ...] = ("telephone",)) -> dict:
    """One result of the sub-runs ``{folder: result}`` under ``out``; written to ``out/result.json``.

    ``trained_on``: sub-run folder → corpus ids its trained detectors learnt from (a detector's own
    ``trained_on`` wins); ``not_ood_evidence``: detector → {test set: why}; ``rescored``: the sub-runs that score
    other runs' checkpoints under ``label@seedN`` labels (relabelled to the label and its seed)."""
    merged = {"schema": SCHEMA_VERSION, "run_id": out.name, "config": {"name": name, "detectors": [], "runs": {}},
              "environment": {}, "detectors": {}, "codecs": {}, "test_sets": {}, "cells": [],
              "failed_cells": [], "timing": {}, "demo": extra or {}}
    for sub, result in runs.items():
        seed_labels = sub in rescored
        merged["config"]["runs"][sub] = result.get("config", {})
        merged["environment"] = merged["environment"] or result.get("environment", {})
        merged["codecs"].update(result.get("codecs", {}))
        for test, meta in result.get("test_sets", {}).items():
            entry = merged["test_sets"].setdefault(test, {**meta, "domain_by_run": {}})
            entry["domain_by_run"][sub] = meta.get("domain")
        if not seed_labels:
            merged["config"]["detectors"] += result.get("config", {}).get("detectors", [])
            for label, info in result.get("detectors", {}).items():
                merged["detectors"][label] = {**info, "trained_on": info.get("trained_on") or trained_on.get(sub),
                                              "run": sub}
        merged["cells"] += [_prefixed(_relabel(c, seed_labels), sub) for c in result.get("cells", [])]
        merged["failed_cells"] += [_relabel(c, seed_labels) for c in result.get("failed_cells", [])]
        merged["timing"][sub] = result.get("timing", {})
        _copy_keys(out / sub, out, result.get("test_sets", {}))
    for label, tests in not_ood_evidence.items():
        if label in merged["detectors"]:
            merged["detectors"][label]["not_ood_evidence"] = tests
    write_result(out / "result.json", merged)  # validated through the typed run result
    return merged
