"""train and score write manifest.json too, and reproduce re-runs them from it."""
from __future__ import annotations

from pathlib import Path

import pytest

from spoofbench.cli import main
from spoofbench.reproduce.manifest import load_manifest
from spoofbench.reproduce.reproduce import reproduce_run


@pytest.mark.slow
def test_train_and_score_record_and_reproduce(tiny_run, tmp_path):
    corpus = Path(load_manifest(tiny_run)["config"]["train"]["root"])
    train_dir, score_dir = tmp_path / "train", tmp_path / "scores"
    assert main(["train", "--detector", "lfcc_gmm", "--preset", "tiny", "--train-manifest",
                 str(corpus / "a_train.jsonl.gz"), "--dev-manifest", str(corpus / "a_dev.jsonl.gz"),
                 "--root", str(corpus), "--out", str(train_dir), "--epochs", "1", "--no-progress"]) == 0
    trained = load_manifest(train_dir)
    assert trained["command"] == "train" and trained["seeds"] == [0]
    assert set(trained["inputs"]["audio"]) == {"train", "dev"}
    assert any(name.endswith("best.pt") for name in trained["outputs"])

    assert main(["score", "--run", str(train_dir), "--manifest", str(corpus / "b_eval.jsonl.gz"), "--root",
                 str(corpus), "--out", str(score_dir), "--codec", "none", "--no-progress"]) == 0
    scored = load_manifest(score_dir)
    assert scored["command"] == "score" and scored["inputs"]["files"]["checkpoint"]["sha256"]
    assert "b_eval" in scored["inputs"]["audio"] or "test" in scored["inputs"]["audio"]

    again = reproduce_run(score_dir, out=tmp_path / "scores_again", digest_cache=tmp_path / "d")
    assert again.status == "reproduced" and again.cells and all(c.status == "identical" for c in again.cells)
    retrained = reproduce_run(train_dir, out=tmp_path / "train_again", digest_cache=tmp_path / "d")
    statuses = {c.cell: c.status for c in retrained.cells}
    assert statuses and all(s == "identical" for s in statuses.values()), (retrained.reason, statuses)
