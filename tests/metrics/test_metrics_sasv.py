"""SASV metrics: t-EER and a-DCF against the official ASVspoof 5 package, tandem a-DCF, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spoofbench.cli import main
from spoofbench.errors import SpoofbenchError
from spoofbench.metrics import load_trials, read_asv_scores
from spoofbench.metrics.det import det_curve
from spoofbench.metrics.sasv import (A_DCF_PAPER, ASVSPOOF5_SASV, asv_curves, compute_a_dcf,
                                     compute_t_eer, compute_tandem_a_dcf)
from spoofbench.metrics.tdcf import AsvScores

FIGURES = json.loads((Path(__file__).parent / "data" / "sasv_2019la_official.json").read_text())


def sasv_cases(n_cases: int = 30):
    """CM bona fide/spoof and ASV target/non-target/spoof scores, every other case rounded (ties)."""
    rng = np.random.default_rng(7)
    for case in range(n_cases):
        n = rng.integers(5, 150, size=5)
        draw = (lambda loc, k: np.round(rng.normal(loc, 1.5, k), 1)) if case % 2 else \
            (lambda loc, k: rng.normal(loc, 1.5, k))
        yield (draw(1.5, n[0]), draw(-1.5, n[1])), AsvScores(draw(3, n[2]), draw(-1, n[3]), draw(1, n[4]))


def _package_cost(package, model):
    return package["a_dcf"].CostModel(Ptrg=model.p_target, Pnontrg=model.p_nontarget, Pspf=model.p_spoof,
                                      Cmiss=model.c_miss, Cfa_asv=model.c_fa_nontarget, Cfa_cm=model.c_fa_spoof)


def test_t_eer_and_a_dcf_equal_the_official_package(asvspoof5_package):
    modules, a_dcf = asvspoof5_package["calculate_modules"], asvspoof5_package["a_dcf"]
    for (bona, spoof), asv in sasv_cases():
        curves = modules.compute_Pmiss_Pfa_Pspoof_curves(asv.target, asv.nontarget, asv.spoof)
        cm = modules.compute_det_curve(bona, spoof)
        official = modules.compute_teer(*cm, *curves) / 100
        assert compute_t_eer(bona, spoof, asv, ties="official")[0] == pytest.approx(official, rel=1e-12)
        for model in (ASVSPOOF5_SASV, A_DCF_PAPER):
            cost = _package_cost(asvspoof5_package, model)
            result = a_dcf._calculate_a_dcf(asv.target, asv.nontarget, asv.spoof, cost, False)
            ours = compute_a_dcf(asv.target, asv.nontarget, asv.spoof, model)
            assert ours == (pytest.approx(result["min_a_dcf"], abs=1e-12), result["min_a_dcf_thresh"])


@pytest.fixture(scope="module")
def la2019(rawgat):
    trials = load_trials(rawgat[0], rawgat[1])
    return trials.bonafide, trials.spoof, read_asv_scores(rawgat[2])


@pytest.mark.parametrize("ties", ["safe", "official"])
def test_shared_2019_la_equals_the_official_figures(la2019, ties):
    bona, spoof, asv = la2019
    assert compute_t_eer(bona, spoof, asv, ties=ties)[0] * 100 == pytest.approx(FIGURES["t_eer_percent"], rel=1e-12)
    value, threshold = compute_a_dcf(asv.target, asv.nontarget, asv.spoof)
    assert value == pytest.approx(FIGURES["a_dcf_asv_track2"], abs=1e-12)
    assert threshold == FIGURES["a_dcf_asv_track2_threshold"]
    value, threshold = compute_a_dcf(asv.target, asv.nontarget, asv.spoof, A_DCF_PAPER)
    assert value == pytest.approx(FIGURES["a_dcf_asv_paper_defaults"], abs=1e-12)
    assert threshold == FIGURES["a_dcf_asv_paper_defaults_threshold"]


def test_shared_2019_la_equals_the_live_official_package(la2019, asvspoof5_package):
    bona, spoof, asv = la2019
    modules = asvspoof5_package["calculate_modules"]
    curves = modules.compute_Pmiss_Pfa_Pspoof_curves(asv.target, asv.nontarget, asv.spoof)
    official = modules.compute_teer_accelerated(*modules.compute_det_curve(bona, spoof), *curves)
    assert compute_t_eer(bona, spoof, asv, ties="official")[0] * 100 == pytest.approx(official, rel=1e-12)
    result = asvspoof5_package["a_dcf"]._calculate_a_dcf(
        asv.target, asv.nontarget, asv.spoof, _package_cost(asvspoof5_package, ASVSPOOF5_SASV), False)
    assert compute_a_dcf(asv.target, asv.nontarget, asv.spoof)[0] == pytest.approx(result["min_a_dcf"], abs=1e-12)


def brute_force_tandem(bona, spoof, asv, model=ASVSPOOF5_SASV):
    cm, curves = det_curve(bona, spoof), asv_curves(asv)
    miss, fa = cm.frr[None, :], cm.far[None, :]
    cost = (model.c_miss * model.p_target * (miss + (1 - miss) * curves.p_miss[:, None])
            + model.c_fa_nontarget * model.p_nontarget * (1 - miss) * curves.p_fa_nontarget[:, None]
            + model.c_fa_spoof * model.p_spoof * fa * curves.p_fa_spoof[:, None])
    return cost.min() / model.normaliser


def test_tandem_a_dcf_is_the_minimum_over_both_thresholds():
    for (bona, spoof), asv in sasv_cases(20):
        value = compute_tandem_a_dcf(bona, spoof, asv, chunk=7)[0]
        assert value == pytest.approx(brute_force_tandem(bona, spoof, asv), abs=1e-12)
        assert value <= compute_a_dcf(asv.target, asv.nontarget, asv.spoof)[0] + 1e-12


def test_perfect_cm_leaves_the_asv_without_spoofs():
    rng = np.random.default_rng(1)
    asv = AsvScores(rng.normal(3, 1, 300), rng.normal(0, 1, 300), rng.normal(2, 1, 300))
    value = compute_tandem_a_dcf(rng.normal(5, 0.1, 50), rng.normal(-5, 0.1, 50), asv)[0]
    model = ASVSPOOF5_SASV
    curves = asv_curves(asv)
    no_spoof = (model.c_miss * model.p_target * curves.p_miss
                + model.c_fa_nontarget * model.p_nontarget * curves.p_fa_nontarget).min() / model.normaliser
    assert value == pytest.approx(no_spoof, abs=1e-12)


def test_sasv_cli(capsys, rawgat):
    argv = ["sasv", "--cm-scores", str(rawgat[0]), "--cm-keys", str(rawgat[1]), "--asv-scores", str(rawgat[2])]
    assert main([*argv, "--json", "--ties", "official", "--sasv-scores", str(rawgat[2])]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ties"] == "official"
    assert report["t_eer"] * 100 == pytest.approx(FIGURES["t_eer_percent"], rel=1e-12)
    assert report["a_dcf"] == report["a_dcf_asv"] == pytest.approx(FIGURES["a_dcf_asv_track2"], abs=1e-12)
    assert report["a_dcf_tandem"] < report["a_dcf_asv"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "t-EER (%)" in text and "2.67" in text and "tandem a-DCF" in text and "0.04" in text


def test_sasv_cli_errors(capsys, tmp_path):
    assert main(["sasv", "--cm-scores", "x.txt"]) == 2
    assert "need --cm-scores, --cm-keys and --asv-scores" in capsys.readouterr().err
    assert main(["sasv"]) == 2
    assert "nothing to compute" in capsys.readouterr().err
    bad = tmp_path / "asv.txt"
    bad.write_text("bonafide target 1.0\nA01 impostor 2.0\n")
    assert main(["sasv", "--sasv-scores", str(bad)]) == 2
    assert "asv.txt:2" in capsys.readouterr().err
    with pytest.raises(SpoofbenchError, match="unknown tie convention"):
        compute_t_eer([1.0, 2.0], [0.0], AsvScores(np.ones(2), np.zeros(2), np.zeros(2)), ties="x")


def test_metrics_command_reports_sasv_with_asv_scores(capsys, rawgat):
    argv = ["metrics", "--scores", str(rawgat[0]), "--keys", str(rawgat[1]), "--asv-scores", str(rawgat[2]),
            "--json", "--ties", "official"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["t_eer"] * 100 == pytest.approx(FIGURES["t_eer_percent"], rel=1e-12)
    assert report["a_dcf_tandem"] < FIGURES["a_dcf_asv_track2"]
