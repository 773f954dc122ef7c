"""Frozen SSL feature cache: warm epochs read float16 features from disk, a cold and a warm cache
train the same weights, the cache stays under its bound, and runs that cannot use it are refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spoofbench.engine import TrainConfig, train
from spoofbench.engine.ssl_cache import FeatureCache
from spoofbench.errors import ConfigError

pytestmark = pytest.mark.timeout(180)


def _config(**ssl):
    return TrainConfig.from_dict({"detector": "wavlm_base", "preset": "tiny", "epochs": 3, "batch_size": 8,
                                  "num_workers": 0, "cpu_threads": 1, "seed": 0,
                                  "ssl": {"cache_features": True, **ssl}})


def test_cached_features_are_reused_and_give_the_same_weights(corpus, tmp_path):
    cache_dir = tmp_path / "cache"
    cold = train(_config(cache_dir=str(cache_dir)), corpus["train"], corpus["dev"], root=corpus["root"],
                 out_dir=tmp_path / "cold", progress=False)
    entries = sorted(cache_dir.glob("*/*.npy"))
    # one entry per distinct train and dev clip (the train set is read with the eval crop)
    assert len(entries) == len(corpus["train"]) + len(corpus["dev"])
    first = np.load(entries[0])
    assert first.dtype == np.float16 and first.ndim == 3  # (layers, frames, dim)
    warm = train(_config(cache_dir=str(cache_dir)), corpus["train"], corpus["dev"], root=corpus["root"],
                 out_dir=tmp_path / "warm", progress=False)
    assert warm.weights_sha256 == cold.weights_sha256  # float16 whether computed or read
    assert len(list(cache_dir.glob("*/*.npy"))) == len(entries)


def test_cache_is_bounded(tmp_path):
    cache = FeatureCache(tmp_path, max_bytes=20_000, namespace="x")
    for i in range(30):
        cache.put(cache.key(torch.full((100,), float(i))), np.zeros((2, 10, 100), np.float32))  # ~4 kB each
    assert cache.size_bytes <= 20_000
    assert sum(p.stat().st_size for p in tmp_path.glob("*/*.npy")) <= 20_000
    assert cache.get(cache.key(torch.full((100,), 29.0))) is not None  # the newest survive
    assert cache.get(cache.key(torch.full((100,), 0.0))) is None


@pytest.mark.parametrize("config, match", [
    (TrainConfig.from_dict({"detector": "rawcnn_2m", "preset": "tiny", "ssl": {"cache_features": True}}),
     "no SSL upstream"),
    (TrainConfig.from_dict({"detector": "wavlm_base", "preset": "tiny", "ssl": {"cache_features": True},
                            "augment": {"gain_probability": 0.5}}), "without augmentation"),
    (TrainConfig.from_dict({"detector": "wavlm_base", "preset": "tiny", "overrides": {"freeze": False},
                            "ssl": {"cache_features": True}}), "frozen front-end"),
])
def test_runs_that_cannot_cache_are_refused(corpus, tmp_path, config, match):
    with pytest.raises(ConfigError, match=match):
        train(config.replace(num_workers=0, epochs=1), corpus["train"], corpus["dev"], root=corpus["root"],
              out_dir=tmp_path, progress=False)
