"""ge2e_speaker_head: resemblyzer's pretrained GE2E speaker encoder, frozen, with a small trained head."""
from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest
import torch

from spoofbench.errors import CheckpointError, DetectorError
from spoofbench.models import build_detector, count_parameters, save_checkpoint
from spoofbench.models import pretrained_encoder as pe

RATE = 16000


def _waves(n: int, seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Half voiced-like harmonic tones, half noise: (n, T) at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    out = []
    for k in range(n):
        f0 = rng.uniform(90, 220)
        if k % 2 == 0:
            x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 8))
        else:
            x = rng.standard_normal(len(t))
        out.append(0.1 * x / np.abs(x).max())
    return torch.tensor(np.stack(out), dtype=torch.float32)


@pytest.fixture(scope="module")
def detector():
    torch.manual_seed(0)
    return build_detector("ge2e_speaker_head")


def test_loads_the_packaged_weights_offline(detector):
    path = pe.packaged_weights()
    assert path.name == "pretrained.pt" and path.parent.name == "resemblyzer"
    state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
    own = detector.encoder.state_dict()
    assert set(own) == {k for k in state if k.startswith(("lstm.", "linear."))}
    for key, value in own.items():
        assert torch.equal(value, state[key]), key
    assert detector.weights_file == str(path)


def test_matches_resemblyzer_on_the_same_audio(detector):
    """Our mel front-end and encoder give resemblyzer's own mel frames and partial embedding."""
    audio = pytest.importorskip("resemblyzer.audio")
    from resemblyzer import VoiceEncoder

    wave = _waves(1, seconds=1.7)[0].numpy()
    ref_mel = audio.wav_to_mel_spectrogram(wave)
    ours = detector.mel(torch.from_numpy(wave)[None])[0].T.numpy()
    np.testing.assert_allclose(ours, ref_mel, rtol=1e-4, atol=1e-6)
    mels = torch.from_numpy(ref_mel[None, :160])
    with torch.no_grad():
        reference = VoiceEncoder("cpu", verbose=False)(mels).numpy()
        _, embed = detector.encoder(mels, torch.tensor([160]))
    np.testing.assert_allclose(embed.numpy(), reference, atol=1e-5)


def test_parameter_counts_frozen_and_trained(detector):
    lstm = 4 * 256 * (40 + 256) + 2 * 4 * 256 + 2 * (4 * 256 * 512 + 2 * 4 * 256)
    frozen = lstm + 256 * 256 + 256
    trained = (2 * 768) + (768 * 64 + 64) + (64 * 2 + 2)
    assert detector.parameter_split() == (frozen, trained) == (1_423_616, 50_882)
    assert count_parameters(detector, trainable_only=True) == trained
    info = detector.describe()
    assert (info["frozen_parameters"], info["trained_parameters"], info["parameters"]) == \
        (frozen, trained, frozen + trained)
    assert "not SSL" in detector.frontend and "1,423,616 frozen + 50,882 trained" in detector.frontend
    logistic = build_detector("ge2e_speaker_head", "logistic")
    assert logistic.parameter_split() == (frozen, 2 * 256 + 256 * 2 + 2)


def test_head_trains_and_the_encoder_stays_frozen():
    torch.manual_seed(0)
    det = build_detector("ge2e_speaker_head")
    encoder_before = {k: v.clone() for k, v in det.encoder.state_dict().items()}
    head_before = {k: v.clone() for k, v in det.head.state_dict().items()}
    waves = _waves(16, seconds=0.5)
    labels = torch.tensor([k % 2 for k in range(16)])  # tones "bona fide" (1), noise "spoof" (0)
    labels = 1 - labels
    params = [p for p in det.parameters() if p.requires_grad]  # what the engine's trainer optimises
    optim = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1)
    det.train()
    assert not det.encoder.training and det.head.training
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(det(waves), labels)
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    for key, value in det.encoder.state_dict().items():
        assert torch.equal(value, encoder_before[key]), f"frozen {key} changed"
    assert any(not torch.equal(v, head_before[k]) for k, v in det.head.state_dict().items())
    assert all(p.grad is None for p in det.encoder.parameters())
    det.eval()
    scores = det.score(waves).detach()
    assert scores[labels == 1].min() > scores[labels == 0].max()


def test_checkpoint_round_trip_and_batch_independence(detector, tmp_path):
    torch.manual_seed(1)
    det = build_detector("ge2e_speaker_head", num_samples=8000)
    with torch.no_grad():
        for p in det.head.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = tmp_path / "best.pt"
    save_checkpoint(det, path)
    again = build_detector("ge2e_speaker_head", checkpoint=path)
    waves = _waves(5, seconds=0.5, seed=3)
    lengths = torch.tensor([8000, 6000, 8000, 4000, 7000])
    det.eval(), again.eval()
    with torch.no_grad():
        together = det.score(waves, lengths)
        alone = torch.stack([again.score(waves[i:i + 1, :n])[0] for i, n in enumerate(lengths.tolist())])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


def test_padding_does_not_reach_the_encoder(detector):
    """In a padded training batch a clip's features are those of the clip alone."""
    waves = _waves(2, seconds=0.5, seed=5)
    padded = torch.cat([waves, torch.randn(2, 3000)], dim=1)
    lengths = torch.tensor([8000, 8000])
    with torch.no_grad():
        a = detector.features(padded, lengths)
        b = detector.features(waves, lengths)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_missing_package_and_foreign_file_are_clear_errors(monkeypatch, tmp_path):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(pe.importlib.metadata, "distribution", missing)
    with pytest.raises(CheckpointError, match="pip install resemblyzer"):
        build_detector("ge2e_speaker_head")
    monkeypatch.undo()
    foreign = tmp_path / "foreign.pt"
    torch.save({"model_state": {"conv.weight": torch.zeros(2)}}, foreign)
    with pytest.raises(CheckpointError, match="not the GE2E speaker encoder"):
        build_detector("ge2e_speaker_head", weights_path=str(foreign))
    with pytest.raises(DetectorError, match="features="):
        build_detector("ge2e_speaker_head", "tiny", features="bogus")


def test_tiny_preset_and_meta_counting():
    from spoofbench.models.catalog import describe_preset

    tiny = build_detector("ge2e_speaker_head", "tiny")
    assert tiny.score(_waves(2, seconds=0.25)).shape == (2,)
    row = describe_preset("ge2e_speaker_head", "default")
    assert row["parameters"] == 1_474_498 and "not SSL" in row["frontend"]
