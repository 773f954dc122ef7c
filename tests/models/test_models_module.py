"""Detectors from a ``pkg.module:factory`` spec (``--model-module``): built, scored, trained through ``run``."""
from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
import torch

from spoofbench.cli import main
from spoofbench.errors import SpoofbenchError
from spoofbench.models import build_detector

from models_bench_util import make_corpus, run_tiny_benchmark

MODULE = '''
import torch
from torch import nn
from spoofbench.models import Detector, InputPolicy


class Tiny(Detector):
    frontend = "strided conv, mean and std over frames"

    def __init__(self, width: int = 4):
        super().__init__()
        self.input_policy = InputPolicy("fixed", 8000, "repeat", "none")
        self.conv = nn.Conv1d(1, width, 64, stride=32)
        self.head = nn.Linear(2 * width, 2)
        self.min_samples = 64

    def logits(self, waves, lengths):
        x = torch.relu(self.conv(waves[:, None]))
        return self.head(torch.cat([x.mean(-1), x.std(-1)], dim=1))


def build(width: int = 4):
    return Tiny(width)


def not_a_detector():
    return 42
'''


@pytest.fixture
def module_dir(tmp_path, monkeypatch, request):
    """A ``<name>.py`` in a temporary current directory (not on sys.path: found through the cwd)."""
    name = f"user_det_{request.node.name.replace('[', '_').replace(']', '_')}"[:60]
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.chdir(tmp_path)
    yield tmp_path, name
    sys.modules.pop(name, None)
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def test_built_from_a_file_in_the_current_directory_and_reloaded(module_dir, tmp_path):
    from spoofbench.models.base import save_checkpoint

    _, name = module_dir
    detector = build_detector(f"{name}:build", width=3).eval()
    assert detector.name == f"{name}:build" and detector.conv.out_channels == 3
    save_checkpoint(detector, tmp_path / "det.pt")
    again = build_detector(f"{name}:build", width=3, checkpoint=tmp_path / "det.pt").eval()
    waves = 0.1 * torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.score(waves), detector.score(waves))


def test_bad_specs_name_what_is_wrong(module_dir):
    _, name = module_dir
    with pytest.raises(SpoofbenchError, match="no_such_module_q"):
        build_detector("no_such_module_q:build")
    with pytest.raises(SpoofbenchError, match="nope"):
        build_detector(f"{name}:nope")
    with pytest.raises(SpoofbenchError, match="built a int, not a spoofbench.models.Detector"):
        build_detector(f"{name}:not_a_detector")
    with pytest.raises(SpoofbenchError, match="calling it with"):
        build_detector(f"{name}:build", colour="red")


def test_models_score_model_module(module_dir, capsys):
    import soundfile as sf

    root, name = module_dir
    sf.write(root / "a.wav", 0.1 * np.random.default_rng(0).standard_normal(8000), 16000)
    assert main(["models", "score", "--model-module", f"{name}:build", "a.wav"]) == 0
    path, score = capsys.readouterr().out.strip().rsplit(" ", 1)
    assert path == "a.wav" and np.isfinite(float(score))
    assert main(["models", "score", "--model-module", "missing_mod_zz:build", "a.wav"]) == 2
    assert "missing_mod_zz" in capsys.readouterr().err


@pytest.mark.slow
def test_trains_and_scores_through_run(module_dir):
    root, name = module_dir
    corpus = make_corpus(root / "corpus")
    result = run_tiny_benchmark(corpus, root / "run", [{"name": f"{name}:build", "label": "mine",
                                                        "overrides": {"width": 4}}])
    assert [c["detector"] for c in result["cells"]] == ["mine"]
    assert 0.0 <= result["cells"][0]["metrics"]["eer"] <= 1.0
    assert result["detectors"]["mine"]["parameters"] == 4 * 64 + 4 + 8 * 2 + 2
    run_dir = next(p for p in (root / "run" / "train").iterdir() if p.is_dir())  # not the .lock beside it
    assert main(["score", "--run", str(run_dir), "--manifest",
                 str(corpus / "b_eval.jsonl.gz"), "--root", str(corpus), "--out", str(root / "scores"),
                 "--no-progress"]) == 0


@pytest.mark.slow
def test_train_and_score_commands_take_model_module(module_dir):
    root, name = module_dir
    corpus = make_corpus(root / "corpus")
    spec = f"{name}:build"
    assert main(["train", "--model-module", spec, "--train-manifest", str(corpus / "a_train.jsonl.gz"),
                 "--dev-manifest", str(corpus / "a_dev.jsonl.gz"), "--root", str(corpus), "--out",
                 str(root / "trained"), "--epochs", "1", "--batch-size", "4", "--workers", "0",
                 "--device", "cpu", "--no-progress", "-q"]) == 0
    best = next((root / "trained" / "checkpoints").glob("best*"))
    assert main(["score", "--model-module", spec, "--checkpoint", str(best), "--manifest",
                 str(corpus / "b_eval.jsonl.gz"), "--root", str(corpus), "--out", str(root / "scores"),
                 "--workers", "0", "--device", "cpu", "--no-progress", "-q"]) == 0
    lines = next((root / "scores").glob("*.txt")).read_text().split("\n")
    assert len([line for line in lines if line.strip()]) == 6
