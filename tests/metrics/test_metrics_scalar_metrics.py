"""actDCF, Cllr, minCllr, AUC, rates at a fixed threshold and t-DCF on hand-made data."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from spoofbench.errors import ScoreFileError
from spoofbench.metrics import (AsvScores, PolarityWarning, compute_act_dcf, compute_cllr,
                                compute_metrics, compute_min_cllr, compute_min_tdcf, det_curve,
                                auc_from_curve, rates_at_threshold, read_asv_scores)


def test_act_dcf_hand_computed():
    # Bayes threshold -log(1.9) = -0.642: misses {-1} of 3 bona fide, false alarms {0, -0.5} of 3
    value, threshold = compute_act_dcf([-1.0, 2.0, 3.0], [-2.0, 0.0, -0.5])
    assert threshold == pytest.approx(-np.log(1.9))
    assert value == pytest.approx((0.95 / 3 + 0.5 * 2 / 3) / 0.5)


def test_cllr_of_uninformative_and_perfect_llrs():
    assert compute_cllr(np.zeros(10), np.zeros(7)) == pytest.approx(1.0)
    assert compute_cllr([50.0], [-50.0]) == pytest.approx(0.0, abs=1e-20)
    # overflow-safe for huge wrong LLRs: cost grows linearly
    assert np.isfinite(compute_cllr([-1e4], [1e4]))


def test_min_cllr_after_pav():
    assert compute_min_cllr([3.0, 4.0], [1.0, 2.0]) == 0.0           # separable: perfect calibration
    assert compute_min_cllr([1.0, 1.0], [1.0, 1.0, 1.0]) == pytest.approx(1.0)  # all tied
    rng = np.random.default_rng(0)
    bona, spoof = rng.normal(1, 1, 500), rng.normal(-1, 1, 500)
    # minCllr never exceeds Cllr of any monotone calibration of the same scores
    assert compute_min_cllr(bona, spoof) <= compute_cllr(bona, spoof)
    assert compute_min_cllr(bona, spoof) <= compute_cllr(2 * bona, 2 * spoof)


def test_auc_counts_ties_half_and_matches_sklearn():
    assert auc_from_curve(det_curve([2.0, 3.0], [1.0, 2.0])) == pytest.approx(3.5 / 4)
    rng = np.random.default_rng(1)
    bona, spoof = np.round(rng.normal(1, 1, 300), 1), np.round(rng.normal(0, 1, 400), 1)
    labels = np.r_[np.ones(300), np.zeros(400)]
    assert auc_from_curve(det_curve(bona, spoof)) == pytest.approx(
        roc_auc_score(labels, np.r_[bona, spoof]), abs=1e-12)


def test_rates_at_fixed_threshold():
    rates = rates_at_threshold([1.0, 2.0, 3.0, 4.0], [0.0, 1.5, 2.5], 2.0)
    assert rates.frr == 0.5 and rates.far == pytest.approx(1 / 3)
    # the EER threshold applied to its own set gives the EER's rates
    metrics = compute_metrics(np.array([2.0, 3.0, 4.0, 0.0, 1.0, 2.5]), np.array([1, 1, 1, 0, 0, 0]))
    at = rates_at_threshold([2.0, 3.0, 4.0], [0.0, 1.0, 2.5], metrics["eer_threshold"])
    assert (at.frr + at.far) / 2 == pytest.approx(metrics["eer"])


def test_compute_metrics_keys_and_polarity_warning():
    scores = np.array([3.0, 2.0, 1.5, 0.0, 1.0, 0.5])
    labels = np.array([1, 1, 1, 0, 0, 0])
    metrics = compute_metrics(scores, labels)
    assert {"eer", "eer_threshold", "min_dcf", "act_dcf", "cllr", "min_cllr", "auc", "n_bonafide",
            "n_spoof"} <= set(metrics)
    assert metrics["eer"] == 0.0 and metrics["auc"] == 1.0
    with pytest.warns(PolarityWarning, match="worse than chance: inverted labels"):
        flipped = compute_metrics(-scores, labels)
    assert flipped["eer"] == 1.0  # reported as it is, never flipped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compute_metrics(scores, labels)


def test_compute_metrics_rejects_single_class_and_bad_labels():
    with pytest.raises(ScoreFileError, match="all 3 trials are bona fide"):
        compute_metrics([1.0, 2.0, 3.0], [1, 1, 1])
    with pytest.raises(ScoreFileError, match="unknown label 2"):
        compute_metrics([1.0, 2.0], [1, 2])


def test_tdcf_hand_made_asv_and_formulations():
    asv = AsvScores(target=np.array([5.0, 6.0, 7.0, 2.0]), nontarget=np.array([0.0, 1.0, 3.0, -1.0]),
                    spoof=np.array([4.0, 0.5, 6.5, 1.5]))
    bona, spoof = np.array([2.0, 3.0, 4.0]), np.array([0.0, 1.0, 2.5, 2.6])
    legacy, _ = compute_min_tdcf(bona, spoof, asv, "2019")
    revised, _ = compute_min_tdcf(bona, spoof, asv, "2021")
    # ASV EER threshold 2 (official rule: miss = score < 2, false alarm = score >= 2):
    # Pmiss 0, Pfa 1/4 (nontarget 3), spoofs passing 2/4 (4 and 6.5)
    p_tar, p_non = 0.95 * 0.99, 0.95 * 0.01
    c1 = p_tar * (1 - 0) - p_non * 10 * 0.25
    c2 = 10 * 0.05 * 0.5
    # best CM points: reject <= 1 (Pmiss 0, Pfa 2/4) or reject <= 2.6 (Pmiss 1/3, Pfa 0)
    assert legacy == pytest.approx(min(c2 / 2, c1 / 3) / min(c1, c2))
    c0 = p_tar * 0 + p_non * 10 * 0.25
    c1r = p_tar - c0
    assert revised == pytest.approx((c0 + min(c2 / 2, c1r / 3)) / (c0 + min(c1r, c2)))
    with pytest.raises(ValueError, match="formulation"):
        compute_min_tdcf(bona, spoof, asv, "2017")


def test_asv_score_file_errors(tmp_path):
    path = tmp_path / "asv.txt"
    path.write_text("bonafide target 1.0\nbonafide maybe 2.0\n")
    with pytest.raises(ScoreFileError, match=r"asv.txt:2: key: unknown ASV key 'maybe'"):
        read_asv_scores(path)
    path.write_text("bonafide target 1.0\nbonafide nontarget 0.0\n")
    with pytest.raises(ScoreFileError, match="no spoof trials"):
        read_asv_scores(path)
