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

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from ..errors import ConfigError, ManifestError
from . import checkpoint as ck
from .augment import Augmenter
from .config import TrainConfig
from .data import (BucketBatchSampler, TrainDataset, check_roots, collate_train, estimated_samples,
                   prepare_out_dir, worker_init)
from .runtime import Runtime, configure_backends, cpu_threads, environment_record, seeded, setup_runtime
from .ssl import apply_ssl_options

LOG_COLUMNS = ["epoch", "train_loss", "dev_eer", "best_dev_eer", "lr", "train_samples", "samples_per_s",
               "failed_clips", "seconds"]
#: Config fields that may change between a run and its resume.
RESUMABLE_CHANGES = {"epochs", "num_workers", "cpu_threads", "device", "log_every", "eval_batch_size", "patience"}


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
    o = cfg.optim
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)


def _make_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer) -> Any:
    o = cfg.optim
    if o.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if o.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=o.step_epochs, gamma=o.step_gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def _loader(dataset: TrainDataset, sampler: BucketBatchSampler, cfg: TrainConfig, rt: Runtime,
            workers: int) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, num_workers=workers, collate_fn=collate_train,
        worker_init_fn=worker_init if workers else None, pin_memory=rt.device.type == "cuda",
        prefetch_factor=4 if workers else None)


