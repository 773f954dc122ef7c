"""File-level entry points behind ``spoofbench train``: protocol YAML or manifests → :func:`train`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .config import TrainConfig
from .trainer import TrainResult, train


def train_from_files(config: TrainConfig, *, root: Any, out_dir: str | os.PathLike,
                     protocol: str | os.PathLike | None = None, manifests_dir: str | os.PathLike | None = None,
                     train_manifest: str | os.PathLike | None = None, dev_manifest: str | os.PathLike | None = None,
                     resume: bool = False, progress: bool = True) -> TrainResult:
    """Train from a protocol YAML (its train/dev sets) or from explicit train and dev manifests."""
    if protocol is not None and (train_manifest or dev_manifest):
        raise ConfigError("give either a protocol or --train-manifest/--dev-manifest, not both",
                          field="protocol")
    if protocol is not None:
        from spoofbench.corpora.protocol import load_protocol
        kwargs = {"manifests_dir": manifests_dir} if manifests_dir is not None else {}
        proto = load_protocol(protocol, **kwargs)
        train_trials, dev_trials = list(proto.train), list(proto.dev)
    elif train_manifest and dev_manifest:
        from spoofbench.corpora.manifest import read_manifest
        train_trials, dev_trials = list(read_manifest(train_manifest)), list(read_manifest(dev_manifest))
    else:
        raise ConfigError("nothing to train on: give a protocol YAML or both --train-manifest and "
                          "--dev-manifest", field="protocol")
    return train(config, train_trials, dev_trials, root=Path(root), out_dir=out_dir, resume=resume,
                 progress=progress)
