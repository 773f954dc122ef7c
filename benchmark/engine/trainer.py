"""Training: seeded, resumable, GPU-first with CPU fallback, DDP under torchrun.

``train(config, train_trials, dev_trials, root=..., out_dir=...)`` leaves in ``out_dir``:
``config.yaml`` (resolved), ``environment.json`` (device, precision, cuDNN settings),
``checkpoints/last.pt`` (full state, every epoch) and ``checkpoints/best.pt`` (lowest dev EER),
``log.csv`` (loss and dev EER per epoch), ``tensorboard/`` when TensorBoard is installed, and
``train_result.json``.

Reproducibility: the model is initialised under ``seed``; each epoch reseeds torch from
``(seed, epoch)`` and the sampler and augmentation derive everything from ``(seed, epoch, index)``,
so ``resume=True`` continues from the last complete epoch to the same final weights as an
uninterrupted run (same device and thread count).
"""
from __future__ import annotations

import contextlib
import csv
import logging
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import yaml

from ..atomic import write_json_atomic, write_text_atomic
from ..logs import context_logger, progress as show_progress
from ..errors import ConfigError, ManifestError
from . import checkpoint as checkpoint_io
from .augment import Augmenter
from .precode import precode_for_training, without_precode
from .batch_loader import BatchDataset, BatchTransform, batch_loader, train_view
from .config import TrainConfig
from .data import (BucketBatchSampler, PackedRoot, TrainDataset, check_roots, collate_train, estimated_samples,
                   prepare_out_dir, with_pack, worker_init)
from ..locks import exclusive
from .runtime import Runtime, configure_backends, cpu_threads, environment_record, seeded, setup_runtime
from .ssl import apply_ssl_options

LOG_COLUMNS = ["epoch", "train_loss", "dev_eer", "best_dev_eer", "lr", "train_samples", "samples_per_s",
               "failed_clips", "seconds"]
#: Config fields that may change between a run and its resume.
RESUMABLE_CHANGES = {"epochs", "num_workers", "cpu_threads", "device", "log_every", "eval_batch_size", "patience",
                     "data"}  # a pack gives the same samples as the files


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""
    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    detector: str
    best_epoch: int
    best_dev_eer: float
    epochs_run: int
    stopped_early: bool
    history: tuple[dict, ...] = field(default_factory=tuple)
    weights_sha256: str = ""      # of the final (last-epoch) weights: equal on every DDP rank
    warnings: tuple[str, ...] = ()  # e.g. a best dev EER above 50% (inverted score polarity)


    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "best_checkpoint": str(self.best_checkpoint),
                "last_checkpoint": str(self.last_checkpoint), "detector": self.detector,
                "best_epoch": self.best_epoch, "best_dev_eer": self.best_dev_eer,
                "epochs_run": self.epochs_run, "stopped_early": self.stopped_early,
                "history": list(self.history), "weights_sha256": self.weights_sha256,
                "warnings": list(self.warnings)}


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 over the names and bytes of ``module``'s state dict (in key order)."""
    import hashlib
    digest = hashlib.sha256()
    for key, value in module.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def polarity_warnings(best_dev_eer: float, out: Path) -> tuple[str, ...]:
    """A warning when the selected model's dev EER is above 50% (scores probably inverted)."""
    from spoofbench.metrics.summary import polarity_message

    if not best_dev_eer > 0.5:
        return ()
    return (polarity_message(best_dev_eer, f"{out}: best dev")
            + "; check the labels of the train and dev sets",)


def epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, 0xE70C]).generate_state(1)[0])


def _check_trials(trials: Sequence[Any], name: str) -> list[Any]:
    trials = list(trials)
    if not trials:
        raise ManifestError(f"the {name} set is empty; expected trials", field=name)
    labels = {t.label for t in trials}
    if labels != {"bonafide", "spoof"}:
        raise ManifestError(f"the {name} set has only {sorted(labels)} trials; expected both bonafide "
                            "and spoof", field=name)
    return trials


def _make_optimizer(cfg: TrainConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    settings = cfg.optim
    if settings.name == "adam":
        return torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    if settings.name == "adamw":
        return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)


