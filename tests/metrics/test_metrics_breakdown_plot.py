"""Breakdowns per key column and DET plots."""
from __future__ import annotations

import numpy as np
import pytest

from spoofbench.errors import SpoofbenchError
from spoofbench.metrics import breakdown, compute_metrics, is_attack_like, plot_det


def test_attack_like_column_scores_each_attack_against_all_bonafide():
    scores = np.array([3.0, 2.5, 2.0, 0.0, 2.2, 1.0, 1.9])
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    attack = np.array(["bonafide"] * 3 + ["A1", "A1", "A2", "A2"])
    assert is_attack_like(attack, labels)
    result = breakdown(scores, labels, attack, compute_metrics)
    assert list(result) == ["A1", "A2"]
    assert result["A1"]["n_bonafide"] == 3 and result["A1"]["n_spoof"] == 2
    assert result["A1"]["eer"] == compute_metrics(scores[:5], labels[:5])["eer"]


def test_condition_like_column_scores_each_value_alone():
    scores = np.array([3.0, 0.0, 2.0, 1.0, 5.0])
    labels = np.array([1, 0, 1, 0, 0])
    codec = np.array(["mp3", "mp3", "opus", "opus", "amr"])
    assert not is_attack_like(codec, labels)
    result = breakdown(scores, labels, codec, compute_metrics)
    assert result["mp3"]["n_bonafide"] == 1 and result["mp3"]["eer"] == 0.0
    assert result["amr"] == {"n_bonafide": 0, "n_spoof": 1, "skipped": "only one class among these trials"}


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<svg")])
def test_plot_det_writes_several_systems(tmp_path, suffix, magic):
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(300), np.zeros(700)]
    systems = {"good": (np.r_[rng.normal(3, 1, 300), rng.normal(0, 1, 700)], labels),
               "weak": (np.r_[rng.normal(1, 1, 300), rng.normal(0, 1, 700)], labels)}
    out = plot_det(systems, tmp_path / "plots" / f"det{suffix}", title="test")
    data = out.read_bytes()
    assert magic in data[:400]
    if suffix == ".svg":
        assert b"good (EER" in data and b"weak (EER" in data
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left


def test_plot_det_rejects_unknown_suffix(tmp_path):
    with pytest.raises(SpoofbenchError, match=r"unknown suffix '.jpg'; expected one of .png, .svg"):
        plot_det({"a": (np.array([1.0, 0.0]), np.array([1, 0]))}, tmp_path / "det.jpg")
