"""Meta-device builds (``models list`` counts) do not depend on what this process built before:
CPU then meta, meta then CPU, and meta after a transformers ``from_pretrained`` (which, as a
process's first device context, left ``torch.linspace`` on the CPU inside every later meta context)."""
from __future__ import annotations

import pytest
import torch

from spoofbench.models import build_detector, count_parameters
from spoofbench.models.catalog import describe_preset, meta_device


@pytest.fixture
def fresh_device_cache():
    """PyTorch's per-process cache of device-redirected factories, emptied as in a new process."""
    from torch.utils._device import _device_constructors

    _device_constructors.cache_clear()
    yield
    _device_constructors.cache_clear()  # never hand a poisoned cache to the next test


def _tensors_on(detector: torch.nn.Module, device: str) -> bool:
    return all(t.device.type == device for t in [*detector.parameters(), *detector.buffers()])


@pytest.mark.parametrize("order", [("cpu", "meta", "cpu"), ("meta", "cpu", "meta")])
def test_lfcc_builds_on_cpu_and_meta_in_either_order(order, fresh_device_cache):
    counts = set()
    for device in order:
        if device == "meta":
            with meta_device():
                detector = build_detector("lfcc_lcnn", preset="tiny")
        else:
            detector = build_detector("lfcc_lcnn", preset="tiny").eval()
            with torch.inference_mode():
                assert torch.isfinite(detector.score(0.1 * torch.randn(1, 8000))).all()
        assert _tensors_on(detector, device), device
        counts.add(count_parameters(detector))
    assert len(counts) == 1


def test_meta_build_after_a_transformers_load(tmp_path, fresh_device_cache, monkeypatch):
    pytest.importorskip("s3prl")
    pytest.importorskip("transformers")
    from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

    from spoofbench.models.ssl import TINY_WAVLM
    from spoofbench.models.ssl_checkpoints import s3prl_wavlm_to_hf

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.save({"cfg": dict(TINY_WAVLM), "model": WavLM(WavLMConfig(TINY_WAVLM)).state_dict()},
               tmp_path / "wavlm.pt")
    s3prl_wavlm_to_hf(tmp_path / "wavlm.pt", tmp_path / "wavlm_hf")
    build_detector("wavlm_base", preset="tiny", checkpoint=tmp_path / "wavlm_hf", backend="mlp")
    for name in ("lfcc_lcnn", "lfcc_gmm"):
        row = describe_preset(name, "tiny")
        assert row["parameters"] == count_parameters(build_detector(name, preset="tiny")), name
