"""ROC AUC and error rates at a fixed threshold (e.g. one chosen on dev, applied to eval)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .det import DetCurve


def auc_from_curve(curve: DetCurve) -> float:
    """Area under the ROC (true-accept vs false-accept rate); a tie counts one half.

    Equals the Mann-Whitney probability that a bona fide trial outscores a spoof trial.
    """
    true_accept = 1.0 - curve.frr[::-1]
    false_accept = curve.far[::-1]
    return float(np.sum(np.diff(false_accept) * (true_accept[1:] + true_accept[:-1]) / 2.0))


@dataclass(frozen=True)
class ThresholdRates:
    """Rates of the decision ``score > threshold`` = bona fide (as the EER threshold is read)."""

    threshold: float
    frr: float
    far: float
    n_bonafide: int
    n_spoof: int

    @property
    def half_total_error_rate(self) -> float:
        return (self.frr + self.far) / 2.0

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "frr": self.frr, "far": self.far,
                "hter": self.half_total_error_rate, "n_bonafide": self.n_bonafide,
                "n_spoof": self.n_spoof}


def rates_at_threshold(bonafide_scores, spoof_scores, threshold: float) -> ThresholdRates:
    """FRR (bona fide ``<= threshold``) and FAR (spoof ``> threshold``) at a given threshold.

    Pass the ``eer_threshold`` of a dev set to get the eval set's rates at the dev operating point.
    """
    bona = np.asarray(bonafide_scores, dtype=np.float64)
    spoof = np.asarray(spoof_scores, dtype=np.float64)
    return ThresholdRates(float(threshold), float(np.mean(bona <= threshold)),
                          float(np.mean(spoof > threshold)), int(bona.size), int(spoof.size))
