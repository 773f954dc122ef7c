"""Experiment tracking beside ``log.csv``: TensorBoard event files, MLflow, Weights & Biases, or your own callback.

The trainer writes ``log.csv`` always. What else receives each epoch's curves (``train_loss``, ``dev_eer``, ``lr``,
``samples_per_s``) is chosen by the environment variable ``SPOOFBENCH_TRACKERS``, a comma-separated list (so it
reaches worker processes and ``torchrun`` ranks alike; only rank 0 writes):

- ``auto`` (default): TensorBoard event files in ``OUT/tensorboard/`` when ``torch.utils.tensorboard`` can be
  imported (``pip install 'spoofbench[tracking]'``), else nothing and one INFO line saying how to get them;
- ``tensorboard``: the same, but a missing package is a warning naming the install command;
- ``mlflow``: one MLflow run per training folder (``pip install mlflow``; ``MLFLOW_TRACKING_URI`` as usual):
  the resolved config as parameters, the curves as metrics with ``step`` = epoch;
- ``wandb``: one W&B run per training folder (``pip install wandb``; ``WANDB_PROJECT``/``WANDB_MODE`` as usual),
  files under ``OUT/wandb``;
- ``module:factory``: your own tracker: ``factory()`` returns an object with ``start(out_dir, params)``,
  ``log_epoch(epoch, metrics)`` and ``close()`` (:class:`Tracker`);
- ``none``: log.csv only.

Python callers can also pass trackers directly: :func:`add_tracker` (this process only).
A tracker that fails is switched off with one warning; training is never stopped by its tracking.
"""
from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from ..errors import ConfigError

log = logging.getLogger(__name__)

ENV = "SPOOFBENCH_TRACKERS"
INSTALL_TENSORBOARD = "pip install 'spoofbench[tracking]' (or pip install tensorboard)"
_EXTRA: list[Callable[[], "Tracker"]] = []


@runtime_checkable
class Tracker(Protocol):
    """Receives one training run's curves: ``start`` once, ``log_epoch`` after every epoch, ``close`` at the end."""

    def start(self, out_dir: Path, params: dict[str, Any]) -> None: ...

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def close(self) -> None: ...


def add_tracker(factory: Callable[[], Tracker]) -> None:
    """Give every later training run in this process a tracker made by ``factory()`` (besides ``$SPOOFBENCH_TRACKERS``)."""
    _EXTRA.append(factory)


def clear_trackers() -> None:
    """Forget the trackers given with :func:`add_tracker`."""
    _EXTRA.clear()


class TensorBoardTracker:
    """Scalars into ``OUT/tensorboard/`` (``torch.utils.tensorboard.SummaryWriter``), one tag per curve."""

    def __init__(self) -> None:
        from torch.utils.tensorboard import SummaryWriter  # ImportError: tensorboard is not installed

        self._writer_class = SummaryWriter
        self.writer = None

    def start(self, out_dir: Path, params: dict[str, Any]) -> None:
        self.writer = self._writer_class(str(Path(out_dir) / "tensorboard"))

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, epoch)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class MlflowTracker:
    """One MLflow run per training folder: params = the resolved config (flattened), metrics per epoch."""

    def __init__(self) -> None:
        import mlflow

        self.mlflow = mlflow

    def start(self, out_dir: Path, params: dict[str, Any]) -> None:
        self.mlflow.start_run(run_name=Path(out_dir).name)
        self.mlflow.log_params({k: str(v)[:500] for k, v in flatten(params).items()})
        self.mlflow.set_tag("spoofbench.train_dir", str(out_dir))

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self.mlflow.log_metrics(metrics, step=epoch)

    def close(self) -> None:
        self.mlflow.end_run()


class WandbTracker:
    """One W&B run per training folder (files under ``OUT/wandb``): config = the resolved config, log per epoch."""

    def __init__(self) -> None:
        import wandb

        self.wandb = wandb
        self.run = None

    def start(self, out_dir: Path, params: dict[str, Any]) -> None:
        self.run = self.wandb.init(name=Path(out_dir).name, dir=str(out_dir), config=params, reinit=True)

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self.run.log(metrics, step=epoch)

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()


