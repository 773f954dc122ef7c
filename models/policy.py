"""How a detector sees a clip: fixed window or full utterance, padding and normalisation.

The policy is explicit and recorded with every result (``InputPolicy.to_dict()``): the same checkpoint
has been reported at very different EERs on one corpus under two silent input policies.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from spoofbench.errors import DetectorError

_MODES = ("full", "fixed")
_PADS = ("repeat", "zero")
_NORMS = ("none", "mean", "peak")


@dataclass(frozen=True)
class InputPolicy:
    """``mode`` "full" (whole utterance) or "fixed" (``num_samples`` per clip).

    Fixed, eval: the first ``num_samples`` samples, shorter clips tiled ("repeat") or zero-padded.
    Fixed, train: a random ``num_samples`` crop (drawn from ``generator``), padded the same way.
    ``normalize``: "none", "mean" (subtract mean, divide by std) or "peak" (divide by max |x|).
    """

    mode: str = "full"
    num_samples: int | None = None
    pad: str = "repeat"
    normalize: str = "none"

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise DetectorError(f"input policy: mode={self.mode!r}; expected one of {_MODES}")
        if self.pad not in _PADS:
            raise DetectorError(f"input policy: pad={self.pad!r}; expected one of {_PADS}")
        if self.normalize not in _NORMS:
            raise DetectorError(f"input policy: normalize={self.normalize!r}; expected one of {_NORMS}")
        if self.mode == "fixed" and (not isinstance(self.num_samples, int) or self.num_samples <= 0):
            raise DetectorError(
                f"input policy: mode='fixed' needs num_samples > 0, got {self.num_samples!r}")

    def apply(self, wave: Any, train: bool = False,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """``wave``: (samples,) array or tensor → (samples',) float32 tensor under this policy."""
        x = torch.as_tensor(wave, dtype=torch.float32)
        if x.dim() != 1:
            raise DetectorError(f"input policy: expected a 1-D waveform, got shape {tuple(x.shape)}")
        if x.numel() == 0:
            raise DetectorError("input policy: empty waveform (0 samples)")
        x = self._normalize(x)
        if self.mode == "full":
            return x.contiguous()
        n = int(self.num_samples)
        if x.numel() >= n:
            start = 0
            if train and x.numel() > n:
                start = int(torch.randint(0, x.numel() - n + 1, (1,), generator=generator))
            return x[start:start + n].contiguous()
        if self.pad == "repeat":
            reps = -(-n // x.numel())
            return x.repeat(reps)[:n].contiguous()
        return torch.nn.functional.pad(x, (0, n - x.numel()))

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize == "mean":
            return (x - x.mean()) / (x.std(unbiased=False) + 1e-8)
        if self.normalize == "peak":
            return x / (x.abs().max() + 1e-8)
        return x

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """Short human form, e.g. ``fixed 64600 repeat, norm none``."""
        if self.mode == "fixed":
            return f"fixed {self.num_samples} {self.pad}, norm {self.normalize}"
        return f"full, norm {self.normalize}"


def collate(waves: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad 1-D waves to ``(batch, max_len)`` float32 (on the CPU) and return them with ``lengths (batch,)``.

    A ``(1, ..., 1, T)`` wave counts as 1-D; any other shape is a :class:`DetectorError`.
    """
    flat = [_one_dim(w, i) for i, w in enumerate(waves)]
    lengths = torch.tensor([w.numel() for w in flat], dtype=torch.int64)
    padded = torch.nn.utils.rnn.pad_sequence([w.to(device="cpu", dtype=torch.float32) for w in flat],
                                             batch_first=True)
    return padded, lengths


def _one_dim(wave: torch.Tensor, position: int) -> torch.Tensor:
    if wave.dim() == 1:
        return wave
    if wave.dim() > 1 and wave.numel() == wave.shape[-1]:
        return wave.reshape(-1)
    raise DetectorError(f"collate: wave {position} has shape {tuple(wave.shape)}; expected a 1-D waveform")
