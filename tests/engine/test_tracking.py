"""Experiment tracking beside log.csv: TensorBoard event files, a module:factory callback, clear messages."""
from __future__ import annotations

import csv
import logging
import sys
import types

import pytest

from spoofbench.engine import TrainConfig, train
from spoofbench.engine import tracking
from spoofbench.errors import ConfigError

pytestmark = pytest.mark.timeout(120)

CURVES = ("train_loss", "dev_eer", "lr", "samples_per_s")


class Recorder:
    """A tracker that keeps what it is given (the test's own callback)."""

    made: list["Recorder"] = []

    def __init__(self):
        self.started, self.epochs, self.closed = None, [], False
        Recorder.made.append(self)

    def start(self, out_dir, params):
        self.started = (out_dir, params)

    def log_epoch(self, epoch, metrics):
        self.epochs.append((epoch, metrics))

    def close(self):
        self.closed = True


def _config() -> TrainConfig:
    return TrainConfig.from_dict(dict(detector="rawcnn_2m", preset="tiny", epochs=2, batch_size=8, eval_batch_size=16,
                                      num_workers=0, seed=3, cpu_threads=1, patience=0,
                                      optim={"lr": 3e-3, "scheduler": "cosine"}))


@pytest.fixture
def recorder_module(monkeypatch):
    module = types.ModuleType("tracking_test_callbacks")
    module.Recorder = Recorder
    monkeypatch.setitem(sys.modules, "tracking_test_callbacks", module)
    Recorder.made.clear()
    return module


def test_training_feeds_tensorboard_and_a_callback_the_log_csv_curves(corpus, tmp_path, monkeypatch,
                                                                      recorder_module):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv(tracking.ENV, "tensorboard,tracking_test_callbacks:Recorder")
    out = tmp_path / "run"
    train(_config(), corpus["train"], corpus["dev"], root=corpus["root"], out_dir=out, progress=False)
    rows = list(csv.DictReader((out / "log.csv").open()))
    recorder, = Recorder.made
    assert recorder.closed and recorder.started[0] == out and recorder.started[1]["optim"]["lr"] == 3e-3
    assert [e for e, _ in recorder.epochs] == [1, 2] and set(recorder.epochs[0][1]) == set(CURVES)
    for (_epoch, metrics), row in zip(recorder.epochs, rows):
        assert metrics["dev_eer"] == pytest.approx(float(row["dev_eer"]))
        assert metrics["train_loss"] == pytest.approx(float(row["train_loss"]))
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert set(CURVES) <= set(events.Tags()["scalars"])
    dev = events.Scalars("dev_eer")
    assert [e.step for e in dev] == [1, 2]
    assert [e.value for e in dev] == pytest.approx([float(r["dev_eer"]) for r in rows])


def test_none_writes_log_csv_only(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv(tracking.ENV, "none")
    out = tmp_path / "run"
    train(_config(), corpus["train"], corpus["dev"], root=corpus["root"], out_dir=out, progress=False)
    assert (out / "log.csv").is_file() and not (out / "tensorboard").exists()


def test_missing_packages_are_said_clearly(monkeypatch, tmp_path, caplog):
    def no_tensorboard():
        raise ImportError("No module named 'tensorboard'")

    monkeypatch.setattr(tracking, "TensorBoardTracker", no_tensorboard)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    with caplog.at_level(logging.INFO, logger="spoofbench.engine.tracking"):
        assert tracking.open_trackers(tmp_path, "auto") is None
        assert tracking.open_trackers(tmp_path, "tensorboard,mlflow") is None
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert messages[0][0] == logging.INFO and "pip install 'spoofbench[tracking]'" in messages[0][1]
    assert messages[1][0] == logging.WARNING and "tensorboard is not installed" in messages[1][1]
    assert messages[2][0] == logging.WARNING and "pip install mlflow" in messages[2][1]


def test_bad_specs_and_failing_trackers(tmp_path, recorder_module, caplog):
    with pytest.raises(ConfigError, match="unknown tracker 'tensorbord'"):
        tracking.open_trackers(tmp_path, "tensorbord")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        tracking.open_trackers(tmp_path, "tracking_test_callbacks:Nope")

    class Broken(Recorder):
        def log_epoch(self, epoch, metrics):
            raise RuntimeError("server down")

    recorder_module.Broken = Broken
    trackers = tracking.open_trackers(tmp_path, "tracking_test_callbacks:Broken,tracking_test_callbacks:Recorder")
    trackers.add_scalar("dev_eer", 0.25, 1)
    trackers.flush()
    trackers.add_scalar("dev_eer", 0.2, 2)
    trackers.close()
    broken, good = Recorder.made
    assert good.epochs == [(1, {"dev_eer": 0.25}), (2, {"dev_eer": 0.2})] and good.closed
    assert broken.epochs == [] and not broken.closed
    assert any("Broken.log_epoch failed (RuntimeError: server down)" in r.getMessage() for r in caplog.records)


def test_mlflow_and_wandb_adapters_call_their_apis(tmp_path, monkeypatch):
    calls = []
    mlflow = types.SimpleNamespace(start_run=lambda run_name: calls.append(("start_run", run_name)),
                                   log_params=lambda p: calls.append(("log_params", p)),
                                   set_tag=lambda k, v: calls.append(("set_tag", k)),
                                   log_metrics=lambda m, step: calls.append(("log_metrics", m, step)),
                                   end_run=lambda: calls.append(("end_run",)))
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    (tmp_path / "config.yaml").write_text("optim: {lr: 0.001}\nepochs: 2\n")
    trackers = tracking.open_trackers(tmp_path, "mlflow")
    trackers.add_scalar("dev_eer", 0.3, 1)
    trackers.close()
    assert calls == [("start_run", tmp_path.name), ("log_params", {"optim.lr": "0.001", "epochs": "2"}),
                     ("set_tag", "spoofbench.train_dir"), ("log_metrics", {"dev_eer": 0.3}, 1), ("end_run",)]

    logged = []
    run = types.SimpleNamespace(log=lambda m, step: logged.append((m, step)), finish=lambda: logged.append("finish"))
    wandb = types.SimpleNamespace(init=lambda **kw: logged.append(kw) or run)
    monkeypatch.setitem(sys.modules, "wandb", wandb)
    trackers = tracking.open_trackers(tmp_path, "wandb")
    trackers.add_scalar("dev_eer", 0.3, 1)
    trackers.close()
    assert logged[0]["config"] == {"optim": {"lr": 0.001}, "epochs": 2} and logged[0]["dir"] == str(tmp_path)
    assert logged[1:] == [({"dev_eer": 0.3}, 1), "finish"]
