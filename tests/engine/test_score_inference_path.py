"""AASIST's inference-only encoder path (channels-last, folded BN, in-place ops) scores as the eval forward does,
and as the official implementation does with the official weights (fp32, within 1e-4)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spoofbench.models import build_detector

from testenv import SHARED
REF = SHARED / "reference" / "aasist"


@pytest.mark.parametrize("name", ["aasist", "aasist_l"])
def test_inference_path_equals_the_eval_forward(name):
    torch.manual_seed(1)
    detector = build_detector(name, "tiny").eval()
    for module in detector.modules():  # non-trivial BN statistics, so the folding is exercised
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    waves = 0.1 * torch.randn(3, 4000)
    with torch.enable_grad():  # autograd on: the layer-by-layer eval forward
        reference = detector(waves).detach()
    with torch.inference_mode():
        fast = detector(waves)
    assert torch.allclose(fast, reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize("weights", ["AASIST.pth", "AASIST-L.pth"])
def test_inference_path_reproduces_the_official_outputs(weights):
    if not (REF / weights).is_file():
        pytest.skip("../shared reference weights absent")
    expected = json.loads((REF / "expected.json").read_text())["seeded_input_2x64600.npy"][weights]
    detector = build_detector("aasist" if weights == "AASIST.pth" else "aasist_l", None, checkpoint=REF / weights)
    waves = torch.from_numpy(np.load(REF / "seeded_input_2x64600.npy")).float()
    with torch.inference_mode():
        logits = detector.eval()(waves)
    assert np.abs(logits.numpy() - np.array(expected)).max() < 1e-4


def test_inference_path_runs_under_bf16_autocast():
    """precision bf16 (opt-in; it moves AASIST's scores by ~1e-2, over the 1e-4 tolerance, so fp32 is the CPU default)."""
    torch.manual_seed(1)
    detector = build_detector("aasist", "tiny").eval()
    waves = 0.1 * torch.randn(2, 4000)
    with torch.inference_mode():
        exact = detector(waves)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = detector(waves).float()
    assert low.shape == exact.shape and torch.isfinite(low).all()


def test_scoring_precision_auto_is_fp32_on_every_device():
    """Training may take bf16 on a GPU (auto); scoring's auto stays fp32 so a card does not move the scores."""
    from spoofbench.engine.runtime import scoring_precision

    assert scoring_precision("auto", torch.device("cuda")) == "fp32"
    assert scoring_precision("auto", torch.device("cpu")) == "fp32"
    assert scoring_precision("bf16", torch.device("cuda")) == "bf16"