def _make_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer) -> Any:
    settings = cfg.optim
    if settings.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if settings.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=settings.step_epochs, gamma=settings.step_gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def _loader(dataset: TrainDataset, sampler: BucketBatchSampler, cfg: TrainConfig, runtime: Runtime,
            workers: int) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, num_workers=workers, collate_fn=collate_train,
        worker_init_fn=worker_init if workers else None, pin_memory=runtime.device.type == "cuda",
        prefetch_factor=4 if workers else None, persistent_workers=workers > 0)


def evaluate_eer(detector: torch.nn.Module, loader: torch.utils.data.DataLoader, targets: np.ndarray,
                 runtime: Runtime) -> float:
    """Dev EER (fraction) of ``detector`` over ``loader`` (shards gathered across ranks)."""
    from spoofbench.metrics import compute_eer

    detector.eval()
    indices, scores = [], []
    with torch.inference_mode(), runtime.autocast():
        for batch in loader:
            if batch["waves"].numel() == 0:
                continue
            out = detector.score(batch["waves"].to(runtime.device, non_blocking=True),
                                 batch["lengths"].to(runtime.device))
            scores.append(out.float().cpu().numpy())
            indices.append(batch["indices"].numpy())
    idx = np.concatenate(indices) if indices else np.zeros(0, np.int64)
    sc = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    if runtime.distributed:
        import torch.distributed as dist
        gathered: list[Any] = [None] * runtime.world_size
        dist.all_gather_object(gathered, (idx, sc))
        idx = np.concatenate([g[0] for g in gathered])
        sc = np.concatenate([g[1] for g in gathered])
        idx, first = np.unique(idx, return_index=True)
        sc = sc[first]
    if not np.all(np.isfinite(sc)):
        return float("nan")
    labels = targets[idx]
    if labels.min() == labels.max():
        return float("nan")  # every clip of one class failed to read
    eer, _ = compute_eer(sc[labels == 1], sc[labels == 0])
    return float(eer)


