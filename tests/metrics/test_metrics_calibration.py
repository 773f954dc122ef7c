"""Linear logistic calibration: the objective, its fit, its file, and what it does to the metrics."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import check_grad

from spoofbench.errors import SpoofbenchError
from spoofbench.metrics import (CostModel, compute_act_dcf, compute_cllr, compute_eer,
                                compute_min_cllr, compute_min_dcf)
from spoofbench.metrics.calibration import LinearCalibration, _objective, fit_linear_calibration


def gaussian_trials(seed: int, n_bona: int = 600, n_spoof: int = 2400, gain: float = 3.0, bias: float = 4.0):
    """Logit-like scores: true LLRs of two unit-variance Gaussians, then stretched and shifted."""
    rng = np.random.default_rng(seed)
    x_bona, x_spoof = rng.normal(1.5, 1.0, n_bona), rng.normal(-1.5, 1.0, n_spoof)
    true_llr = lambda x: 3.0 * x  # (mu1 - mu0) * x for means +-1.5, variance 1
    scores = np.concatenate([gain * true_llr(x_bona) + bias, gain * true_llr(x_spoof) + bias])
    labels = np.concatenate([np.ones(n_bona), np.zeros(n_spoof)])
    return scores, labels


def test_gradient_matches_the_objective():
    rng = np.random.default_rng(1)
    bona, spoof = rng.normal(1, 1, 50), rng.normal(-1, 1, 80)
    for prior, targets in ((0.5, (1.0, 0.0)), (0.2, (0.9, 0.05)), (0.9, (1.0, 0.0))):
        error = check_grad(lambda p: _objective(p, bona, spoof, prior, targets)[0],
                           lambda p: _objective(p, bona, spoof, prior, targets)[1], np.array([0.7, -0.3]))
        assert error < 1e-6


def test_fit_recovers_the_true_llr_map():
    scores, labels = gaussian_trials(0, 20000, 20000)
    calibration = fit_linear_calibration(scores, labels)
    # scores = 3 * llr + 4  =>  llr = scores / 3 - 4 / 3
    assert calibration.scale == pytest.approx(1 / 3, rel=0.03)
    assert calibration.offset == pytest.approx(-4 / 3, abs=0.06)
    assert calibration.n_bonafide == 20000 and calibration.prior == 0.5


def test_prior_half_minimises_dev_cllr():
    scores, labels = gaussian_trials(2)
    calibration = fit_linear_calibration(scores, labels, smoothing=False)
    bona, spoof = scores[labels == 1], scores[labels == 0]
    best = compute_cllr(calibration.apply(bona), calibration.apply(spoof))
    assert calibration.dev_cllr == pytest.approx(best)
    for d_scale, d_offset in ((1.02, 0), (0.98, 0), (1, 0.05), (1, -0.05)):
        other = LinearCalibration(calibration.scale * d_scale, calibration.offset + d_offset)
        assert compute_cllr(other.apply(bona), other.apply(spoof)) > best


def test_dev_calibration_improves_eval_act_dcf_and_cllr_and_keeps_eer():
    dev_scores, dev_labels = gaussian_trials(3, bias=-6.0)
    eval_scores, eval_labels = gaussian_trials(4, bias=-6.0)
    model = CostModel()
    calibration = fit_linear_calibration(dev_scores, dev_labels, prior=model.effective_prior)
    bona, spoof = eval_scores[eval_labels == 1], eval_scores[eval_labels == 0]
    cal_bona, cal_spoof = calibration.apply(bona), calibration.apply(spoof)
    raw_cllr, cal_cllr = compute_cllr(bona, spoof), compute_cllr(cal_bona, cal_spoof)
    raw_act, cal_act = compute_act_dcf(bona, spoof, model)[0], compute_act_dcf(cal_bona, cal_spoof, model)[0]
    assert cal_cllr < 0.5 * raw_cllr
    min_dcf = compute_min_dcf(bona, spoof, model)[0]
    assert cal_act - min_dcf < 0.1 * (raw_act - min_dcf)  # calibration loss nearly gone
    assert cal_cllr >= compute_min_cllr(bona, spoof) - 1e-9
    assert compute_eer(cal_bona, cal_spoof)[0] == compute_eer(bona, spoof)[0]


def test_separated_dev_scores_give_a_bounded_map():
    """A saturated detector: every dev score is 0 or 1. The plain fit runs away; Platt's targets do not."""
    scores, labels = np.r_[np.ones(60), np.zeros(60)], np.r_[np.ones(60), np.zeros(60)]
    smoothed = fit_linear_calibration(scores, labels)
    plain = fit_linear_calibration(scores, labels, smoothing=False)
    # with 60 + 60 trials the most confident LLR is about log(61) = 4.1 nats
    assert smoothed.apply([1.0])[0] == pytest.approx(np.log(61), rel=0.01)
    assert smoothed.apply([0.0])[0] == pytest.approx(-np.log(61), rel=0.01)
    assert plain.scale > 5 * smoothed.scale
    # one eval error costs a bounded amount under the smoothed map
    bona, spoof = np.r_[np.ones(99), 0.0], np.zeros(100)
    assert compute_cllr(smoothed.apply(bona), smoothed.apply(spoof)) < 0.2


