"""Training: a tiny rawcnn_2m trains, is interrupted mid-epoch, and resumes to the same weights."""
from __future__ import annotations

import csv
import json

import pytest
import torch

from spoofbench.engine import TrainConfig, train
from spoofbench.errors import ConfigError

pytestmark = pytest.mark.timeout(120)


def _config(**changes) -> TrainConfig:
    base = dict(detector="rawcnn_2m", preset="tiny", epochs=3, batch_size=8, eval_batch_size=16, num_workers=0,
                seed=3, cpu_threads=1, patience=0,
                optim={"lr": 3e-3, "scheduler": "cosine"},
                augment={"gain_probability": 0.5, "rawboost": {"linear_nonlinear": 0.3, "impulsive": 0.3,
                                                               "coloured": 0.3}})
    base.update(changes)
    return TrainConfig.from_dict(base)


class Interrupt(RuntimeError):
    pass


def _weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_interrupted_run_resumes_to_the_same_result(corpus, tmp_path):
    cfg = _config()
    full = train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=tmp_path / "full",
                 progress=False)
    assert full.epochs_run == 3 and 0.0 <= full.best_dev_eer <= 1.0

    def crash(epoch: int, step: int) -> None:
        if epoch == 1 and step == 2:  # mid second epoch, after the first epoch's checkpoint
            raise Interrupt("killed")

    with pytest.raises(Interrupt):
        train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=tmp_path / "cut", progress=False,
              on_batch_end=crash)
    state = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    assert state["epoch"] == 0  # only the first epoch is complete
    with pytest.raises(ConfigError, match="--resume"):
        train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=tmp_path / "cut", progress=False)
    resumed = train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=tmp_path / "cut",
                    resume=True, progress=False)

    assert resumed.best_dev_eer == full.best_dev_eer
    assert resumed.best_epoch == full.best_epoch
    assert [h["dev_eer"] for h in resumed.history] == [h["dev_eer"] for h in full.history]
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    for name in ("last.pt", "best.pt"):
        a, b = _weights(tmp_path / "full" / "checkpoints" / name), _weights(tmp_path / "cut" / "checkpoints" / name)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}: {key} differs after resume"

    rows = list(csv.DictReader(open(tmp_path / "cut" / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    env = json.loads((tmp_path / "cut" / "environment.json").read_text())
    assert env["device"] == "cpu" and "benchmark" in env["cudnn"]
    # the best checkpoint loads through the registry in the documented format
    from spoofbench.models import build_detector
    det = build_detector("rawcnn_2m", checkpoint=tmp_path / "full" / "checkpoints" / "best.pt")
    assert det.preset == "tiny"


def test_resume_refuses_a_changed_config(corpus, tmp_path):
    cfg = _config(epochs=1, augment={})
    train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="batch_size"):
        train(cfg.replace(batch_size=4, epochs=2), corpus["train"], corpus["dev"], root=corpus["root"],
              out_dir=tmp_path, resume=True, progress=False)
    # more epochs is allowed: the run continues from epoch 2
    more = train(cfg.replace(epochs=2), corpus["train"], corpus["dev"], root=corpus["root"], out_dir=tmp_path,
                 resume=True, progress=False)
    assert [h["epoch"] for h in more.history] == [1, 2]


def test_workers_codec_augmentation_and_an_unreadable_clip(corpus, tmp_path, require_ffmpeg):
    from spoofbench.corpora.manifest import Trial

    missing = Trial(id="train_missing", path="train/missing.wav", label="spoof", corpus="synth", split="train")
    cfg = _config(epochs=1, balance="weighted_loss", num_workers=2, bucket=False,
                  augment={"resample_probability": 0.5,
                           "codec": {"probability": 0.5, "conditions": ["g711_mulaw", "mp3_32k"],
                                     "cache_dir": str(tmp_path / "cache")}})
    result = train(cfg, [*corpus["train"], missing], corpus["dev"], root=corpus["root"], out_dir=tmp_path / "run",
                   progress=False)
    h = result.history[0]
    # every clip is drawn once; the missing one is counted and skipped, not fatal
    assert h["failed_clips"] == 1 and h["train_samples"] == len(corpus["train"])
    assert result.best_checkpoint.is_file()
    assert any((tmp_path / "cache").rglob("*")), "codec augmentation never used the codec cache"


def test_early_stopping_follows_patience(corpus, tmp_path):
    cfg = _config(epochs=5, patience=1, augment={}, optim={"lr": 1e-9, "scheduler": "none"})
    result = train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=tmp_path, progress=False)
    eers = [h["dev_eer"] for h in result.history]
    best, bad, stop_after = float("inf"), 0, None
    for epoch, eer in enumerate(eers, 1):
        best, bad = (eer, 0) if eer < best else (best, bad + 1)
        if bad >= 1 and stop_after is None:
            stop_after = epoch
    assert result.stopped_early == (stop_after is not None and stop_after < 5)
    assert len(eers) == (stop_after or 5)
    assert result.best_dev_eer == min(eers) and eers[result.best_epoch - 1] == min(eers)
