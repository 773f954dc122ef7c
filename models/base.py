"""The ``Detector`` interface, detector families with named presets, and checkpoint loading.

A detector is a ``torch.nn.Module`` plus metadata (``name``, ``sample_rate``, ``input_policy``,
``frontend``, ``training_mode``, ``min_samples``). ``forward(waves (B, T) float32, lengths (B,) int64)``
returns logits ``(B, 2)`` (column 1 = bona fide); ``score`` returns the bona fide logit ``(B,)``,
higher = more bona fide (the convention of the official AASIST scores).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from spoofbench.atomic import atomic_path
from spoofbench.errors import CheckpointError, DetectorError

from .policy import InputPolicy


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module``: its ``nn.Parameter``s plus, for a detector fitted in closed
    form, the statistics it fits (``Detector.fitted_parameters``, e.g. lfcc_gmm's mixtures, kept as
    buffers). Other buffers (BN running statistics, filter banks) are not parameters."""
    learned = sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
    fitted = module.fitted_parameters() if isinstance(module, Detector) else 0
    return learned + fitted


class Detector(nn.Module):
    """Base class: subclasses set the metadata and implement ``logits(waves, lengths)``.

    The contract (factory, ``logits``, metadata, checkpoints) is stated once, in README.md,
    "Bring your own detector: the Detector contract".
    """

    name: str = "detector"
    preset: str | None = None
    sample_rate: int = 16000
    input_policy: InputPolicy = InputPolicy()
    frontend: str = "?"
    training_mode: str = "gradient"
    min_samples: int = 1
    config: Any = None
    #: The eval forward keeps no state between calls (no hooks storing activations, no caches), so
    #: scoring may run several batches at once in threads (``ScoreConfig.streams``). Off by default:
    #: a detector opts in once its forward is known to be pure.
    concurrent_inference: bool = False

    def logits(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def activation_bytes_per_sample(self) -> float | None:
        """Peak bytes the eval forward needs under ``torch.inference_mode`` per input sample of one clip
        (activations and kernel workspace, fp32; batch and clip length scale it linearly), or None when
        not declared: scoring then measures it once with a probe batch. Scoring sizes its batches from
        this and the memory budget (``ScoreConfig.memory_budget_gb``). A declaration errs on the high side."""
        return None

    def fitted_parameters(self) -> int:
        """Values fitted in closed form and kept as buffers (0 unless ``training_mode == "fit"``)."""
        return 0

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``waves``: (B, T) float32 in [-1, 1]; ``lengths``: (B,) int64 → logits (B, 2).

        In eval mode clips of different lengths are run in groups of equal length, trimmed, so no
        padding reaches the model and a clip's score does not depend on what it is batched with.
        In training the padded batch goes through at once (batch statistics; models mask padded
        frames where they pool).
        """
        lengths = self.check_input(waves, lengths)
        if self.training or bool((lengths == waves.shape[1]).all()):
            return self.logits(waves, lengths)
        out = None
        for n in torch.unique(lengths).tolist():
            idx = (lengths == n).nonzero().flatten()
            part = self.logits(waves[idx, :n], lengths[idx])
            if out is None:
                out = part.new_empty(waves.shape[0], part.shape[1])
            out[idx] = part
        return out

    def score(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) scores, higher = bona fide: the bona fide logit."""
        return self.forward(waves, lengths)[:, 1]

    def check_input(self, waves: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if not isinstance(waves, torch.Tensor) or waves.dim() != 2 or not waves.is_floating_point():
            shape = tuple(waves.shape) if isinstance(waves, torch.Tensor) else type(waves).__name__
            raise DetectorError(f"{self.name}: waves must be a (batch, samples) float tensor, got {shape}")
        if lengths is None:
            lengths = torch.full((waves.shape[0],), waves.shape[1], dtype=torch.int64, device=waves.device)
        if lengths.dim() != 1 or lengths.shape[0] != waves.shape[0]:
            raise DetectorError(f"{self.name}: lengths must be ({waves.shape[0]},), got {tuple(lengths.shape)}")
        if waves.shape[0] == 0:
            raise DetectorError(f"{self.name}: empty batch")
        shortest, longest = int(lengths.min()), int(lengths.max())
        if longest > waves.shape[1]:
            raise DetectorError(f"{self.name}: a length of {longest} exceeds the {waves.shape[1]} samples given")
        if shortest < self.min_samples:
            raise DetectorError(
                f"{self.name}: a clip of {shortest} samples ({shortest / self.sample_rate:.3f} s) is shorter "
                f"than the receptive field, {self.min_samples} samples at {self.sample_rate} Hz; "
                f"pad it or use the input policy ({self.input_policy.describe()})")
        return lengths.to(device=waves.device, dtype=torch.int64)

    def check_sample_rate(self, sample_rate: int, source: str | os.PathLike = "input") -> None:
        """Raise ``DetectorError`` unless ``sample_rate`` is the detector's rate."""
        if int(sample_rate) != self.sample_rate:
            raise DetectorError(
                f"{source}: sample rate {sample_rate} Hz; {self.name} expects {self.sample_rate} Hz "
                "(resample first, e.g. torchaudio.functional.resample)")

    def describe(self) -> dict[str, Any]:
        """Metadata recorded with results."""
        return {"name": self.name, "preset": self.preset, "sample_rate": self.sample_rate,
                "frontend": self.frontend, "input_policy": self.input_policy.to_dict(),
                "training_mode": self.training_mode, "min_samples": self.min_samples,
                "parameters": count_parameters(self),
                "config": config_to_dict(self.config) if self.config is not None else None}


def config_to_dict(config: Any) -> dict[str, Any]:
    """A detector's config as a dict: a dataclass, a mapping (module detectors' overrides) or None."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    return dataclasses.asdict(config)


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


@dataclass(frozen=True)
class DetectorFamily:
    """One architecture: its frozen config class, named presets and how to build/load it.

    ``make(config) -> Detector``; ``convert_official(state_dict, config) -> state_dict`` maps official
    released weights (a plain state dict) onto this module, or is None when there are none.
    """

    name: str
    config_cls: type
    presets: Mapping[str, Any]
    default_preset: str
    make: Callable[[Any], Detector]
    frontend: str
    convert_official: Callable[[dict, Any], dict] | None = None
    prepare_checkpoint: Callable[[Any, str | os.PathLike], Any] | None = None
    """``(config, path) -> config`` when ``path`` holds pretrained backbone weights (SSL), else None."""
    from_saved_config: Callable[[Any], Any] | None = None
    """Adjust the config stored in a spoofbench checkpoint before building (SSL: no backbone file)."""

    def config_for(self, preset: str | None, overrides: Mapping[str, Any]) -> Any:
        preset = preset or self.default_preset
        if preset not in self.presets:
            raise DetectorError(f"{self.name}: unknown preset {preset!r} (known: {', '.join(self.presets)})")
        config = self.presets[preset]
        if overrides:
            fields = {f.name for f in dataclasses.fields(self.config_cls)}
            bad = sorted(set(overrides) - fields)
            if bad:
                raise DetectorError(f"{self.name}: unknown option(s) {bad}; expected some of {sorted(fields)}")
            config = dataclasses.replace(config, **{k: _tuplify(v) for k, v in overrides.items()})
        return config

    def __call__(self, preset: str | None = None, checkpoint: str | os.PathLike | None = None,
                 **overrides: Any) -> Detector:
        preset_name = preset or self.default_preset
        config = self.config_for(preset_name, overrides)
        state_dict = None
        if checkpoint is not None and self.prepare_checkpoint is not None:
            upstream_config = self.prepare_checkpoint(config, checkpoint)
            if upstream_config is not None:  # the checkpoint is pretrained backbone weights
                return self._finish(self.make(upstream_config), preset_name, upstream_config)
        if checkpoint is not None:
            payload = load_checkpoint_file(checkpoint)
            if isinstance(payload, dict) and "state_dict" in payload and "detector" in payload:
                if payload["detector"] != self.name:
                    raise CheckpointError(
                        f"{checkpoint}: a checkpoint of detector {payload['detector']!r}, "
                        f"not {self.name!r}; build it with build_detector({payload['detector']!r}, ...)")
                saved = {k: _tuplify(v) for k, v in (payload.get("config") or {}).items()}
                known = {f.name for f in dataclasses.fields(self.config_cls)}
                if set(saved) - known:
                    raise CheckpointError(
                        f"{checkpoint}: config field(s) {sorted(set(saved) - known)} are not options of "
                        f"{self.name} ({sorted(known)}); was it written by another version?")
                config = dataclasses.replace(config, **saved) if saved else config
                if self.from_saved_config is not None:
                    config = self.from_saved_config(config)
                config = dataclasses.replace(config, **{k: _tuplify(v) for k, v in overrides.items()})
                preset_name = payload.get("preset") or preset_name
                state_dict = payload["state_dict"]
            elif isinstance(payload, dict) and self.convert_official is not None:
                state_dict = self.convert_official(payload, config)
            elif isinstance(payload, dict) and payload and all(
                    isinstance(v, torch.Tensor) for v in payload.values()):
                state_dict = payload
            else:
                raise CheckpointError(
                    f"{checkpoint}: neither a spoofbench checkpoint ({{'detector', 'state_dict', ...}}) "
                    f"nor a state dict of {self.name}")
        detector = self.make(config)
        if state_dict is not None:
            load_state_strict(detector, state_dict, checkpoint)
        return self._finish(detector, preset_name, config)

    @staticmethod
    def _finish(detector: Detector, preset: str, config: Any) -> Detector:
        detector.preset = preset
        if detector.config is None:  # a detector may record more than it was given (SSL architecture)
            detector.config = config
        return detector


def load_checkpoint_file(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a corrupt or foreign file
        raise CheckpointError(f"{path}: cannot read as a torch checkpoint: {err}") from err


def load_state_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                      source: str | os.PathLike | None) -> None:
    """``load_state_dict(strict=True)`` with a ``CheckpointError`` naming what does not match."""
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    wrong = [f"{k}: {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}"
             for k in own if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        name = getattr(module, "name", type(module).__name__)
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]})")
        if wrong:
            parts.append(f"{len(wrong)} shape mismatches (checkpoint vs model, e.g. {wrong[:3]})")
        raise CheckpointError(
            f"{source}: does not match the {name} architecture (preset config "
            f"{getattr(module, 'config', None)}): " + "; ".join(parts))
    module.load_state_dict(state_dict, strict=True)


def save_checkpoint(detector: Detector, path: str | os.PathLike, **extra: Any) -> None:
    """Write ``{"detector", "preset", "config", "state_dict", ...}`` atomically."""
    payload = {"detector": detector.name, "preset": detector.preset,
               "config": config_to_dict(detector.config), "state_dict": detector.state_dict(), **extra}
    with atomic_path(path) as tmp:  # removed if torch.save fails
        torch.save(payload, tmp)
