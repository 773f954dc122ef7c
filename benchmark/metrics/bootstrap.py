"""Bootstrap confidence intervals for EER and minDCF, and a paired bootstrap test of two systems.

Each replicate re-weights the trials (how often each is drawn) instead of re-sorting them: the
distinct scores are grouped once, and a replicate's DET curve is a cumulative sum of weighted group
counts, O(N) per replicate. Utterances are drawn within each class (class sizes stay fixed); with
``clusters`` (e.g. speakers) whole clusters are drawn with replacement.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import SpoofbenchError
from ..logs import progress as show_progress
from .dcf import ASVSPOOF5, CostModel
from .det import DetCurve, curve_from_counts, eer_from_curve, group_counts, min_cost_from_curve
from .validation import split_by_label

METRICS = ("eer", "min_dcf")


def _metric_functions(model: CostModel) -> dict[str, Callable[[DetCurve], float]]:
    return {"eer": lambda curve: eer_from_curve(curve)[0],
            "min_dcf": lambda curve: min_cost_from_curve(curve, model.cost)[0] / model.normaliser}


class _WeightedCurves:
    """DET curves of one system under trial weights ``(N,)`` (trials in the caller's order)."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray):
        bona, spoof = split_by_label(scores, labels)
        self.values, inverse, _, _ = group_counts(bona, spoof)
        order = np.concatenate([np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)])
        self.group = np.empty(scores.size, dtype=np.int64)
        self.group[order] = inverse
        self.is_bona = labels == 1

    def curve(self, weights: np.ndarray) -> DetCurve:
        k = self.values.size
        n_bona = np.bincount(self.group[self.is_bona], weights[self.is_bona], minlength=k)
        n_spoof = np.bincount(self.group[~self.is_bona], weights[~self.is_bona], minlength=k)
        return curve_from_counts(self.values, n_bona, n_spoof)


class _Resampler:
    """Draws replicate weights ``(N,)``: per class, or by clusters with both classes kept."""

    def __init__(self, labels: np.ndarray, clusters: np.ndarray | None, seed: int):
        self.rng = np.random.default_rng(seed)
        self.labels = labels
        self.class_index = [np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)]
        if clusters is not None:
            clusters = np.asarray(clusters)
            if clusters.shape != labels.shape:
                raise SpoofbenchError(f"clusters: shape {clusters.shape} does not match the "
                                      f"{labels.size} trials")
            self.cluster_names, self.cluster_of = np.unique(clusters, return_inverse=True)
            if self.cluster_names.size < 2:
                raise SpoofbenchError("cluster bootstrap needs at least 2 clusters (speakers); "
                                      f"got {self.cluster_names.size}")
        self.clusters = clusters

    def draw(self) -> np.ndarray:
        n = self.labels.size
        if self.clusters is None:
            weights = np.zeros(n)
            for index in self.class_index:
                picks = index[self.rng.integers(0, index.size, index.size)]
                weights += np.bincount(picks, minlength=n)
            return weights
        n_clusters = self.cluster_names.size
        for _ in range(1000):
            counts = np.bincount(self.rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)
            weights = counts[self.cluster_of].astype(np.float64)
            if weights[self.labels == 1].sum() > 0 and weights[self.labels == 0].sum() > 0:
                return weights
        raise SpoofbenchError("cluster bootstrap: 1000 draws in a row lacked a class; the clusters "
                              "do not mix bona fide and spoof trials enough")


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval of one metric."""

    estimate: float
    low: float
    high: float
    n_resamples: int

    def to_list(self) -> list[float]:
        return [self.low, self.high]


def bootstrap_ci(scores, labels, *, n_resamples: int = 1000, seed: int = 0,
                 clusters: np.ndarray | None = None, confidence: float = 0.95,
                 metrics: tuple[str, ...] = METRICS, model: CostModel = ASVSPOOF5,
                 progress: bool = False) -> dict[str, Interval]:
    """Percentile bootstrap intervals of ``metrics`` (``eer``, ``min_dcf``) of one system.

    ``scores (N,)``, ``labels (N,)`` (1 bona fide, 0 spoof), ``clusters (N,)`` optional cluster ids
    (speakers). Deterministic for a given ``seed``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if n_resamples < 1:
        raise SpoofbenchError(f"n_resamples must be at least 1, got {n_resamples}")
    functions = _metric_functions(model)
    unknown = [m for m in metrics if m not in functions]
    if unknown:
        raise SpoofbenchError(f"unknown bootstrap metric(s) {unknown}; expected {list(functions)}")
    curves = _WeightedCurves(scores, labels)
    resampler = _Resampler(labels, clusters, seed)
    full = curves.curve(np.ones(scores.size))
    samples = {m: np.empty(n_resamples) for m in metrics}
    for r in show_progress(range(n_resamples), desc="bootstrap", enabled=progress):
        curve = curves.curve(resampler.draw())
        for m in metrics:
            samples[m][r] = functions[m](curve)
    tail = (1.0 - confidence) / 2.0
    bounds = {m: np.quantile(samples[m], [tail, 1 - tail]) for m in metrics}
    return {m: Interval(functions[m](full), float(bounds[m][0]), float(bounds[m][1]), n_resamples) for m in metrics}


