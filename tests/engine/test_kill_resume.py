"""A `spoofbench train` process killed with SIGKILL mid-run resumes to the uninterrupted result."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from spoofbench.cli import main
from spoofbench.engine import TrainConfig, train

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]  # trains, is killed, resumes: 15-30 s
CONFIG = "detector: rawcnn_2m\npreset: tiny\nepochs: 4\nbatch_size: 4\nnum_workers: 0\ncpu_threads: 1\n" \
         "seed: 11\npatience: 0\naugment: {gain_probability: 0.5}\n"


def test_sigkilled_training_resumes_to_the_same_weights(corpus, tmp_path):
    (tmp_path / "train.yaml").write_text(CONFIG)
    run = tmp_path / "killed"
    args = ["train", "--config", str(tmp_path / "train.yaml"), "--train-manifest",
            str(corpus["manifests"] / "train.jsonl.gz"), "--dev-manifest", str(corpus["manifests"] / "dev.jsonl.gz"),
            "--root", str(corpus["root"]), "--out", str(run), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "spoofbench", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = run / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 90
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    killed_at = torch.load(last, map_location="cpu", weights_only=True)["epoch"]
    assert killed_at < 3  # it died before finishing

    assert main([*args, "--resume"]) == 0
    full = train(TrainConfig.from_yaml(tmp_path / "train.yaml"), corpus["train"], corpus["dev"],
                 root=corpus["root"], out_dir=tmp_path / "full", progress=False)
    a = torch.load(last, map_location="cpu", weights_only=True)
    b = torch.load(full.last_checkpoint, map_location="cpu", weights_only=True)
    assert a["epoch"] == b["epoch"] == 3
    assert [h["dev_eer"] for h in a["history"]] == [h["dev_eer"] for h in b["history"]]
    for key in b["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
