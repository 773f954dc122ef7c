"""The official AASIST / AASIST-L weights load strictly and reproduce the official outputs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spoofbench.errors import CheckpointError
from spoofbench.models import build_detector, count_parameters
from spoofbench.models.catalog import score_waveforms

from testenv import SHARED
REF = SHARED / "reference" / "aasist"
CLIPS = SHARED / "reference" / "asvspoof2019_la_clips"
WEIGHTS = {"AASIST.pth": "aasist", "AASIST-L.pth": "aasist_l", "ASVspoof5-AASIST.pth": "aasist"}

pytestmark = pytest.mark.skipif(not (REF / "expected.json").is_file(), reason="../shared/reference absent")


@pytest.fixture(scope="module")
def expected():
    return json.loads((REF / "expected.json").read_text())


@pytest.mark.parametrize("weights", list(WEIGHTS))
def test_official_weights_reproduce_seeded_logits(weights, expected):
    detector = build_detector(WEIGHTS[weights], checkpoint=REF / weights).eval()
    assert count_parameters(detector) == expected["params"][weights]
    # strict: every key of the release is used and nothing is left over
    assert set(detector.state_dict()) == set(torch.load(REF / weights, map_location="cpu", weights_only=True))
    x = torch.from_numpy(np.load(REF / "seeded_input_2x64600.npy")).float()
    with torch.inference_mode():
        logits = detector(x, torch.full((2,), x.shape[1]))
    want = torch.tensor(expected["seeded_input_2x64600.npy"][weights])
    # the reference figures are printed to 5 decimals: allow that rounding on top of 1e-4
    torch.testing.assert_close(logits, want, atol=1e-4 + 5e-6, rtol=0)


@pytest.mark.parametrize("weights", ["AASIST-L.pth"])  # AASIST.pth: through the CLI in test_models_cli.py
def test_official_weights_reproduce_bonafide_scores_on_real_clips(weights, expected):
    sf = pytest.importorskip("soundfile")
    detector = build_detector(WEIGHTS[weights], checkpoint=REF / weights)
    want = expected["asvspoof2019_la_clips"][weights]
    waves, rates = zip(*(sf.read(CLIPS / f"{utt}.flac", dtype="float32") for utt in want))
    assert all(len(w) < 64600 for w in waves)  # so the official tiling is exercised
    scores = score_waveforms(detector, waves, rates, batch_size=3)
    np.testing.assert_allclose(scores, list(want.values()), atol=1e-4, rtol=0)
    labels = expected["asvspoof2019_la_clips"]["labels"]
    assert [labels[u] == "bonafide" for u in want] == [s > 0 for s in scores]


def test_official_weights_into_the_wrong_preset_are_refused():
    with pytest.raises(CheckpointError, match="AASIST-L.pth: does not match the aasist architecture"):
        build_detector("aasist", checkpoint=REF / "AASIST-L.pth")
