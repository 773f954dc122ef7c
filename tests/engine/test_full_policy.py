"""Full-utterance detectors (lfcc_lcnn): length-bucketed training and scoring with padded batches."""
from __future__ import annotations

import pytest

from spoofbench.engine import ScoreConfig, TrainConfig, load_run_detector, score, train
from spoofbench.metrics import read_scores

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def lcnn(corpus, tmp_path_factory):
    cfg = TrainConfig(detector="lfcc_lcnn", preset="tiny", epochs=1, batch_size=8, num_workers=0, seed=2,
                      cpu_threads=1, max_train_seconds=0.5)
    out = tmp_path_factory.mktemp("lcnn")
    train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=out, progress=False)
    return load_run_detector(out)


def _scores(detector, corpus, out, batch):
    cfg = ScoreConfig(batch_size=batch, bucket_pool=12, num_workers=0, cpu_threads=1)
    result = score(detector, corpus["manifests"] / "eval.jsonl.gz", root=corpus["root"], out_dir=out,
                   progress=False, config=cfg)
    return dict(read_scores(result.files[0].scores))


def test_full_policy_trains_and_scores_variable_length_batches(corpus, lcnn, tmp_path):
    assert lcnn.input_policy.mode == "full"
    scores = _scores(lcnn, corpus, tmp_path, batch=6)
    assert len(scores) == len(corpus["eval"]) - 3
    assert len({round(v, 4) for v in scores.values()}) > 1


def test_full_policy_batched_scores_equal_batch_of_one(corpus, lcnn, tmp_path):
    batched, single = _scores(lcnn, corpus, tmp_path / "b", 6), _scores(lcnn, corpus, tmp_path / "s", 1)
    assert batched.keys() == single.keys()
    for utt in batched:
        assert batched[utt] == pytest.approx(single[utt], abs=1e-3), utt
