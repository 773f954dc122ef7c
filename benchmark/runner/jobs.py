"""The work of one job: plain top-level functions of plain, picklable data that return plain dicts.

A :class:`TrainJob` trains one (detector, seed) (or checks that its checkpoint loads); a
:class:`ScoreJob` scores one test set under one or more codec conditions with that detector and
computes each cell's metrics. Executors (:mod:`spoofbench.runner.executor`) only decide where and
when :func:`run_job` runs; a job's result is the same wherever it ran.

Results::

    train: {"kind": "train", "key", "ok": True, "training": {...} | None}
    score: {"kind": "score", "key", "ok": True, "cells": [cell...], "failed": [failed cell...]}
    any:   {"kind", "key", "ok": False, "stage", "error", "traceback"?}
"""
from __future__ import annotations

import json
import logging
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Union

from ..errors import SpoofbenchError
from .config import DetectorSpec
from .plan import ScoreCell, TestSet, TrainCell

Log = Callable[..., None]
TRAINING_KEYS = ("best_epoch", "best_dev_eer", "epochs_run", "stopped_early", "weights_sha256")
CALIBRATION_NAME = "calibration.json"


def as_note(log: Callable[[str], None] | None, name: str = __name__) -> Log:
    """``note(msg, warning=False, detector=, seed=, testset=, codec=)``: a log record of logger ``name``
    carrying the context, or, when the caller gave its own ``log(str)``, that line (context and
    ``warning:`` spelled out in front). A note passes through unchanged."""
    if getattr(log, "is_note", False):
        return log  # type: ignore[return-value]
    if log is None:
        def note(msg: str, warning: bool = False, **context: Any) -> None:
            from ..logs import context_logger
            context_logger(name, **context).log(logging.WARNING if warning else logging.INFO, msg)
    else:
        def note(msg: str, warning: bool = False, **context: Any) -> None:
            from ..logs import CONTEXT_FIELDS
            parts = [str(v) if k == "detector" else f"{k}={v}" for k in CONTEXT_FIELDS
                     if (v := context.get(k)) is not None]
            log(("warning: " if warning else "") + (f"[{' '.join(parts)}] " if parts else "") + msg)
    note.is_note = True  # type: ignore[attr-defined]
    return note


@dataclass(frozen=True)
class TrainJob:
    """Train (or, for a checkpoint, nothing) in ``run_dir``, then fit the score calibration on the dev set.

    The manifests are read by the job itself. ``score_config`` (a ScoreConfig dict) scores the dev set
    (uncoded) when ``calibrate``; the calibration is written to ``run_dir/calibration.json``.
    """
    cell: TrainCell
    run_dir: str
    train_config: Mapping[str, Any] | None     # TrainConfig.to_dict(); None: scored from its checkpoint
    train_manifest: str | None
    dev_manifest: str | None
    train_root: Any
    dev_root: Any
    progress: bool = False
    score_config: Mapping[str, Any] | None = None
    calibrate: bool = False

    @property
    def key(self) -> str:
        return self.cell.key


@dataclass(frozen=True)
class ScoreJob:
    """Score ``test_set`` under the codecs of ``cells`` (same detector, seed and test set)."""
    cells: tuple[ScoreCell, ...]
    spec: DetectorSpec
    run_dir: str | None                        # the train job's run dir (spec.checkpoint, if any, wins)
    test_set: TestSet
    score_dir: str
    score_config: Mapping[str, Any]            # ScoreConfig.to_dict() without the codecs
    out_dir: str                               # the run folder (cell paths are relative to it)
    bootstrap: int = 0
    progress: bool = False
    calibration: str | None = None             # calibration.json to apply before actDCF / Cllr

    @property
    def key(self) -> str:
        return "+".join(c.key[:16] for c in self.cells)

    @property
    def depends_on(self) -> str:
        return self.cells[0].train_key


Job = Union[TrainJob, ScoreJob]


def run_job(job: Job, log: Log | None = None) -> dict:
    """Run ``job``; never raises for a failure of the job itself (it is in the returned dict)."""
    log = as_note(log)
    stage = "train" if isinstance(job, TrainJob) else "score"
    try:
        if isinstance(job, TrainJob):
            return run_train_job(job, log)
        return run_score_job(job, log)
    except SpoofbenchError as err:
        return failure(job, stage, err)
    except Exception as err:  # a crash in one detector must not lose the others
        return failure(job, stage, err, traceback.format_exc())


def failure(job: Job, stage: str, err: BaseException | str, trace: str | None = None) -> dict:
    """The result of a job that did not finish."""
    text = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return {"kind": "train" if isinstance(job, TrainJob) else "score", "key": job.key, "ok": False,
            "stage": stage, "error": text, **({"traceback": trace} if trace else {})}


