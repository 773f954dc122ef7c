"""Atomic run-dir files: training state checkpoints, the best model, JSON and CSV records.

``checkpoints/last.pt`` holds everything a resume needs (model, optimiser, scheduler, grad
scaler, RNG states, epoch, best dev EER, history); ``checkpoints/best.pt`` is the model alone in
the documented format ``{"detector", "preset", "config", "state_dict", ...}`` that
``build_detector(name, checkpoint=...)`` loads. Every file is written to a temporary file in the
same directory and moved into place with ``os.replace``.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from ..errors import CheckpointError

from ..atomic import write_bytes_atomic

LAST = "last.pt"
BEST = "best.pt"


def _atomic_bytes(path: Path, data: bytes) -> None:
    write_bytes_atomic(path, data, fsync=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    _atomic_bytes(Path(path), text.encode("utf-8"))


def write_json(path: str | os.PathLike, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], columns: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    write_text(path, buffer.getvalue())


def save_torch(path: str | os.PathLike, payload: Mapping[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(dict(payload), buffer)
    _atomic_bytes(Path(path), buffer.getvalue())


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
