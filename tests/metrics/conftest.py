"""Shared fixtures of the metrics tests: the ../shared reference data (``shared``: tests/conftest.py) and the
official algorithms.

``official_*`` re-state the ASVspoof 2019/2021 ``compute_det_curve``/``compute_eer`` and the ASVspoof 5
minDCF as published (one argsort with labels, a point per sorted score), as an independent reference
for the vectorised, tie-safe implementation.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest



def official_det_curve(bonafide: np.ndarray, spoof: np.ndarray):
    n = bonafide.size + spoof.size
    scores = np.concatenate((bonafide, spoof))
    labels = np.concatenate((np.ones(bonafide.size), np.zeros(spoof.size)))
    order = np.argsort(scores, kind="mergesort")
    labels = labels[order]
    bona_sums = np.cumsum(labels)
    spoof_left = spoof.size - (np.arange(1, n + 1) - bona_sums)
    frr = np.concatenate((np.atleast_1d(0), bona_sums / bonafide.size))
    far = np.concatenate((np.atleast_1d(1), spoof_left / spoof.size))
    thresholds = np.concatenate((np.atleast_1d(scores[order[0]] - 0.001), scores[order]))
    return frr, far, thresholds


def official_eer(bonafide: np.ndarray, spoof: np.ndarray) -> tuple[float, float]:
    frr, far, thresholds = official_det_curve(bonafide, spoof)
    index = np.argmin(np.abs(frr - far))
    return float(np.mean((frr[index], far[index]))), float(thresholds[index])


def official_min_dcf(bonafide: np.ndarray, spoof: np.ndarray, p_spoof=0.05, c_miss=1, c_fa=10):
    frr, far, thresholds = official_det_curve(bonafide, spoof)
    p_target = 1 - p_spoof
    costs = c_miss * frr * p_target + c_fa * far * (1 - p_target)
    index = int(np.argmin(costs))
    return float(costs[index] / min(c_miss * p_target, c_fa * (1 - p_target))), float(thresholds[index])


@pytest.fixture(scope="session")
def official():
    return {"eer": official_eer, "min_dcf": official_min_dcf, "det_curve": official_det_curve}


def _read_two(path: Path, skip_header: bool = False) -> dict[str, str]:
    lines = path.read_text().splitlines()[1 if skip_header else 0:]
    return {line.split()[0]: line.split()[1] for line in lines if line.strip()}


@pytest.fixture(scope="session")
def rawgat(shared):
    """``(scores_path, keys_path, asv_path, expected_json_path)`` of RawGAT-ST on 2019 LA eval."""
    return (shared / "scores/rawgat_st_19la_eval/RawGAT_ST_mul.scores.txt",
            shared / "protocols/asvspoof2019_la/ASVspoof2019.LA.cm.eval.trl.txt",
            shared / "protocols/asvspoof2019_la/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt",
            shared / "scores/rawgat_st_19la_eval/expected.json")


@pytest.fixture(scope="session")
def fusion_demo(shared):
    """``(scores_path, keys_path, expected_json_path)`` of the ASVspoof 5 package demo."""
    folder = shared / "scores/asvspoof5_fusion_demo"
    return folder / "cm_score.tsv", folder / "cm_key.tsv", folder / "expected.json"


#: Where the ``fetch`` tool mirrors github:asvspoof-challenge/asvspoof5 (a git directory, no work tree).
ASVSPOOF5_MIRROR = Path(os.environ.get("SPOOFBENCH_ASVSPOOF5_MIRROR",
                                       "/work/.mirror/asvspoof-challenge+asvspoof5/repo"))
_PACKAGE_FILES = ("calculate_modules.py", "a_dcf.py")


@pytest.fixture(scope="session")
def asvspoof5_package(tmp_path_factory):
    """The official ASVspoof 5 evaluation package's ``calculate_modules`` and ``a_dcf`` modules, loaded
    from a local git mirror of asvspoof-challenge/asvspoof5 (never vendored); skips when absent."""
    if not ASVSPOOF5_MIRROR.exists() or shutil.which("git") is None:
        pytest.skip(f"no mirror of the official ASVspoof 5 package at {ASVSPOOF5_MIRROR}")
    folder = tmp_path_factory.mktemp("asvspoof5_package")
    modules = {}
    for name in _PACKAGE_FILES:
        shown = subprocess.run(["git", "--git-dir", str(ASVSPOOF5_MIRROR), "show",
                                f"HEAD:evaluation-package/{name}"], capture_output=True)
        if shown.returncode != 0:
            pytest.skip(f"{ASVSPOOF5_MIRROR}: no evaluation-package/{name} ({shown.stderr.decode().strip()})")
        (folder / name).write_bytes(shown.stdout)
        spec = importlib.util.spec_from_file_location(f"_official_asvspoof5_{name[:-3]}", folder / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[name[:-3]] = module
    return modules
