"""The DET curve and the error rates read off it: EER and minimum linear costs.

Convention (ASVspoof): a score is higher for bona fide. A threshold ``t`` rejects (calls spoof)
every score ``<= t``, so ``FRR(t) = #bona fide <= t / N_bona`` and ``FAR(t) = #spoof > t / N_spoof``.

The curve is the official ASVspoof one (2019/2021 ``compute_det_curve``, also used by the
ASVspoof 5 package): an initial point (FRR 0, FAR 1) at ``min(score) - 0.001``, then one point per
sorted score. It is *tie-safe*: points are taken only at the end of each run of equal scores, so a
threshold never splits tied scores (the official code, sorting with labels, puts a point after
every trial, so within a run of equal scores it reports points no threshold can reach; without
tied scores the results are identical). The EER is the mean of FRR and FAR at the first point of
minimal ``|FRR - FAR|``.

Ties (``ties=`` of :func:`det_curve` and :func:`compute_eer`): ``"safe"`` (the default) is the curve
above; ``"official"`` reproduces the official code's ordering exactly: a point per trial, tied
scores ordered as a stable sort of the bona fide scores followed by the spoof scores puts them, so a
tie between the classes is split with its bona fide trials rejected first. Only the EER (and the
curve drawn) can differ, and only when scores tie; the difference is largest, and the official
number most arbitrary, when a bona fide and a spoof score are equal (:func:`cross_class_ties`,
which the CLI warns about). Minimum costs are the same under both (an intermediate point of a tied
run never costs less than the points at its ends).

Two paths give the same numbers: :func:`det_curve` builds every point (plots, bootstrap, AUC);
:func:`compute_eer` and :func:`min_cost` sort the two classes apart and search only where the answer
can be (a bisection for the FRR/FAR crossing; branch and bound over a coarse grid of thresholds for a
minimum cost), which costs little more than sorting the scores.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .validation import as_score_array

#: Offset of the official curve's initial "accept everything" threshold below the lowest score.
INITIAL_THRESHOLD_OFFSET = 0.001

#: Tie conventions: ``safe`` (thresholds never split tied scores) and ``official`` (ASVspoof code).
TIES = ("safe", "official")

CostFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``cost(frr, far) -> cost``, vectorised, non-decreasing in both arguments."""


@dataclass(frozen=True, eq=False)
class DetCurve:
    """Every operating point of a detector (arrays of shape ``(K + 1,)``, K = distinct scores).

    ``thresholds[0]`` is the accept-all point ``min - 0.001``; point ``k`` rejects scores
    ``<= thresholds[k]``. ``frr`` rises from 0 to 1, ``far`` falls from 1 to 0.
    """

    thresholds: np.ndarray
    frr: np.ndarray
    far: np.ndarray


