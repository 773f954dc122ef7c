"""Tie conventions of the EER: tie-safe by default, the official ASVspoof ordering on request."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from spoofbench.errors import SpoofbenchError
from spoofbench.metrics import (TieWarning, compute_eer, compute_metrics, compute_min_dcf,
                                cross_class_ties, det_curve)
from spoofbench.metrics.det import SortedScores


def tied_cases(n_cases: int = 60):
    """Scores with many ties inside and across the classes: saturated probabilities, small integers."""
    rng = np.random.default_rng(2024)
    for case in range(n_cases):
        n_bona, n_spoof = rng.integers(1, 40, size=2)
        levels = rng.integers(2, 8)
        if case % 3 == 0:  # saturated sigmoid outputs: most at exactly 0.0 or 1.0
            bona = np.clip(rng.normal(0.8, 0.5, n_bona), 0, 1).round(2)
            spoof = np.clip(rng.normal(0.2, 0.5, n_spoof), 0, 1).round(2)
        else:
            bona = rng.integers(0, levels, n_bona).astype(float) + rng.integers(0, 2)
            spoof = rng.integers(0, levels, n_spoof).astype(float)
        yield rng.permutation(bona), rng.permutation(spoof)


def test_official_ties_equal_the_restated_official_code(official):
    differ = 0
    for bona, spoof in tied_cases():
        eer, threshold = compute_eer(bona, spoof, ties="official")
        assert (eer, threshold) == official["eer"](bona, spoof)
        differ += compute_eer(bona, spoof)[0] != eer
    assert differ > 10  # the cases do exercise the difference


def test_official_ties_equal_the_official_package(asvspoof5_package):
    official = asvspoof5_package["calculate_modules"]
    for bona, spoof in tied_cases():
        eer, _, _, _, threshold = official.compute_eer(bona, spoof)
        assert compute_eer(bona, spoof, ties="official") == (float(eer), float(threshold))
        frr, far, thresholds = official.compute_det_curve(bona, spoof)
        curve = det_curve(bona, spoof, ties="official")
        assert np.array_equal(curve.frr, frr) and np.array_equal(curve.far, far)
        assert np.array_equal(curve.thresholds, thresholds)


def test_a_tie_split_by_the_official_code():
    # one bona fide and one spoof at 0.5: no threshold separates them, the official curve does
    bona, spoof = np.array([0.5, 0.9, 0.9, 0.9]), np.array([0.5, 0.1, 0.1, 0.1])
    assert compute_eer(bona, spoof)[0] == pytest.approx(0.125)  # safe: the tie counts half each way
    assert compute_eer(bona, spoof, ties="official")[0] == pytest.approx(0.25)
    assert cross_class_ties(SortedScores.from_classes(bona, spoof)) == (1, 2)


def test_no_ties_no_difference():
    rng = np.random.default_rng(4)
    for _ in range(20):
        bona, spoof = rng.normal(1, 1, rng.integers(1, 300)), rng.normal(-1, 1, rng.integers(1, 300))
        assert compute_eer(bona, spoof) == compute_eer(bona, spoof, ties="official")


def test_within_class_ties_do_not_warn(official):
    rng = np.random.default_rng(3)
    bona, spoof = rng.integers(0, 50, 200) * 2.0 + 1, rng.integers(0, 50, 300) * 2.0  # odd vs even
    # the official curve also has points inside runs of equal bona fide scores
    assert compute_eer(bona, spoof, ties="official") == official["eer"](bona, spoof)
    assert cross_class_ties(SortedScores.from_classes(bona, spoof)) == (0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TieWarning)
        compute_metrics(np.concatenate([bona, spoof]), np.r_[np.ones(200), np.zeros(300)])


def test_min_dcf_does_not_depend_on_ties(official):
    for bona, spoof in tied_cases():
        assert compute_min_dcf(bona, spoof)[0] == pytest.approx(official["min_dcf"](bona, spoof)[0], abs=1e-12)


def test_compute_metrics_warns_and_uses_the_convention():
    scores, labels = np.array([0.5, 0.9, 0.9, 0.9, 0.5, 0.1, 0.1, 0.1]), np.array([1, 1, 1, 1, 0, 0, 0, 0])
    with pytest.warns(TieWarning, match="1 score value.*2 trials.*ties='official'"):
        assert compute_metrics(scores, labels, ties="official")["eer"] == pytest.approx(0.25)
    with pytest.raises(SpoofbenchError, match="unknown tie convention 'fair'"):
        compute_metrics(scores, labels, ties="fair")
