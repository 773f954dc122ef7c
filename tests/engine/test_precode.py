"""Pre-coding codec augmentation (spoofbench.engine.precode): after the pass an epoch's augmentation codes nothing
and gives what the lazily filled cache gives; resumable; bad clips skipped; the switch and its errors."""
from __future__ import annotations

import numpy as np
import pytest

from spoofbench.codecs import apply as codec_apply
from spoofbench.codecs import channel_apply
from spoofbench.corpora.manifest import Trial, write_manifest
from spoofbench.engine.augment import Augmenter
from spoofbench.engine.config import TrainConfig
from spoofbench.engine.data import TrainDataset, read_clip
from spoofbench.engine.precode import (precode_clips, precode_codec_augmentation, precode_decision,
                                       without_precode)
from spoofbench.errors import ConfigError
from spoofbench.models.policy import InputPolicy

pytestmark = pytest.mark.timeout(120)

SR = 16000
#: a codec (pyav), a random channel condition (its noise seeded by the trial id), one that changes the length
CONDITIONS = ["g711_mulaw", "noise_white_20db", "silence_pad_1s"]


def _config(cache, precode: str = "auto", probability: float = 1.0, **codec) -> TrainConfig:
    return TrainConfig.from_dict({"detector": "rawcnn_2m", "preset": "tiny", "epochs": 1, "batch_size": 4,
                                  "eval_batch_size": 8, "num_workers": 0, "cpu_threads": 1, "seed": 5,
                                  "augment": {"codec": {"probability": probability, "conditions": CONDITIONS,
                                                        "cache_dir": str(cache), "precode": precode, **codec}}})


