"""Detection cost functions: the ASVspoof 5 minDCF and actDCF (normalised)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .det import SortedScores, min_cost


@dataclass(frozen=True)
class CostModel:
    """ASVspoof 5 CM cost model: prior of spoof and the costs of a miss and a false alarm."""

    p_spoof: float = 0.05
    c_miss: float = 1.0
    c_fa: float = 10.0

    @property
    def p_bonafide(self) -> float:
        return 1.0 - self.p_spoof

    @property
    def normaliser(self) -> float:
        """Cost of the better of the two trivial systems (accept all / reject all)."""
        return min(self.c_miss * self.p_bonafide, self.c_fa * (1.0 - self.p_bonafide))

    def cost(self, frr: np.ndarray, far: np.ndarray) -> np.ndarray:
        """Unnormalised DCF at ``(frr, far)`` arrays, term order as the official package."""
        p_target = self.p_bonafide
        return self.c_miss * frr * p_target + self.c_fa * far * (1.0 - p_target)

    @property
    def effective_prior(self) -> float:
        """Bona fide prior that alone gives the same Bayes decisions: ``beta / (1 + beta)``."""
        beta = self.c_miss * (1.0 - self.p_spoof) / (self.c_fa * self.p_spoof)
        return float(beta / (1.0 + beta))

    @property
    def bayes_threshold(self) -> float:
        """Threshold on log-likelihood ratios that minimises the expected cost: ``-log(beta)``."""
        beta = self.c_miss * (1.0 - self.p_spoof) / (self.c_fa * self.p_spoof)
        return float(-np.log(beta))


ASVSPOOF5 = CostModel()


def min_dcf_from_sorted(sorted_scores: SortedScores, model: CostModel = ASVSPOOF5) -> tuple[float, float]:
    """``(min normalised DCF, threshold)`` over every threshold of the DET curve."""
    cost, threshold = min_cost(sorted_scores, model.cost)
    return cost / model.normaliser, threshold


def compute_min_dcf(bonafide_scores, spoof_scores, model: CostModel = ASVSPOOF5) -> tuple[float, float]:
    """Minimum normalised DCF (ASVspoof 5) and its threshold; scores ``(Nb,)``, ``(Ns,)``."""
    return min_dcf_from_sorted(SortedScores.from_classes(bonafide_scores, spoof_scores), model)


def compute_act_dcf(bonafide_scores, spoof_scores, model: CostModel = ASVSPOOF5) -> tuple[float, float]:
    """Actual normalised DCF with scores taken as LLRs, at the Bayes threshold ``-log(beta)``.

    As the ASVspoof 5 package: a miss is a bona fide score ``< threshold``, a false alarm a spoof
    score ``>= threshold``. Returns ``(act_dcf, threshold)``.
    """
    bona = np.asarray(bonafide_scores, dtype=np.float64)
    spoof = np.asarray(spoof_scores, dtype=np.float64)
    threshold = model.bayes_threshold
    rate_miss = np.sum(bona < threshold) / bona.size
    rate_fa = np.sum(spoof >= threshold) / spoof.size
    cost = model.c_miss * (1 - model.p_spoof) * rate_miss + model.c_fa * model.p_spoof * rate_fa
    normaliser = np.min([model.c_miss * (1 - model.p_spoof), model.c_fa * model.p_spoof])
    return float(cost / normaliser), threshold
