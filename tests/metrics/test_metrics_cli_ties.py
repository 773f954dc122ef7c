"""``spoofbench metrics --ties``: the convention is selectable, recorded, and ties are warned about."""
from __future__ import annotations

import json

import pytest

from spoofbench.cli import main


@pytest.fixture
def tied_files(tmp_path):
    scores = {"b1": 0.5, "b2": 0.9, "b3": 0.9, "b4": 0.9, "s1": 0.5, "s2": 0.1, "s3": 0.1, "s4": 0.1}
    (tmp_path / "scores.txt").write_text("".join(f"{k} {v}\n" for k, v in scores.items()))
    (tmp_path / "keys.txt").write_text("".join(f"{k} {'bonafide' if k[0] == 'b' else 'spoof'}\n" for k in scores))
    return str(tmp_path / "scores.txt"), str(tmp_path / "keys.txt")


@pytest.mark.parametrize("ties, eer", [("safe", 0.125), ("official", 0.25)])
def test_ties_flag_is_used_and_recorded(capsys, tied_files, ties, eer):
    assert main(["metrics", "--scores", tied_files[0], "--keys", tied_files[1], "--json", "--ties", ties]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["ties"] == ties and report["eer"] == pytest.approx(eer)
    assert report["cross_class_ties"] == {"values": 1, "trials": 2}
    assert "shared by bona fide and spoof trials" in captured.err


def test_default_is_safe_and_bad_value_is_rejected(capsys, tied_files):
    assert main(["metrics", "--scores", tied_files[0], "--keys", tied_files[1], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ties"] == "safe"
    with pytest.raises(SystemExit):
        main(["metrics", "--scores", tied_files[0], "--keys", tied_files[1], "--ties", "fair"])


def test_shared_score_files_official_ties_give_the_published_eer(capsys, fusion_demo, rawgat):
    """On the shared published score files (RawGAT-ST has a bona fide/spoof tie) --ties official
    reproduces the EER the official scorers printed."""
    for scores, keys, expected in (fusion_demo, (rawgat[0], rawgat[1], rawgat[3])):
        assert main(["metrics", "--scores", str(scores), "--keys", str(keys), "--json", "--ties", "official"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["eer"] == pytest.approx(json.loads(expected.read_text())["eer"], abs=1e-10)
