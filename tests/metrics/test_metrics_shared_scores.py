"""Agreement with the official scorers' values in ../shared/scores/*/expected.json."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from spoofbench.metrics import (TieWarning, compute_metrics, compute_min_tdcf, evaluate, load_trials,
                                read_asv_scores)


def _tolerance(expected_json: Path, key: str) -> float:
    """1e-9, or half a unit of the last printed digit when fewer digits were printed."""
    number = re.search(rf'"{key}":\s*([-0-9.eE]+)', expected_json.read_text()).group(1)
    decimals = len(number.split(".")[1]) if "." in number else 0
    return max(1e-9, 0.5 * 10.0 ** -decimals)


def _check(report: dict, expected_path: Path, pairs: dict[str, str]) -> None:
    expected = json.loads(expected_path.read_text())
    for ours, theirs in pairs.items():
        assert report[ours] == pytest.approx(expected[theirs], abs=_tolerance(expected_path, theirs)), ours


def test_rawgat_2019_la_eval(rawgat):
    scores, keys, asv, expected = rawgat
    trials = load_trials(scores, keys)
    with pytest.warns(TieWarning, match="1 score value.*2 trials"):  # one bona fide/spoof tie in the file
        report = compute_metrics(trials.scores, trials.labels)
    asv_scores = read_asv_scores(asv)
    report["min_tdcf_2019"] = compute_min_tdcf(trials.bonafide, trials.spoof, asv_scores, "2019")[0]
    report["min_tdcf_2021"] = compute_min_tdcf(trials.bonafide, trials.spoof, asv_scores, "2021")[0]
    _check(report, expected, {"eer": "eer", "min_tdcf_2019": "min_tdcf_2019_legacy",
                              "min_tdcf_2021": "min_tdcf_2021", "min_dcf": "asvspoof5_min_dcf",
                              "act_dcf": "asvspoof5_act_dcf", "cllr": "asvspoof5_cllr_bits",
                              "n_bonafide": "n_bonafide", "n_spoof": "n_spoof"})


def test_asvspoof5_package_demo(fusion_demo):
    scores, keys, expected = fusion_demo
    report = evaluate(scores, keys)
    _check(report, expected, {"eer": "eer", "min_dcf": "min_dcf", "act_dcf": "act_dcf",
                              "cllr": "cllr_bits", "n_bonafide": "n_bonafide", "n_spoof": "n_spoof"})
    assert report["warnings"] == []


@pytest.mark.filterwarnings("ignore::spoofbench.metrics.TieWarning")
def test_shared_scores_equal_official_algorithm(rawgat, fusion_demo, official):
    for scores, keys in (rawgat[:2], fusion_demo[:2]):
        trials = load_trials(scores, keys)
        report = compute_metrics(trials.scores, trials.labels)
        eer, threshold = official["eer"](trials.bonafide, trials.spoof)
        assert abs(report["eer"] - eer) <= 1e-12 and report["eer_threshold"] == threshold
        min_dcf, _ = official["min_dcf"](trials.bonafide, trials.spoof)
        assert abs(report["min_dcf"] - min_dcf) <= 1e-12


def test_per_attack_uses_all_bonafide(rawgat):
    scores, keys, _, _ = rawgat
    report = evaluate(scores, keys, __import__("spoofbench.metrics", fromlist=["x"]).EvaluationOptions(
        by=("attack",)))
    attacks = report["by"]["attack"]
    assert sorted(attacks) == [f"A{i:02d}" for i in range(7, 20)]
    assert all(group["n_bonafide"] == 7355 and group["n_spoof"] == 4914 for group in attacks.values())
    # the pooled EER lies within the per-attack range
    eers = np.array([group["eer"] for group in attacks.values()])
    assert eers.min() <= report["eer"] <= eers.max()