def evaluate_eer(detector: torch.nn.Module, loader: torch.utils.data.DataLoader, targets: np.ndarray,
                 rt: Runtime) -> float:
    """Dev EER (fraction) of ``detector`` over ``loader`` (shards gathered across ranks)."""
    from spoofbench.metrics import compute_eer

    detector.eval()
    indices, scores = [], []
    with torch.inference_mode(), rt.autocast():
        for batch in loader:
            if batch["waves"].numel() == 0:
                continue
            out = detector.score(batch["waves"].to(rt.device, non_blocking=True),
                                 batch["lengths"].to(rt.device))
            scores.append(out.float().cpu().numpy())
            indices.append(batch["indices"].numpy())
    idx = np.concatenate(indices) if indices else np.zeros(0, np.int64)
    sc = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    if rt.distributed:
        import torch.distributed as dist
        gathered: list[Any] = [None] * rt.world_size
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
    rank 0 writes the run dir.
    """
    from spoofbench.models import build_detector

    config = config.validate()
    train_trials = _check_trials(train_trials, "train")
    dev_trials = _check_trials(dev_trials, "dev")
    dev_root = root if dev_root is None else dev_root
    check_roots(root, "root")
    check_roots(dev_root, "dev_root")
    out = prepare_out_dir(out_dir)
    ckdir = out / "checkpoints"
    rt = setup_runtime(config.device, config.precision)
    configure_backends(config.cudnn_benchmark, config.deterministic)
    if (ckdir / ck.LAST).exists() and not resume:
        raise ConfigError(f"{out} already holds a training run ({ckdir / ck.LAST}); pass --resume to "
                          "continue it or choose a new --out", path=out)
    if rt.is_main:
        ckdir.mkdir(parents=True, exist_ok=True)
        ck.write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
        ck.write_json(out / "environment.json", environment_record(rt))

    with seeded(config.seed, rt.device), cpu_threads(config.cpu_threads):
        detector = build_detector(config.detector, config.preset, **dict(config.overrides))
        if detector.training_mode == "fit":
            return _fit(config, detector, train_trials, dev_trials, root, dev_root, out, rt, progress)
        ssl_notes = apply_ssl_options(detector, config.ssl)
        detector.to(rt.device)
        return _train_gradient(config, detector, train_trials, dev_trials, root, dev_root, out, rt,
                               resume, progress, on_batch_end, ssl_notes)


def _train_gradient(config: TrainConfig, detector: Any, train_trials: list, dev_trials: list, root: Any,
                    dev_root: Any, out: Path, rt: Runtime, resume: bool, progress: bool,
                    on_batch_end: Callable[[int, int], None] | None, ssl_notes: list[str]) -> TrainResult:
    ckdir = out / "checkpoints"
    model: torch.nn.Module = detector
    if rt.distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            detector, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)
    params = [p for p in detector.parameters() if p.requires_grad]
    optimizer = _make_optimizer(config, params)
    scheduler = _make_scheduler(config, optimizer)
    scaler = torch.amp.GradScaler(rt.device.type, enabled=rt.precision == "fp16")

    sr, policy = detector.sample_rate, detector.input_policy
    max_samples = int(config.max_train_seconds * sr)
    augmenter = Augmenter(config.augment, sr)
    train_set = TrainDataset(train_trials, root, sample_rate=sr, policy=policy, min_samples=detector.min_samples,
                             train=True, seed=config.seed, max_samples=max_samples, augmenter=augmenter)
    dev_set = TrainDataset(dev_trials, dev_root, sample_rate=sr, policy=policy, min_samples=detector.min_samples,
                           train=False, seed=config.seed)

    def lengths(trials: list, r: Any, cap: int | None) -> list[int]:
        if policy.mode == "fixed":
            return [policy.num_samples] * len(trials)
        est = [estimated_samples(t, r, sr) for t in trials]
        return [min(e, cap) for e in est] if cap else est

    counts = np.bincount(train_set.targets, minlength=2).astype(np.float64)
    class_weight = None
    if config.balance == "weighted_loss":
        class_weight = torch.tensor(counts.sum() / (2.0 * np.maximum(counts, 1.0)), dtype=torch.float32,
                                    device=rt.device)
    train_sampler = BucketBatchSampler(lengths(train_trials, root, max_samples), train_set.targets,
                                       config.batch_size, seed=config.seed, balance=config.balance == "sampler",
                                       bucket=config.bucket, rank=rt.rank, world_size=rt.world_size)
    dev_sampler = _EvalShards(lengths(dev_trials, dev_root, None), dev_set.targets, config.eval_batch_size,
                              rt.rank, rt.world_size)
    train_loader = _loader(train_set, train_sampler, config, rt, config.num_workers)
    dev_loader = _loader(dev_set, dev_sampler, config, rt, config.num_workers)

    start_epoch, best_eer, best_epoch, bad_epochs, history, stopped = 0, math.inf, -1, 0, [], False
    if resume and (ckdir / ck.LAST).exists():
        state = ck.load_state(ckdir / ck.LAST)
        _check_resume(state, config, ckdir / ck.LAST)
        detector.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        ck.set_rng_state(state["rng"])
        start_epoch, best_eer, best_epoch = state["epoch"] + 1, state["best_dev_eer"], state["best_epoch"]
        bad_epochs, history, stopped = state["bad_epochs"], list(state["history"]), state["stopped_early"]

    writer = _tensorboard(out) if rt.is_main else None
    epoch = start_epoch - 1
    for epoch in range(start_epoch, config.epochs):
        if stopped:
            break
        t0 = time.perf_counter()
        torch.manual_seed(epoch_seed(config.seed, epoch))
        train_sampler.set_epoch(epoch)
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64)
        seen, failed = 0, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=not (progress and rt.is_main), leave=False)
        for step, batch in enumerate(bar):
            failed += batch["failed"]
            usable = batch["targets"].numel() >= 2
            if not usable and not rt.distributed:
                continue  # unreadable clips left fewer than two (BatchNorm needs two)
            if not usable:  # other ranks wait on this rank's gradients: take a zero-weight step
                batch = _placeholder_batch(detector)
            waves = batch["waves"].to(rt.device, non_blocking=True)
            targets = batch["targets"].to(rt.device, non_blocking=True)
            with rt.autocast():
                logits = model(waves, batch["lengths"].to(rt.device))
            loss = torch.nn.functional.cross_entropy(logits.float(), targets, weight=class_weight)
            if not usable:
                loss = loss * 0.0
                targets = targets[:0]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.optim.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, config.optim.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            loss_sum += float(loss.detach()) * targets.numel()
            seen += targets.numel()
            if step % config.log_every == 0:
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
            if on_batch_end is not None:
                on_batch_end(epoch, step)
        bar.close()
        train_seconds = time.perf_counter() - t0
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        totals = _reduce(rt, [float(loss_sum), seen, failed])
        _sync_buffers(rt, detector)
        dev_eer = evaluate_eer(detector, dev_loader, dev_set.targets, rt)
        improved = dev_eer < best_eer  # NaN never improves
        if improved:
            best_eer, best_epoch, bad_epochs = dev_eer, epoch, 0
        else:
            bad_epochs += 1
        seconds = time.perf_counter() - t0
        history.append({"epoch": epoch + 1, "train_loss": totals[0] / max(totals[1], 1), "dev_eer": dev_eer,
                        "best_dev_eer": best_eer, "lr": lr, "train_samples": int(totals[1]),
                        "samples_per_s": totals[1] / train_seconds, "failed_clips": int(totals[2]),
                        "seconds": seconds})
        stopped = config.patience > 0 and bad_epochs >= config.patience and epoch + 1 < config.epochs
        if rt.is_main:
            if improved:
                ck.save_torch(ckdir / ck.BEST, ck.model_payload(detector, detector.state_dict(),
                                                                epoch=epoch + 1, dev_eer=dev_eer))
            ck.save_torch(ckdir / ck.LAST, {
                **ck.model_payload(detector, detector.state_dict()),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler.is_enabled() else {}, "rng": ck.rng_state(),
                "epoch": epoch, "best_dev_eer": best_eer, "best_epoch": best_epoch, "bad_epochs": bad_epochs,
                "stopped_early": stopped, "history": history, "train_config": config.to_dict()})
            ck.write_csv(out / "log.csv", history, LOG_COLUMNS)
            if writer is not None:
                for key in ("train_loss", "dev_eer", "lr", "samples_per_s"):
                    writer.add_scalar(key, history[-1][key], epoch + 1)
                writer.flush()
            if progress:
                tqdm.write(f"epoch {epoch + 1}: loss {history[-1]['train_loss']:.4f}  dev EER "
                           f"{100 * dev_eer:.2f}%  best {100 * best_eer:.2f}% (epoch {best_epoch + 1})")
        _barrier(rt)

    if writer is not None:
        writer.close()
    if best_epoch < 0:
        raise ManifestError("no epoch gave a finite dev EER (are the dev clips readable?)", field="dev")
    result = TrainResult(out, ckdir / ck.BEST, ckdir / ck.LAST, detector.name, best_epoch + 1, best_eer,
                         len(history), stopped, tuple(history), weights_digest(detector),
                         polarity_warnings(best_eer, out))
    if rt.is_main:
        ck.write_json(out / "train_result.json", {**result.to_dict(), "ssl_options": ssl_notes,
                                                  "input_policy": policy.to_dict()})
    return result


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
    saved, now = state["train_config"], config.to_dict()
    changed = sorted(k for k in set(saved) | set(now)
                     if k not in RESUMABLE_CHANGES and saved.get(k) != now.get(k))
    if changed:
        detail = "; ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise ConfigError(f"cannot resume: the config differs from the checkpointed run ({detail}); "
                          f"only {', '.join(sorted(RESUMABLE_CHANGES))} may change", path=path)


def _reduce(rt: Runtime, values: list[float]) -> list[float]:
    if not rt.distributed:
        return values
    import torch.distributed as dist
    t = torch.tensor(values, dtype=torch.float64, device=rt.device)
    dist.all_reduce(t)
    return t.tolist()


def _sync_buffers(rt: Runtime, module: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics drift apart after the last step)."""
    if not rt.distributed:
        return
    import torch.distributed as dist
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)


