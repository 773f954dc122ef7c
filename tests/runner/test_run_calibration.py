"""Calibration in a run: fitted per detector and seed on the dev set, stored with the run, applied to actDCF/Cllr."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from runner_corpus import bench_config, make_set, write_config

from spoofbench.runner.benchmark import run_benchmark


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("calibration_corpus")
    hard = {"spoof_noise": 0.06, "buzz": False}  # overlapping classes: the GMM's raw LLRs are overconfident
    for name, n, seed in (("a_train", 36, 0), ("a_dev", 60, 1), ("a_eval", 60, 2)):
        make_set(root, name, "A", n, seed, ("a1", "a2"), **hard)
    make_set(root, "b_eval", "B", 12, 3, ("b1",))
    return root


def test_dev_calibration_improves_act_dcf_and_cllr_in_domain(corpus, tmp_path):
    config = bench_config(corpus, codecs=["none"], calibration=True,
                          detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    out = tmp_path / "run"
    result = run_benchmark(write_config(corpus, "bench.yaml", config), out, progress=False, tables=False,
                           log=lambda _: None)
    (train_dir,) = [p for p in (out / "train").iterdir() if p.is_dir()]
    stored = json.loads((train_dir / "calibration.json").read_text())
    assert stored["kind"] == "linear_logistic" and stored["n_bonafide"] + stored["n_spoof"] == 60
    assert result["detectors"]["lfcc_gmm:tiny"]["training"]["0"]["calibration"] == stored
    cells = {c["test_set"]: c["metrics"] for c in result["cells"]}
    in_domain = cells["a_eval"]
    assert in_domain["calibrated"] is True
    assert in_domain["cllr"] < in_domain["cllr_raw"]
    assert in_domain["act_dcf"] < in_domain["act_dcf_raw"]
    # the affine map is increasing: threshold-free metrics do not move
    assert in_domain["eer"] == pytest.approx(cells["a_eval"]["eer"])

    raw = bench_config(corpus, codecs=["none"], calibration=False, detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    plain = run_benchmark(write_config(corpus, "raw.yaml", raw), out, progress=False, tables=False,
                          log=lambda _: None)  # same folder: the trained detector is reused, the cells are new
    plain_cells = {c["test_set"]: c["metrics"] for c in plain["cells"]}
    assert plain_cells["a_eval"]["calibrated"] is False
    assert plain_cells["a_eval"]["act_dcf"] == plain_cells["a_eval"]["act_dcf_raw"] == in_domain["act_dcf_raw"]
    assert plain_cells["a_eval"]["eer"] == in_domain["eer"]
