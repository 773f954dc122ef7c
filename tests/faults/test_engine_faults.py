"""Fault injection for the engine (issue 12): failed trials retried, coverage and exit status, one
writer per score file (two real processes), and ordinary mistakes as one line without a traceback."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spoofbench.cli import main
from spoofbench.corpora.manifest import Trial, write_manifest

pytestmark = pytest.mark.timeout(120)
SR = 16000


def _clip(rng: np.random.Generator, spoof: bool) -> np.ndarray:
    t = np.arange(int(rng.uniform(0.3, 0.6) * SR)) / SR
    x = np.sin(2 * np.pi * rng.uniform(100, 220) * t) + 0.05 * rng.standard_normal(t.size)
    if spoof:
        x = x + 0.5 * np.sin(2 * np.pi * 6000 * t)
    return (0.4 * x / np.abs(x).max()).astype(np.float32)


def _corpus(base: Path, n: int = 12, flip_dev: bool = False) -> dict:
    """Train/dev/eval manifests of ``n`` synthetic clips each; ``flip_dev`` swaps the dev labels."""
    rng = np.random.default_rng(3)
    root = base / "corpus"
    out: dict = {"root": root}
    for split in ("train", "dev", "eval"):
        (root / split).mkdir(parents=True)
        trials = []
        for i in range(n):
            spoof = i % 2 == 1
            sf.write(root / split / f"{i}.wav", _clip(rng, spoof), SR, subtype="PCM_16")
            label = "spoof" if spoof != (flip_dev and split == "dev") else "bonafide"
            trials.append(Trial(id=f"{split}_{i}", path=f"{split}/{i}.wav", label=label, corpus="c", split=split))
        write_manifest(base / f"{split}.jsonl.gz", trials)
        out[split] = trials
        out[f"{split}_manifest"] = base / f"{split}.jsonl.gz"
    return out


@pytest.fixture
def corpus(tmp_path: Path) -> dict:
    return _corpus(tmp_path)


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """An (untrained, seeded) rawcnn_2m tiny checkpoint in the documented format."""
    import torch

    from spoofbench.engine import checkpoint as ck
    from spoofbench.models import build_detector

    torch.manual_seed(0)
    detector = build_detector("rawcnn_2m", "tiny")
    path = tmp_path / "model.pt"
    ck.save_torch(path, ck.model_payload(detector, detector.state_dict()))
    return path


def _score_cli(corpus: dict, checkpoint: Path, out: Path, *extra: str) -> int:
    return main(["score", "--detector", "rawcnn_2m", "--preset", "tiny", "--checkpoint", str(checkpoint),
                 "--manifest", str(corpus["eval_manifest"]), "--root", str(corpus["root"]), "--out", str(out),
                 "--workers", "0", "--threads", "1", "--device", "cpu", "--no-progress", *extra])


def _failed(path: Path) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in path.read_text().splitlines())


def test_resume_retries_failed_trials_and_reports_coverage(corpus, checkpoint, tmp_path, capsys):
    out = tmp_path / "scores"
    moved = corpus["root"] / "eval" / "3.wav"
    moved.rename(tmp_path / "aside.wav")  # a clip that is missing for a while
    assert _score_cli(corpus, checkpoint, out) == 1
    err = capsys.readouterr().err
    assert "1 of 12 trials have no score" in err and "eval__none.failed.tsv" in err and "--allow-incomplete" in err
    assert _failed(out / "eval__none.failed.tsv").keys() == {"eval_3"}
    summary = json.loads((out / "eval__none.json").read_text())
    assert (summary["n_expected"], summary["n_scored"], summary["n_failed"]) == (12, 11, 1)
    assert summary["complete"] is False and summary["coverage"] == pytest.approx(11 / 12)

    (tmp_path / "aside.wav").rename(moved)  # it is back: a resume retries it
    assert _score_cli(corpus, checkpoint, out) == 0
    summary = json.loads((out / "eval__none.json").read_text())
    assert (summary["n_scored"], summary["n_failed"], summary["n_resumed"], summary["n_retried"]) == (12, 0, 11, 1)
    assert summary["complete"] is True
    assert (out / "eval__none.failed.tsv").read_text() == ""  # only still-failing trials are listed
    ids = [line.split()[0] for line in (out / "eval__none.txt").read_text().splitlines()]
    assert sorted(ids) == sorted(t.id for t in corpus["eval"])  # each trial exactly once


def test_allow_incomplete_accepts_a_partial_score_file(corpus, checkpoint, tmp_path, capsys):
    (corpus["root"] / "eval" / "5.wav").unlink()
    assert _score_cli(corpus, checkpoint, tmp_path / "s", "--allow-incomplete") == 0
    assert "warning" in capsys.readouterr().err


def test_non_finite_audio_is_refused_per_trial(corpus, checkpoint, tmp_path):
    wave = _clip(np.random.default_rng(0), False)
    wave[100] = np.nan
    sf.write(corpus["root"] / "eval" / "2.wav", wave, SR, subtype="FLOAT")
    wave[100] = np.inf
    sf.write(corpus["root"] / "eval" / "4.wav", wave, SR, subtype="FLOAT")
    out = tmp_path / "s"
    assert _score_cli(corpus, checkpoint, out) == 1
    failed = _failed(out / "eval__none.failed.tsv")
    assert failed.keys() == {"eval_2", "eval_4"}
    assert all("non-finite" in reason for reason in failed.values())
    scores = (out / "eval__none.txt").read_text().lower()
    assert "nan" not in scores and "inf" not in scores


def test_a_non_finite_score_is_a_failed_trial_not_a_nan_line(corpus, tmp_path):
    from spoofbench.engine import ScoreConfig, score
    from spoofbench.models import build_detector

    detector = build_detector("rawcnn_2m", "tiny")
    original = detector.score

    def poisoned(waves, lengths):
        values = original(waves, lengths).clone()
        values[0] = float("nan")
        return values

    detector.score = poisoned
    result = score(detector, corpus["eval"], root=corpus["root"], out_dir=tmp_path, testset="eval",
                   config=ScoreConfig(batch_size=4, num_workers=0, device="cpu"), progress=False)
    f = result.files[0]
    assert f.n_failed == 3 and f.n_scored == 9 and not f.complete  # one per batch of four
    assert all("non-finite score" in r for r in _failed(f.failed).values())
    assert "nan" not in f.scores.read_text()


_HOLDER = textwrap.dedent("""
    import sys, time
    from spoofbench.engine.locks import exclusive
    with exclusive(sys.argv[1], "score file"):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_a_second_writer_of_a_score_file_exits_at_once_naming_the_holder(corpus, checkpoint, tmp_path, capsys):
    out = tmp_path / "s"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out / "eval__none.txt")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert _score_cli(corpus, checkpoint, out) == 2
        assert time.monotonic() - started < 30
        err = capsys.readouterr().err
        assert f"pid {holder.pid} on" in err and "eval__none.txt" in err and len(err.strip().splitlines()) == 1
        assert not (out / "eval__none.txt").exists()  # nothing was written by the second process
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder was killed -9: its lock is taken over without any clean-up
    assert _score_cli(corpus, checkpoint, out) == 0
    assert len((out / "eval__none.txt").read_text().splitlines()) == 12


