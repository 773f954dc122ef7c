"""Real ASVspoof audio from ../shared: the 2019 LA mini set prepares, the 2021 samples validate and score."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from spoofbench.cli import main
from spoofbench.corpora.manifest import Trial, read_manifest, write_manifest
from spoofbench.corpora.recipe import prepare
from spoofbench.corpora.validate import validate_manifest

from corpora_testutil import SHARED

MINI = SHARED / "corpora" / "asvspoof2019_la_mini"
SAMPLES = SHARED / "corpora" / "asvspoof2021_samples"


def _need(folder: Path) -> None:
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")


def _samples_manifest(tmp_path: Path) -> Path:
    trials = []
    for line in (SAMPLES / "labels.txt").read_text().splitlines():
        if line.strip():
            utt, label = line.split()
            trials.append(Trial(id=utt, path=f"flac/{utt}.flac", label=label, corpus="asvspoof2021_samples",
                                split="eval"))
    path = tmp_path / "samples.jsonl.gz"
    write_manifest(path, trials)
    return path


def test_prepare_the_2019_la_mini_set_gives_100_plus_100_with_attacks(tmp_path, capsys):
    _need(MINI)
    assert main(["prepare", "asvspoof2019_la", "--root", str(MINI), "--out", str(tmp_path), "--probe",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert "eval: not present under the root, skipped" in out
    for split in ("train", "dev"):
        trials = list(read_manifest(tmp_path / f"asvspoof2019_la_{split}.jsonl.gz"))
        labels = Counter(t.label for t in trials)
        attacks = {t.attack for t in trials if t.label == "spoof"}
        assert len(trials) == 100 and labels == {"bonafide": 50, "spoof": 50}, split
        assert attacks <= {f"A0{i}" for i in range(1, 7)} and len(attacks) >= 5, attacks
        assert all(t.sampling_rate == 16000 and t.num_samples for t in trials)
    report = prepare("asvspoof2019_la", MINI, tmp_path / "api", progress=False)
    assert [s.written for s in report.splits if s.absent is None] == [100, 100]
    assert report.problems() == []


def test_the_ten_2021_samples_validate_without_problems(tmp_path):
    _need(SAMPLES)
    manifest = _samples_manifest(tmp_path)
    report = validate_manifest(manifest, SAMPLES, progress=False, write_clean=tmp_path / "clean.jsonl.gz")
    assert report.checked == 10 and report.problems == [] and report.kept == 10
    assert report.decoders == {"libsndfile": 5, "pyav": 5}
    assert main(["validate", str(manifest), "--root", str(SAMPLES), "--expect-sr", "16000"]) == 0


def test_the_ten_2021_samples_score_through_the_engine_and_models_score(tmp_path, capsys):
    _need(SAMPLES)
    from spoofbench.engine import ScoreConfig, score
    from spoofbench.models import build_detector

    manifest = _samples_manifest(tmp_path)
    detector = build_detector("rawcnn_2m", "tiny")
    result = score(detector, manifest, root=SAMPLES, out_dir=tmp_path / "scores",
                   config=ScoreConfig(num_workers=0, batch_size=4, cpu_threads=1), progress=False)
    assert result.files[0].n_scored == 10 and result.files[0].n_failed == 0
    failing = (SAMPLES / "undecodable_by_libsndfile.txt").read_text().split()
    paths = [str(SAMPLES / "flac" / f"{utt}.flac") for utt in failing]
    assert main(["models", "score", "rawcnn_2m", *paths, "--preset", "tiny", "--random-weights"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.endswith(tuple("0123456789"))]
    assert len(lines) == 5