def train(config: TrainConfig, train_trials: Sequence[Any], dev_trials: Sequence[Any], *, root: Any,
          out_dir: str | Path, resume: bool = False, progress: bool = True, dev_root: Any = None,
          on_batch_end: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train ``config.detector`` on ``train_trials``, select on dev EER, write the run dir.

    ``root`` is the corpus root (or a ``{corpus: root}`` mapping) of the trials' relative paths;
    ``dev_root`` defaults to ``root``. ``resume=True`` continues from ``checkpoints/last.pt``.
    ``on_batch_end(epoch, step)`` is called after every optimiser step (progress hooks, tests).
    Launched by ``torchrun`` with several processes it trains with DistributedDataParallel;
    rank 0 writes the run dir, holding its lock (:mod:`.locks`) for the run.
    """
    config = config.validate()
    data = _TrainInputs(_check_trials(train_trials, "train"), _check_trials(dev_trials, "dev"), root,
                        root if dev_root is None else dev_root)
    check_roots(data.root, "root")
    check_roots(data.dev_root, "dev_root")
    out = prepare_out_dir(out_dir)
    runtime = setup_runtime(config.device, config.precision)
    configure_backends(config.cudnn_benchmark, config.deterministic)
    ctx = _RunContext(config, runtime, out, resume, progress, on_batch_end)
    with exclusive(out, "training run") if runtime.is_main else contextlib.nullcontext():  # one trainer per run dir
        return _start(ctx, data)


def _start(ctx: "_RunContext", data: "_TrainInputs") -> TrainResult:
    """Record the config and environment (rank 0), build the detector, then train or fit it."""
    from spoofbench.models import build_detector

    config, runtime, out = ctx.config, ctx.runtime, ctx.out
    if ctx.last.exists() and not ctx.resume:
        raise ConfigError(f"{out} already holds a training run ({ctx.last}); pass --resume to "
                          "continue it or choose a new --out", path=out)
    if runtime.is_main:
        ctx.ckdir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False), fsync=True)
        write_json_atomic(out / "environment.json", environment_record(runtime), fsync=True)
    with seeded(config.seed, runtime.device), cpu_threads(config.cpu_threads):
        detector = build_detector(config.detector, config.preset, **dict(config.overrides))
        if detector.training_mode == "fit":
            return _fit(ctx, detector, data)
        ssl_notes = apply_ssl_options(detector, config.ssl)
        if config.ssl.cache_features:
            from .ssl_cache import enable_feature_cache
            augmenting = Augmenter(config.augment, detector.sample_rate).active
            ssl_notes.append(enable_feature_cache(detector, config.ssl, out, augmenting)[1])
        detector.to(runtime.device)
        return _train_gradient(ctx, detector, data, ssl_notes)


@dataclass(frozen=True)
class _TrainInputs:
    """The train and dev trials and the corpus roots their paths are relative to."""
    train: list
    dev: list
    root: Any
    dev_root: Any


@dataclass(frozen=True)
class _RunContext:
    """What every step of a run needs besides the model: config, runtime, run dir, hooks."""
    config: TrainConfig
    runtime: Runtime
    out: Path
    resume: bool
    progress: bool
    on_batch_end: Callable[[int, int], None] | None

    @property
    def log(self) -> logging.LoggerAdapter:
        """Lines attributed to this run: ``[lfcc_gmm:tiny seed=0] ...``."""
        label = self.config.detector + (f":{self.config.preset}" if self.config.preset else "")
        return context_logger(__name__, detector=label, seed=self.config.seed)

    @property
    def ckdir(self) -> Path:
        return self.out / "checkpoints"

    @property
    def last(self) -> Path:
        return self.ckdir / checkpoint_io.LAST

    @property
    def best(self) -> Path:
        return self.ckdir / checkpoint_io.BEST


@dataclass
class _Optimisation:
    """The model (DDP-wrapped when distributed), its optimiser, schedule, grad scaler and loss weights."""
    detector: Any
    model: torch.nn.Module
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    grad_clip: float = 0.0             # max gradient norm; 0 disables clipping
    class_weight: torch.Tensor | None = None

    @classmethod
    def build(cls, config: TrainConfig, detector: Any, runtime: Runtime) -> "_Optimisation":
        model: torch.nn.Module = detector
        if runtime.distributed:
            model = torch.nn.parallel.DistributedDataParallel(
                detector, device_ids=[runtime.device.index] if runtime.device.type == "cuda" else None)
        params = [p for p in detector.parameters() if p.requires_grad]
        optimizer = _make_optimizer(config, params)
        scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.precision == "fp16")
        return cls(detector, model, params, optimizer, _make_scheduler(config, optimizer), scaler,
                   config.optim.grad_clip)

    def checkpoint(self, state: checkpoint_io.TrainState, config: TrainConfig) -> dict[str, Any]:
        """Everything a resume needs: model, optimiser, schedule, scaler, RNG and the run's state."""
        return {**checkpoint_io.model_payload(self.detector, self.detector.state_dict()),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
                "rng": checkpoint_io.rng_state(), **state.to_payload(), "train_config": config.to_dict()}

    def restore(self, payload: dict[str, Any]) -> checkpoint_io.TrainState:
        """Load a :meth:`checkpoint` back; returns the run's state."""
        self.detector.load_state_dict(payload["state_dict"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        if payload.get("scaler"):
            self.scaler.load_state_dict(payload["scaler"])
        checkpoint_io.set_rng_state(payload["rng"])
        return checkpoint_io.TrainState.from_payload(payload)


@dataclass(frozen=True)
class _Loaders:
    """Train and dev data: datasets, the seeded train sampler and both loaders."""
    train_set: TrainDataset
    dev_set: TrainDataset
    train_sampler: BucketBatchSampler
    train: torch.utils.data.DataLoader
    dev: torch.utils.data.DataLoader
    transform: BatchTransform | None = None   # data.loader: batch — augmentation/normalisation on the device


def _clip_lengths(trials: list, root: Any, policy: Any, sample_rate: int, cap: int | None) -> list[int]:
    """Per-clip input lengths for length bucketing (the policy's fixed length, else the clip's)."""
    if policy.mode == "fixed":
        return [policy.num_samples] * len(trials)
    rows = root.rows(trials) if isinstance(root, PackedRoot) else [-1] * len(trials)
    est = [estimated_samples(t, root, sample_rate, int(row)) for t, row in zip(trials, rows)]
    return [min(e, cap) for e in est] if cap else est


def _dev_loader(config: TrainConfig, runtime: Runtime, detector: Any, data: _TrainInputs) -> tuple[TrainDataset, Any]:
    sr, policy = detector.sample_rate, detector.input_policy
    dev_root = with_pack(data.dev_root, sr, config.data)
    dev_set = TrainDataset(data.dev, dev_root, sample_rate=sr, policy=policy,
                           min_samples=detector.min_samples, train=False, seed=config.seed)
    shards = _EvalShards(_clip_lengths(data.dev, dev_root, policy, sr, None), dev_set.targets,
                         config.eval_batch_size, runtime.rank, runtime.world_size)
    return dev_set, _loader(dev_set, shards, config, runtime, config.num_workers)


def _make_loaders(config: TrainConfig, runtime: Runtime, detector: Any, data: _TrainInputs) -> _Loaders:
    sr, policy = detector.sample_rate, detector.input_policy
    max_samples = int(config.max_train_seconds * sr)
    root = with_pack(data.root, sr, config.data)
    kind = BatchDataset if config.data.loader == "batch" else TrainDataset  # whole batches per read, or clips
    extra = {"int16_batches": runtime.device.type == "cuda"} if kind is BatchDataset else {"train": True}
    train_set = kind(data.train, root, sample_rate=sr, policy=policy, min_samples=detector.min_samples,
                     seed=config.seed, max_samples=max_samples, augmenter=Augmenter(config.augment, sr),
                     eval_crop=config.ssl.cache_features, **extra)
    dev_set, dev_loader = _dev_loader(config, runtime, detector, data)
    sampler = BucketBatchSampler(_clip_lengths(data.train, root, policy, sr, max_samples), train_set.targets,
                                 config.batch_size, seed=config.seed, balance=config.balance == "sampler",
                                 bucket=config.bucket, rank=runtime.rank, world_size=runtime.world_size)
    if kind is BatchDataset:
        loader = batch_loader(train_set, sampler, workers=config.num_workers, cuda=runtime.device.type == "cuda")
        transform = BatchTransform(Augmenter(config.augment, sr), policy, train=not config.ssl.cache_features)
        return _Loaders(train_set, dev_set, sampler, loader, dev_loader, transform)
    return _Loaders(train_set, dev_set, sampler, _loader(train_set, sampler, config, runtime, config.num_workers),
                    dev_loader)


def _class_weight(config: TrainConfig, targets: np.ndarray, runtime: Runtime) -> torch.Tensor | None:
    """Inverse class frequencies for ``balance: weighted_loss`` (else None)."""
    if config.balance != "weighted_loss":
        return None
    counts = np.bincount(targets, minlength=2).astype(np.float64)
    return torch.tensor(counts.sum() / (2.0 * np.maximum(counts, 1.0)), dtype=torch.float32, device=runtime.device)


def _train_gradient(ctx: _RunContext, detector: Any, data: _TrainInputs, ssl_notes: list[str]) -> TrainResult:
    """Epochs of gradient training with dev-EER selection, early stopping and per-epoch checkpoints."""
    config, runtime = ctx.config, ctx.runtime
    optimisation = _Optimisation.build(config, detector, runtime)
    loaders = _make_loaders(config, runtime, detector, data)
    precode_for_training(config, loaders.train_set, runtime, ctx.log, ctx.progress and runtime.is_main)
    _barrier(runtime)   # every rank's share of the codec augmentation is in the cache
    optimisation.class_weight = _class_weight(config, loaders.train_set.targets, runtime)
    state = checkpoint_io.TrainState()
    if ctx.resume and ctx.last.exists():
        payload = checkpoint_io.load_state(ctx.last)
        _check_resume(payload, config, ctx.last)
        state = optimisation.restore(payload)
    writer = _tensorboard(ctx.out) if runtime.is_main else None
    for epoch in range(state.next_epoch, config.epochs):
        if state.stopped_early:
            break
        improved = _epoch(ctx, optimisation, loaders, state, epoch)
        if runtime.is_main:
            _save_epoch(ctx, optimisation, state, improved, writer)
        _barrier(runtime)
    if writer is not None:
        writer.close()
    if state.best_epoch < 0:
        raise ManifestError("no epoch gave a finite dev EER (are the dev clips readable?)", field="dev")
    result = TrainResult(ctx.out, ctx.best, ctx.last, detector.name, state.best_epoch + 1, state.best_dev_eer,
                         len(state.history), state.stopped_early, tuple(state.history), weights_digest(detector),
                         polarity_warnings(state.best_dev_eer, ctx.out))
    if runtime.is_main:
        write_json_atomic(ctx.out / "train_result.json", {**result.to_dict(), "ssl_options": ssl_notes,
                                                          "input_policy": detector.input_policy.to_dict()},
                          fsync=True)
    return result


def _epoch(ctx: _RunContext, optimisation: _Optimisation, loaders: _Loaders, state: checkpoint_io.TrainState,
           epoch: int) -> bool:
    """Train one epoch, evaluate on dev, update ``state`` (history, best, patience); True if improved."""
    config, runtime = ctx.config, ctx.runtime
    t0 = time.perf_counter()
    torch.manual_seed(epoch_seed(config.seed, epoch))
    loaders.train_sampler.set_epoch(epoch)
    optimisation.model.train()
    waiting = _WaitClock(loaders.train)
    loss_sum, seen, failed = _train_batches(ctx, optimisation, waiting, epoch, loaders.transform)
    train_seconds = time.perf_counter() - t0
    lr = optimisation.optimizer.param_groups[0]["lr"]
    optimisation.scheduler.step()
    totals = _reduce(runtime, [loss_sum, seen, failed])
    _sync_buffers(runtime, optimisation.detector)
    dev_eer = evaluate_eer(optimisation.detector, loaders.dev, loaders.dev_set.targets, runtime)
    improved = state.update(epoch, dev_eer, config.patience, config.epochs)
    state.history.append({"epoch": epoch + 1, "train_loss": totals[0] / max(totals[1], 1), "dev_eer": dev_eer,
                          "best_dev_eer": state.best_dev_eer, "lr": lr, "train_samples": int(totals[1]),
                          "samples_per_s": totals[1] / train_seconds, "failed_clips": int(totals[2]),
                          "seconds": time.perf_counter() - t0, "train_seconds": train_seconds,
                          "data_wait_seconds": waiting.seconds})
    return improved


class _WaitClock:
    """Iterates a loader and adds up the time spent waiting for its next batch (``seconds``): the share
    of an epoch in which the model waited for data."""

    def __init__(self, loader: Any):
        self.loader, self.seconds = loader, 0.0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        batches = iter(self.loader)
        while True:
            start = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                self.seconds += time.perf_counter() - start
                return
            self.seconds += time.perf_counter() - start
            yield batch


def _train_batches(ctx: _RunContext, optimisation: _Optimisation, loader: Any, epoch: int,
                   transform: BatchTransform | None = None) -> tuple[float, int, int]:
    """One pass over the train loader; returns (summed loss, clips trained on, unreadable clips).
    ``transform``: the batch loader's on-device augmentation and normalisation."""
    config, runtime = ctx.config, ctx.runtime
    loss_sum = torch.zeros((), dtype=torch.float64)
    seen, failed = 0, 0
    batches = show_progress(loader, desc=f"epoch {epoch + 1}/{config.epochs} batches", logger=ctx.log,
                            enabled=ctx.progress and runtime.is_main)
    for step, batch in enumerate(batches):
        failed += batch["failed"]
        usable = batch["targets"].numel() >= 2
        if not usable and not runtime.distributed:
            continue  # unreadable clips left fewer than two (BatchNorm needs two)
        inputs = batch if usable else _placeholder_batch(optimisation.detector)
        loss, n = _train_step(optimisation, inputs, usable, runtime, transform)
        loss_sum += loss * n
        seen += n
        if step % config.log_every == 0 and runtime.is_main:
            ctx.log.debug("epoch %d step %d: loss %.4f", epoch + 1, step, loss)
        if ctx.on_batch_end is not None:
            ctx.on_batch_end(epoch, step)
    return float(loss_sum), seen, failed


def _train_step(optimisation: _Optimisation, batch: dict, usable: bool, runtime: Runtime,
                transform: BatchTransform | None = None) -> tuple[float, int]:
    """One optimiser step; an unusable batch (DDP only) takes a zero-weight step so ranks stay in step.
    Returns (loss, clips it counts for)."""
    waves = train_view(batch, transform, runtime.device)
    targets = batch["targets"].to(runtime.device, non_blocking=True)
    with runtime.autocast():
        logits = optimisation.model(waves, batch["lengths"].to(runtime.device))
    loss = torch.nn.functional.cross_entropy(logits.float(), targets, weight=optimisation.class_weight)
    if not usable:
        loss = loss * 0.0
        targets = targets[:0]
    optimisation.optimizer.zero_grad(set_to_none=True)
    optimisation.scaler.scale(loss).backward()
    if optimisation.grad_clip > 0:
        optimisation.scaler.unscale_(optimisation.optimizer)
        torch.nn.utils.clip_grad_norm_(optimisation.params, optimisation.grad_clip)
    optimisation.scaler.step(optimisation.optimizer)
    optimisation.scaler.update()
    return float(loss.detach()), targets.numel()


def _save_epoch(ctx: _RunContext, optimisation: _Optimisation, state: checkpoint_io.TrainState, improved: bool,
                writer: Any) -> None:
    """Rank 0 after an epoch: best.pt when improved, last.pt, log.csv, TensorBoard, a progress line."""
    row = state.history[-1]
    if improved:
        detector = optimisation.detector
        checkpoint_io.save_torch(ctx.best, checkpoint_io.model_payload(detector, detector.state_dict(),
                                                                       epoch=row["epoch"], dev_eer=row["dev_eer"]))
    checkpoint_io.save_torch(ctx.last, optimisation.checkpoint(state, ctx.config))
    write_log(ctx.out / "log.csv", state.history)
    if writer is not None:
        for key in ("train_loss", "dev_eer", "lr", "samples_per_s"):
            writer.add_scalar(key, row[key], row["epoch"])
        writer.flush()
    ctx.log.log(logging.INFO if ctx.progress else logging.DEBUG,
                f"epoch {row['epoch']}/{ctx.config.epochs}: loss {row['train_loss']:.4f}  dev EER "
                f"{100 * row['dev_eer']:.2f}%  best {100 * state.best_dev_eer:.2f}% (epoch {state.best_epoch + 1})")


def write_log(path: Path, history: Sequence[dict]) -> None:
    """``log.csv``: one row per epoch, :data:`LOG_COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOG_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(path, buffer.getvalue(), fsync=True)


class _EvalShards(BucketBatchSampler):
    """Length-sorted, unshuffled eval batches; rank r takes every world_size-th batch (no padding)."""

    def __init__(self, lengths: list[int], targets: np.ndarray, batch_size: int, rank: int, world: int):
        super().__init__(lengths, targets, batch_size, seed=0, shuffle=False, bucket=True,
                         pool_batches=10 ** 9, rank=rank, world_size=world)

    def _mine(self) -> list[list[int]]:
        return self.batches()[self.rank::self.world_size]


def _placeholder_batch(detector: Any) -> dict[str, torch.Tensor]:
    n = max(detector.min_samples, detector.input_policy.num_samples or 0)
    return {"waves": torch.zeros(2, n), "lengths": torch.full((2,), n, dtype=torch.int64),
            "targets": torch.tensor([0, 1])}


def _check_resume(state: dict, config: TrainConfig, path: Path) -> None:
    saved, now = without_precode(state["train_config"]), without_precode(config.to_dict())
    changed = sorted(k for k in set(saved) | set(now)
                     if k not in RESUMABLE_CHANGES and saved.get(k) != now.get(k))
    loaders = [(c.get("data") or {}).get("loader", "per_clip") for c in (saved, now)]
    if loaders[0] != loaders[1]:   # other crops and draws: not the same run
        raise ConfigError(f"cannot resume: data.loader was {loaders[0]!r}, now {loaders[1]!r} (the loaders draw "
                          "different crops); resume with the run's loader", path=path, field="data.loader")
    if changed:
        detail = "; ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise ConfigError(f"cannot resume: the config differs from the checkpointed run ({detail}); "
                          f"only {', '.join(sorted(RESUMABLE_CHANGES))} may change", path=path)


def _reduce(runtime: Runtime, values: list[float]) -> list[float]:
    if not runtime.distributed:
        return values
    import torch.distributed as dist
    t = torch.tensor(values, dtype=torch.float64, device=runtime.device)
    dist.all_reduce(t)
    return t.tolist()


def _sync_buffers(runtime: Runtime, module: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics drift apart after the last step)."""
    if not runtime.distributed:
        return
    import torch.distributed as dist
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)


def _barrier(runtime: Runtime) -> None:
    if runtime.distributed:
        import torch.distributed as dist
        dist.barrier()


def _tensorboard(out: Path) -> Any:
    """The epoch curves' trackers beside log.csv (TensorBoard when installed, MLflow/W&B/own callback through
    $SPOOFBENCH_TRACKERS), or None: :mod:`spoofbench.engine.tracking`."""
    from .tracking import open_trackers

    return open_trackers(out)


def _fit(ctx: _RunContext, detector: Any, data: _TrainInputs) -> TrainResult:
    """Closed-form detectors (``training_mode == "fit"``, e.g. lfcc_gmm): ``detector.fit(waves, labels)``."""
    from .audio import AudioReadError
    from .data import read_clip

    config, runtime = ctx.config, ctx.runtime
    waves, labels = [], []
    root = with_pack(data.root, detector.sample_rate, config.data)
    for trial in show_progress(data.train, desc="reading train audio", logger=ctx.log, enabled=ctx.progress):
        try:
            waves.append(read_clip(trial, root, detector.sample_rate)[0])
        except AudioReadError:
            continue
        labels.append(trial.target)
    t0 = time.perf_counter()
    detector.fit(waves, np.asarray(labels, dtype=np.int64), seed=config.seed)
    detector.to(runtime.device)
    dev_set, dev_loader = _dev_loader(config, runtime, detector, data)
    dev_eer = evaluate_eer(detector, dev_loader, dev_set.targets, runtime)
    seconds = time.perf_counter() - t0
    state = checkpoint_io.TrainState(1, dev_eer, 0, 0, False, [{
        "epoch": 1, "train_loss": float("nan"), "dev_eer": dev_eer, "best_dev_eer": dev_eer, "lr": 0.0,
        "train_samples": len(waves), "samples_per_s": len(waves) / seconds,
        "failed_clips": len(data.train) - len(waves), "seconds": seconds}])
    result = TrainResult(ctx.out, ctx.best, ctx.last, detector.name, 1, dev_eer, 1, False, tuple(state.history),
                         weights_digest(detector), polarity_warnings(dev_eer, ctx.out))
    if runtime.is_main:
        payload = checkpoint_io.model_payload(detector, detector.state_dict(), epoch=1, dev_eer=dev_eer)
        checkpoint_io.save_torch(ctx.best, payload)
        checkpoint_io.save_torch(ctx.last, {**payload, "optimizer": {}, "scheduler": {},
                                            "rng": checkpoint_io.rng_state(), **state.to_payload(),
                                            "train_config": config.to_dict()})
        write_log(ctx.out / "log.csv", state.history)
        write_json_atomic(ctx.out / "train_result.json",
                          {**result.to_dict(), "input_policy": detector.input_policy.to_dict()}, fsync=True)
    return result