def test_dict_and_file_round_trip(tmp_path):
    calibration = fit_linear_calibration(*gaussian_trials(5, 50, 50), source="dev.txt")
    again = LinearCalibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert again == calibration
    path = calibration.save(tmp_path / "cal.json")
    assert LinearCalibration.load(path) == calibration
    assert json.loads(path.read_text())["kind"] == "linear_logistic"


@pytest.mark.parametrize("data, message", [
    ({"kind": "isotonic", "scale": 1, "offset": 0}, "kind 'isotonic'"),
    ({"scale": "a", "offset": 0}, "'scale' must be a finite number"),
    ({"scale": 1}, "'offset' must be a finite number"),
    ({"scale": 1, "offset": 0, "prior": 1.5}, r"'prior' must be in \(0, 1\)"),
    ({"scale": 1, "offset": 0, "slope": 2}, "unknown field"),
    ({"scale": 1, "offset": 0, "smoothing": "yes"}, "'smoothing' must be true or false"),
    ([1, 2], "expected a JSON object"),
])
def test_bad_calibration_input(data, message):
    with pytest.raises(SpoofbenchError, match=message):
        LinearCalibration.from_dict(data, "cal.json")


def test_bad_fit_input(tmp_path):
    with pytest.raises(SpoofbenchError, match="prior"):
        fit_linear_calibration([1.0, 2.0], [1, 0], prior=0.0)
    with pytest.raises(SpoofbenchError, match="all 2 trials are bona fide"):
        fit_linear_calibration([1.0, 2.0], [1, 1])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SpoofbenchError, match="bad.json:1: not valid JSON"):
        LinearCalibration.load(bad)


def test_with_calibration_keeps_raw_values_under_catalog_names():
    from spoofbench.metrics import compute_metrics
    from spoofbench.metrics.calibration_files import with_calibration
    from spoofbench.metrics.catalog import METRICS

    scores, labels = gaussian_trials(6, bias=-6.0)
    raw = compute_metrics(scores, labels)
    calibration = fit_linear_calibration(scores, labels)
    both = with_calibration(raw, calibration, scores, labels)
    assert both["act_dcf_raw"] == raw["act_dcf"] and both["cllr_raw"] == raw["cllr"]
    assert both["cllr"] < raw["cllr"] and both["act_dcf"] < raw["act_dcf"]
    assert both["eer"] == raw["eer"] and both["calibration"] == calibration.to_dict()
    assert {"act_dcf_raw", "cllr_raw"} <= set(METRICS)