def run_train_job(job: TrainJob, log: Log) -> dict:
    """Train unless ``done.json`` says it is done, then calibrate; return the training summary."""
    summary = train_detector(job, log) if job.train_config is not None else None
    calibration = None
    if job.calibrate and job.dev_manifest:
        try:
            calibration = calibrate_on_dev(job, log)
        except SpoofbenchError as err:  # the detector is still scored; only actDCF / Cllr stay raw
            log(f"no calibration ({err})", warning=True, detector=job.cell.detector, seed=job.cell.seed)
            calibration = {"error": str(err)}
    if summary is not None and calibration is not None:
        summary = {**summary, "calibration": calibration}
    return {"kind": "train", "key": job.key, "ok": True, "training": summary, "calibration": calibration}


def train_detector(job: TrainJob, log: Log) -> dict | None:
    """Train ``job.cell`` in ``job.run_dir`` (or reuse a finished run there)."""
    cell = job.cell
    from ..corpora.manifest import read_manifest
    from ..engine import TrainConfig, train
    from ..atomic import write_json_atomic

    run_dir = Path(job.run_dir)
    done_marker = run_dir / "done.json"
    if done_marker.is_file():
        log(f"reusing the trained checkpoint in {run_dir}", detector=cell.detector, seed=cell.seed)
    else:
        config = TrainConfig.from_dict(job.train_config)
        checkpoints = run_dir / "checkpoints"
        resume = checkpoints.is_dir() and any(checkpoints.iterdir())
        log(f"training ({'resuming' if resume else 'new run'}) in {run_dir}", detector=cell.detector, seed=cell.seed)
        trained = train(config, list(read_manifest(job.train_manifest)), list(read_manifest(job.dev_manifest)),
                        root=job.train_root, dev_root=job.dev_root, out_dir=run_dir, resume=resume,
                        progress=job.progress)
        write_json_atomic(done_marker, trained.to_dict())
        for message in trained.warnings:
            log(message, warning=True, detector=cell.detector, seed=cell.seed)
    return training_summary(run_dir)


def calibrate_on_dev(job: TrainJob, log: Log) -> dict | None:
    """Score the dev set uncoded and fit ``llr = scale * score + offset`` (``run_dir/calibration.json``).

    Returns the calibration dict, or ``{"error": ...}`` when it cannot be fitted (e.g. one class).
    """
    import numpy as np

    from ..corpora.manifest import read_manifest
    from ..engine import ScoreConfig, score
    from ..metrics import fit_linear_calibration, read_scores

    path = Path(job.run_dir) / CALIBRATION_NAME
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    cell = job.cell
    detector = load_detector(cell.spec, job.run_dir)
    config = ScoreConfig.from_dict({**dict(job.score_config or {}), "codecs": ["none"]})
    scored = score(detector, job.dev_manifest, root=job.dev_root, out_dir=Path(job.run_dir) / "dev_scores",
                   testset="dev", config=config, progress=job.progress,
                   log_context={"detector": cell.detector, "seed": cell.seed})
    scores = read_scores(scored.files[0].scores)
    labels = {t.id: int(t.label == "bonafide") for t in read_manifest(job.dev_manifest)}
    ids = [i for i in labels if i in scores]
    try:
        fitted = fit_linear_calibration(np.array([scores[i] for i in ids], dtype=np.float64),
                                        np.array([labels[i] for i in ids]),
                                        source=f"dev set {Path(job.dev_manifest).name}, uncoded, {len(ids)} trials")
    except SpoofbenchError as err:
        log(f"no calibration ({err}); actDCF and Cllr stay raw", warning=True, detector=cell.detector,
            seed=cell.seed)
        return {"error": str(err)}
    fitted.save(path)
    return fitted.to_dict()


def training_summary(run_dir: str | Path) -> dict | None:
    """The training summary (and calibration) of a train cell's folder (None when it has neither)."""
    marker, calibration = Path(run_dir) / "done.json", Path(run_dir) / CALIBRATION_NAME
    summary = {}
    if marker.is_file():
        info = json.loads(marker.read_text(encoding="utf-8"))
        summary = {k: info.get(k) for k in TRAINING_KEYS}
    if calibration.is_file():
        summary["calibration"] = json.loads(calibration.read_text(encoding="utf-8"))
    return summary or None


def load_detector(spec: DetectorSpec, run_dir: str | None):
    """The detector a score job uses: its best trained checkpoint, or ``spec.checkpoint`` as is."""
    from ..engine import load_run_detector
    from ..models import build_detector

    if spec.checkpoint:
        return build_detector(spec.name, spec.preset, checkpoint=spec.checkpoint, **dict(spec.overrides))
    return load_run_detector(run_dir)


