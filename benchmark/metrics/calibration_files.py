"""Calibration of score files (what ``spoofbench calibrate`` runs): fit on dev, apply, report."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_text_atomic
from ..errors import SpoofbenchError
from .calibration import DEFAULT_PRIOR, LinearCalibration, fit_linear_calibration
from .cllr import compute_cllr
from .dcf import ASVSPOOF5, compute_act_dcf
from .readers import load_trials, read_scores

#: Metrics reported before and after calibration (those that read scores as LLRs).
CALIBRATION_METRICS = ("act_dcf", "cllr")


@dataclass(frozen=True)
class CalibrationJob:
    """Fit on ``scores``/``keys`` (dev); optionally apply to ``apply_scores`` (written to ``out``),
    evaluated against ``apply_keys`` when given; ``save`` writes the calibration JSON."""

    scores: str
    keys: str
    prior: float = DEFAULT_PRIOR
    key_format: str | None = None
    apply_scores: str | None = None
    apply_keys: str | None = None
    out: str | None = None
    save: str | None = None
    calibration: str | None = None  # an existing calibration JSON to use instead of fitting
    smoothing: bool = True  # Platt's pseudo-count targets (see fit_linear_calibration)


def llr_metrics(bonafide: np.ndarray, spoof: np.ndarray) -> dict[str, float]:
    """actDCF (ASVspoof 5) and Cllr (bits) of scores read as LLRs."""
    return {"act_dcf": compute_act_dcf(bonafide, spoof, ASVSPOOF5)[0], "cllr": compute_cllr(bonafide, spoof)}


def with_calibration(metrics: dict, calibration: LinearCalibration, scores, labels) -> dict:
    """``metrics`` (as :func:`~spoofbench.metrics.compute_metrics` gives for raw ``scores (N,)``,
    ``labels (N,)``) with ``act_dcf``/``cllr`` of the calibrated scores, the raw ones kept as
    ``act_dcf_raw``/``cllr_raw`` (the catalog's names), and ``calibration`` (its dict)."""
    from .validation import split_by_label

    bona, spoof = split_by_label(scores, labels)
    calibrated = llr_metrics(calibration.apply(bona), calibration.apply(spoof))
    return {**metrics, "act_dcf_raw": metrics["act_dcf"], "cllr_raw": metrics["cllr"], **calibrated,
            "calibration": calibration.to_dict()}


def _before_after(bonafide: np.ndarray, spoof: np.ndarray, calibration: LinearCalibration) -> dict:
    return {"raw": llr_metrics(bonafide, spoof),
            "calibrated": llr_metrics(calibration.apply(bonafide), calibration.apply(spoof))}


def write_calibrated_scores(scores_path: str | Path, out_path: str | Path,
                            calibration: LinearCalibration) -> int:
    """Write ``utt_id llr`` for every line of a score file, in its order; returns the count."""
    table = read_scores(scores_path)
    ids = list(table)
    llrs = calibration.apply(np.fromiter((table[i] for i in ids), dtype=np.float64, count=len(ids)))
    write_text_atomic(Path(out_path), "".join(f"{i} {v:.9g}\n" for i, v in zip(ids, llrs)))
    return len(ids)


def calibrate_files(job: CalibrationJob) -> dict:
    """Run ``job``; returns a JSON-ready report.

    Keys: ``calibration`` (:meth:`LinearCalibration.to_dict`), ``dev`` (``scores``, ``keys``, ``raw``
    and ``calibrated`` actDCF/Cllr), and when asked ``apply`` (``scores``, ``out``, ``n_trials``, and
    ``raw``/``calibrated`` when ``apply_keys`` is given) and ``saved`` (the JSON path).
    """
    if job.apply_keys and not job.apply_scores:
        raise SpoofbenchError("--apply-keys needs --apply (the score file to calibrate)")
    if job.apply_scores and not job.out and not job.apply_keys:
        raise SpoofbenchError("--apply needs --out (where to write the calibrated scores) or --apply-keys")
    dev = load_trials(job.scores, job.keys, job.key_format)
    if job.calibration:
        calibration = LinearCalibration.load(job.calibration)
    else:
        calibration = fit_linear_calibration(dev.scores, dev.labels, prior=job.prior, smoothing=job.smoothing,
                                             source=str(job.scores))
    report: dict = {"calibration": calibration.to_dict(),
                    "dev": {"scores": str(job.scores), "keys": str(job.keys),
                            **_before_after(dev.bonafide, dev.spoof, calibration)}}
    if job.save:
        report["saved"] = str(calibration.save(job.save))
    if job.apply_scores:
        applied: dict = {"scores": str(job.apply_scores)}
        if job.out:
            applied["out"] = str(job.out)
            applied["n_trials"] = write_calibrated_scores(job.apply_scores, job.out, calibration)
        if job.apply_keys:
            trials = load_trials(job.apply_scores, job.apply_keys, job.key_format)
            applied.update(keys=str(job.apply_keys), **_before_after(trials.bonafide, trials.spoof, calibration))
        report["apply"] = applied
    return report


__all__ = ["CALIBRATION_METRICS", "CalibrationJob", "calibrate_files", "llr_metrics", "with_calibration",
           "write_calibrated_scores"]
