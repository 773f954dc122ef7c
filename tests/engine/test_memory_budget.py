"""Scoring is sized from a memory budget: batch size and streams follow the budget and the detector's activation
bytes per sample; scores do not depend on the batching; sorted-length batches are written in manifest order."""
from __future__ import annotations

import json

import pytest
import torch

from spoofbench.cli import main
from spoofbench.engine import ScoreConfig, score
from spoofbench.engine import scoring
from spoofbench.engine.runtime import Runtime
from spoofbench.errors import ConfigError
from spoofbench.metrics import read_scores
from spoofbench.models import build_detector

pytestmark = pytest.mark.timeout(120)
CPU = Runtime(torch.device("cpu"), "fp32")
GB = 1024 ** 3


def _detector(name: str, declared: float | None = None):
    torch.manual_seed(3)
    detector = build_detector(name, "tiny").eval()
    if declared is not None:  # an instance-level declaration, so the test fixes the figure
        detector.activation_bytes_per_sample = lambda: declared
    return detector


def _scores(detector, corpus, out, **config) -> tuple[dict, dict]:
    cfg = ScoreConfig(num_workers=0, cpu_threads=1, bucket_pool=12, **config)
    result = score(detector, corpus["manifests"] / "eval.jsonl.gz", root=corpus["root"], out_dir=out,
                   progress=False, config=cfg)
    summary = json.loads(result.files[0].summary.read_text())
    return dict(read_scores(result.files[0].scores)), summary


def test_batch_size_follows_the_budget_and_the_declared_activation_size():
    detector = _detector("aasist", declared=1000.0)            # 1000 B/sample + 4 for the input
    clip = 1004 * detector.input_policy.num_samples              # 4000 samples: ~4 MB per clip
    for clips, streams in ((1, 1), (5, 1), (7, 1), (8, 2), (13, 2)):
        budget = clips * clip + 100
        plan = scoring.plan_memory(detector, ScoreConfig(memory_budget_gb=budget / GB), CPU, streams)
        assert (plan.estimate, plan.streams) == ("declared", streams)
        assert plan.batch_size == clips // streams, (clips, streams)
        assert plan.estimated_peak_bytes == plan.batch_size * streams * clip <= budget
    # The AASIST declaration itself is used (no probe) and grows with the encoder's width.
    wide, narrow = build_detector("aasist").activation_bytes_per_sample(), _detector("aasist").activation_bytes_per_sample()
    assert wide > narrow > 0


def test_streams_share_the_budget_never_multiply_it():
    detector = _detector("aasist", declared=1000.0)
    clip = 1004 * detector.input_policy.num_samples
    plan = scoring.plan_memory(detector, ScoreConfig(memory_budget_gb=1.5 * clip / GB), CPU, streams=2)
    assert (plan.streams, plan.batch_size) == (1, 1)  # room for one clip at a time: one stream
    plan = scoring.plan_memory(detector, ScoreConfig(memory_budget_gb=64 * clip / GB), CPU, streams=2)
    assert plan.batch_size * plan.streams * clip <= 64 * clip


def test_a_budget_too_small_for_one_clip_is_a_clear_error(corpus, tmp_path):
    detector = _detector("aasist", declared=1000.0)
    with pytest.raises(ConfigError, match="too small for one clip.*raise --memory-budget"):
        scoring.plan_memory(detector, ScoreConfig(memory_budget_gb=1e-6), CPU, 1)
    with pytest.raises(ConfigError, match="must be > 0"):
        ScoreConfig(memory_budget_gb=0).validate()


