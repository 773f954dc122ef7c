"""The zoo as data (``describe_zoo``) and scoring of in-memory waveforms (``score_waveforms``).

Parameter counts are measured from built modules: each preset is built on PyTorch's ``meta`` device
(shapes only, no memory, no weights; SSL presets with a random-init upstream of the preset's
architecture), so counting a 300 M-parameter pipeline takes well under a second. ``models list`` reads
the built-in detectors' rows from ``zoo_counts.json`` when they are current (see ``zoo_cache``).
Fitted detectors (``lfcc_gmm``) count the statistics they fit (``Detector.fitted_parameters``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from spoofbench.errors import DetectorError

from . import DETECTORS, resolve_detector
from .base import Detector, DetectorFamily, count_parameters

log = logging.getLogger("spoofbench.models")


@contextlib.contextmanager
def meta_device() -> Iterator[None]:
    """``with torch.device("meta")`` that works after a transformers model was loaded in this process.

    PyTorch caches, on first use of any device context, the set of factory functions it redirects to
    that device (``torch.utils._device._device_constructors``, an ``lru_cache``). transformers 5
    ``from_pretrained`` enters a meta-device context while ``torch.linspace`` is temporarily swapped
    for a CPU-defaulting wrapper, so when that is the process's first device context the cache keeps
    the wrapper and ``torch.linspace`` stays on the CPU in every later meta context (torchaudio's LFCC
    filterbank then mixes CPU and meta tensors). Rebuilding the cache here, outside any patch, makes
    meta builds independent of what ran before."""
    try:
        from torch.utils._device import _device_constructors as constructors
    except ImportError:  # a PyTorch without the cache: nothing to rebuild
        constructors = None
    if hasattr(constructors, "cache_clear"):
        constructors.cache_clear()
    with torch.device("meta"):
        yield


def describe_preset(name: str, preset: str | None) -> dict[str, Any]:
    """One row: name, preset, parameters, frontend, sample_rate, input_policy, training_mode, source.

    A preset that cannot be built without weights (``hf_audio_classification``'s default needs a
    model directory) gets ``parameters: None`` and a ``note`` saying why."""
    from . import build_detector, resolve_detector

    builder = resolve_detector(name)
    overrides: dict[str, Any] = {}
    if isinstance(builder, DetectorFamily) and "random_init" in {f.name for f in dataclasses.fields(builder.config_cls)}:
        overrides["random_init"] = True
    source = DETECTORS.source(name) if name in DETECTORS else "module"
    try:
        with meta_device():
            detector = build_detector(name, preset=preset, **overrides)
    except DetectorError as err:
        return {"name": name, "preset": preset, "parameters": None, "frontend": "?", "sample_rate": None,
                "input_policy": None, "min_samples": None, "training_mode": "?", "source": source,
                "note": f"counted once built from its weights ({err})"}
    return {"name": name, "preset": preset, "parameters": count_parameters(detector),
            "frontend": detector.frontend,
            "sample_rate": detector.sample_rate, "input_policy": detector.input_policy.to_dict(),
            "min_samples": detector.min_samples, "training_mode": detector.training_mode,
            "source": source}


def describe_zoo(names: Iterable[str] | None = None, include_tiny: bool = True) -> list[dict[str, Any]]:
    """Rows of ``describe_preset`` for every registered detector and preset.

    A third-party detector that fails to load or build is skipped with one warning (logger
    ``spoofbench.models``), so one bad plugin does not break the listing; a built-in one raises."""
    rows = []
    for name in names or DETECTORS.names():
        plugin = name in DETECTORS and DETECTORS.source(name) != "spoofbench"
        try:
            builder = resolve_detector(name)
            rows += [describe_preset(name, preset) for preset in getattr(builder, "presets", {None: None})
                     if include_tiny or preset != "tiny"]
        except Exception as err:  # a plugin may raise anything; report it and list the rest
            if not plugin:
                raise
            log.warning("skipping detector %r (%s): %s: %s", name, DETECTORS.source(name),
                        type(err).__name__, err)
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
