"""Typed, frozen configs for training and scoring, loaded from YAML with ``safe_load``.

Unknown keys and wrongly typed values raise :class:`~spoofbench.errors.ConfigError` naming the
file, the dotted field, the bad value and what was expected. This module imports no torch.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
BALANCING = ("weighted_loss", "sampler", "none")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "cosine", "step")


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and learning-rate schedule."""
    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9              # sgd only
    scheduler: str = "cosine"          # none | cosine (over all epochs) | step
    step_epochs: int = 10              # step scheduler: decay every N epochs ...
    step_gamma: float = 0.5            # ... by this factor
    grad_clip: float = 0.0             # max gradient norm; 0 disables clipping

    def validate(self, where: str = "optim", path: Any = None) -> None:
        _choice(self.name, OPTIMIZERS, f"{where}.name", path)
        _choice(self.scheduler, SCHEDULERS, f"{where}.scheduler", path)
        _positive(self.lr, f"{where}.lr", path)
        _nonneg(self.weight_decay, f"{where}.weight_decay", path)
        _nonneg(self.grad_clip, f"{where}.grad_clip", path)
        _positive(self.step_epochs, f"{where}.step_epochs", path)


@dataclass(frozen=True)
class CodecAugmentConfig:
    """Codec augmentation: with ``probability``, code a training clip through a condition drawn
    uniformly from ``conditions`` (ids) or the named ``matrix`` (``spoofbench.codecs``)."""
    probability: float = 0.0
    matrix: str | None = None
    conditions: tuple[str, ...] = ()
    cache_dir: str | None = None       # content-addressed CodecCache; None = no cache
    cache_max_bytes: int = 2 * 1024 ** 3


@dataclass(frozen=True)
class RawBoostConfig:
    """RawBoost-style channel/noise augmentation; each probability applies independently."""
    linear_nonlinear: float = 0.0      # convolutive: random notch filter bank with power terms
    impulsive: float = 0.0             # signal-dependent impulsive noise
    coloured: float = 0.0              # stationary coloured additive noise
    max_order: int = 3                 # highest non-linear power term
    num_bands: int = 5                 # notch filters per draw
    impulsive_fraction: float = 0.1    # at most this fraction of samples hit
    snr_db: tuple[float, float] = (10.0, 40.0)


@dataclass(frozen=True)
class AugmentConfig:
    """All training-time augmentation; every draw is seeded by (seed, epoch, index)."""
    codec: CodecAugmentConfig = field(default_factory=CodecAugmentConfig)
    rawboost: RawBoostConfig = field(default_factory=RawBoostConfig)
    gain_probability: float = 0.0
    gain_db: tuple[float, float] = (-6.0, 6.0)
    resample_probability: float = 0.0
    resample_rates: tuple[int, ...] = (8000, 11025, 12000)   # down to one and back up

    def validate(self, where: str = "augment", path: Any = None) -> None:
        for name in ("gain_probability", "resample_probability"):
            _probability(getattr(self, name), f"{where}.{name}", path)
        _probability(self.codec.probability, f"{where}.codec.probability", path)
        for name in ("linear_nonlinear", "impulsive", "coloured"):
            _probability(getattr(self.rawboost, name), f"{where}.rawboost.{name}", path)
        if self.codec.probability > 0 and not (self.codec.matrix or self.codec.conditions):
            raise ConfigError(f"codec augmentation has probability {self.codec.probability} but "
                              "neither 'matrix' nor 'conditions'; expected one of them",
                              path, field=f"{where}.codec")
        _positive(self.rawboost.max_order, f"{where}.rawboost.max_order", path)
        _pair(self.gain_db, f"{where}.gain_db", path)
        _pair(self.rawboost.snr_db, f"{where}.rawboost.snr_db", path)
        for rate in self.resample_rates:
            _positive(rate, f"{where}.resample_rates", path)


@dataclass(frozen=True)
class SSLConfig:
    """Options for detectors with a self-supervised front-end (used where the detector allows)."""
    freeze_frontend: bool = False      # no gradients into the front-end
    freeze_layers: int = 0             # freeze the first N transformer layers
    gradient_checkpointing: bool = False
    cache_features: bool = False       # cache frozen front-end features per clip (needs freeze_frontend,
                                       # no augmentation and a fixed, deterministic train crop)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (the run dir records it as ``config.yaml``)."""
    detector: str
    preset: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    epochs: int = 20
    batch_size: int = 32
    eval_batch_size: int = 64
    num_workers: int = 2
    device: str = "auto"
    precision: str = "auto"
    balance: str = "weighted_loss"
    bucket: bool = True                # group clips of similar length (full-length input policy)
    max_train_seconds: float = 6.0     # crop cap for "full" input policies
    patience: int = 5                  # early stopping: epochs without a better dev EER
    deterministic: bool = False        # torch.use_deterministic_algorithms
    cpu_threads: int = 0               # torch intra-op threads while training; 0 = torch's default
    cudnn_benchmark: bool = True
    log_every: int = 20                # batches between progress-bar loss updates
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    ssl: SSLConfig = field(default_factory=SSLConfig)

    def validate(self, path: Any = None) -> "TrainConfig":
        if not isinstance(self.detector, str) or not self.detector:
            raise ConfigError(f"detector is {self.detector!r}; expected a detector name", path,
                              field="detector")
        _positive(self.epochs, "epochs", path)
        _positive(self.batch_size, "batch_size", path)
        _positive(self.eval_batch_size, "eval_batch_size", path)
        _nonneg(self.num_workers, "num_workers", path)
        _nonneg(self.cpu_threads, "cpu_threads", path)
        _positive(self.max_train_seconds, "max_train_seconds", path)
        _nonneg(self.patience, "patience", path)
        _choice(self.device, DEVICES, "device", path)
        _choice(self.precision, PRECISIONS, "precision", path)
        _choice(self.balance, BALANCING, "balance", path)
        self.optim.validate("optim", path)
        self.augment.validate("augment", path)
        return self

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes).validate()

    def to_dict(self) -> dict:
        return _to_plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Any = None) -> "TrainConfig":
        return _build(cls, data, "", path).validate(path)

    @classmethod
    def from_yaml(cls, path: str | Path, **defaults: Any) -> "TrainConfig":
        """Load ``path``; ``defaults`` fill keys the file leaves out (e.g. ``detector``)."""
        data = _load_yaml(path)
        return cls.from_dict({**defaults, **data}, path)