def test_an_undeclared_detector_is_measured_once(monkeypatch):
    detector = _detector("rawcnn_2m")
    assert detector.activation_bytes_per_sample() is None
    scoring._MEASURED.clear()
    plan = scoring.plan_memory(detector, ScoreConfig(memory_budget_gb=1.0), CPU, 1)
    assert plan.estimate == "measured" and plan.bytes_per_sample > 4
    assert plan.batch_size == min(scoring.MAX_AUTO_BATCH["cpu"],
                                  int(GB // (plan.bytes_per_sample * plan.clip_samples)))
    calls = []
    monkeypatch.setattr(detector, "score", lambda *a, **k: calls.append(1))
    scoring.plan_memory(detector, ScoreConfig(memory_budget_gb=0.5), CPU, 1)
    assert not calls  # the figure is remembered per detector configuration, device and threads


def test_an_explicit_batch_size_wins_over_the_budget(corpus, tmp_path):
    detector = _detector("aasist", declared=1000.0)
    plan = scoring.plan_memory(detector, ScoreConfig(batch_size=5, memory_budget_gb=1e-6), CPU, 2)
    assert (plan.batch_size, plan.streams, plan.budget_bytes) == (5, 2, None)
    # The CLI: --batch-size with a budget that could not hold one clip still scores with that batch.
    torch.manual_seed(0)
    from spoofbench.models import save_checkpoint
    save_checkpoint(build_detector("rawcnn_2m", "tiny").eval(), tmp_path / "w.pt")
    rc = main(["-q", "score", "--detector", "rawcnn_2m", "--checkpoint", str(tmp_path / "w.pt"),
               "--manifest", str(corpus["manifests"] / "eval.jsonl.gz"), "--root", str(corpus["root"]),
               "--out", str(tmp_path / "s"), "--workers", "0", "--threads", "1", "--batch-size", "2",
               "--memory-budget", "0.000001", "--no-progress", "--allow-incomplete"])
    assert rc == 0
    summary = json.loads((tmp_path / "s" / "eval__none.json").read_text())
    assert summary["batch_size"] == 2 and summary["memory"]["budget_bytes"] is None
    rc = main(["-q", "score", "--detector", "rawcnn_2m", "--checkpoint", str(tmp_path / "w.pt"),
               "--manifest", str(corpus["manifests"] / "eval.jsonl.gz"), "--root", str(corpus["root"]),
               "--out", str(tmp_path / "t"), "--workers", "0", "--memory-budget", "0.000001", "--no-progress"])
    assert rc == 2  # the same budget without a batch size: the clear error, exit 2


@pytest.mark.parametrize("name", ["rawcnn_2m", "lfcc_lcnn"])
def test_scores_do_not_depend_on_the_budget_or_the_batching(corpus, tmp_path, name):
    detector = _detector(name, declared=2000.0)
    clip = 2004 * scoring._probe_samples(detector)
    runs = {label: _scores(detector, corpus, tmp_path / label, **cfg) for label, cfg in {
        "one clip": {"memory_budget_gb": 1.2 * clip / GB},
        "three clips": {"memory_budget_gb": 3.5 * clip / GB},
        "roomy": {"memory_budget_gb": 1.0},
        "batch 5": {"batch_size": 5},
    }.items()}
    reference, _ = runs["batch 5"]
    assert len(reference) == len(corpus["eval"]) - 3  # empty, truncated and missing files fail
    for label, (scores, _summary) in runs.items():
        assert scores.keys() == reference.keys(), label
        assert max(abs(scores[k] - reference[k]) for k in scores) <= 1e-6, label
    if name == "rawcnn_2m":
        assert [runs[k][1]["batch_size"] for k in ("one clip", "three clips")] == [1, 3]


def test_sorted_length_batches_are_written_in_manifest_order(corpus, tmp_path, monkeypatch):
    detector = _detector("lfcc_lcnn", declared=2000.0)
    seen: list[list[int]] = []
    real = detector.score

    def spy(waves, lengths=None):
        seen.append(lengths.tolist())
        return real(waves, lengths)

    monkeypatch.setattr(detector, "score", spy)
    scores, _ = _scores(detector, corpus, tmp_path, batch_size=4)
    # Batches were cut from length-sorted pools (padding only up to similar lengths) ...
    assert all(batch == sorted(batch) for batch in seen) and len(seen) > 1
    order = [t.id for t in corpus["eval"] if t.id in scores]
    first_pool = [t.num_samples for t in corpus["eval"][:12]]  # bucket_pool 12: all 12 readable
    assert seen[0] == sorted(first_pool)[:4]
    # ... and the score file lists the trials in the manifest's order.
    lines = (tmp_path / "eval__none.txt").read_text().split("\n")
    assert [line.split()[0] for line in lines if line] == order


def test_a_variable_length_clip_over_the_budget_fails_alone_with_the_reason(corpus, tmp_path):
    detector = _detector("lfcc_lcnn", declared=2000.0)
    budget = 2004 * 9000  # room for 9,000 samples: clips are 0.35-0.9 s (5,600-14,400 samples)
    plan = scoring.plan_memory(detector, ScoreConfig(memory_budget_gb=budget / GB), CPU, 1)
    assert plan.batch_samples == 9000
    scores, summary = _scores(detector, corpus, tmp_path, memory_budget_gb=budget / GB)
    failed = (tmp_path / "eval__none.failed.tsv").read_text().splitlines()
    too_long = [line for line in failed if "raise --memory-budget" in line]
    lengths = {t.id: t.num_samples for t in corpus["eval"] if t.num_samples}
    assert too_long and {line.split("\t")[0] for line in too_long} == {u for u, n in lengths.items() if n > 9000}
    assert scores and all(lengths[u] <= 9000 for u in scores if u in lengths)  # eval_unicode: no length recorded


def test_the_choice_is_said_and_recorded(corpus, tmp_path, caplog):
    import logging

    detector = _detector("aasist", declared=1000.0)
    cfg = ScoreConfig(num_workers=0, cpu_threads=1, memory_budget_gb=3 * 1004 * 4000 / GB)
    with caplog.at_level(logging.INFO, logger="spoofbench"):
        result = score(detector, corpus["manifests"] / "eval.jsonl.gz", root=corpus["root"], out_dir=tmp_path,
                       progress=True, config=cfg, log_context={"detector": "label", "seed": 1})
    said = [r.getMessage() for r in caplog.records if "scoring memory" in r.getMessage()]
    assert said and "batch 3, 1 stream(s)" in said[0] and "declared" in said[0]
    memory = json.loads(result.files[0].summary.read_text())["memory"]
    assert (memory["batch_size"], memory["streams"], memory["estimate"]) == (3, 1, "declared")


@pytest.mark.parametrize("flag,value", [("--memory-budget", "-1"), ("--memory-budget", "nan"),
                                        ("--memory-budget", "0"), ("--batch-size", "0")])
def test_a_nonpositive_budget_or_batch_is_refused_before_anything_else(tmp_path, capsys, flag, value):
    """argparse refuses it (exit 2, the option named) before the run folder or the manifest is looked at."""
    from spoofbench.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["score", "--run", str(tmp_path / "no-such-run"), "--manifest", str(tmp_path / "none.jsonl.gz"),
              flag, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and ("> 0" in err or ">= 1" in err)
