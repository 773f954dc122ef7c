"""`spoofbench score` prints the metrics of each score file when the manifest carries labels."""
from __future__ import annotations

import pytest

from spoofbench.cli import main

pytestmark = pytest.mark.timeout(120)


def test_score_prints_metrics_for_a_labelled_manifest(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--detector", "rawcnn_2m", "--preset", "tiny", "--protocol", str(corpus["protocol"]),
                 "--manifests-dir", str(corpus["manifests"]), "--root", str(corpus["root"]), "--out", str(run),
                 "--epochs", "1", "--workers", "0", "--threads", "1", "--device", "cpu", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["score", "--run", str(run), "--manifest", str(corpus["manifests"] / "eval.jsonl.gz"),
                 "--root", str(corpus["root"]), "--workers", "0", "--threads", "1", "--no-progress",
                 "--allow-incomplete"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("eval__none.txt: EER "))
    assert "minDCF" in line and "Cllr" in line and "3 unscored trial(s) left out" in line
