"""Pre-code codec augmentation: every training clip through every condition of the fixed set, into the codec cache,
before the first epoch, so the loader workers only read coded clips from the cache instead of running codecs while
the accelerator waits.

Codec augmentation draws one condition per clip from ``augment.codec.conditions`` / ``augment.codec.matrix``
(:class:`~spoofbench.engine.augment.Augmenter`). That set is fixed, and a coded clip depends only on the clip, the
condition and the trial id (which seeds a random condition's packet loss or noise), so every entry an epoch can draw
is known in advance. The pass reads each clip exactly as the training loaders do (:func:`~.data.read_clip` with the
same root, pack and row, the whole clip at the detector's rate) and codes it with :meth:`Augmenter.code`, the call a
draw makes: same wave, condition and key, hence the same cache key. Identity conditions are not coded (nor cached).

``augment.codec.precode``: ``auto`` (default) runs the pass when ``cache_dir`` is writable and the coded set fits
``cache_max_bytes`` (else the cache fills lazily, as before); ``on`` requires it; ``off`` never runs it. Resumable:
an entry already in the cache is a hit and is not coded again (a killed pass resumes where it stopped; the cache's
writes are atomic). A clip that cannot be read or coded is reported and skipped. The pass runs in a process pool
(``workers``; 0 = in this process) with progress and ETA. Ahead of training: :func:`precode_codec_augmentation`.
"""
from __future__ import annotations

import concurrent.futures as cf
import copy
import logging
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, SpoofbenchError
from ..logs import ProgressCounter
from .augment import Augmenter
from .config import AugmentConfig, TrainConfig
from .data import PackedRoot, estimated_samples, read_clip, with_pack
from .runtime import usable_cpus

_ENTRY_HEADER = 48        # bytes of a codec cache entry besides its float32 samples (codecs/cache.py)
_LOG = logging.getLogger(__name__)


@dataclass
class PrecodeResult:
    """What a pre-coding pass did. ``coded``/``cached``: (clip, condition) pairs coded now / found in the cache;
    ``failed``: ``(trial id, reason)`` of the clips (or clip-condition pairs) skipped; ``skipped``: why no pass
    ran (None when it ran); ``stopped``: why it stopped early (the cache stopped accepting writes)."""
    clips: int = 0
    conditions: int = 0
    coded: int = 0
    cached: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None
    stopped: str | None = None

    def summary(self) -> str:
        if self.skipped:
            return f"codec augmentation not pre-coded: {self.skipped}"
        text = (f"pre-coded codec augmentation: {self.clips} clips x {self.conditions} conditions: {self.coded} coded, "
                f"{self.cached} already cached, {len(self.failed)} failed, in {self.seconds:.1f} s")
        return text + (f"; stopped early: {self.stopped}" if self.stopped else "")