@dataclass(frozen=True)
class PairedTest:
    """A vs B on the same trials: ``delta = metric(A) - metric(B)`` (negative: A has fewer errors)."""

    metric: str
    value_a: float
    value_b: float
    delta: float
    delta_ci95: tuple[float, float]
    p_value: float
    n_resamples: int

    def to_dict(self) -> dict:
        return {"metric": self.metric, "a": self.value_a, "b": self.value_b, "delta": self.delta,
                "delta_ci95": list(self.delta_ci95), "p_value": self.p_value,
                "n_resamples": self.n_resamples}


def paired_bootstrap(scores_a, scores_b, labels, *, metric: str = "eer", n_resamples: int = 1000,
                     seed: int = 0, clusters: np.ndarray | None = None,
                     model: CostModel = ASVSPOOF5, progress: bool = False) -> PairedTest:
    """Paired bootstrap of ``metric`` for systems A and B scored on the same trials ``(N,)``.

    Both systems see the same resampled trials in every replicate. ``p_value`` is two-sided: twice
    the share of replicates whose difference has the other sign than zero would need
    (``2 * min(P(delta* <= 0), P(delta* >= 0))``, at most 1), the percentile test of "no difference".
    """
    scores_a = np.asarray(scores_a, dtype=np.float64)
    scores_b = np.asarray(scores_b, dtype=np.float64)
    labels = np.asarray(labels)
    if scores_a.shape != scores_b.shape:
        raise SpoofbenchError(f"paired test needs the same trials: A has {scores_a.size} scores, "
                              f"B {scores_b.size}")
    functions = _metric_functions(model)
    if metric not in functions:
        raise SpoofbenchError(f"unknown metric {metric!r}; expected {list(functions)}")
    score = functions[metric]
    curves_a, curves_b = _WeightedCurves(scores_a, labels), _WeightedCurves(scores_b, labels)
    resampler = _Resampler(labels, clusters, seed)
    ones = np.ones(labels.size)
    value_a, value_b = score(curves_a.curve(ones)), score(curves_b.curve(ones))
    deltas = np.empty(n_resamples)
    for r in show_progress(range(n_resamples), desc="paired bootstrap", enabled=progress):
        weights = resampler.draw()
        deltas[r] = score(curves_a.curve(weights)) - score(curves_b.curve(weights))
    p_value = min(1.0, 2.0 * float(min(np.mean(deltas <= 0), np.mean(deltas >= 0))))
    low, high = np.quantile(deltas, [0.025, 0.975])
    return PairedTest(metric, value_a, value_b, value_a - value_b, (float(low), float(high)),
                      float(p_value), n_resamples)