def run_score_job(job: ScoreJob, log: Log) -> dict:
    """Score every codec of the job, then each cell's metrics."""
    from ..engine import ScoreConfig, score

    detector = load_detector(job.spec, job.run_dir)
    codecs = [c.codec for c in job.cells]
    config = ScoreConfig.from_dict({**dict(job.score_config), "codecs": codecs})
    test = job.test_set
    first = job.cells[0]
    scored = score(detector, test.manifest, root=test.root, out_dir=job.score_dir, testset=test.name,
                   config=config, progress=job.progress,
                   log_context={"detector": first.detector, "seed": first.seed})
    by_codec = {c.codec: c for c in job.cells}
    cells, failed = [], []
    for file in scored.files:
        cell = by_codec[file.codec]
        try:
            cells.append(finished_cell(cell, file, job))
        except SpoofbenchError as err:
            failed.append(failed_cell(cell, "metrics", f"{type(err).__name__}: {err}"))
    return {"kind": "score", "key": job.key, "ok": True, "cells": cells, "failed": failed}


def finished_cell(cell: ScoreCell, file: Any, job: ScoreJob) -> dict:
    """The result.json record of a scored cell (raises SpoofbenchError when metrics cannot be computed)."""
    from ..digests import file_sha256

    out = Path(job.out_dir).resolve()
    calibration = None
    if job.calibration and Path(job.calibration).is_file():
        from ..metrics import LinearCalibration
        calibration = LinearCalibration.load(job.calibration)
    metrics = cell_metrics(Path(file.scores), Path(job.test_set.keys_path), bootstrap=job.bootstrap, seed=cell.seed,
                           calibration=calibration)
    expected = job.test_set.n_trials
    return {"detector": cell.detector, "seed": cell.seed, "test_set": cell.test_set, "codec": cell.codec,
            "domain": cell.domain, "hash": cell.key,
            "score_file": str(Path(file.scores).resolve().relative_to(out)),
            "score_sha256": file_sha256(file.scores), "n_scored": file.n_scored, "n_failed": file.n_failed,
            "n_expected": expected, "coverage": file.n_scored / expected if expected else 0.0,
            "complete": file.n_scored >= expected,
            "failed_file": str(Path(file.failed).resolve().relative_to(out)) if file.n_failed else None,
            "clips_per_s": file.clips_per_s, "metrics": metrics}


def failed_cell(cell: ScoreCell, stage: str, error: str, trace: str | None = None) -> dict:
    return {"detector": cell.detector, "seed": cell.seed, "test_set": cell.test_set, "codec": cell.codec,
            "stage": stage, "error": error, **({"traceback": trace} if trace else {})}


def cell_metrics(score_path: Path, keys_path: Path, *, bootstrap: int, seed: int, calibration: Any = None) -> dict:
    """Pooled and per-attack metrics of one score file over the trials it scored.

    With a ``calibration`` (:class:`~spoofbench.metrics.LinearCalibration`), ``act_dcf`` and ``cllr`` are
    computed on the calibrated scores (LLRs) and the raw ones kept as ``act_dcf_raw``, ``cllr_raw``;
    ``calibrated`` says which. EER, minDCF and min Cllr do not depend on it.
    """
    import numpy as np

    from ..metrics import bootstrap_ci, breakdown, compute_metrics, read_keys, read_scores

    scores = read_scores(score_path)
    keys = read_keys(keys_path)
    present = np.fromiter((i in scores for i in keys.ids), dtype=bool, count=len(keys))
    values = np.fromiter((scores[i] for i in keys.ids[present]), dtype=np.float64, count=int(present.sum()))
    labels = keys.labels[present]
    if len(set(labels.tolist())) < 2:
        raise SpoofbenchError(f"{score_path}: the scored trials hold only one class; "
                              "cannot compute metrics")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = compute_metrics(values, labels)
    metrics["warnings"] = [str(w.message) for w in caught]
    metrics.update(_calibrated(metrics, values, labels, calibration))
    if bootstrap:
        intervals = bootstrap_ci(values, labels, n_resamples=bootstrap, seed=seed)
        metrics["eer_ci95"] = intervals["eer"].to_list()
        metrics["min_dcf_ci95"] = intervals["min_dcf"].to_list()
    attack = keys.columns.get("attack")
    if attack is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per = breakdown(values, labels, attack[present],
                            lambda s, y: {"eer": compute_metrics(s, y)["eer"]})
        metrics["per_attack_eer"] = {k: v["eer"] for k, v in per.items()}
    return metrics


def _calibrated(raw: dict, values: Any, labels: Any, calibration: Any) -> dict:
    """actDCF / Cllr on calibrated scores (raw ones as ``*_raw``: metrics' ``with_calibration``), or the raw
    ones marked uncalibrated."""
    if calibration is None:
        return {"act_dcf_raw": raw["act_dcf"], "cllr_raw": raw["cllr"], "calibrated": False}
    from ..metrics.calibration_files import with_calibration

    return {**with_calibration(raw, calibration, values, labels), "calibrated": True}
