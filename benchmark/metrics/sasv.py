"""Spoofing-aware speaker verification (SASV) metrics: t-EER and a-DCF (ASVspoof 5 track 2).

- **t-EER** (Kinnunen et al., 2023, "t-EER: parameter-free tandem evaluation of countermeasures and
  biometric comparators", IEEE TPAMI): a CM gates an ASV system. For CM threshold ``c`` and ASV
  threshold ``a`` the tandem misses a target with ``Pmiss_cm(c) + (1 - Pmiss_cm(c)) Pmiss_asv(a)`` and
  accepts an impostor with ``(1 - rho)(1 - Pmiss_cm(c)) Pfa_non_asv(a) + rho Pfa_cm(c) Pfa_spoof_asv(a)``.
  Along the path of ``(a, c)`` where the two are equal (for each ASV threshold, the CM threshold
  closest to equality), the *concurrent* t-EER is the point where the rate does not depend on the
  spoof prevalence ``rho``: ``Pfa_non_asv / Pfa_spoof_asv = Pfa_cm / (1 - Pmiss_cm)``; its value is
  ``Pfa_spoof_asv(a) * Pfa_cm(c)``. Only the ASV operating points with
  ``Pmiss_asv < (Pfa_non_asv + Pfa_spoof_asv) / 2`` are on the path (the ASVspoof 5 package's rule, with
  ``rho = 1/2``). CM rates come from the CM scores of bona fide vs spoof trials, ASV rates from the ASV
  scores of target, non-target and spoof trials; the two score sets need not be paired.
- **a-DCF** (Shim et al., Odyssey 2024; the ASVspoof 5 track 2 primary metric): one threshold on a
  single SASV score; ``C_miss P_tar Pmiss + C_fa,asv P_non Pfa_non + C_fa,spoof P_spoof Pfa_spoof``,
  normalised by the better of accepting or rejecting everything; the minimum over thresholds.
- **tandem a-DCF** (:func:`compute_tandem_a_dcf`, spoofbench's, not an official function): the same
  cost of a CM-gated ASV, with the tandem error rates of the t-EER (CM and ASV errors independent,
  unpaired score files), minimised over both thresholds. With a perfect CM it is the ASV's a-DCF
  without spoofs; it never exceeds the a-DCF of the ASV scores alone (the CM may accept all).

Both follow this package's tie conventions (:mod:`spoofbench.metrics.det`): ``ties="official"``
builds the official per-trial curves (stable order: target, non-target, spoof; bona fide, spoof),
``"safe"`` only points between distinct scores. The minimum a-DCF is the same under both. The CM
and ASV operating points follow the ASVspoof convention: a score ``<= threshold`` is rejected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ScoreFileError
from .det import INITIAL_THRESHOLD_OFFSET, SortedScores, check_ties, det_curve_from_sorted
from .tdcf import AsvScores
from .validation import as_score_array

#: Offset of the a-DCF curve's initial "accept everything" threshold below the lowest score.
A_DCF_INITIAL_OFFSET = 1e-8


@dataclass(frozen=True)
class ADcfCostModel:
    """Priors of target, non-target and spoof trials and the costs of the three errors."""

    p_target: float = 0.95 * 0.99
    p_nontarget: float = 0.95 * 0.01
    p_spoof: float = 0.05
    c_miss: float = 1.0
    c_fa_nontarget: float = 10.0
    c_fa_spoof: float = 10.0

    @property
    def normaliser(self) -> float:
        """Cost of the better trivial system: accept all ``(C_fa,asv P_non + C_fa,spoof P_spoof)``
        or reject all ``(C_miss P_tar)``."""
        accept_all = self.c_fa_nontarget * self.p_nontarget + self.c_fa_spoof * self.p_spoof
        return min(accept_all, self.c_miss * self.p_target)


#: ASVspoof 5 track 2 (the evaluation package's t-DCF priors and costs).
ASVSPOOF5_SASV = ADcfCostModel()
#: The a-DCF paper's default cost model (the package's ``a_dcf.CostModel()`` defaults).
A_DCF_PAPER = ADcfCostModel(p_target=0.9, p_nontarget=0.05, p_spoof=0.05, c_miss=1.0,
                            c_fa_nontarget=10.0, c_fa_spoof=20.0)


@dataclass(frozen=True, eq=False)
class AsvCurves:
    """ASV operating points ``(K + 1,)``: target miss, non-target and spoof false-accept rates."""

    thresholds: np.ndarray
    p_miss: np.ndarray
    p_fa_nontarget: np.ndarray
    p_fa_spoof: np.ndarray


def asv_curves(asv: AsvScores, ties: str = "safe", initial_offset: float = INITIAL_THRESHOLD_OFFSET
               ) -> AsvCurves:
    """Rates of the ASV at every threshold: an accept-all point at ``min - initial_offset`` (the
    official t-EER curve uses 0.001, the a-DCF curve 1e-8), then one per score, or per distinct score
    with ``ties="safe"``. Tied trials are ordered target, non-target, spoof."""
    classes = [as_score_array(values, f"ASV {name} scores")
               for name, values in (("target", asv.target), ("nontarget", asv.nontarget), ("spoof", asv.spoof))]
    scores = np.concatenate(classes)
    label = np.repeat(np.arange(3), [c.size for c in classes])
    order = np.argsort(scores, kind="stable")
    ordered, label = scores[order], label[order]
    counts = [np.cumsum(label == k) for k in range(3)]
    if check_ties(ties) == "safe":
        ends = np.append(ordered[1:] != ordered[:-1], True)
        ordered, counts = ordered[ends], [c[ends] for c in counts]
    sizes = [c.size for c in classes]
    return AsvCurves(
        thresholds=np.concatenate(([ordered[0] - initial_offset], ordered)),
        p_miss=np.concatenate(([0.0], counts[0] / sizes[0])),
        p_fa_nontarget=np.concatenate(([1.0], 1 - counts[1] / sizes[1])),
        p_fa_spoof=np.concatenate(([1.0], 1 - counts[2] / sizes[2])))


def compute_a_dcf(target_scores, nontarget_scores, spoof_scores, model: ADcfCostModel = ASVSPOOF5_SASV
                  ) -> tuple[float, float]:
    """Minimum normalised a-DCF of SASV scores and its threshold.

    ``target_scores (Nt,)``, ``nontarget_scores (Nn,)``, ``spoof_scores (Ns,)``: one SASV score per
    trial, higher = accept. Ties need no convention: an intermediate point of a tied run never costs
    less than the points at its ends, so the minimum and its threshold equal the official ones.
    """
    curves = asv_curves(AsvScores(np.asarray(target_scores), np.asarray(nontarget_scores),
                                  np.asarray(spoof_scores)), "safe", A_DCF_INITIAL_OFFSET)
    costs = (model.c_miss * model.p_target * curves.p_miss
             + model.c_fa_nontarget * model.p_nontarget * curves.p_fa_nontarget
             + model.c_fa_spoof * model.p_spoof * curves.p_fa_spoof) / model.normaliser
    index = int(np.argmin(costs))
    return float(costs[index]), float(curves.thresholds[index])


def _tandem_gap(cm_miss: np.ndarray, cm_fa: np.ndarray, asv_miss: np.ndarray, asv_fa_non: np.ndarray,
                asv_fa_spoof: np.ndarray, rho: float = 0.5) -> np.ndarray:
    """``Pmiss_tandem - Pfa_tandem`` (same shapes broadcast), written as the official package does."""
    p_miss = cm_miss + (1 - cm_miss) * asv_miss
    p_fa = (1 - rho) * (1 - cm_miss) * asv_fa_non + rho * cm_fa * asv_fa_spoof
    return p_miss - p_fa


def _cm_index_on_path(cm_miss: np.ndarray, cm_fa: np.ndarray, asv: AsvCurves) -> np.ndarray:
    """For every ASV point, the first CM point of minimal ``|Pmiss_tandem - Pfa_tandem|``.

    The gap never decreases along the CM thresholds, so the answer is the earliest point holding the
    last negative gap or the first non-negative one, whichever is closer to zero (vectorised bisection).
    """
    n_cm = cm_miss.size

    def gap(index: np.ndarray) -> np.ndarray:
        index = np.minimum(index, n_cm - 1)
        return _tandem_gap(cm_miss[index], cm_fa[index], asv.p_miss, asv.p_fa_nontarget, asv.p_fa_spoof)

    def first_at_least(bound: np.ndarray) -> np.ndarray:
        low, high = np.zeros(asv.p_miss.size, np.int64), np.full(asv.p_miss.size, n_cm, np.int64)
        while np.any(low < high):
            middle = (low + high) // 2
            above = gap(middle) >= bound
            active = low < high
            high = np.where(active & above, middle, high)
            low = np.where(active & ~above, middle + 1, low)
        return low

    first_positive = first_at_least(np.zeros(asv.p_miss.size))
    has_negative = first_positive > 0
    last_negative_gap = gap(np.maximum(first_positive - 1, 0))
    plateau_start = first_at_least(last_negative_gap)  # argmin returns the first equal |gap|
    positive_gap = np.where(first_positive < n_cm, gap(first_positive), np.inf)
    take_negative = has_negative & (np.abs(last_negative_gap) <= np.abs(positive_gap))
    return np.where(take_negative, plateau_start, np.minimum(first_positive, n_cm - 1))


def compute_t_eer(cm_bonafide_scores, cm_spoof_scores, asv: AsvScores, ties: str = "safe"
                  ) -> tuple[float, float, float]:
    """Concurrent t-EER of a CM (``(Nb,)`` bona fide, ``(Ns,)`` spoof scores) in tandem with an ASV.

    Returns ``(t_eer, asv_threshold, cm_threshold)``; ``t_eer`` is a fraction (the ASVspoof 5 package
    prints it ×100). ``ties="official"`` equals the package's exhaustive ``compute_teer`` on its curves.
    """
    cm = det_curve_from_sorted(SortedScores.from_classes(cm_bonafide_scores, cm_spoof_scores), ties)
    curves = asv_curves(asv, ties)
    cm_index = _cm_index_on_path(cm.frr, cm.far, curves)
    on_path = curves.p_miss < 0.5 * curves.p_fa_nontarget + 0.5 * curves.p_fa_spoof
    with np.errstate(divide="ignore", invalid="ignore"):
        criterion = np.abs(curves.p_fa_nontarget / curves.p_fa_spoof - cm.far[cm_index] / (1 - cm.frr[cm_index]))
    criterion = np.where(on_path & ~np.isnan(criterion), criterion, np.inf)
    best = int(np.argmin(criterion))
    if not np.isfinite(criterion[best]):
        raise ScoreFileError("t-EER: no ASV operating point lies on the tandem EER path (the ASV "
                             "scores do not describe a working ASV system)")
    index = int(cm_index[best])
    return (float(curves.p_fa_spoof[best] * cm.far[index]), float(curves.thresholds[best]),
            float(cm.thresholds[index]))


def _lower_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the lower convex hull of points sorted by ``x`` (monotone chain)."""
    hull: list[int] = []
    for k in range(x.size):
        while len(hull) >= 2:
            i, j = hull[-2], hull[-1]
            if (x[j] - x[i]) * (y[k] - y[i]) - (y[j] - y[i]) * (x[k] - x[i]) <= 0:
                hull.pop()
            else:
                break
        hull.append(k)
    return np.asarray(hull, dtype=np.int64)


