"""EER and minimum costs: hand-computed cases, ties, and the fast paths against the full curve."""
from __future__ import annotations

import numpy as np
import pytest

from spoofbench.errors import ScoreFileError
from spoofbench.metrics import (ASVSPOOF5, CostModel, SortedScores, compute_eer, compute_min_dcf, det_curve,
                                eer_from_curve, min_cost)
from spoofbench.metrics.det import min_cost_from_curve


def test_eer_hand_computed_crossing():
    # sorted: 0s 1s 2b 2.5s 3b 4b; rejecting <= 2 gives FRR 1/3 = FAR 1/3
    eer, threshold = compute_eer([2.0, 3.0, 4.0], [0.0, 1.0, 2.5])
    assert eer == pytest.approx(1 / 3, abs=1e-15)
    assert threshold == 2.0


def test_eer_perfect_separation_and_threshold():
    eer, threshold = compute_eer([2.0, 3.0], [0.0, 1.0])
    assert eer == 0.0 and threshold == 1.0


def test_eer_not_crossing_exactly_takes_mean_at_min_gap():
    # bona 1,4 ; spoof 2,5,6: points (frr, far): init (0,1), t1 (.5,1), t2 (.5,2/3), t4 (1,2/3), ...
    eer, threshold = compute_eer([1.0, 4.0], [2.0, 5.0, 6.0])
    assert eer == pytest.approx((0.5 + 2 / 3) / 2)  # |0.5 - 2/3| is the smallest gap, at t = 2
    assert threshold == 2.0


def test_eer_is_tie_safe():
    # all scores tied: no threshold separates anything, EER must be 50% (the official argsort
    # with labels would report 100% here, at a point no threshold reaches)
    eer, threshold = compute_eer([1.0, 1.0], [1.0, 1.0])
    assert eer == 0.5
    assert threshold == pytest.approx(0.999)
    # the ordering of tied trials in the input must not matter
    bona, spoof = np.array([1.0, 2.0, 2.0, 3.0]), np.array([0.0, 2.0, 2.0, 2.0])
    assert compute_eer(bona, spoof) == compute_eer(bona[::-1], spoof[::-1])


def test_min_dcf_hand_computed():
    # cost = 0.95 FRR + 0.5 FAR, normalised by 0.5; best: reject <= 1 (FRR 0, FAR 1/3)
    value, threshold = compute_min_dcf([2.0, 3.0, 4.0], [0.0, 1.0, 2.5])
    assert value == pytest.approx(1 / 3, abs=1e-12)
    assert threshold == 1.0


def test_bad_arrays_are_rejected_with_reason():
    with pytest.raises(ScoreFileError, match="no scores"):
        compute_eer([], [1.0])
    with pytest.raises(ScoreFileError, match="non-finite.*index 1"):
        compute_eer([1.0, np.nan], [0.0])
    with pytest.raises(ScoreFileError, match="non-finite"):
        compute_eer([1.0], [np.inf])


@pytest.mark.parametrize("seed", range(6))
def test_fast_paths_equal_full_curve_with_ties(seed):
    rng = np.random.default_rng(seed)
    n_bona, n_spoof = rng.integers(1, 3000, size=2)
    # rounding makes many cross-class ties; a shift changes where the curves cross
    bona = np.round(rng.normal(rng.uniform(0, 3), 1.0, n_bona), 1)
    spoof = np.round(rng.normal(0.0, 1.0, n_spoof), 1)
    curve = det_curve(bona, spoof)
    assert compute_eer(bona, spoof) == eer_from_curve(curve)
    sorted_scores = SortedScores.from_classes(bona, spoof)
    assert min_cost(sorted_scores, ASVSPOOF5.cost) == min_cost_from_curve(curve, ASVSPOOF5.cost)


@pytest.mark.parametrize("p_spoof", [0.05, 0.5, 0.95])
def test_branch_and_bound_over_many_blocks(p_spoof):
    rng = np.random.default_rng(int(p_spoof * 100))
    bona = np.round(rng.normal(1.5, 1.0, 20000), 2)
    spoof = np.round(rng.normal(0.0, 1.0, 60000), 2)
    model = CostModel(p_spoof=p_spoof)
    fast = min_cost(SortedScores.from_classes(bona, spoof), model.cost)
    assert fast == min_cost_from_curve(det_curve(bona, spoof), model.cost)


@pytest.mark.parametrize("seed", range(4))
def test_equals_official_algorithm_without_ties(seed, official):
    rng = np.random.default_rng(100 + seed)
    bona = rng.normal(2.0, 1.0, 5000)
    spoof = rng.normal(0.0, 1.5, 20000)
    assert compute_eer(bona, spoof) == official["eer"](bona, spoof)
    assert compute_min_dcf(bona, spoof) == official["min_dcf"](bona, spoof)


def test_single_trial_per_class():
    assert compute_eer([1.0], [0.0]) == (0.0, 0.0)
    assert compute_eer([0.0], [1.0]) == (1.0, 0.0)  # inverted: FRR = FAR = 1 at t = 0
