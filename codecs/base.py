"""The codec contracts: what an engine returns (:class:`Coded`) and what an engine is (:class:`Engine`).

Engines (PyAV in-process, ffmpeg CLI, ffmpeg + PyAV, native ctypes bindings) implement
:class:`Engine` structurally; ``select_engine`` returns one and ``apply``/``availability`` use only
these methods. Kept apart from the engines so that ``native`` and ``engines`` need not import each
other.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .condition import CodecCondition


@dataclass(frozen=True)
class Coded:
    """Decoded audio ``samples`` (n,) float64 at ``rate`` and ``encoded_bytes`` (payload size)."""

    samples: np.ndarray
    rate: int
    encoded_bytes: int


@runtime_checkable
class Engine(Protocol):
    """Codes a clip through a condition: encoder → bitstream → decoder, all in one call."""

    name: str

    def available(self, condition: CodecCondition) -> tuple[bool, str]:
        """``(True, "")`` when this engine can code ``condition`` here, else ``(False, why)``."""

    def provenance_for(self, condition: CodecCondition) -> dict:
        """``{"engine", "library", "version"}`` of what codes ``condition`` (recorded with results)."""

    def code(self, x: np.ndarray, rate: int, condition: CodecCondition) -> Coded:
        """``x`` (n,) float64 in [-1, 1] at ``rate`` (the condition's coding rate) → decoded audio."""
