"""`spoofbench score` with the official AASIST weights reproduces the official implementation's scores."""
from __future__ import annotations

import json

import pytest

from spoofbench.cli import main
from spoofbench.corpora.manifest import Trial, write_manifest
from spoofbench.metrics import read_scores

from testenv import SHARED
REF = SHARED / "reference"


def test_engine_reproduces_official_aasist_scores(tmp_path):
    clips = REF / "asvspoof2019_la_clips"
    if not (REF / "aasist" / "AASIST.pth").is_file() or not clips.is_dir():
        pytest.skip("../shared reference data absent")
    expected = json.loads((REF / "aasist" / "expected.json").read_text())["asvspoof2019_la_clips"]
    trials = [Trial(id=utt, path=f"{utt}.flac", label="bonafide" if label == "bonafide" else "spoof",
                    corpus="asvspoof2019_la", split="mixed") for utt, label in expected["labels"].items()]
    write_manifest(tmp_path / "la19.jsonl", trials)
    rc = main(["score", "--detector", "aasist", "--checkpoint", str(REF / "aasist" / "AASIST.pth"),
               "--manifest", str(tmp_path / "la19.jsonl"), "--root", str(clips), "--out", str(tmp_path / "s"),
               "--workers", "0", "--threads", "1", "--batch-size", "2", "--no-progress"])
    assert rc == 0
    scores = read_scores(tmp_path / "s" / "la19__none.txt")
    summary = json.loads((tmp_path / "s" / "la19__none.json").read_text())
    assert summary["input_policy"] == {"mode": "fixed", "num_samples": 64600, "pad": "repeat", "normalize": "none"}
    for utt, value in expected["AASIST.pth"].items():
        assert scores[utt] == pytest.approx(value, abs=2e-3), utt
