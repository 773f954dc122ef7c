"""The run's TrainState round-trips through last.pt; run-dir JSON is strict (no bare NaN)."""
from __future__ import annotations

import json
import math

import pytest

from spoofbench.engine import TrainConfig, train
from spoofbench.engine.checkpoint import TrainState, load_state


def _strict(text: str) -> dict:
    def refuse(name: str):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_train_state_updates_and_round_trips():
    state = TrainState()
    assert state.update(0, 0.30, patience=2, epochs=5) is True
    assert state.update(1, float("nan"), patience=2, epochs=5) is False  # NaN never improves
    assert state.update(2, 0.40, patience=2, epochs=5) is False
    assert (state.best_epoch, state.bad_epochs, state.stopped_early, state.next_epoch) == (0, 2, True, 3)
    state.history.append({"epoch": 3})
    again = TrainState.from_payload(state.to_payload())
    assert again == state and state.to_payload()["epoch"] == 2


@pytest.mark.timeout(120)
def test_fit_run_writes_strict_json_and_a_restorable_state(corpus, tmp_path):
    cfg = TrainConfig(detector="lfcc_gmm", preset="tiny", num_workers=0, cpu_threads=1)
    result = train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=tmp_path, progress=False)
    record = _strict((tmp_path / "train_result.json").read_text())
    assert record["history"][0]["train_loss"] is None  # a closed-form fit has no loss: null, not NaN
    _strict((tmp_path / "environment.json").read_text())
    state = TrainState.from_payload(load_state(result.last_checkpoint))
    assert state.next_epoch == 1 and state.best_epoch == 0 and math.isclose(state.best_dev_eer, result.best_dev_eer)
