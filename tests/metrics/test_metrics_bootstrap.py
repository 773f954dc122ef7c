"""Bootstrap intervals and the paired test: seeded, consistent with the full-data metrics."""
from __future__ import annotations

import numpy as np
import pytest

from spoofbench.errors import SpoofbenchError
from spoofbench.metrics import bootstrap_ci, compute_eer, compute_min_dcf, paired_bootstrap


def _system(seed: int, n_bona: int = 400, n_spoof: int = 1200, separation: float = 2.0):
    rng = np.random.default_rng(seed)
    scores = np.r_[rng.normal(separation, 1, n_bona), rng.normal(0, 1, n_spoof)]
    labels = np.r_[np.ones(n_bona, dtype=int), np.zeros(n_spoof, dtype=int)]
    return scores, labels


def test_intervals_are_seeded_and_bracket_the_estimate():
    scores, labels = _system(0)
    first = bootstrap_ci(scores, labels, n_resamples=200, seed=7)
    again = bootstrap_ci(scores, labels, n_resamples=200, seed=7)
    other = bootstrap_ci(scores, labels, n_resamples=200, seed=8)
    assert first == again and first != other
    eer = compute_eer(scores[labels == 1], scores[labels == 0])[0]
    min_dcf = compute_min_dcf(scores[labels == 1], scores[labels == 0])[0]
    assert first["eer"].estimate == eer and first["min_dcf"].estimate == pytest.approx(min_dcf)
    assert first["eer"].low < eer < first["eer"].high
    assert first["min_dcf"].low < min_dcf < first["min_dcf"].high
    # the interval width shrinks roughly as 1/sqrt(N)
    big_scores, big_labels = _system(0, 1600, 4800)
    big = bootstrap_ci(big_scores, big_labels, n_resamples=200, seed=7)
    width = first["eer"].high - first["eer"].low
    assert big["eer"].high - big["eer"].low < 0.75 * width


def test_speaker_clusters_widen_interval_when_speakers_share_offsets():
    rng = np.random.default_rng(3)
    speakers = rng.integers(0, 20, 1600)
    offsets = rng.normal(0, 1.0, 20)  # each speaker shifts all its scores: correlated trials
    scores, labels = _system(1, 400, 1200)
    scores = scores + offsets[speakers]
    by_utterance = bootstrap_ci(scores, labels, n_resamples=300, seed=0)["eer"]
    by_speaker = bootstrap_ci(scores, labels, n_resamples=300, seed=0, clusters=speakers)["eer"]
    assert by_speaker.high - by_speaker.low > by_utterance.high - by_utterance.low


def test_bootstrap_rejects_bad_arguments():
    scores, labels = _system(0, 10, 10)
    with pytest.raises(SpoofbenchError, match="at least 1"):
        bootstrap_ci(scores, labels, n_resamples=0)
    with pytest.raises(SpoofbenchError, match="at least 2 clusters"):
        bootstrap_ci(scores, labels, n_resamples=5, clusters=np.zeros(20))
    with pytest.raises(SpoofbenchError, match="unknown bootstrap metric"):
        bootstrap_ci(scores, labels, n_resamples=5, metrics=("auc",))


def test_paired_test_detects_a_better_system_and_not_itself():
    scores_b, labels = _system(0, separation=1.0)
    rng = np.random.default_rng(11)
    scores_a = scores_b + np.where(labels == 1, 1.0, 0.0) + rng.normal(0, 0.1, labels.size)
    better = paired_bootstrap(scores_a, scores_b, labels, n_resamples=300, seed=1)
    assert better.delta < 0 and better.delta_ci95[1] < 0 and better.p_value < 0.01
    same = paired_bootstrap(scores_b, scores_b, labels, n_resamples=50, seed=1, metric="min_dcf")
    assert same.delta == 0 and same.p_value == 1.0
    with pytest.raises(SpoofbenchError, match="same trials"):
        paired_bootstrap(scores_a[:-1], scores_b, labels)