@dataclass(frozen=True, eq=False)
class SortedScores:
    """The two classes' scores, each sorted ascending: ``bonafide (Nb,)``, ``spoof (Ns,)`` float64."""

    bonafide: np.ndarray
    spoof: np.ndarray

    @classmethod
    def from_classes(cls, bonafide_scores, spoof_scores) -> "SortedScores":
        bona = as_score_array(bonafide_scores, "bona fide scores")
        spoof = as_score_array(spoof_scores, "spoof scores")
        return cls(np.sort(bona), np.sort(spoof))

    @property
    def lowest(self) -> float:
        return float(min(self.bonafide[0], self.spoof[0]))

    def rates(self, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(frr, far)`` at ``thresholds`` (any shape), counted exactly with ties on the reject side."""
        n_bona_rejected = np.searchsorted(self.bonafide, thresholds, side="right")
        n_spoof_rejected = np.searchsorted(self.spoof, thresholds, side="right")
        frr = n_bona_rejected / self.bonafide.size
        far = (self.spoof.size - n_spoof_rejected) / self.spoof.size
        return frr, far


def group_counts(bonafide_scores: np.ndarray, spoof_scores: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scores and which trial falls in which.

    Returns ``values (K,)`` ascending, ``inverse (Nb + Ns,)`` (group of each trial, bona fide first),
    ``n_bona (K,)`` and ``n_spoof (K,)`` trials per group.
    """
    scores = np.concatenate([bonafide_scores, spoof_scores])
    values, inverse = np.unique(scores, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_bona = np.bincount(inverse[:bonafide_scores.size], minlength=values.size)
    n_spoof = np.bincount(inverse[bonafide_scores.size:], minlength=values.size)
    return values, inverse, n_bona, n_spoof


def curve_from_counts(values: np.ndarray, n_bona: np.ndarray, n_spoof: np.ndarray) -> DetCurve:
    """The DET curve from per-distinct-score counts (``n_bona``/``n_spoof`` may be weights)."""
    bona_rejected = np.cumsum(n_bona, dtype=np.float64)
    spoof_rejected = np.cumsum(n_spoof, dtype=np.float64)
    total_bona, total_spoof = bona_rejected[-1], spoof_rejected[-1]
    frr = np.concatenate(([0.0], bona_rejected / total_bona))
    far = np.concatenate(([1.0], (total_spoof - spoof_rejected) / total_spoof))
    thresholds = np.concatenate(([values[0] - INITIAL_THRESHOLD_OFFSET], values))
    return DetCurve(thresholds, frr, far)


def sorted_group_counts(sorted_scores: SortedScores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scores ``values (K,)`` ascending and the bona fide / spoof trials at each ``(K,)``."""
    bona, spoof = sorted_scores.bonafide, sorted_scores.spoof
    # a stable sort of two sorted runs is a linear merge (timsort)
    scores = np.concatenate([bona, spoof])
    order = np.argsort(scores, kind="stable")
    is_bona = order < bona.size
    merged = scores[order]
    group_end = np.empty(merged.size, dtype=bool)
    np.not_equal(merged[1:], merged[:-1], out=group_end[:-1])
    group_end[-1] = True
    bona_rejected = np.cumsum(is_bona)[group_end]
    spoof_rejected = np.flatnonzero(group_end) + 1 - bona_rejected
    return (merged[group_end], np.diff(bona_rejected, prepend=0),
            np.diff(spoof_rejected, prepend=0))


def check_ties(ties: str) -> str:
    """``ties`` if it is a known convention, else a :class:`SpoofbenchError` naming them."""
    if ties not in TIES:
        from ..errors import SpoofbenchError
        raise SpoofbenchError(f"unknown tie convention {ties!r}; expected one of {', '.join(TIES)}")
    return ties


def det_curve(bonafide_scores, spoof_scores, ties: str = "safe") -> DetCurve:
    """The full DET curve of two score sets (1-D arrays of finite floats); ``ties`` as the module says."""
    return det_curve_from_sorted(SortedScores.from_classes(bonafide_scores, spoof_scores), ties)


def det_curve_from_sorted(sorted_scores: SortedScores, ties: str = "safe") -> DetCurve:
    """The full DET curve of already sorted classes (tie-safe, or the official per-trial curve)."""
    if check_ties(ties) == "official":
        return official_curve_from_sorted(sorted_scores)
    return curve_from_counts(*sorted_group_counts(sorted_scores))


def official_curve_from_sorted(sorted_scores: SortedScores) -> DetCurve:
    """The official per-trial curve: ``N + 1`` points, tied scores bona fide first (stable order)."""
    bona, spoof = sorted_scores.bonafide, sorted_scores.spoof
    scores = np.concatenate([bona, spoof])
    order = np.argsort(scores, kind="stable")
    is_bona = order < bona.size
    bona_rejected = np.cumsum(is_bona)
    spoof_rejected = np.arange(1, scores.size + 1) - bona_rejected
    frr = np.concatenate(([0.0], bona_rejected / bona.size))
    far = np.concatenate(([1.0], (spoof.size - spoof_rejected) / spoof.size))
    ordered = scores[order]
    thresholds = np.concatenate(([ordered[0] - INITIAL_THRESHOLD_OFFSET], ordered))
    return DetCurve(thresholds, frr, far)


def cross_class_ties(sorted_scores: SortedScores) -> tuple[int, int]:
    """``(values, trials)``: distinct scores held by both a bona fide and a spoof trial, and the
    trials holding them. Non-zero means the EER depends on the tie convention."""
    shared = np.intersect1d(sorted_scores.bonafide, sorted_scores.spoof)
    if shared.size == 0:
        return 0, 0
    trials = sum(int(np.sum(np.isin(values, shared))) for values in (sorted_scores.bonafide, sorted_scores.spoof))
    return int(shared.size), trials


def ties_message(n_values: int, n_trials: int, ties: str, what: str = "scores") -> str:
    return (f"{what}: {n_values} score value(s) are shared by bona fide and spoof trials ({n_trials} "
            f"trials): the EER depends on how ties are split (used ties={ties!r}; "
            f"'official' splits them as the ASVspoof scorers do)")


def eer_from_curve(curve: DetCurve) -> tuple[float, float]:
    """``(eer, threshold)`` at the first point of minimal ``|FRR - FAR|`` (official rule)."""
    index = int(np.argmin(np.abs(curve.frr - curve.far)))
    return float(np.mean((curve.frr[index], curve.far[index]))), float(curve.thresholds[index])


def min_cost_from_curve(curve: DetCurve, cost: CostFunction) -> tuple[float, float]:
    """``(minimum cost, threshold)`` over every point of ``curve`` (first point on ties)."""
    values = cost(curve.frr, curve.far)
    index = int(np.argmin(values))
    return float(values[index]), float(curve.thresholds[index])


def _first_true(n: int, predicate: Callable[[int], bool]) -> int:
    """Smallest ``i`` in ``[0, n)`` with ``predicate(i)`` for a monotone predicate; ``n`` if none."""
    low, high = 0, n
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return low


def eer_from_sorted(sorted_scores: SortedScores) -> tuple[float, float]:
    """EER and its threshold by bisection on the crossing of FRR and FAR (O(log² N) after sorting).

    ``FRR - FAR`` never decreases along the thresholds, so the first minimal ``|FRR - FAR|`` is at the
    last point below zero or the first point at or above zero, whichever is closer (the earlier on
    a tie), exactly as an argmin over the whole curve.
    """
    def difference(threshold: float) -> float:
        frr, far = sorted_scores.rates(np.asarray(threshold))
        return float(frr - far)

    candidates = []
    for values in (sorted_scores.bonafide, sorted_scores.spoof):
        def crossed(i: int, v: np.ndarray = values) -> bool:
            return bool(difference(v[i]) >= 0)

        index = _first_true(values.size, crossed)
        if index < values.size:
            candidates.append(float(values[index]))
    initial = sorted_scores.lowest - INITIAL_THRESHOLD_OFFSET
    upper = min(candidates)  # the last score always has FRR = 1, FAR = 0, so candidates is non-empty
    # the point before `upper`: the largest distinct score below it, or the initial point
    below = [values[np.searchsorted(values, upper, side="left") - 1]
             for values in (sorted_scores.bonafide, sorted_scores.spoof)
             if np.searchsorted(values, upper, side="left") > 0]
    lower = float(max(below)) if below else initial
    points = np.array([lower, upper])
    frr, far = sorted_scores.rates(points)
    if not below:  # the initial point: nothing rejected
        frr[0], far[0] = 0.0, 1.0
    index = int(np.argmin(np.abs(frr - far)))
    return float(np.mean((frr[index], far[index]))), float(points[index])


def eer_with_ties(sorted_scores: SortedScores, ties: str = "safe") -> tuple[float, float]:
    """``(eer, threshold)`` under a tie convention: the fast tie-safe search, or the official curve."""
    if check_ties(ties) == "official":
        return eer_from_curve(official_curve_from_sorted(sorted_scores))
    return eer_from_sorted(sorted_scores)


def compute_eer(bonafide_scores, spoof_scores, ties: str = "safe") -> tuple[float, float]:
    """Equal error rate and its threshold, as the official ASVspoof ``compute_eer``.

    ``bonafide_scores (Nb,)``, ``spoof_scores (Ns,)``: finite floats, higher = more bona fide.
    Returns ``(eer, threshold)``; ``eer`` is a fraction (0.0106 for 1.06%). ``ties="official"``
    splits tied scores as the official code does (see the module docstring).
    """
    return eer_with_ties(SortedScores.from_classes(bonafide_scores, spoof_scores), ties)


#: Spoof scores per block in the branch-and-bound search of :func:`min_cost`.
_GRID_STEP = 256


def min_cost(sorted_scores: SortedScores, cost: CostFunction) -> tuple[float, float]:
    """Minimum of ``cost(frr, far)`` over the DET curve and its (first) threshold.

    Any cost non-decreasing in FRR and FAR is lowest at the initial point or right after a run of
    spoof scores, so only thresholds at spoof scores are searched. The spoof scores are cut into
    blocks of ``_GRID_STEP``; every block end is evaluated exactly, and a block is searched point by
    point only when its lower bound (FRR at the previous block end, FAR at its own end) can reach
    the best cost found, so the result equals an argmin over the whole curve.
    """
    spoof = sorted_scores.spoof
    initial_threshold = sorted_scores.lowest - INITIAL_THRESHOLD_OFFSET
    initial_cost = float(cost(np.array([0.0]), np.array([1.0]))[0])
    n_spoof = spoof.size
    block_ends = np.arange(_GRID_STEP - 1, n_spoof, _GRID_STEP)
    if block_ends.size == 0 or block_ends[-1] != n_spoof - 1:
        block_ends = np.append(block_ends, n_spoof - 1)
    end_frr, end_far = sorted_scores.rates(spoof[block_ends])
    end_cost = cost(end_frr, end_far)
    best = min(initial_cost, float(end_cost.min()))
    previous_frr = np.concatenate(([0.0], end_frr[:-1]))
    lower_bound = cost(previous_frr, end_far)
    blocks = np.flatnonzero(lower_bound <= best)
    starts = np.concatenate(([0], block_ends[:-1] + 1))
    candidate_index = np.concatenate([np.arange(starts[b], block_ends[b] + 1) for b in blocks]) \
        if blocks.size else np.array([], dtype=np.int64)
    thresholds = np.concatenate(([initial_threshold], spoof[candidate_index]))
    frr, far = sorted_scores.rates(thresholds[1:])
    costs = np.concatenate(([initial_cost], cost(frr, far)))
    lowest = costs.min()
    # the first point in threshold order attaining the minimum (official argmin)
    index = int(np.argmin(np.where(costs == lowest, thresholds, np.inf)))
    return float(costs[index]), float(thresholds[index])


__all__ = ["DetCurve", "SortedScores", "TIES", "check_ties", "compute_eer", "cross_class_ties",
           "curve_from_counts", "det_curve", "eer_with_ties", "official_curve_from_sorted", "ties_message",
           "det_curve_from_sorted", "eer_from_curve", "eer_from_sorted", "group_counts", "min_cost",
           "min_cost_from_curve", "sorted_group_counts"]
