"""Configs from YAML, seeded augmentation and the bucketing sampler."""
from __future__ import annotations

import numpy as np
import pytest

from spoofbench.engine import TrainConfig
from spoofbench.engine.augment import Augmenter, sample_generator
from spoofbench.engine.config import ScoreConfig
from spoofbench.engine.data import BucketBatchSampler
from spoofbench.errors import ConfigError


def test_train_config_from_yaml(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("detector: rawcnn_2m\npreset: tiny\nepochs: 4\noptim:\n  lr: 1e-3\n  scheduler: step\n"
                    "augment:\n  codec: {probability: 0.5, conditions: [g711_mulaw]}\n  gain_db: [-3, 3]\n")
    cfg = TrainConfig.from_yaml(path)
    assert cfg.epochs == 4 and cfg.optim.lr == 1e-3 and cfg.augment.codec.conditions == ("g711_mulaw",)
    assert cfg.augment.gain_db == (-3.0, 3.0)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("text, field, words", [
    ("detector: x\nepochz: 3\n", "epochz", "did you mean epochs"),
    ("detector: x\nepochs: ten\n", "epochs", "'ten'"),
    ("detector: x\noptim: {name: rmsprop}\n", "optim.name", "adam"),
    ("detector: x\naugment: {codec: {probability: 0.5}}\n", "augment.codec", "matrix"),
    ("detector: x\naugment: {gain_probability: 2}\n", "augment.gain_probability", "probability"),
    ("- just a list\n", None, "mapping"),
])
def test_bad_config_names_file_field_and_value(tmp_path, text, field, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_yaml(path)
    message = str(err.value)
    assert str(path) in message and words in message
    if field:
        assert err.value.field == field


def test_score_config_rejects_empty_codecs():
    with pytest.raises(ConfigError, match="codecs"):
        ScoreConfig(codecs=()).validate()


def _wave(n: int = 8000) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(n) / 16000
    return (0.4 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def test_augmentation_is_seeded_per_sample_and_epoch():
    cfg = TrainConfig.from_dict({"detector": "x", "augment": {
        "gain_probability": 1.0, "resample_probability": 1.0,
        "rawboost": {"linear_nonlinear": 1.0, "impulsive": 1.0, "coloured": 1.0}}}).augment
    aug = Augmenter(cfg, 16000)
    x = _wave()
    a = aug.signal(x, sample_generator(1, 0, 5))
    b = aug.signal(x, sample_generator(1, 0, 5))
    c = aug.signal(x, sample_generator(1, 1, 5))
    assert a.shape == x.shape and a.dtype == np.float32 and np.all(np.isfinite(a))
    assert np.array_equal(a, b) and not np.allclose(a, c) and not np.allclose(a, x)


def test_codec_augmentation_goes_through_the_codec_engine(tmp_path, require_ffmpeg):
    cfg = TrainConfig.from_dict({"detector": "x", "augment": {"codec": {
        "probability": 1.0, "conditions": ["g711_mulaw"], "cache_dir": str(tmp_path / "cache")}}}).augment
    aug = Augmenter(cfg, 16000)
    x = _wave()
    y = aug.channel(x, sample_generator(0, 0, 0), key="utt1")
    assert y.shape == x.shape and not np.allclose(x, y)
    assert 0.5 < np.corrcoef(x, y)[0, 1]  # band-limited and quantised, still the same signal
    assert np.array_equal(y, aug.channel(x, sample_generator(0, 0, 0), key="utt1"))


def test_bucket_sampler_covers_each_clip_once_sorted_within_batches():
    lengths = np.random.default_rng(1).integers(1000, 50000, size=103)
    targets = np.r_[np.ones(10, int), np.zeros(93, int)]
    s = BucketBatchSampler(lengths, targets, 8, seed=2, pool_batches=4)
    s.set_epoch(3)
    batches = list(s)
    flat = [i for b in batches for _, i in b]
    assert sorted(flat) == list(range(103)) and all(e == 3 for b in batches for e, _ in b)
    assert min(len(b) for b in batches) >= 2   # no batch of one (BatchNorm)
    for b in batches:
        ls = [lengths[i] for _, i in b]
        assert ls == sorted(ls)
    assert [list(b) for b in s] == [list(b) for b in batches]       # same epoch, same batches
    s.set_epoch(4)
    assert [list(b) for b in s] != batches
    balanced = BucketBatchSampler(lengths, targets, 8, seed=2, balance=True)
    drawn = np.array([i for b in balanced for _, i in b])
    assert len(drawn) == 103 and 0.35 < targets[drawn].mean() < 0.65   # ~half bona fide, not 10%
