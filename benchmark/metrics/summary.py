"""One call for every metric of a system, and a whole evaluation from files (what the CLI runs)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bootstrap import bootstrap_ci, paired_bootstrap
from .breakdown import breakdown
from .catalog import format_metric
from .cllr import compute_cllr, min_cllr_from_counts
from .dcf import ASVSPOOF5, CostModel, compute_act_dcf, min_dcf_from_sorted
from .det import (SortedScores, check_ties, cross_class_ties, curve_from_counts, eer_from_sorted,
                  eer_with_ties, sorted_group_counts, ties_message)
from .readers import ScoredTrials, ScoreNormalization, align, load_trials, read_scores
from .roc import auc_from_curve, rates_at_threshold
from .sasv import compute_t_eer, compute_tandem_a_dcf
from .tdcf import compute_min_tdcf, read_asv_scores
from .validation import split_by_label


class PolarityWarning(UserWarning):
    """EER above 50%, worse than chance: inverted labels or scores (higher should be bona fide), or a detector
    that does not work."""


class TieWarning(UserWarning):
    """A bona fide and a spoof score are equal: the EER depends on the tie convention."""


def polarity_message(eer: float, what: str = "scores") -> str:
    return (f"{what}: EER {format_metric('eer', eer)} is above 50%, worse than chance: inverted labels or scores "
            "(spoofbench expects higher = more bona fide), or a detector that does not work (untrained, too small "
            "or too short an input); scores were NOT flipped")


def compute_metrics(scores, labels, model: CostModel = ASVSPOOF5, *, ties: str = "safe") -> dict:
    """All threshold-free metrics of ``scores (N,)`` with ``labels (N,)`` (1 bona fide, 0 spoof).

    Keys: ``eer``, ``eer_threshold``, ``min_dcf``, ``min_dcf_threshold``, ``act_dcf``,
    ``act_dcf_threshold``, ``cllr``, ``min_cllr`` (bits), ``auc``, ``n_bonafide``, ``n_spoof``;
    rates are fractions. ``ties`` (``safe`` | ``official``) sets how the EER treats a bona fide and
    a spoof score that are equal (see :mod:`spoofbench.metrics.det`); such ties warn with
    :class:`TieWarning`. Warns with :class:`PolarityWarning` when the EER exceeds 50%.
    """
    bona, spoof = split_by_label(scores, labels)
    sorted_scores = SortedScores(np.sort(bona), np.sort(spoof))
    eer, eer_threshold = eer_with_ties(sorted_scores, ties)
    n_tied_values, n_tied_trials = cross_class_ties(sorted_scores)
    if n_tied_values:
        warnings.warn(ties_message(n_tied_values, n_tied_trials, ties), TieWarning, stacklevel=2)
    min_dcf, min_dcf_threshold = min_dcf_from_sorted(sorted_scores, model)
    act_dcf, act_threshold = compute_act_dcf(bona, spoof, model)
    values, n_bona, n_spoof = sorted_group_counts(sorted_scores)
    if eer > 0.5:
        warnings.warn(polarity_message(eer), PolarityWarning, stacklevel=2)
    return {
        "eer": eer, "eer_threshold": eer_threshold,
        "min_dcf": min_dcf, "min_dcf_threshold": min_dcf_threshold,
        "act_dcf": act_dcf, "act_dcf_threshold": act_threshold,
        "cllr": compute_cllr(bona, spoof), "min_cllr": min_cllr_from_counts(n_bona, n_spoof),
        "auc": auc_from_curve(curve_from_counts(values, n_bona, n_spoof)),
        "n_bonafide": int(bona.size), "n_spoof": int(spoof.size),
    }


@dataclass(frozen=True)
class EvaluationOptions:
    """What :func:`evaluate` computes beyond the pooled metrics."""

    by: tuple[str, ...] = ()
    bootstrap: int = 0
    seed: int = 0
    speaker_bootstrap: bool = False
    asv_scores: str | None = None
    threshold: float | None = None
    dev_scores: str | None = None
    dev_keys: str | None = None
    compare_scores: str | None = None
    key_format: str | None = None
    progress: bool = False
    ties: str = "safe"
    model: CostModel = field(default_factory=CostModel)
    normalization: ScoreNormalization | None = None  # explicit score-file normalisation (recorded)


def _quiet_metrics(scores: np.ndarray, labels: np.ndarray, ties: str = "safe") -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolarityWarning)
        warnings.simplefilter("ignore", TieWarning)
        return compute_metrics(scores, labels, ties=ties)


def evaluate(scores_path: str | Path, keys_path: str | Path,
             options: EvaluationOptions = EvaluationOptions()) -> dict:
    """Evaluate a score file against its keys; returns a JSON-ready dict.

    Pooled metrics at the top level (as :func:`compute_metrics`), plus ``scores``, ``keys``,
    ``warnings`` (list of str), and when asked: ``eer_ci95``/``min_dcf_ci95`` ([low, high]),
    ``min_tdcf_2019``/``min_tdcf_2021``/``t_eer``/``a_dcf_tandem`` (with ASV scores),
    ``at_threshold`` (rates at a fixed or dev EER threshold),
    ``compare`` (paired bootstrap vs another score file) and ``by`` (``{column: {value: metrics}}``).
    ``ties`` records the EER's tie convention and ``cross_class_ties`` the bona fide/spoof ties
    (``values``, ``trials``); bootstrap intervals and comparisons use the tie-safe curve.
    """
    ties = check_ties(options.ties)
    trials = load_trials(scores_path, keys_path, options.key_format, options.normalization)
    report: dict = {"scores": str(scores_path), "keys": str(keys_path), "ties": ties}
    if options.normalization is not None:
        report["normalization"] = {**options.normalization.to_dict(), "dropped": trials.dropped}
    report.update(_quiet_metrics(trials.scores, trials.labels, ties))
    report["warnings"] = [polarity_message(report["eer"], str(scores_path))] if report["eer"] > 0.5 else []
    report["cross_class_ties"] = _cross_class_ties(trials)
    if report["cross_class_ties"]["values"]:
        shared = report["cross_class_ties"]
        report["warnings"].append(ties_message(shared["values"], shared["trials"], ties, str(scores_path)))
    bona, spoof = trials.bonafide, trials.spoof
    clusters = _speakers(trials) if options.speaker_bootstrap else None
    if options.bootstrap:
        intervals = bootstrap_ci(trials.scores, trials.labels, n_resamples=options.bootstrap,
                                 seed=options.seed, clusters=clusters, model=options.model,
                                 progress=options.progress)
        report["eer_ci95"] = intervals["eer"].to_list()
        report["min_dcf_ci95"] = intervals["min_dcf"].to_list()
        report["bootstrap"] = {"n_resamples": options.bootstrap, "seed": options.seed,
                               "unit": "speaker" if clusters is not None else "utterance"}
    if options.asv_scores:
        asv = read_asv_scores(options.asv_scores)
        report["min_tdcf_2019"] = compute_min_tdcf(bona, spoof, asv, "2019")[0]
        report["min_tdcf_2021"] = compute_min_tdcf(bona, spoof, asv, "2021")[0]
        report["t_eer"] = compute_t_eer(bona, spoof, asv, ties)[0]
        report["a_dcf_tandem"] = compute_tandem_a_dcf(bona, spoof, asv, ties=ties)[0]
    threshold, source = _fixed_threshold(options)
    if threshold is not None:
        report["at_threshold"] = {"source": source, **rates_at_threshold(bona, spoof, threshold).to_dict()}
    if options.compare_scores:
        other = align(read_scores(options.compare_scores), trials.keys, options.compare_scores)
        n = options.bootstrap or 1000
        report["compare"] = {"scores_b": str(options.compare_scores), **{
            metric: paired_bootstrap(trials.scores, other.scores, trials.labels, metric=metric,
                                     n_resamples=n, seed=options.seed, clusters=clusters,
                                     model=options.model, progress=options.progress).to_dict()
            for metric in ("eer", "min_dcf")}}
    if options.by:
        report["by"] = {column: breakdown(trials.scores, trials.labels, trials.keys.column(column),
                                          lambda s, y: _quiet_metrics(s, y, ties)) for column in options.by}
    return report


def _cross_class_ties(trials: ScoredTrials) -> dict:
    n_values, n_trials = cross_class_ties(SortedScores(np.sort(trials.bonafide), np.sort(trials.spoof)))
    return {"values": n_values, "trials": n_trials}


def _speakers(trials: ScoredTrials) -> np.ndarray:
    from ..errors import ScoreFileError
    if "speaker" not in trials.keys.columns:
        raise ScoreFileError(f"speaker bootstrap needs a 'speaker' column; this {trials.keys.format} "
                             f"key file has: {', '.join(trials.keys.columns) or 'none'}",
                             trials.keys.path or None, field="speaker")
    return trials.keys.columns["speaker"]


def _fixed_threshold(options: EvaluationOptions) -> tuple[float | None, str]:
    from ..errors import SpoofbenchError
    if options.threshold is not None and options.dev_scores:
        raise SpoofbenchError("give either a threshold or dev scores to choose one, not both")
    if options.threshold is not None:
        return options.threshold, "given"
    if options.dev_scores:
        if not options.dev_keys:
            raise SpoofbenchError("dev scores need their keys (dev_keys / --dev-keys)")
        dev = load_trials(options.dev_scores, options.dev_keys, options.key_format)
        return eer_from_sorted(SortedScores(np.sort(dev.bonafide), np.sort(dev.spoof)))[1], \
            f"dev EER threshold of {options.dev_scores}"
    return None, ""


__all__ = ["EvaluationOptions", "PolarityWarning", "TieWarning", "compute_metrics", "evaluate"]