def compute_tandem_a_dcf(cm_bonafide_scores, cm_spoof_scores, asv: AsvScores,
                         model: ADcfCostModel = ASVSPOOF5_SASV, ties: str = "safe", chunk: int = 4096
                         ) -> tuple[float, float, float]:
    """Minimum normalised a-DCF of a CM gating an ASV, over both thresholds: ``(a_dcf, asv_threshold,
    cm_threshold)``.

    For an ASV point the cost is linear in the CM's ``(Pmiss, Pfa)``, so only the lower convex hull of
    the CM's operating points can hold its minimum; every ASV point is evaluated against that hull.
    """
    cm = det_curve_from_sorted(SortedScores.from_classes(cm_bonafide_scores, cm_spoof_scores), ties)
    curves = asv_curves(asv, ties)
    hull = _lower_hull(cm.frr, cm.far)
    cm_miss, cm_fa = cm.frr[hull], cm.far[hull]
    best = (np.inf, 0, 0)
    for start in range(0, curves.p_miss.size, chunk):
        part = slice(start, start + chunk)
        asv_miss = curves.p_miss[part, None]
        cost = (model.c_miss * model.p_target * (cm_miss + (1 - cm_miss) * asv_miss)
                + model.c_fa_nontarget * model.p_nontarget * (1 - cm_miss) * curves.p_fa_nontarget[part, None]
                + model.c_fa_spoof * model.p_spoof * cm_fa * curves.p_fa_spoof[part, None])
        row, column = np.unravel_index(int(np.argmin(cost)), cost.shape)
        if cost[row, column] < best[0]:
            best = (float(cost[row, column]), start + int(row), int(hull[column]))
    value, asv_index, cm_index = best
    return value / model.normaliser, float(curves.thresholds[asv_index]), float(cm.thresholds[cm_index])


__all__ = ["A_DCF_PAPER", "ASVSPOOF5_SASV", "ADcfCostModel", "AsvCurves", "asv_curves", "compute_a_dcf",
           "compute_t_eer", "compute_tandem_a_dcf"]
