"""Helpers for corpus tests: synthetic audio and the shared reference data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from testenv import SHARED
PROTOCOLS = SHARED / "protocols"


def write_audio(path: Path, seconds: float = 0.1, rate: int = 16000, seed: int = 0,
                amplitude: float = 0.1, signal: np.ndarray | None = None) -> Path:
    """A short seeded noise clip (own generator, no global RNG) in the format of the suffix."""
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    if signal is None:
        rng = np.random.default_rng(seed)
        signal = (amplitude * rng.standard_normal(int(seconds * rate))).astype(np.float32)
    soundfile.write(str(path), signal, rate)
    return path


def shared_lines(name: str, count: int, predicate=lambda line: True) -> list[str]:
    """The first ``count`` lines of a shared protocol file matching ``predicate`` (skip if absent)."""
    path = PROTOCOLS / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    out = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if predicate(line):
                out.append(line.rstrip("\n"))
                if len(out) == count:
                    break
    return out