@pytest.mark.slow
def test_two_score_processes_at_once_never_double_a_file(corpus, checkpoint, tmp_path):
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "spoofbench", "score", "--detector", "rawcnn_2m", "--preset", "tiny",
           "--checkpoint", str(checkpoint), "--manifest", str(corpus["eval_manifest"]), "--root",
           str(corpus["root"]), "--out", str(out), "--workers", "0", "--threads", "1", "--device", "cpu",
           "--no-progress", "--codec", "none"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    codes = [p.wait(timeout=100) for p in procs]
    errors = [p.stderr.read() for p in procs]
    assert sorted(codes) in ([0, 0], [0, 2]), errors  # both in turn, or one refused while the other ran
    if 2 in codes:
        assert "is being written by pid" in errors[codes.index(2)]
    ids = [line.split()[0] for line in (out / "eval__none.txt").read_text().splitlines()]
    assert sorted(ids) == sorted(t.id for t in corpus["eval"])


def test_train_with_a_missing_root_is_one_line_before_any_work(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--detector", "rawcnn_2m", "--preset", "tiny", "--train-manifest",
               str(corpus["train_manifest"]), "--dev-manifest", str(corpus["dev_manifest"]),
               "--root", str(tmp_path / "nowhere"), "--out", str(out), "--epochs", "1", "--workers", "0",
               "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "nowhere" in err and "does not exist" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("command", ["train", "score"])
def test_out_that_is_a_file_is_one_line(command, corpus, checkpoint, tmp_path, capsys):
    out = tmp_path / "a_file"
    out.write_text("x")
    if command == "score":
        rc = _score_cli(corpus, checkpoint, out)
    else:
        rc = main(["train", "--detector", "lfcc_gmm", "--preset", "tiny", "--train-manifest",
                   str(corpus["train_manifest"]), "--dev-manifest", str(corpus["dev_manifest"]),
                   "--root", str(corpus["root"]), "--out", str(out), "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "is a file" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_train_prints_the_polarity_warning(tmp_path, capsys):
    corpus = _corpus(tmp_path, n=16, flip_dev=True)  # dev labels inverted: dev EER above 50%
    rc = main(["train", "--detector", "lfcc_gmm", "--preset", "tiny", "--train-manifest",
               str(corpus["train_manifest"]), "--dev-manifest", str(corpus["dev_manifest"]),
               "--root", str(corpus["root"]), "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 0
    assert "worse than chance: inverted labels or scores" in captured.err and "warning" in captured.err
    record = json.loads((tmp_path / "run" / "train_result.json").read_text())
    assert record["warnings"] and record["best_dev_eer"] > 0.5



def test_full_disk_while_scoring_is_one_line(corpus, checkpoint, tmp_path, capsys, monkeypatch):
    import errno

    from spoofbench.engine import scoring

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "s" / "eval__none.json"))

    monkeypatch.setattr(scoring, "write_json_atomic", full)
    assert _score_cli(corpus, checkpoint, tmp_path / "s") == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "eval__none.json" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_full_disk_while_training_is_one_line(corpus, tmp_path, capsys, monkeypatch):
    import errno

    from spoofbench.engine import checkpoint as ck

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ck, "write_bytes_atomic", full)
    rc = main(["train", "--detector", "rawcnn_2m", "--preset", "tiny", "--train-manifest",
               str(corpus["train_manifest"]), "--dev-manifest", str(corpus["dev_manifest"]),
               "--root", str(corpus["root"]), "--out", str(tmp_path / "run"), "--epochs", "1", "--workers", "0",
               "--threads", "1", "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "No space left on device" in err and "checkpoints/best.pt" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_second_trainer_of_a_run_dir_exits_at_once(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc = main(["train", "--detector", "lfcc_gmm", "--preset", "tiny", "--train-manifest",
                   str(corpus["train_manifest"]), "--dev-manifest", str(corpus["dev_manifest"]),
                   "--root", str(corpus["root"]), "--out", str(out), "--device", "cpu", "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 2 and f"pid {holder.pid} on" in err and "training run" in err
        assert not (out / "checkpoints").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
