"""Training checkpoints: the run's :class:`TrainState`, ``last.pt`` and ``best.pt``, written atomically.

``checkpoints/last.pt`` holds everything a resume needs (model, optimiser, scheduler, grad
scaler, RNG states and the :class:`TrainState`: epoch, best dev EER, patience, history);
``checkpoints/best.pt`` is the model alone in
the documented format ``{"detector", "preset", "config", "state_dict", ...}`` that
``build_detector(name, checkpoint=...)`` loads. Every file is written to a temporary file in the
same directory and moved into place with ``os.replace``.
"""
from __future__ import annotations

import dataclasses
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from ..atomic import write_bytes_atomic
from ..errors import CheckpointError

LAST = "last.pt"
BEST = "best.pt"


@dataclass
class TrainState:
    """A run's progress, saved in ``last.pt`` and restored as a whole on resume.

    ``next_epoch`` is the first epoch (0-based) still to train; ``best_epoch`` is 0-based and -1
    until an epoch gives a finite dev EER; ``history`` holds one ``log.csv`` row per epoch.
    """
    next_epoch: int = 0
    best_dev_eer: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict] = field(default_factory=list)

    def update(self, epoch: int, dev_eer: float, patience: int, epochs: int) -> bool:
        """Record finished ``epoch``'s dev EER (best, patience, early stop); True when it improved."""
        improved = dev_eer < self.best_dev_eer  # NaN never improves
        if improved:
            self.best_dev_eer, self.best_epoch, self.bad_epochs = dev_eer, epoch, 0
        else:
            self.bad_epochs += 1
        self.stopped_early = patience > 0 and self.bad_epochs >= patience and epoch + 1 < epochs
        self.next_epoch = epoch + 1
        return improved

    def to_payload(self) -> dict[str, Any]:
        """The checkpoint keys (``epoch`` is the last finished one, as ``last.pt`` has always stored it)."""
        return {"epoch": self.next_epoch - 1, "best_dev_eer": self.best_dev_eer, "best_epoch": self.best_epoch,
                "bad_epochs": self.bad_epochs, "stopped_early": self.stopped_early, "history": list(self.history)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> "TrainState":
        return cls(int(payload["epoch"]) + 1, float(payload["best_dev_eer"]), int(payload["best_epoch"]),
                   int(payload["bad_epochs"]), bool(payload["stopped_early"]), list(payload["history"]))


def save_torch(path: str | os.PathLike, payload: Mapping[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(dict(payload), buffer)
    write_bytes_atomic(path, buffer.getvalue(), fsync=True)


def model_payload(detector: Any, state_dict: Mapping[str, torch.Tensor], **extra: Any) -> dict[str, Any]:
    """The documented checkpoint format for ``detector`` with ``state_dict`` (CPU tensors)."""
    config = getattr(detector, "config", None)
    config_dict = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})
    return {"detector": detector.name, "preset": getattr(detector, "preset", None), "config": config_dict,
            "state_dict": {k: v.detach().cpu().clone() for k, v in state_dict.items()}, **extra}


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``last.pt`` written by :func:`save_torch`; a clear error when it is not one."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise CheckpointError(f"{path}: no checkpoint to resume from") from err
    except Exception as err:
        raise CheckpointError(f"{path}: cannot read the training checkpoint: {err}") from err
    needed = {"detector", "state_dict", "optimizer", "epoch", "history", "train_config"}
    if not isinstance(payload, dict) or not needed <= set(payload):
        raise CheckpointError(f"{path}: not a spoofbench training checkpoint (expected keys {sorted(needed)})")
    return payload
