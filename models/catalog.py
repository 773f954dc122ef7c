"""The zoo as data (``describe_zoo``) and scoring of in-memory waveforms (``score_waveforms``).

Parameter counts are measured from built modules: each preset is built on PyTorch's ``meta`` device
(shapes only, no memory, no weights; SSL presets with a random-init upstream of the preset's
architecture), so listing a 300 M-parameter pipeline takes well under a second.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Sequence

import numpy as np
import torch
import torchaudio

from spoofbench.errors import DetectorError

from . import DETECTORS
from .base import Detector, DetectorFamily, count_parameters


def describe_preset(name: str, preset: str | None) -> dict[str, Any]:
    """One row: name, preset, parameters, frontend, sample_rate, input_policy, training_mode, source."""
    from . import build_detector

    builder = DETECTORS.get(name)
    overrides: dict[str, Any] = {}
    if isinstance(builder, DetectorFamily) and "random_init" in {f.name for f in dataclasses.fields(builder.config_cls)}:
        overrides["random_init"] = True
    with torch.device("meta"):
        detector = build_detector(name, preset=preset, **overrides)
    return {"name": name, "preset": preset, "parameters": count_parameters(detector),
            "frontend": detector.frontend,
            "sample_rate": detector.sample_rate, "input_policy": detector.input_policy.to_dict(),
            "min_samples": detector.min_samples, "training_mode": detector.training_mode,
            "source": DETECTORS.source(name)}


def describe_zoo(names: Iterable[str] | None = None, include_tiny: bool = True) -> list[dict[str, Any]]:
    """Rows of ``describe_preset`` for every registered detector and preset."""
    rows = []
    for name in names or DETECTORS.names():
        builder = DETECTORS.get(name)
        for preset in getattr(builder, "presets", {None: None}):
            if preset == "tiny" and not include_tiny:
                continue
            rows.append(describe_preset(name, preset))
    return rows


def prepare_waveform(detector: Detector, wave: np.ndarray, sample_rate: int) -> torch.Tensor:
    """Mono float32 (T,) or (T, C) at any rate → the detector's input under its policy (eval)."""
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32))
    if x.dim() == 2:
        x = x.mean(dim=1)
    if x.dim() != 1:
        raise DetectorError(f"expected (samples,) or (samples, channels) audio, got shape {tuple(x.shape)}")
    if sample_rate != detector.sample_rate:  # the one resampler of every command (soxr)
        from spoofbench.audio_io import resample
        x = torch.from_numpy(resample(x.numpy(), sample_rate, detector.sample_rate))
    x = detector.input_policy.apply(x, train=False)
    if x.numel() < detector.min_samples:
        raise DetectorError(f"a clip of {x.numel()} samples at {detector.sample_rate} Hz is shorter than "
                            f"{detector.name}'s receptive field ({detector.min_samples} samples)")
    return x


@torch.inference_mode()
def score_waveforms(detector: Detector, waves: Sequence[np.ndarray], sample_rates: Sequence[int],
                    batch_size: int = 16, device: str | torch.device = "cpu") -> np.ndarray:
    """Scores (N,) (higher = bona fide) of ``waves`` under the detector's input policy, in eval mode."""
    from .policy import collate

    detector = detector.eval().to(device)
    prepared = [prepare_waveform(detector, w, sr) for w, sr in zip(waves, sample_rates)]
    out = []
    for start in range(0, len(prepared), batch_size):
        batch, lengths = collate(prepared[start:start + batch_size])
        out.append(detector.score(batch.to(device), lengths.to(device)).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)
