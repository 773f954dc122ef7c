"""Training and scoring engine (imports torch on first use of an engine function).

- :func:`train` (``spoofbench.engine.trainer``): seeded, resumable training with dev-EER selection.
- :func:`score` (``spoofbench.engine.scoring``): streamed, resumable scoring through codec conditions.
- :class:`TrainConfig`, :class:`ScoreConfig` (``spoofbench.engine.config``): typed YAML configs.
"""
from __future__ import annotations

from typing import Any

from .config import AugmentConfig, OptimConfig, ScoreConfig, SSLConfig, TrainConfig

__all__ = ["AugmentConfig", "OptimConfig", "ScoreConfig", "SSLConfig", "TrainConfig", "TrainResult",
           "ScoreResult", "ScoreFileResult", "train", "score", "load_run_detector", "train_from_files",
           "precode_codec_augmentation"]

_LAZY = {"train": "trainer", "TrainResult": "trainer", "score": "scoring", "ScoreResult": "scoring",
         "ScoreFileResult": "scoring", "load_run_detector": "scoring", "train_from_files": "api",
         "precode_codec_augmentation": "precode"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
