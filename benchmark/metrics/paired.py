"""Comparing two detectors (or two conditions) on the same trials, over several training seeds.

One comparison is a paired bootstrap (:func:`~spoofbench.metrics.bootstrap.paired_bootstrap`) per seed
pair (:func:`seed_pairs`): the EER of A and B, the difference per pair, the widest 95% CI of the
difference and every pair's p-value. Over a family of comparisons the p-values are Holm-adjusted
(:func:`holm`); A and B are *separable* (:func:`adjust`) only when the largest p-value of the pair,
Holm-adjusted, is below alpha and every seed pair agrees in the sign of the difference.
The runner's report, the demo's verdict, ``shortcut-check`` and ``compare`` use these.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np

from .bootstrap import PairedTest, paired_bootstrap
from .catalog import metric_info


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order as given)."""
    order = np.argsort(p_values)
    m = len(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


def format_p(p: float, resamples: int) -> str:
    """A bootstrap p-value: never "0" (the resolution is one replicate in ``resamples``)."""
    return f"< {1.0 / resamples:.2g}" if p <= 0 else f"{p:.3g}"


def seed_pairs(seeds_a: Sequence[int], seeds_b: Sequence[int]) -> list[tuple[int, int]]:
    """Which seed of A meets which seed of B: paired by rank, or every seed of the other when one side has
    a single seed."""
    if len(seeds_a) == 1 or len(seeds_b) == 1:
        return list(itertools.product(seeds_a, seeds_b))
    return list(zip(seeds_a, seeds_b))


@dataclass(frozen=True)
class Comparison:
    """A vs B on the same trials (EER): per seed pair paired-bootstrap results, Holm-adjusted."""
    test_set: str
    codec: str
    a: str
    b: str
    value_a: float
    value_b: float
    deltas: tuple[float, ...]
    delta_ci: tuple[float, float]
    p_values: tuple[float, ...]
    resamples: int = 1000
    p_adjusted: float = 1.0
    separable: bool = False

    @property
    def p(self) -> float:
        return max(self.p_values)

    def sentence(self) -> str:
        """"X beats Y on T by …" when separable, else "X and Y are not separable on T", with the numbers;
        the better detector (lower mean EER) is named first in both."""
        eer = metric_info("eer")
        a_first = float(np.mean(self.deltas)) <= 0
        first, second = (self.a, self.b) if a_first else (self.b, self.a)
        v1, v2 = (self.value_a, self.value_b) if a_first else (self.value_b, self.value_a)
        low, high = (self.delta_ci if a_first else (-self.delta_ci[1], -self.delta_ci[0]))
        d = eer.decimals
        ps = ", ".join(format_p(p, self.resamples) for p in self.p_values)
        where = f"{self.test_set}" + (f" ({self.codec})" if self.codec != "none" else "")
        stats = (f"EER {first} {eer.format(v1)} vs {second} {eer.format(v2)}; Δ({first} − {second}) 95% CI "
                 f"[{low * 100:+.{d}f}, {high * 100:+.{d}f}] pp; paired bootstrap p = {ps} over "
                 f"{len(self.p_values)} seed pair(s), Holm-adjusted p = {format_p(self.p_adjusted, self.resamples)}")
        if not self.separable:
            return f"{first} and {second} are not separable on {where} ({stats})."
        return f"{first} beats {second} on {where} by {abs(v2 - v1) * 100:.{d}f} percentage points ({stats})."


def paired_tests(trials: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], *, metric: str = "eer",
                 resamples: int = 1000, seed: int = 0) -> list[PairedTest]:
    """One paired bootstrap per seed pair from ``(scores_a, scores_b, labels)`` in key order, ``NaN`` where
    a system did not score a trial (only trials both scored are compared)."""
    tests = []
    for scores_a, scores_b, labels in trials:
        keep = ~(np.isnan(scores_a) | np.isnan(scores_b))
        tests.append(paired_bootstrap(scores_a[keep], scores_b[keep], labels[keep], metric=metric,
                                      n_resamples=resamples, seed=seed))
    return tests


def comparison(test_set: str, codec: str, a: str, b: str, tests: Sequence[PairedTest],
               resamples: int) -> Comparison:
    """The :class:`Comparison` of A and B from their per-seed-pair paired tests (not yet adjusted)."""
    return Comparison(test_set, codec, a, b, float(np.mean([t.value_a for t in tests])),
                      float(np.mean([t.value_b for t in tests])), tuple(t.delta for t in tests),
                      (min(t.delta_ci95[0] for t in tests), max(t.delta_ci95[1] for t in tests)),
                      tuple(t.p_value for t in tests), resamples)


def adjust(comparisons: Sequence[Comparison], alpha: float) -> list[Comparison]:
    """Holm-adjust a family of comparisons; separable: adjusted p below ``alpha`` and every seed pair agreeing
    in sign."""
    if not comparisons:
        return []
    adjusted = holm([c.p for c in comparisons])
    out = []
    for c, p in zip(comparisons, adjusted):
        same_sign = all(d < 0 for d in c.deltas) or all(d > 0 for d in c.deltas)
        out.append(replace(c, p_adjusted=p, separable=bool(p < alpha and same_sign)))
    return out


__all__ = ["Comparison", "adjust", "comparison", "format_p", "holm", "paired_tests", "seed_pairs"]