@dataclass(frozen=True)
class ScoreConfig:
    """How to score: batching, workers, device and codec conditions."""
    codecs: tuple[str, ...] = ("none",)
    batch_size: int = 32
    num_workers: int = 2
    bucket_pool: int = 256             # clips a worker sorts by length before batching
    device: str = "auto"
    precision: str = "auto"
    cache_dir: str | None = None       # CodecCache directory; None = no cache
    cache_max_bytes: int = 2 * 1024 ** 3
    resume: bool = True                # skip trials already in the score file
    cpu_threads: int = 0               # torch intra-op threads while scoring; 0 = torch's default

    def validate(self, path: Any = None) -> "ScoreConfig":
        _positive(self.batch_size, "batch_size", path)
        _nonneg(self.num_workers, "num_workers", path)
        _positive(self.bucket_pool, "bucket_pool", path)
        _nonneg(self.cpu_threads, "cpu_threads", path)
        _choice(self.device, DEVICES, "device", path)
        _choice(self.precision, PRECISIONS, "precision", path)
        if not self.codecs:
            raise ConfigError("codecs is empty; expected at least one condition id (e.g. 'none')",
                              path, field="codecs")
        return self

    def to_dict(self) -> dict:
        return _to_plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Any = None) -> "ScoreConfig":
        return _build(cls, data, "", path).validate(path)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "ScoreConfig":
        return cls.from_dict(_load_yaml(path), path)


# --------------------------------------------------------------------------- helpers
def _load_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config: {err.strerror}", path) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(err, 'problem', err)}", path,
                          line=mark.line + 1 if mark else None) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"top level is a {type(data).__name__}; expected a mapping", path)
    return data


def _build(cls: type, data: Any, prefix: str, path: Any) -> Any:
    where = prefix.rstrip(".") or "<top>"
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"value {data!r} is a {type(data).__name__}; expected a mapping", path,
                          field=where)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(map(repr, unknown))}; expected some of "
                          f"{', '.join(fields)}", path, field=where)
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], f"{prefix}{name}", path)
    try:
        return cls(**kwargs)
    except TypeError as err:  # a required field left out
        raise ConfigError(f"{err}", path, field=where) from err


def _coerce(value: Any, hint: Any, where: str, path: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where + ".", path)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where, path)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"value {value!r} is a {type(value).__name__}; expected a list", path,
                              field=where)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], where, path) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"value {value!r} has {len(value)} items; expected {len(args)}", path,
                              field=where)
        return tuple(_coerce(v, a, where, path) for v, a in zip(value, args))
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise ConfigError(f"value {value!r} is a {type(value).__name__}; expected a mapping",
                              path, field=where)
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"value {value!r} is not true/false", path, field=where)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"value {value!r} is not an integer", path, field=where)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # YAML 1.1 reads '1e-3' as a string: accept numeric strings
            try:
                return float(value) if isinstance(value, str) else _raise()
            except (ValueError, TypeError):
                raise ConfigError(f"value {value!r} is not a number", path, field=where) from None
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"value {value!r} is not a string", path, field=where)
        return value
    return value


def _raise() -> Any:
    raise ValueError


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): _to_plain(v) for k, v in obj.items()}
    return obj


def _choice(value: Any, choices: tuple, where: str, path: Any) -> None:
    if value not in choices:
        raise ConfigError(f"value {value!r} is not allowed; expected one of {', '.join(choices)}",
                          path, field=where)


def _positive(value: Any, where: str, path: Any) -> None:
    if not value > 0:
        raise ConfigError(f"value {value!r} must be > 0", path, field=where)


def _nonneg(value: Any, where: str, path: Any) -> None:
    if value < 0:
        raise ConfigError(f"value {value!r} must be >= 0", path, field=where)


def _probability(value: Any, where: str, path: Any) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"value {value!r} is not a probability; expected 0 <= p <= 1", path,
                          field=where)


def _pair(value: tuple, where: str, path: Any) -> None:
    if value[0] > value[1]:
        raise ConfigError(f"range {list(value)} is reversed; expected [low, high]", path, field=where)