def _barrier(rt: Runtime) -> None:
    if rt.distributed:
        import torch.distributed as dist
        dist.barrier()


def _tensorboard(out: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(out / "tensorboard"))


def _fit(config: TrainConfig, detector: Any, train_trials: list, dev_trials: list, root: Any, dev_root: Any,
         out: Path, rt: Runtime, progress: bool) -> TrainResult:
    """Closed-form detectors (``training_mode == "fit"``, e.g. lfcc_gmm): ``detector.fit(waves, labels)``."""
    from .audio import AudioReadError, read_audio
    from .data import resolve_root

    ckdir = out / "checkpoints"
    waves, labels = [], []
    for trial in tqdm(train_trials, desc="reading train audio", unit="clip", disable=not progress):
        try:
            waves.append(read_audio(trial.audio_path(resolve_root(root, trial)), detector.sample_rate))
        except AudioReadError:
            continue
        labels.append(trial.target)
    t0 = time.perf_counter()
    detector.fit(waves, np.asarray(labels, dtype=np.int64), seed=config.seed)
    detector.to(rt.device)
    sr, policy = detector.sample_rate, detector.input_policy
    dev_set = TrainDataset(dev_trials, dev_root, sample_rate=sr, policy=policy, min_samples=detector.min_samples,
                           train=False, seed=config.seed)
    dev_lengths = ([policy.num_samples] * len(dev_trials) if policy.mode == "fixed"
                   else [estimated_samples(t, dev_root, sr) for t in dev_trials])
    dev_loader = _loader(dev_set, _EvalShards(dev_lengths, dev_set.targets, config.eval_batch_size, rt.rank,
                                              rt.world_size), config, rt, config.num_workers)
    dev_eer = evaluate_eer(detector, dev_loader, dev_set.targets, rt)
    seconds = time.perf_counter() - t0
    history = [{"epoch": 1, "train_loss": float("nan"), "dev_eer": dev_eer, "best_dev_eer": dev_eer, "lr": 0.0,
                "train_samples": len(waves), "samples_per_s": len(waves) / seconds,
                "failed_clips": len(train_trials) - len(waves), "seconds": seconds}]
    result = TrainResult(out, ckdir / ck.BEST, ckdir / ck.LAST, detector.name, 1, dev_eer, 1, False,
                         tuple(history), weights_digest(detector), polarity_warnings(dev_eer, out))
    if rt.is_main:
        payload = ck.model_payload(detector, detector.state_dict(), epoch=1, dev_eer=dev_eer)
        ck.save_torch(ckdir / ck.BEST, payload)
        ck.save_torch(ckdir / ck.LAST, {**payload, "optimizer": {}, "scheduler": {}, "rng": ck.rng_state(),
                                        "epoch": 0, "best_dev_eer": dev_eer, "best_epoch": 0, "bad_epochs": 0,
                                        "stopped_early": False, "history": history,
                                        "train_config": config.to_dict()})
        ck.write_csv(out / "log.csv", history, LOG_COLUMNS)
        ck.write_json(out / "train_result.json", {**result.to_dict(), "input_policy": policy.to_dict()})
    return result
