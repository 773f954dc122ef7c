"""Typed, frozen configs for training and scoring, loaded from YAML with ``safe_load``.

Unknown keys and wrongly typed values raise :class:`~spoofbench.errors.ConfigError` naming the
file, the dotted field, the bad value and what was expected. This module imports no torch.
"""
from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any, Literal, Mapping

from ..configs import YamlConfig
from ..configs import config_dataclass as dataclass  # frozen pydantic dataclasses: typed, no unknown keys
from ..configs import check_choice as _choice
from ..configs import check_nonneg as _nonneg
from ..configs import check_pair as _pair
from ..configs import check_positive as _positive
from ..configs import check_probability as _probability
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
    cache_features: bool = False       # cache frozen front-end features per clip (needs a frozen front-end
                                       # and no augmentation; training then uses the eval crop)
    cache_dir: str | None = None       # feature cache folder; None = <run dir>/ssl_feature_cache
    cache_max_bytes: int = 8 * 1024 ** 3


@dataclass(frozen=True)
class DataConfig:
    """Where clips come from: a packed waveform store (``spoofbench pack``, docs/packs.md) or the files.

    ``pack``: ``auto`` reads a clip from the pack when one is found (``pack_dir``, else
    ``ROOT/.spoofbench_pack``) and holds the clip's current file, else decodes the file; ``on`` requires
    a pack at the detector's sample rate; ``off`` always decodes. Pack-fed and file-fed clips are
    bit-identical for packs of ``dtype: auto`` (the default).

    ``loader`` (training only): ``per_clip`` (default) reads, crops and augments clip by clip in the
    workers, so a pack changes nothing in the results; ``batch`` (:mod:`.batch_loader`) reads a whole batch
    at once, crops straight from the pack's memmaps and augments/normalises the batch as tensor ops on the
    training device: much faster, deterministic for a seed, but other crops and augmentation draws, so other
    weights than ``per_clip``. The dev set is always read clip by clip.
    """
    pack: Literal["auto", "on", "off"] = "auto"
    pack_dir: str | None = None
    loader: Literal["per_clip", "batch"] = "per_clip"


@dataclass(frozen=True)
class TrainConfig(YamlConfig):
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
    data: DataConfig = field(default_factory=DataConfig)

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



@dataclass(frozen=True)
class ScoreConfig(YamlConfig):
    """How to score: batching, workers, device and codec conditions."""
    codecs: tuple[str, ...] = ("none",)
    # Clips per batch; None = chosen from the memory budget below and the detector's activation bytes
    # per input sample (declared, or measured once with a probe batch). A number here always wins.
    batch_size: int | None = None
    # Memory for the activations of all batches scored at once (streams x batch), in GB (2**30 bytes);
    # None = a safe share of what is available: half the free RAM, at most 2 GB, on a CPU (bigger batches
    # only cost memory there); 70% of the free GPU memory on CUDA.
    memory_budget_gb: float | None = None
    num_workers: int = 2
    bucket_pool: int = 256             # clips a worker sorts by length before batching
    device: str = "auto"
    precision: str = "auto"
    cache_dir: str | None = None       # CodecCache directory; None = no cache
    cache_max_bytes: int = 2 * 1024 ** 3
    resume: bool = True                # skip trials already in the score file
    cpu_threads: int = 0               # torch intra-op threads while scoring; 0 = torch's default
    # Batches scored at once on a CPU, each in its own thread with one intra-op thread; 0 = as many as
    # the intra-op threads above when the detector allows it (``concurrent_inference``), else 1.
    # Scores then depend on neither the core count nor the load; 1 = one batch at a time on all threads.
    streams: int = 0
    data: DataConfig = field(default_factory=DataConfig)   # read clips from a pack (auto|on|off)

    def validate(self, path: Any = None) -> "ScoreConfig":
        if self.batch_size is not None:
            _positive(self.batch_size, "batch_size", path)
        if self.memory_budget_gb is not None:
            _positive(self.memory_budget_gb, "memory_budget_gb", path)
        _nonneg(self.num_workers, "num_workers", path)
        _positive(self.bucket_pool, "bucket_pool", path)
        _nonneg(self.cpu_threads, "cpu_threads", path)
        _nonneg(self.streams, "streams", path)
        _choice(self.device, DEVICES, "device", path)
        _choice(self.precision, PRECISIONS, "precision", path)
        if not self.codecs:
            raise ConfigError("codecs is empty; expected at least one condition id (e.g. 'none')",
                              path, field="codecs")
        return self