BUILT_IN: dict[str, tuple[Callable[[], Tracker], str]] = {
    "tensorboard": (TensorBoardTracker, INSTALL_TENSORBOARD),
    "mlflow": (MlflowTracker, "pip install mlflow"),
    "wandb": (WandbTracker, "pip install wandb"),
}


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 1e-3}}`` → ``{"optim.lr": 1e-3}`` (what MLflow's params take)."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _custom(spec: str) -> Tracker:
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"{ENV}: tracker {spec!r} cannot be loaded ({err}); expected module:factory, "
                          f"or one of auto, none, {', '.join(BUILT_IN)}") from err
    tracker = factory()
    if not isinstance(tracker, Tracker):
        raise ConfigError(f"{ENV}: {spec}() returned {type(tracker).__name__}, which lacks start(out_dir, params), "
                          "log_epoch(epoch, metrics) and close()")
    return tracker


def _named(name: str) -> Tracker | None:
    """The tracker ``name`` names, or None (with one clear line) when its package is missing."""
    if name in ("auto", "tensorboard"):
        try:
            return TensorBoardTracker()
        except ImportError:
            level = logging.INFO if name == "auto" else logging.WARNING
            log.log(level, f"TensorBoard event files not written (tensorboard is not installed): {INSTALL_TENSORBOARD}; "
                           "the curves are in log.csv")
            return None
    if name in BUILT_IN:
        factory, install = BUILT_IN[name]
        try:
            return factory()
        except ImportError:
            log.warning(f"{ENV}={name}: {name} is not installed ({install}); the curves are in log.csv")
            return None
    if ":" in name:
        return _custom(name)
    raise ConfigError(f"{ENV}: unknown tracker {name!r}; expected auto, none, {', '.join(BUILT_IN)} or module:factory")


def selected(spec: str | None = None) -> list[str]:
    """The tracker names of ``spec`` (default: ``$SPOOFBENCH_TRACKERS``, else ``auto``); ``none`` alone gives []."""
    text = os.environ.get(ENV, "auto") if spec is None else spec
    names = [n.strip() for n in text.split(",") if n.strip()]
    return [] if names in ([], ["none"]) else [n for n in names if n != "none"]


class Trackers:
    """The trainer's writer: ``add_scalar(key, value, epoch)`` per curve, ``flush()`` after an epoch (hands the
    epoch's curves to every tracker), ``close()``. A tracker that raises is switched off with one warning."""

    def __init__(self, out_dir: Path, trackers: list[Tracker], params: dict[str, Any]):
        self.out, self.trackers = Path(out_dir), []
        self._pending: dict[int, dict[str, float]] = {}
        for tracker in trackers:
            if self._call(tracker, "start", self.out, params):
                self.trackers.append(tracker)

    def _call(self, tracker: Tracker, method: str, *args: Any) -> bool:
        try:
            getattr(tracker, method)(*args)
            return True
        except Exception as err:  # noqa: BLE001 (tracking must never stop training)
            log.warning(f"{self.out}: tracker {type(tracker).__name__}.{method} failed ({type(err).__name__}: {err}); "
                        "switched off for this run, the curves are in log.csv")
            if tracker in self.trackers:
                self.trackers.remove(tracker)
            return False

    def add_scalar(self, key: str, value: float, step: int) -> None:
        self._pending.setdefault(int(step), {})[key] = float(value)

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for epoch, metrics in sorted(pending.items()):
            for tracker in list(self.trackers):
                self._call(tracker, "log_epoch", epoch, metrics)

    def close(self) -> None:
        self.flush()
        for tracker in list(self.trackers):
            self._call(tracker, "close")
        self.trackers = []


def open_trackers(out_dir: str | os.PathLike, spec: str | None = None) -> Trackers | None:
    """The trackers of one training run in ``out_dir`` (see the module docstring), or None when there are none.

    ``params`` handed to each tracker's ``start`` are the run's resolved ``config.yaml`` when it is there."""
    out = Path(out_dir)
    trackers = [t for t in (_named(n) for n in selected(spec)) if t is not None]
    trackers += [factory() for factory in _EXTRA]
    if not trackers:
        return None
    return Trackers(out, trackers, _params(out))


def _params(out: Path) -> dict[str, Any]:
    import yaml

    try:
        params = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return params if isinstance(params, dict) else {}
