"""Checks every detector of the zoo must pass, on its tiny preset (CPU; GPU when one is present)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spoofbench.errors import CheckpointError, DetectorError
from spoofbench.models import DETECTORS, build_detector, count_parameters
from spoofbench.models.base import save_checkpoint
from spoofbench.models.catalog import meta_device

# one detector per distinct code path (hubert_large / xlsr_300m / wavlm_base_plus / wavlm_large share
# their tiny architecture and code with the ones below; test_registry_lists_the_zoo covers the names)
ALL = ["rawcnn_2m", "aasist", "aasist_l", "rawnet2", "lfcc_lcnn", "lfcc_gmm", "wavlm_base",
       "wavlm_large_aasist", "hubert_base", "xlsr_300m_aasist"]
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs a CUDA device")])]


def _build(name: str, seed: int = 0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        detector = build_detector(name, preset="tiny")
        if detector.training_mode == "fit":
            g = np.random.default_rng(seed)
            waves = [(g.standard_normal(6000) * (1.0 if i % 2 == 0 else 0.05)).astype(np.float32) for i in range(6)]
            detector.fit(waves, np.array([1, 0] * 3))
    return detector


def _batch(detector, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    n = max(detector.input_policy.num_samples or 4000, detector.min_samples + 500)
    waves = 0.1 * torch.randn(3, n, generator=g)
    lengths = torch.tensor([n, max(detector.min_samples, 3 * n // 4), detector.min_samples])
    for i, length in enumerate(lengths.tolist()):
        waves[i, length:] = 0
    return waves, lengths


def test_registry_lists_the_zoo():
    for name in ("rawcnn_2m", "aasist", "aasist_l", "rawnet2", "lfcc_lcnn", "lfcc_gmm", "wavlm_base",
                 "wavlm_base_plus", "wavlm_large", "wavlm_large_aasist", "hubert_base", "xlsr_300m"):
        assert name in DETECTORS.names()
        assert "tiny" in DETECTORS.get(name).presets


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ALL)
def test_forward_mixed_lengths_finite_and_batch_invariant(name, device):
    detector = _build(name).to(device).eval()
    waves, lengths = _batch(detector)
    waves, lengths = waves.to(device), lengths.to(device)
    with torch.inference_mode():
        logits = detector(waves, lengths)
        scores = detector.score(waves, lengths)
        single = torch.cat([detector.score(waves[i:i + 1], lengths[i:i + 1]) for i in range(3)])
    assert logits.shape == (3, 2) and scores.shape == (3,)
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(scores, logits[:, 1])
    torch.testing.assert_close(single, scores, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ALL)
def test_gradient_flows(name):
    detector = _build(name)
    if detector.training_mode == "fit":
        pytest.skip("lfcc_gmm is fitted, not trained by gradient")
    detector.train()
    waves, lengths = _batch(detector)
    loss = torch.nn.functional.cross_entropy(detector(waves, lengths), torch.tensor([1, 0, 1]))
    loss.backward()
    trainable = {n: p for n, p in detector.named_parameters() if p.requires_grad}
    # AASIST's released encoder computes bn1 but feeds conv1 the block input, so bn1 gets no gradient
    no_grad = [n for n, p in trainable.items() if p.grad is None and ".bn1." not in n]
    assert trainable and not no_grad
    assert all(torch.isfinite(p.grad).all() for p in trainable.values() if p.grad is not None)
    assert any(p.grad.abs().sum() > 0 for p in trainable.values() if p.grad is not None)


@pytest.mark.parametrize("name", ALL)
def test_deterministic_with_a_fixed_seed(name):
    a, b = _build(name, seed=3).eval(), _build(name, seed=3).eval()
    waves, lengths = _batch(a)
    with torch.inference_mode():
        torch.testing.assert_close(a.score(waves, lengths), b.score(waves, lengths), atol=0, rtol=0)
    other = _build(name, seed=4).eval()
    if count_parameters(other) and name != "lfcc_gmm":
        with torch.inference_mode():
            assert not torch.equal(a.score(waves, lengths), other.score(waves, lengths))


@pytest.mark.parametrize("name", ALL)
def test_clip_shorter_than_receptive_field_is_a_clear_error(name):
    detector = _build(name).eval()
    waves, lengths = _batch(detector)
    lengths[2] = detector.min_samples - 1
    with pytest.raises(DetectorError, match="receptive field"):
        detector.score(waves, lengths)


@pytest.mark.parametrize("name", ALL)
def test_wrong_sample_rate_is_a_clear_error(name):
    detector = _build(name)
    detector.check_sample_rate(16000)
    with pytest.raises(DetectorError, match="8000 Hz.*expects 16000 Hz"):
        detector.check_sample_rate(8000, "clip.wav")


@pytest.mark.parametrize("name", ALL)
def test_checkpoint_round_trip(name, tmp_path):
    detector = _build(name).eval()
    save_checkpoint(detector, tmp_path / "ckpt.pt")
    loaded = build_detector(name, checkpoint=tmp_path / "ckpt.pt").eval()
    assert loaded.preset == "tiny"
    waves, lengths = _batch(detector)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.score(waves, lengths), detector.score(waves, lengths))


def test_checkpoint_of_another_detector_is_refused(tmp_path):
    save_checkpoint(_build("rawcnn_2m"), tmp_path / "rawcnn.pt")
    with pytest.raises(CheckpointError, match="detector 'rawcnn_2m', not 'aasist'"):
        build_detector("aasist", preset="tiny", checkpoint=tmp_path / "rawcnn.pt")


def test_state_dict_of_another_architecture_is_refused(tmp_path):
    torch.save(_build("rawnet2").state_dict(), tmp_path / "rawnet2_state.pt")
    with pytest.raises(CheckpointError, match="does not match the aasist architecture.*missing keys"):
        build_detector("aasist", preset="tiny", checkpoint=tmp_path / "rawnet2_state.pt")
    torch.save(build_detector("aasist", preset="tiny").state_dict(), tmp_path / "aasist_state.pt")
    with pytest.raises(CheckpointError, match="shape mismatches"):
        build_detector("aasist_l", preset="tiny", checkpoint=tmp_path / "aasist_state.pt")


def test_missing_checkpoint_file_and_unknown_preset():
    with pytest.raises(CheckpointError, match="not found"):
        build_detector("rawcnn_2m", checkpoint="/nonexistent/model.pt")
    with pytest.raises(DetectorError, match="unknown preset 'huge'"):
        build_detector("rawcnn_2m", preset="huge")
    with pytest.raises(DetectorError, match="unknown option"):
        build_detector("rawcnn_2m", preset="tiny", widht=3)


def test_parameter_counts_of_the_default_presets():
    with meta_device():
        rawcnn = count_parameters(build_detector("rawcnn_2m"))
        rawnet2 = count_parameters(build_detector("rawnet2"))
    assert 1_500_000 <= rawcnn <= 2_500_000
    assert rawcnn == 1_989_506  # the figure in the rawcnn module docstring
    assert rawnet2 == 17_621_410
    assert count_parameters(build_detector("aasist")) == 297_866
    assert count_parameters(build_detector("aasist_l")) == 85_306


def test_gmm_scores_are_llrs_and_unfitted_gmm_refuses():
    with pytest.raises(DetectorError, match="not fitted"):
        build_detector("lfcc_gmm", preset="tiny").score(torch.zeros(1, 8000))
    detector = _build("lfcc_gmm").eval()
    g = np.random.default_rng(9)
    loud, quiet = g.standard_normal((1, 6000)), 0.05 * g.standard_normal((1, 6000))
    x = torch.tensor(np.concatenate([loud, quiet]), dtype=torch.float32)
    scores = detector.score(x)
    assert scores[0] > 0 > scores[1]  # trained: loud = bona fide (label 1), quiet = spoof


def test_input_policy():
    from spoofbench.models import InputPolicy

    fixed = InputPolicy("fixed", 10, "repeat", "none")
    assert fixed.apply(np.arange(4, dtype=np.float32)).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert fixed.apply(np.arange(20, dtype=np.float32)).tolist() == list(range(10))
    assert InputPolicy("fixed", 6, "zero").apply(np.ones(4)).tolist() == [1, 1, 1, 1, 0, 0]
    crop = fixed.apply(np.arange(20, dtype=np.float32), train=True, generator=torch.Generator().manual_seed(0))
    assert crop.numel() == 10 and torch.equal(crop, torch.arange(int(crop[0]), int(crop[0]) + 10).float())
    assert abs(float(InputPolicy(normalize="peak").apply(np.array([0.1, -0.5])).abs().max()) - 1) < 1e-6
    assert fixed.to_dict() == {"mode": "fixed", "num_samples": 10, "pad": "repeat", "normalize": "none"}
    with pytest.raises(DetectorError, match="num_samples"):
        InputPolicy("fixed")
    with pytest.raises(DetectorError, match="mode='window'"):
        InputPolicy("window")


@pytest.mark.parametrize("name", ["rawcnn_2m", "aasist", "lfcc_lcnn"])
def test_eval_scores_ignore_padding(name):
    detector = _build(name).eval()
    waves, lengths = _batch(detector)
    with torch.inference_mode():
        padded = detector.score(waves, lengths)
        trimmed = torch.cat([detector.score(waves[i:i + 1, :n]) for i, n in enumerate(lengths.tolist())])
    torch.testing.assert_close(padded, trimmed, atol=1e-5, rtol=0)
