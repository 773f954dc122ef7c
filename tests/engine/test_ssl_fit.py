"""Detectors beyond plain gradient training: SSL front-end options and lfcc_gmm's closed-form fit."""
from __future__ import annotations

import pytest
import torch

from spoofbench.engine import TrainConfig, train
from spoofbench.engine.config import SSLConfig
from spoofbench.engine.ssl import apply_ssl_options, find_frontend, transformer_layers
from spoofbench.errors import ConfigError
from spoofbench.models import build_detector

pytestmark = pytest.mark.timeout(120)


def test_ssl_layer_freezing_and_gradient_checkpointing_give_the_same_gradients():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        plain = build_detector("wavlm_large_aasist", "tiny").train()
        torch.manual_seed(0)
        tuned = build_detector("wavlm_large_aasist", "tiny").train()
        notes = apply_ssl_options(tuned, SSLConfig(freeze_layers=1, gradient_checkpointing=True))
        assert "froze 1 of 2" in notes[0] and "checkpointed 2" in notes[1]
        waves = torch.randn(2, 16000) * 0.1
        grads = []
        for model in (plain, tuned):
            torch.manual_seed(1)  # same dropout masks (checkpointing replays the RNG state)
            model(waves).sum().backward()
            grads.append(transformer_layers(find_frontend(model)))
    frozen, trained = grads[1][0], grads[1][1]
    assert all(p.grad is None and not p.requires_grad for p in frozen.parameters())
    for a, b in zip(grads[0][1].parameters(), trained.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)


def test_ssl_options_on_a_detector_without_ssl_front_end_are_an_error():
    with pytest.raises(ConfigError, match="no SSL front-end"):
        apply_ssl_options(build_detector("rawcnn_2m", "tiny"), SSLConfig(freeze_frontend=True))


def test_lfcc_gmm_is_fitted_not_trained(corpus, tmp_path):
    cfg = TrainConfig(detector="lfcc_gmm", preset="tiny", num_workers=0, cpu_threads=1)
    result = train(cfg, corpus["train"], corpus["dev"], root=corpus["root"], out_dir=tmp_path, progress=False)
    assert result.epochs_run == 1 and 0.0 <= result.best_dev_eer <= 1.0
    fitted = build_detector("lfcc_gmm", checkpoint=result.best_checkpoint)
    assert fitted.training_mode == "fit"
    with torch.inference_mode():
        assert torch.isfinite(fitted.score(torch.randn(2, 8000) * 0.1)).all()
