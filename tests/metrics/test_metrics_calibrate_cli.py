"""``spoofbench calibrate``: fit on dev score files, apply to eval, report actDCF/Cllr before and after."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from spoofbench.cli import main
from spoofbench.metrics import CostModel, LinearCalibration, read_scores


def write_trials(folder: Path, name: str, scores: np.ndarray, labels: np.ndarray) -> tuple[Path, Path]:
    ids = [f"{name}_{i:05d}" for i in range(scores.size)]
    score_path, key_path = folder / f"{name}.scores.txt", folder / f"{name}.keys.txt"
    score_path.write_text("".join(f"{u} {float(s)!r}\n" for u, s in zip(ids, scores)))
    key_path.write_text("".join(f"{u} {'bonafide' if y else 'spoof'}\n" for u, y in zip(ids, labels)))
    return score_path, key_path


def logit_trials(seed: int, n: int = 800):
    """Overconfident, shifted logits: 4 x (true LLR) - 5; the true LLR of two unit Gaussians 2.5 apart is 2.5 x."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.3).astype(int)
    x = rng.normal(np.where(labels == 1, 1.25, -1.25), 1.0)
    return 4.0 * (2.5 * x) - 5.0, labels


def run_json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def calibrate(capsys, tmp_path: Path, dev, evaluation, *extra: str) -> dict:
    dev_scores, dev_keys = write_trials(tmp_path, "dev", *dev)
    eval_scores, eval_keys = write_trials(tmp_path, "eval", *evaluation)
    return run_json(capsys, ["calibrate", "--scores", str(dev_scores), "--keys", str(dev_keys),
                             "--apply", str(eval_scores), "--apply-keys", str(eval_keys),
                             "--out", str(tmp_path / "eval.llr.txt"), "--save", str(tmp_path / "cal.json"),
                             "--json", *extra])


def assert_improves(report: dict) -> None:
    for part in ("dev", "apply"):
        raw, calibrated = report[part]["raw"], report[part]["calibrated"]
        assert calibrated["act_dcf"] < raw["act_dcf"], part
        assert calibrated["cllr"] < raw["cllr"], part


def test_calibrate_synthetic_logits(capsys, tmp_path):
    report = calibrate(capsys, tmp_path, logit_trials(0), logit_trials(1))
    assert_improves(report)
    assert report["apply"]["calibrated"]["cllr"] < 0.6 * report["apply"]["raw"]["cllr"]
    saved = LinearCalibration.load(tmp_path / "cal.json")
    assert saved.to_dict() == report["calibration"]
    assert saved.scale == pytest.approx(0.25, rel=0.25)  # the inverse of the 4x overconfidence
    raw, llr = read_scores(tmp_path / "eval.scores.txt"), read_scores(tmp_path / "eval.llr.txt")
    assert list(llr) == list(raw) and report["apply"]["n_trials"] == len(raw)
    assert np.allclose([llr[u] for u in llr], saved.apply([raw[u] for u in llr]), atol=1e-6)


def test_saved_calibration_is_reused_and_table_prints_costs_plainly(capsys, tmp_path):
    calibrate(capsys, tmp_path, logit_trials(2), logit_trials(3))
    again = run_json(capsys, ["calibrate", "--scores", str(tmp_path / "eval.scores.txt"),
                              "--keys", str(tmp_path / "eval.keys.txt"),
                              "--calibration", str(tmp_path / "cal.json"), "--json"])
    assert again["calibration"] == json.loads((tmp_path / "cal.json").read_text())
    assert main(["calibrate", "--scores", str(tmp_path / "dev.scores.txt"),
                 "--keys", str(tmp_path / "dev.keys.txt")]) == 0
    text = capsys.readouterr().out
    assert "actDCF" in text and "Cllr (bits)" in text and "llr =" in text
    row = next(line for line in text.splitlines() if "actDCF" in line)
    assert "%" not in row


def test_bad_use_is_one_line_error(capsys, tmp_path):
    dev_scores, dev_keys = write_trials(tmp_path, "dev", *logit_trials(4, 50))
    assert main(["calibrate", "--scores", str(dev_scores), "--keys", str(dev_keys),
                 "--apply", str(dev_scores)]) == 2
    assert "--apply needs --out" in capsys.readouterr().err
    assert main(["calibrate", "--scores", str(dev_scores), "--keys", str(dev_keys), "--prior", "1"]) == 2
    assert "prior must be in (0, 1)" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"scale": "x", "offset": 0}')
    assert main(["calibrate", "--scores", str(dev_scores), "--keys", str(dev_keys),
                 "--calibration", str(tmp_path / "bad.json")]) == 2
    assert "'scale' must be a finite number" in capsys.readouterr().err


def _engine_clip():
    path = Path(__file__).resolve().parents[1] / "engine" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_engine_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._clip


@pytest.mark.slow
def test_calibrate_a_trained_detector(capsys, tmp_path):
    """A tiny LFCC-GMM trained on synthetic voices whose spoofs carry a faint buzz (in domain)."""
    pytest.importorskip("torch")
    from spoofbench.models import build_detector
    from spoofbench.models.catalog import score_waveforms

    clip, rng = _engine_clip(), np.random.default_rng(11)

    def trial(spoof: bool) -> np.ndarray:
        voice = clip(rng, False)
        if spoof:  # a tenth of the engine corpus's spoof clip: hard enough to need calibration
            buzz = clip(rng, True)
            n = min(voice.size, buzz.size)
            voice = voice[:n] + 0.1 * buzz[:n]
        return (voice + 0.02 * rng.standard_normal(voice.size)).astype(np.float32)

    def split(n: int):
        labels = np.array([1] * n + [0] * n)
        return [trial(not y) for y in labels], labels

    (train, train_labels), (dev, dev_labels), (test, test_labels) = split(20), split(60), split(60)
    detector = build_detector("lfcc_gmm", "tiny").fit(train, train_labels, seed=0)
    scores = [score_waveforms(detector, waves, [16000] * len(waves)) for waves in (dev, test)]
    report = calibrate(capsys, tmp_path, (scores[0].astype(np.float64), dev_labels),
                       (scores[1].astype(np.float64), test_labels), "--prior", str(CostModel().effective_prior))
    assert_improves(report)
