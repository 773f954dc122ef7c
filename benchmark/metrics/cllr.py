"""Log-likelihood-ratio cost: Cllr of scores read as natural-log LLRs, and minCllr after PAV."""
from __future__ import annotations

import numpy as np
from sklearn.isotonic import isotonic_regression

from .det import SortedScores, sorted_group_counts

_LN2 = np.log(2.0)


def compute_cllr(bonafide_llrs, spoof_llrs) -> float:
    """Cllr in bits: ``0.5 * (mean log2(1 + e^-llr_bona) + mean log2(1 + e^llr_spoof))``."""
    bona = np.asarray(bonafide_llrs, dtype=np.float64)
    spoof = np.asarray(spoof_llrs, dtype=np.float64)
    return float(0.5 * (np.mean(np.logaddexp(0.0, -bona)) + np.mean(np.logaddexp(0.0, spoof))) / _LN2)


def compute_min_cllr(bonafide_scores, spoof_scores) -> float:
    """Cllr after the optimal monotone calibration (pool-adjacent-violators), in bits.

    Tied scores form one group (so they get one LLR). The PAV posteriors ``p`` of each group are
    turned into LLRs by removing the empirical prior; groups with ``p`` of 0 or 1 give infinite LLRs
    whose cost is 0 for the class they hold.
    """
    sorted_scores = SortedScores.from_classes(bonafide_scores, spoof_scores)
    _, n_bona, n_spoof = sorted_group_counts(sorted_scores)
    return min_cllr_from_counts(n_bona, n_spoof)


def min_cllr_from_counts(n_bona: np.ndarray, n_spoof: np.ndarray) -> float:
    """minCllr from bona fide / spoof counts ``(K,)`` per distinct score, in ascending score order."""
    total_bona, total_spoof = n_bona.sum(), n_spoof.sum()
    size = (n_bona + n_spoof).astype(np.float64)
    posterior = isotonic_regression(n_bona / size, sample_weight=size, increasing=True)
    posterior = np.clip(posterior, 0.0, 1.0)
    prior_log_odds = np.log(total_bona) - np.log(total_spoof)
    with np.errstate(divide="ignore"):
        llr = np.log(posterior) - np.log1p(-posterior) - prior_log_odds
    bona_cost = np.where(n_bona > 0, n_bona * np.logaddexp(0.0, -np.where(n_bona > 0, llr, 0.0)), 0.0)
    spoof_cost = np.where(n_spoof > 0, n_spoof * np.logaddexp(0.0, np.where(n_spoof > 0, llr, 0.0)), 0.0)
    return float(0.5 * (bona_cost.sum() / total_bona + spoof_cost.sum() / total_spoof) / _LN2)
