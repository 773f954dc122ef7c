"""Typed, frozen configs for training and scoring, loaded from YAML with ``safe_load``.

Unknown keys and wrongly typed values raise :class:`~spoofbench.errors.ConfigError` naming the
file, the dotted field, the bad value and what was expected. This module imports no torch.
"""
from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any, Literal, Mapping

from pydantic import StrictInt, model_validator

from ..configs import YamlConfig
from ..configs import config_dataclass as dataclass  # frozen pydantic dataclasses: typed, no unknown keys
from ..configs import check_choice as _choice
from ..configs import check_nonneg as _nonneg
from ..configs import check_pair as _pair
from ..configs import check_positive as _positive
from ..configs import check_probability as _probability
from ..configs import invalid
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
    uniformly from ``conditions`` (ids) or the named ``matrix`` (``spoofbench.codecs``).

    ``precode`` (:mod:`~spoofbench.engine.precode`): before the first epoch, code every training clip through
    every condition of the set into ``cache_dir``, in parallel, so the loader workers only read the cache.
    ``auto``: when ``cache_dir`` is writable and the coded set fits ``cache_max_bytes``; ``on``: required (an
    error otherwise); ``off``: the cache fills lazily as clips are drawn. Results are the same either way."""
    probability: float = 0.0
    matrix: str | None = None
    conditions: tuple[str, ...] = ()
    cache_dir: str | None = None       # content-addressed CodecCache; None = no cache
    cache_max_bytes: int = 2 * 1024 ** 3
    precode: Literal["auto", "on", "off"] = "auto"


@dataclass(frozen=True)
class RawBoostStyleConfig:
    """Our own RawBoost-*style* channel/noise augmentation (not the published algorithm: that is
    :class:`RawBoostConfig`); each probability applies independently, on the training crop."""
    linear_nonlinear: float = 0.0      # convolutive: random notch filter bank with power terms
    impulsive: float = 0.0             # signal-dependent impulsive noise
    coloured: float = 0.0              # stationary coloured additive noise
    max_order: int = 3                 # highest non-linear power term
    num_bands: int = 5                 # notch filters per draw
    impulsive_fraction: float = 0.1    # at most this fraction of samples hit
    snr_db: tuple[float, float] = (10.0, 40.0)

    def validate(self, where: str = "augment.rawboost_style", path: Any = None) -> None:
        for name in ("linear_nonlinear", "impulsive", "coloured"):
            _probability(getattr(self, name), f"{where}.{name}", path)
        _positive(self.max_order, f"{where}.max_order", path)
        _pair(self.snr_db, f"{where}.snr_db", path)


#: the keys of :class:`RawBoostStyleConfig`: an ``augment.rawboost`` mapping holding only these is an old config
#: written before the published RawBoost came in, and keeps its meaning (it is read as ``rawboost_style``).
_STYLE_KEYS = frozenset(("linear_nonlinear", "impulsive", "coloured", "max_order", "num_bands",
                         "impulsive_fraction", "snr_db"))


@dataclass(frozen=True)
class RawBoostConfig:
    """The published RawBoost (Tak et al., ICASSP 2022; :mod:`~spoofbench.engine.rawboost`, docs/augmentation.md).

    ``algo``: 0 off; 1 linear and non-linear convolutive noise (LnL); 2 impulsive signal-dependent noise (ISD);
    3 stationary signal-independent noise (SSI); in series 4 = 1+2+3, 5 = 1+2, 6 = 1+3, 7 = 2+3; 8 = 1 and 2
    in parallel (summed, then peak-limited). With ``probability`` (1: every clip, as published) a training clip
    is boosted, whole, before cropping. The other fields are the reference implementation's parameters with its
    defaults (``main.py`` of TakHemlata/RawBoost-antispoofing; its argument name in brackets).
    """
    algo: StrictInt = 0                # 0-8 (strict: a YAML true is not algorithm 1)
    probability: float = 1.0
    n_bands: int = 5                   # [nBands] notch filters per filter bank
    min_f: float = 20.0                # [minF] notch centre frequency range, Hz
    max_f: float = 8000.0              # [maxF]
    min_bw: float = 100.0              # [minBW] notch width range, Hz
    max_bw: float = 1000.0             # [maxBW]
    min_coeff: int = 10                # [minCoeff] FIR taps per notch (made odd)
    max_coeff: int = 100               # [maxCoeff]
    min_g: float = 0.0                 # [minG] filter-bank gain range, dB
    max_g: float = 0.0                 # [maxG]
    min_bias_lin_nonlin: float = 5.0   # [minBiasLinNonLin] dB subtracted from min_g for the non-linear terms
    max_bias_lin_nonlin: float = 20.0  # [maxBiasLinNonLin] dB subtracted from max_g for the non-linear terms
    n_f: int = 5                       # [N_f] LnL: terms x, x**2, ..., x**n_f
    p: float = 10.0                    # [P] ISD: at most p % of the samples are hit
    g_sd: float = 2.0                  # [g_sd] ISD: impulse gain
    snr_min: float = 10.0              # [SNRmin] SSI: SNR range, dB
    snr_max: float = 40.0              # [SNRmax]

    def validate(self, where: str = "augment.rawboost", path: Any = None) -> None:
        if self.algo not in range(9):
            raise ConfigError(f"value {self.algo!r} is not a RawBoost algorithm; expected 0 (off) to 8",
                              path, field=f"{where}.algo")
        _probability(self.probability, f"{where}.probability", path)
        for name in ("n_bands", "n_f", "min_coeff", "min_bw"):
            _positive(getattr(self, name), f"{where}.{name}", path)
        for name in ("min_f", "g_sd", "p"):
            _nonneg(getattr(self, name), f"{where}.{name}", path)
        if self.p > 100:
            raise ConfigError(f"value {self.p!r} must be <= 100 (a percentage of the samples)", path,
                              field=f"{where}.p")
        for low, high in (("min_f", "max_f"), ("min_bw", "max_bw"), ("min_coeff", "max_coeff"),
                          ("min_g", "max_g"), ("snr_min", "snr_max")):
            if getattr(self, low) > getattr(self, high):
                raise ConfigError(f"{low} {getattr(self, low)!r} > {high} {getattr(self, high)!r}; "
                                  f"expected {low} <= {high}", path, field=f"{where}.{low}")

    def check_sample_rate(self, sample_rate: int, where: str = "augment.rawboost", path: Any = None) -> None:
        """Every notch must start below Nyquist (the reference clips only its upper edge)."""
        if self.algo in (0, 2) or self.probability == 0:
            return
        if self.max_f - self.min_bw / 2 >= sample_rate / 2:
            raise ConfigError(f"max_f {self.max_f:g} Hz with min_bw {self.min_bw:g} Hz can put a notch's lower "
                              f"edge at {self.max_f - self.min_bw / 2:g} Hz, at or above the Nyquist frequency "
                              f"({sample_rate / 2:g} Hz) of the detector's {sample_rate} Hz input; lower max_f",
                              path, field=f"{where}.max_f")


@dataclass(frozen=True)
class AugmentConfig:
    """All training-time augmentation; every draw is seeded by (seed, epoch, index).

    ``rawboost`` is the published RawBoost (:class:`RawBoostConfig`); ``rawboost_style`` our own operators in
    its spirit (:class:`RawBoostStyleConfig`). An old config whose ``rawboost:`` holds only the style keys
    (``linear_nonlinear``, ``impulsive``, ...) keeps its meaning: it is read as ``rawboost_style``.
    """
    codec: CodecAugmentConfig = field(default_factory=CodecAugmentConfig)
    rawboost: RawBoostConfig = field(default_factory=RawBoostConfig)
    rawboost_style: RawBoostStyleConfig = field(default_factory=RawBoostStyleConfig)
    gain_probability: float = 0.0
    gain_db: tuple[float, float] = (-6.0, 6.0)
    resample_probability: float = 0.0
    resample_rates: tuple[int, ...] = (8000, 11025, 12000)   # down to one and back up

    @model_validator(mode="before")
    @classmethod
    def _style_under_old_name(cls, data: Any) -> Any:
        """``rawboost: {linear_nonlinear: ...}`` (written before the published RawBoost) → ``rawboost_style``."""
        if not isinstance(data, Mapping) or not isinstance(data.get("rawboost"), Mapping):
            return data
        keys = set(data["rawboost"])
        style = keys & _STYLE_KEYS
        if not style:
            return data
        if keys - _STYLE_KEYS:
            raise invalid(f"rawboost mixes RawBoost-style keys ({', '.join(sorted(style))}) with the published "
                          f"RawBoost's ({', '.join(sorted(keys - _STYLE_KEYS))}); put the style keys under "
                          "rawboost_style")
        if data.get("rawboost_style") is not None:
            raise invalid(f"rawboost holds RawBoost-style keys ({', '.join(sorted(style))}) and rawboost_style is "
                          "set too; move them under rawboost_style")
        moved = {k: v for k, v in data.items() if k != "rawboost"}
        moved["rawboost_style"] = data["rawboost"]
        return moved

    def validate(self, where: str = "augment", path: Any = None) -> None:
        for name in ("gain_probability", "resample_probability"):
            _probability(getattr(self, name), f"{where}.{name}", path)
        _probability(self.codec.probability, f"{where}.codec.probability", path)
        if self.codec.probability > 0 and not (self.codec.matrix or self.codec.conditions):
            raise ConfigError(f"codec augmentation has probability {self.codec.probability} but "
                              "neither 'matrix' nor 'conditions'; expected one of them",
                              path, field=f"{where}.codec")
        self.rawboost.validate(f"{where}.rawboost", path)
        self.rawboost_style.validate(f"{where}.rawboost_style", path)
        _pair(self.gain_db, f"{where}.gain_db", path)
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
    precision: str = "auto"            # auto = fp32 on every device (scores must not depend on the card); bf16 opt-in
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
