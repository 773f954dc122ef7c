"""``spoofbench models list`` and ``spoofbench models score`` through the real CLI entry point."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spoofbench.cli import main

from testenv import SHARED


def test_models_list_json_has_measured_counts(capsys):
    assert main(["models", "list", "--no-cache", "--json", "aasist", "aasist_l", "rawcnn_2m", "wavlm_large_aasist"]) == 0
    rows = {(r["name"], r["preset"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("aasist", "default")]["parameters"] == 297_866
    assert rows[("aasist_l", "default")]["parameters"] == 85_306
    assert 1_500_000 <= rows[("rawcnn_2m", "default")]["parameters"] <= 2_500_000
    assert rows[("wavlm_large_aasist", "default")]["parameters"] > 300_000_000
    assert rows[("aasist", "default")]["input_policy"] == {"mode": "fixed", "num_samples": 64600,
                                                           "pad": "repeat", "normalize": "none"}
    assert rows[("aasist", "default")]["sample_rate"] == 16000


def test_models_list_table(capsys):
    assert main(["models", "list", "--no-cache", "--no-tiny", "rawcnn_2m"]) == 0
    out = capsys.readouterr().out
    assert "1,989,506" in out and "fixed 64600 repeat" in out and "tiny" not in out


def test_models_score_resamples_and_prints_path_score(tmp_path, capsys):
    import soundfile as sf

    from spoofbench.models import build_detector
    from spoofbench.models.base import save_checkpoint

    ckpt = tmp_path / "rawcnn_tiny.pt"
    save_checkpoint(build_detector("rawcnn_2m", preset="tiny"), ckpt)
    g = np.random.default_rng(0)
    sf.write(tmp_path / "a.wav", 0.1 * g.standard_normal(16000), 16000)
    sf.write(tmp_path / "b é.flac", 0.1 * g.standard_normal(8000), 8000)
    assert main(["models", "score", "rawcnn_2m", "--checkpoint", str(ckpt),
                 str(tmp_path / "a.wav"), str(tmp_path / "b é.flac")]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert [line.rsplit(" ", 1)[0] for line in lines] == [str(tmp_path / "a.wav"), str(tmp_path / "b é.flac")]
    assert all(np.isfinite(float(line.rsplit(" ", 1)[1])) for line in lines)
    assert "8000 Hz -> 16000 Hz" in captured.err


def test_models_score_bad_inputs_exit_2(tmp_path, capsys):
    (tmp_path / "empty.wav").write_bytes(b"")
    assert main(["models", "score", "rawcnn_2m", "--preset", "tiny", "--random-weights", str(tmp_path / "empty.wav")]) == 2
    assert "empty.wav" in capsys.readouterr().err
    assert main(["models", "score", "no_such_model", str(tmp_path / "empty.wav")]) == 2
    assert "unknown detector 'no_such_model'" in capsys.readouterr().err


@pytest.mark.skipif(not (SHARED / "reference" / "aasist" / "AASIST.pth").is_file(), reason="../shared absent")
def test_models_score_matches_the_official_aasist_outputs(capsys):
    ref = json.loads((SHARED / "reference" / "aasist" / "expected.json").read_text())
    clips = sorted((SHARED / "reference" / "asvspoof2019_la_clips").glob("*.flac"))
    assert main(["models", "score", "aasist", "--checkpoint",
                 str(SHARED / "reference" / "aasist" / "AASIST.pth"), *map(str, clips)]) == 0
    for line in capsys.readouterr().out.strip().splitlines():
        path, score = line.rsplit(" ", 1)
        assert abs(float(score) - ref["asvspoof2019_la_clips"]["AASIST.pth"][Path(path).stem]) < 1e-4


def test_importing_the_models_package_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, spoofbench.models as m; assert 'rawcnn_2m' in m.DETECTORS.names(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_models_score_refuses_random_weights_unless_asked(tmp_path, capsys):
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "a.wav", (0.1 * np.sin(np.arange(16000) / 10)).astype(np.float32), 16000)
    assert main(["models", "score", "rawcnn_2m", "--preset", "tiny", str(tmp_path / "a.wav")]) == 2
    err = capsys.readouterr().err
    assert "random initialisation" in err and "--checkpoint" in err and "Traceback" not in err
    assert main(["models", "score", "rawcnn_2m", "--preset", "tiny", "--random-weights", str(tmp_path / "a.wav")]) == 0
    assert "RANDOM weights" in capsys.readouterr().err
