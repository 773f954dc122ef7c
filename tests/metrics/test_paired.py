"""Paired comparisons over seeds (spoofbench.metrics.paired): seed pairing, Holm, separability."""
from __future__ import annotations

import numpy as np
import pytest

from spoofbench.metrics.paired import (Comparison, adjust, comparison, format_p, holm, paired_tests,
                                       seed_pairs)


def test_seed_pairs_by_rank_or_against_a_single_seed():
    assert seed_pairs([0, 1], [0, 1]) == [(0, 0), (1, 1)]
    assert seed_pairs([0], [3, 4]) == [(0, 3), (0, 4)]


def test_holm_and_p_formatting():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert format_p(0.0, 1000) == "< 0.001" and format_p(0.0123, 1000) == "0.0123"


def _trial(rng, separation):
    labels = np.r_[np.ones(200), np.zeros(200)].astype(np.int8)
    good = labels * 3.0 + rng.normal(size=400)
    bad = labels * separation + rng.normal(size=400)
    bad[0] = np.nan                              # a trial B did not score is left out of the pair
    return good, bad, labels


def test_a_clearly_better_detector_is_separable_and_named_first():
    rng = np.random.default_rng(0)
    tests = paired_tests([_trial(rng, 0.5), _trial(rng, 0.5)], resamples=200, seed=0)
    found = adjust([comparison("t", "none", "good", "bad", tests, 200)], alpha=0.05)[0]
    assert found.separable and found.value_a < found.value_b and all(d < 0 for d in found.deltas)
    assert found.sentence().startswith("good beats bad on t by ")


def test_seed_pairs_disagreeing_in_sign_are_not_separable():
    c = Comparison("t", "none", "a", "b", 0.1, 0.1, (-0.05, 0.05), (-0.1, 0.1), (0.0, 0.0), 1000)
    adjusted = adjust([c], alpha=0.05)[0]
    assert adjusted.p_adjusted == 0.0 and not adjusted.separable
    assert "not separable" in adjusted.sentence()