def _writable(directory: str) -> str | None:
    """None when ``directory`` exists (or can be made) and can be written, else why not."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"cannot create the codec cache folder {path}: {err.strerror or err}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"the codec cache folder {path} is not writable"
    return None


def precode_decision(config: AugmentConfig) -> str | None:
    """None when the pass should run for ``config``, else why not. Raises ConfigError when ``augment.codec.precode``
    is ``on`` and the cache cannot be filled (no ``cache_dir``, or one that cannot be written)."""
    cfg = config.codec
    if cfg.precode == "off":
        return "augment.codec.precode is off"
    if cfg.probability <= 0:
        return "codec augmentation is off (augment.codec.probability is 0)"
    why = "augment.codec.cache_dir is not set (no cache to fill)" if not cfg.cache_dir else _writable(cfg.cache_dir)
    if why and cfg.precode == "on":
        raise ConfigError(f"augment.codec.precode is 'on' but {why}", field="augment.codec.precode")
    return why


def _too_big(trials: Sequence[Any], root: Any, rows: np.ndarray, sample_rate: int, conditions: int,
             cfg: Any) -> str | None:
    """Why the coded set would not fit ``cache_max_bytes`` (the cache would evict what the pass wrote), or None."""
    samples = sum(estimated_samples(t, root, sample_rate, int(r)) for t, r in zip(trials, rows))
    need = conditions * (4 * samples + _ENTRY_HEADER * len(trials))
    if need <= cfg.cache_max_bytes:
        return None
    why = (f"the coded set (about {need / 1e9:.2f} GB: {len(trials)} clips x {conditions} conditions) does not fit "
           f"augment.codec.cache_max_bytes ({cfg.cache_max_bytes / 1e9:.2f} GB)")
    if cfg.precode == "on":
        raise ConfigError(f"augment.codec.precode is 'on' but {why}; raise cache_max_bytes",
                          field="augment.codec.cache_max_bytes")
    return why


@dataclass
class _Work:
    """What every pre-coding worker holds (inherited on fork, pickled once per worker on spawn)."""
    trials: Sequence[Any]
    root: Any
    rows: np.ndarray
    sample_rate: int
    augment: AugmentConfig


_STATE: dict[str, Any] = {}


def _init_worker(work: _Work) -> None:
    _STATE["work"] = work
    _STATE["augmenter"] = Augmenter(work.augment, work.sample_rate)


def _code_clips(indices: range) -> dict:
    """Code clips ``indices`` of the worker's :class:`_Work` through every condition; counts and failures."""
    work, augmenter = _STATE["work"], _STATE["augmenter"]
    conditions = [c for c in augmenter.conditions() if not c.is_identity]
    out: dict[str, Any] = {"clips": 0, "coded": 0, "cached": 0, "failed": [], "disabled": None}
    for index in indices:
        trial = work.trials[index]
        out["clips"] += 1
        try:
            wave = read_clip(trial, work.root, work.sample_rate, int(work.rows[index]))[0]   # as the loaders read it
        except (SpoofbenchError, OSError, ValueError) as err:
            out["failed"].append((trial.id, _reason(err)))
            continue
        for condition in conditions:
            try:
                report = augmenter.code(wave, condition, trial.id)                          # as a draw codes it
            except (SpoofbenchError, OSError, ValueError) as err:
                out["failed"].append((trial.id, _reason(err)))
                continue
            out["cached" if report.cached else "coded"] += 1
        out["disabled"] = augmenter.cache.disabled
        if out["disabled"]:
            break
    return out


def _reason(err: Exception) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())


