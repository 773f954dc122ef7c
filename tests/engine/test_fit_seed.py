"""The training seed reaches closed-form detectors: two seeds, two GMMs; one seed, one GMM."""
from __future__ import annotations

import numpy as np
import torch

from spoofbench.models import build_detector


def _data(rng: np.random.Generator):
    waves = [rng.normal(0, 0.1 if i % 2 else 0.3, 8000).astype(np.float32) for i in range(8)]
    return waves, np.array([i % 2 for i in range(8)])


def test_lfcc_gmm_fit_follows_the_seed():
    waves, labels = _data(np.random.default_rng(0))
    fits = [build_detector("lfcc_gmm", "tiny").fit(waves, labels, seed=s).bonafide_means.clone() for s in (0, 0, 1)]
    assert torch.equal(fits[0], fits[1])
    assert not torch.equal(fits[0], fits[2])