def _epoch(cfg: TrainConfig, trials, root) -> tuple[list[np.ndarray], Augmenter]:
    """One epoch of the per-clip training dataset's items (codec, crop, the rest), and its augmenter."""
    augmenter = Augmenter(cfg.augment, SR)
    policy = InputPolicy(mode="fixed", num_samples=SR // 2)
    dataset = TrainDataset(trials, root, sample_rate=SR, policy=policy, min_samples=SR // 2, train=True,
                           seed=cfg.seed, max_samples=SR, augmenter=augmenter)
    return [dataset[(0, i)][0].numpy() for i in range(len(trials))], augmenter


def test_after_precoding_an_epoch_codes_nothing_and_matches_the_lazy_cache(corpus, tmp_path, require_ffmpeg,
                                                                           monkeypatch):
    trials = corpus["train"][:6]
    lazy, lazy_aug = _epoch(_config(tmp_path / "lazy"), trials, corpus["root"])
    assert lazy_aug.cache.stats.misses > 0            # the lazy path coded in the epoch
    cfg = _config(tmp_path / "pre")
    result = precode_clips(trials, corpus["root"], cfg.augment, SR, workers=0, progress=False)
    assert (result.clips, result.conditions, result.coded, result.cached, result.failed) == (6, 3, 18, 0, [])
    calls = []
    monkeypatch.setattr(codec_apply, "_code", lambda *a, **k: calls.append(a) or pytest.fail("codec ran"))
    monkeypatch.setattr(channel_apply, "run_chain", lambda *a, **k: calls.append(a) or pytest.fail("channel ran"))
    pre, pre_aug = _epoch(cfg, trials, corpus["root"])
    assert calls == [] and pre_aug.cache.stats.misses == 0 and pre_aug.cache.stats.hits == len(trials)
    assert len(pre) == len(lazy) and all(np.array_equal(a, b) for a, b in zip(pre, lazy))


def test_the_pass_codes_the_wave_the_loader_reads_with_the_trial_key(corpus, tmp_path, require_ffmpeg):
    trial = corpus["train"][0]
    cfg = _config(tmp_path / "cache")
    precode_clips([trial], corpus["root"], cfg.augment, SR, progress=False)
    augmenter = Augmenter(cfg.augment, SR)
    wave = read_clip(trial, corpus["root"], SR)[0]
    assert all(augmenter.code(wave, c, trial.id).cached for c in augmenter.conditions())
    # another key is another entry for the random condition, not for the deterministic codec
    noise, codec = (augmenter.conditions()[i] for i in (1, 0))
    assert not augmenter.code(wave, noise, "another_id").cached and augmenter.code(wave, codec, "another_id").cached


def test_a_rerun_codes_only_what_is_missing_and_a_bad_clip_is_skipped(corpus, tmp_path, require_ffmpeg):
    missing = Trial(id="train_missing", path="train/missing.wav", label="spoof", corpus="synth", split="train")
    trials = [*corpus["train"][:4], missing]
    cfg = _config(tmp_path / "cache")
    first = precode_clips(trials, corpus["root"], cfg.augment, SR, workers=2, progress=False)
    assert (first.coded, first.cached) == (12, 0)
    assert [tid for tid, _ in first.failed] == ["train_missing"] and "missing.wav" in first.failed[0][1]
    entries = sorted((tmp_path / "cache").rglob("*.f32"))
    assert len(entries) == 12
    entries[0].unlink()
    entries[1].write_bytes(b"damaged")                 # a damaged entry is a miss: coded again
    again = precode_clips(trials, corpus["root"], cfg.augment, SR, workers=0, progress=False)
    assert (again.coded, again.cached, len(again.failed)) == (2, 10, 1)
    assert len(list((tmp_path / "cache").rglob("*.f32"))) == 12


def test_the_switch_and_when_the_pass_cannot_run(corpus, tmp_path):
    trials = corpus["train"][:3]
    assert precode_decision(_config(tmp_path / "c", precode="off").augment) == "augment.codec.precode is off"
    assert "probability" in precode_decision(_config(tmp_path / "c", probability=0.0).augment)
    no_dir = TrainConfig.from_dict({"detector": "x", "augment": {"codec": {
        "probability": 0.5, "conditions": ["g711_mulaw"], "precode": "on"}}})
    with pytest.raises(ConfigError, match="cache_dir is not set"):
        precode_decision(no_dir.augment)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot create the codec cache folder"):
        precode_decision(_config(blocker / "cache", precode="on").augment)
    assert "cannot create" in precode_decision(_config(blocker / "cache").augment)
    small = _config(tmp_path / "small", cache_max_bytes=1000)
    result = precode_clips(trials, corpus["root"], small.augment, SR, progress=False)
    assert "does not fit augment.codec.cache_max_bytes" in result.skipped and result.coded == 0
    with pytest.raises(ConfigError, match="cache_max_bytes"):
        precode_clips(trials, corpus["root"], _config(tmp_path / "s", "on", cache_max_bytes=1000).augment, SR,
                      progress=False)
    with pytest.raises(ConfigError, match="precode"):
        TrainConfig.from_dict({"detector": "x", "augment": {"codec": {"precode": "sometimes"}}})


@pytest.mark.parametrize("loader", ["per_clip", "batch"])
def test_training_precodes_first_then_its_epoch_codes_nothing(corpus, tmp_path, require_ffmpeg, monkeypatch, loader):
    trials = corpus["train"][::3]
    coded = []
    real = codec_apply._code
    monkeypatch.setattr(codec_apply, "_code", lambda *a, **k: coded.append(a[0].size) or real(*a, **k))
    from spoofbench.engine import train
    steps = []

    def batch_end(epoch: int, step: int) -> None:
        steps.append(len(coded))
    cfg = _config(tmp_path / "cache", probability=0.7).replace(data={"loader": loader})
    train(cfg, trials, corpus["dev"][::2], root=corpus["root"], out_dir=tmp_path / "run", progress=False,
          on_batch_end=batch_end)
    assert len(coded) == len(trials)                   # the codec condition, once per clip, before the epoch
    assert steps and all(n == len(trials) for n in steps)


def test_the_function_ahead_of_training_reads_a_manifest(corpus, tmp_path, require_ffmpeg):
    write_manifest(tmp_path / "train.jsonl.gz", corpus["train"][:3])
    cfg = _config(tmp_path / "cache")
    result = precode_codec_augmentation(tmp_path / "train.jsonl.gz", cfg, root=corpus["root"], sample_rate=SR,
                                        workers=0, progress=False)
    assert (result.coded, result.skipped) == (9, None) and "9 coded" in result.summary()
    saved = without_precode(_config(tmp_path / "cache", precode="off").to_dict())
    assert saved == without_precode(cfg.to_dict()) and "precode" not in saved["augment"]["codec"]