def _pool(workers: int, work: _Work) -> cf.ProcessPoolExecutor:
    """Fork where the platform has it (the workers share the trials and the pack index copy-on-write, as the
    training DataLoader's workers do), else spawn."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                                  initializer=_init_worker, initargs=(work,))


def _run(work: _Work, chunks: list[range], workers: int):
    """Each chunk's counts, as they finish."""
    if workers <= 0:
        _init_worker(work)
        try:
            for chunk in chunks:
                yield _code_clips(chunk)
        finally:
            _STATE.clear()
        return
    with _pool(workers, work) as pool:
        futures = [pool.submit(_code_clips, chunk) for chunk in chunks]
        try:
            for future in cf.as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def precode_clips(trials: Sequence[Any], root: Any, augment: AugmentConfig, sample_rate: int, *,
                  rows: Sequence[int] | None = None, workers: int = 0, progress: bool = True,
                  logger: Any = None) -> PrecodeResult:
    """Code every clip of ``trials`` (read from ``root``, a corpus root or a :class:`~.data.PackedRoot`, at
    ``sample_rate``; ``rows``: their pack rows, looked up when None) through every condition of ``augment.codec``
    into its cache, with ``workers`` processes (0 = here). Returns a :class:`PrecodeResult`; raises ConfigError
    (``precode: on`` and the cache cannot take the set) or CodecError (a condition no engine here can run)."""
    from spoofbench.codecs.availability import require_runnable

    start = time.monotonic()
    result = PrecodeResult(clips=len(trials))
    result.skipped = precode_decision(augment)
    if result.skipped:
        return result
    conditions = [c for c in Augmenter(augment, sample_rate).conditions() if not c.is_identity]
    result.conditions = len(conditions)
    if not conditions:
        result.skipped = "every condition of the set is the identity (nothing to code)"
        return result
    require_runnable(conditions)
    rows = np.asarray(rows if rows is not None else
                      root.rows(trials) if isinstance(root, PackedRoot) else np.full(len(trials), -1))
    result.skipped = _too_big(trials, root, rows, sample_rate, len(conditions), augment.codec)
    if result.skipped:
        return result
    work = _Work(list(trials), root, rows, int(sample_rate), augment)
    size = max(1, min(32, len(trials) // max(1, 8 * workers)))     # small chunks: balance and progress
    chunks = [range(i, min(i + size, len(trials))) for i in range(0, len(trials), size)]
    counter = ProgressCounter(len(trials), desc="pre-coding codec augmentation", logger=logger, enabled=progress)
    try:
        for part in _run(work, chunks, workers):
            result.coded, result.cached = result.coded + part["coded"], result.cached + part["cached"]
            result.failed += part["failed"]
            counter.update(part["clips"])
            if part["disabled"]:
                result.stopped = f"the codec cache stopped taking entries ({part['disabled']})"
                break
    finally:
        counter.close()
    result.seconds = time.monotonic() - start
    return result


def precode_for_training(config: TrainConfig, dataset: Any, runtime: Any, logger: Any,
                         progress: bool) -> PrecodeResult:
    """The trainer's pass before the first epoch over ``dataset`` (the train set as its loader reads it: trials,
    root with its pack, rows, rate). ``num_workers: 0`` codes in this process, else with every usable core (shared
    among the ranks of a distributed run, each coding its share of the clips; the trainer then waits on a barrier).
    Logs a summary and the first failures."""
    rank, world = getattr(runtime, "rank", 0), getattr(runtime, "world_size", 1)
    trials, rows = dataset.trials[rank::world], np.asarray(dataset.rows)[rank::world]
    workers = max(1, usable_cpus() // max(1, world)) if config.num_workers > 0 else 0
    result = precode_clips(trials, dataset.root, config.augment, dataset.sample_rate, rows=rows, workers=workers,
                           progress=progress, logger=logger)
    if config.augment.codec.probability > 0 and (logger is not None):
        level = logging.INFO if progress and not result.skipped else logging.DEBUG
        logger.log(level, result.summary())
        for trial_id, reason in result.failed[:5]:
            logger.warning(f"pre-coding skipped clip {trial_id}: {reason}")
    return result


def precode_codec_augmentation(manifest: Any, config: TrainConfig | str | os.PathLike, *, root: Any,
                               sample_rate: int | None = None, workers: int | None = None,
                               progress: bool = True) -> PrecodeResult:
    """Pre-code ahead of training: code the training clips of ``manifest`` (a manifest path, or trials) through
    ``config``'s codec augmentation set (a :class:`TrainConfig` or its YAML path) into its cache, reading them as
    training will (``root`` with the pack ``config.data`` selects, at ``sample_rate``: the detector's when None).
    ``workers``: processes (None = every usable core; 0 = in this process)."""
    if not isinstance(config, TrainConfig):
        config = TrainConfig.from_yaml(config)
    config = config.validate()
    if isinstance(manifest, (str, os.PathLike)):
        from spoofbench.corpora.manifest import read_manifest
        manifest = read_manifest(manifest)
    if sample_rate is None:
        from spoofbench.models import build_detector
        sample_rate = build_detector(config.detector, config.preset, **dict(config.overrides)).sample_rate
    trials = list(manifest)
    packed = with_pack(root, int(sample_rate), config.data)
    result = precode_clips(trials, packed, config.augment, int(sample_rate),
                           workers=usable_cpus() if workers is None else workers, progress=progress)
    _LOG.log(logging.INFO if progress else logging.DEBUG, result.summary())
    return result


def without_precode(config: dict) -> dict:
    """A recorded train config (``TrainConfig.to_dict()``) without ``augment.codec.precode``: the switch changes
    when clips are coded, never what is trained, so a run resumes whatever it is (and runs recorded before it
    existed resume too)."""
    out = copy.deepcopy(config)
    codec = (out.get("augment") or {}).get("codec")
    if isinstance(codec, dict):
        codec.pop("precode", None)
    return out
