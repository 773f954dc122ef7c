"""perf/gpu_check.sh runs end to end on the CPU (GPU thresholds skipped); its verdict fails low
GPU utilisation and large CPU↔GPU score differences."""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PERF = Path(__file__).resolve().parents[2] / "perf"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", PERF / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(util, diff):
    return {"detector": "rawcnn_2m", "gpu_util_mean": util, "gpu_util_samples": 10, "gpu_util_source": "nvml",
            "max_score_diff": diff, "score_scale": 2.0}


def test_verdict_thresholds():
    verdict = _module().verdict
    args = argparse.Namespace(tolerance=0.05, min_util=80.0)
    assert verdict([_row(92.0, 0.05)], args, on_gpu=True) == []
    assert "utilisation" in verdict([_row(55.0, 0.0)], args, on_gpu=True)[0]
    assert "score difference" in verdict([_row(95.0, 0.2)], args, on_gpu=True)[0]  # 0.2 > 0.05 × 2
    assert verdict([_row(None, 0.2)], args, on_gpu=False) == []  # CPU: thresholds skipped


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_gpu_check_runs_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run(
        [str(PERF / "gpu_check.sh"), "--mode", "cpu", "--steps", "1", "--batch", "2", "--score-clips", "4",
         "--score-batch", "4", "--workers", "0", "--preset", "tiny", "--json", str(out)],
        capture_output=True, text=True, timeout=280, env={**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "thresholds skipped" in proc.stdout
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and [r["detector"] for r in report["detectors"]] == ["rawcnn_2m", "aasist_l"]
    for row in report["detectors"]:
        assert row["scored"] == 4 and row["train_samples_per_s"] > 0 and row["score_clips_per_s"] > 0
        assert row["max_score_diff"] < 0.5  # bf16 autocast vs fp32 on the same clips
