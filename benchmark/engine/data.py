"""Training/dev data for the engine: a map-style dataset and a length-bucketing batch sampler.

Clips come from a packed waveform store (:mod:`.pack`, ``spoofbench pack``) when the root has one and
it holds the clip's current file (:func:`with_pack`, :func:`read_clip`), else from the audio file; both give
the same float32 samples. The sampler yields batches of ``(epoch, index)`` pairs, so every worker process derives the
same per-clip generator (:func:`~spoofbench.engine.augment.sample_generator`) however batches
are spread over workers, and a resumed epoch is bit-identical to the uninterrupted one.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np
import torch

from ..errors import ConfigError, ManifestError
from .audio import AudioReadError, probe_audio, read_audio_info

if TYPE_CHECKING:  # training only: scoring imports this module without scipy.signal (1.7 s per process)
    from .augment import Augmenter


@dataclass(frozen=True)
class PackedRoot:
    """A corpus root (or ``{corpus: root}``) with the pack its clips are read from (:func:`with_pack`)."""
    root: Any
    pack: Any             # spoofbench.engine.pack.Pack

    def rows(self, trials: Sequence[Any]) -> np.ndarray:
        """Each trial's row in the pack (-1: not packed)."""
        return self.pack.rows_of(trials)


@dataclass(frozen=True)
class ClipInfo:
    """Where a clip's samples came from: ``decoder`` (libsndfile | pyav, also for packed clips: the
    decoder that packed it) and ``source`` (pack | file)."""
    decoder: str
    source: str


_PACKS: dict[tuple, Any] = {}


def with_pack(root: Any, sample_rate: int, data: Any = None) -> Any:
    """``root`` wrapped with its pack (a :class:`PackedRoot`), or ``root`` itself when no pack is used.

    ``data`` (a :class:`~spoofbench.engine.config.DataConfig`): ``pack: auto`` uses a pack found at
    ``pack_dir`` or ``ROOT/.spoofbench_pack`` at ``sample_rate``; ``on`` requires one; ``off`` never reads one.
    """
    from .pack import Pack, find_pack, shard_dir

    mode, pack_dir = (getattr(data, "pack", "auto"), getattr(data, "pack_dir", None)) if data is not None else ("auto", None)
    if mode == "off" or isinstance(root, PackedRoot):
        return root
    directory = find_pack(root, pack_dir)
    if directory is None or not (directory / "pack.json").is_file():
        if mode == "on":
            raise ConfigError(f"data.pack is 'on' but there is no pack at {directory or Path(str(root)) / '.spoofbench_pack'}; "
                              "run `spoofbench pack MANIFEST --root ROOT` first (or data.pack: auto)", field="data.pack")
        return root
    parts = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(shard_dir(directory).glob("*.index.npz")))
    key = (str(directory.resolve()), parts)
    pack = _PACKS.get(key)
    if pack is None:
        pack = Pack(directory)
        _PACKS.clear()  # one pack at a time: a 600k-clip index is about 100 MB
        _PACKS[key] = pack
    if pack.sample_rate != sample_rate:
        if mode == "on":
            raise ConfigError(f"the pack {directory} holds {pack.sample_rate} Hz audio; the detector reads "
                              f"{sample_rate} Hz (pack again with --sample-rate {sample_rate})", field="data.pack")
        logging.getLogger(__name__).info("pack %s is %d Hz, the detector %d Hz: decoding the files", directory,
                                         pack.sample_rate, sample_rate)
        return root
    return PackedRoot(root, pack)


def read_clip(trial: Any, root: Any, sample_rate: int, row: int | None = None) -> tuple[np.ndarray, ClipInfo]:
    """``(samples (T,) float32, info)`` of ``trial``: from the pack of a :class:`PackedRoot` when it holds
    the trial's file unchanged (size and mtime as packed), else decoded from the file (:func:`read_audio`)."""
    file = trial.audio_path(resolve_root(root, trial))
    if isinstance(root, PackedRoot):
        if row is None:
            row = int(root.rows([trial])[0])
        if row >= 0 and root.pack.fresh(row, file):
            return root.pack.read(row), ClipInfo(root.pack.decoder(row), "pack")
    wave, info = read_audio_info(file, sample_rate)
    return wave, ClipInfo(info.decoder, "file")


def check_roots(root: Any, what: str) -> None:
    """A corpus root (or each root of a ``{corpus: root}`` mapping) must be an existing folder."""
    root = root.root if isinstance(root, PackedRoot) else root
    roots = root.items() if isinstance(root, Mapping) else [(None, root)]
    for corpus, path in roots:
        field = f"{what}[{corpus}]" if corpus is not None else what
        if not Path(path).exists():
            raise ConfigError(f"corpus root {path} does not exist; expected the folder the manifest's "
                              "paths are relative to", field=field)
        if not Path(path).is_dir():
            raise ConfigError(f"corpus root {path} is a file; expected the folder the manifest's paths "
                              "are relative to", field=field)


def prepare_out_dir(out_dir: str | os.PathLike) -> Path:
    """Create the output folder ``out_dir``; a clear error when it is a file or cannot be made."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output {out} is a file; expected a folder (give another --out)", field="out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the output folder {out}: {err.strerror or err}", field="out") from err
    return out


def resolve_root(root: Any, trial: Any) -> Path:
    """The corpus root of ``trial``: ``root`` itself, or ``root[trial.corpus]`` for a mapping."""
    root = root.root if isinstance(root, PackedRoot) else root
    if isinstance(root, Mapping):
        if trial.corpus not in root:
            raise ManifestError(f"trial {trial.id!r}: no root given for corpus {trial.corpus!r} "
                                f"(roots known: {', '.join(sorted(root))})", field="corpus")
        return Path(root[trial.corpus])
    return Path(root)


def fit_length(wave: torch.Tensor, min_samples: int, pad: str) -> torch.Tensor:
    """Tile (``pad="repeat"``) or zero-pad a (T,) wave up to ``min_samples``."""
    if wave.numel() >= min_samples:
        return wave
    if pad == "repeat":
        return wave.repeat(-(-min_samples // wave.numel()))[:min_samples]
    return torch.nn.functional.pad(wave, (0, min_samples - wave.numel()))


def estimated_samples(trial: Any, root: Any, sample_rate: int, row: int = -1) -> int:
    """Length of ``trial`` in samples at ``sample_rate``, from the manifest, the pack (``row`` of a
    :class:`PackedRoot`: the packed file's own rate and length) or the file header."""
    if trial.num_samples and trial.sampling_rate:
        return int(trial.num_samples * sample_rate / trial.sampling_rate)
    if trial.duration:
        return int(trial.duration * sample_rate)
    if row >= 0 and isinstance(root, PackedRoot) and root.pack.fresh(row, trial.audio_path(resolve_root(root, trial))):
        return root.pack.source_length(row, sample_rate)
    try:
        info = probe_audio(trial.audio_path(resolve_root(root, trial)))  # the one reader's header
        return int(info.num_samples * sample_rate / info.sample_rate)
    except Exception:  # unreadable: the dataset reports it when it is read
        return 0


class TrainDataset(torch.utils.data.Dataset):
    """Clips of ``trials`` as ``(wave (T,) float32, target, index)``; ``None`` when unreadable.

    ``train=True``: codec augmentation on the whole clip, a random crop per the detector's input
    policy (``full`` policies are capped at ``max_samples``), then RawBoost/resample/gain.
    ``train=False``: the policy's eval view, no augmentation.
    """

    def __init__(self, trials: Sequence[Any], root: Any, *, sample_rate: int, policy: Any,
                 min_samples: int, train: bool, seed: int, max_samples: int | None = None,
                 augmenter: Augmenter | None = None, eval_crop: bool = False):
        self.trials, self.root = list(trials), root
        self.eval_crop = eval_crop  # train on the policy's eval view (a deterministic crop; feature caching)
        self.sample_rate, self.policy, self.min_samples = sample_rate, policy, min_samples
        self.train, self.seed, self.max_samples, self.augmenter = train, seed, max_samples, augmenter
        self.targets = np.array([t.target for t in self.trials], dtype=np.int64)
        # each trial's row in the pack (-1: read from its file); looked up once, vectorised
        self.rows = root.rows(self.trials) if isinstance(root, PackedRoot) else np.full(len(self.trials), -1)

    def __len__(self) -> int:
        return len(self.trials)

    def __getitem__(self, item: tuple[int, int] | int) -> tuple[torch.Tensor, int, int] | None:
        epoch, index = item if isinstance(item, tuple) else (0, item)
        trial = self.trials[index]
        try:
            wave = read_clip(trial, self.root, self.sample_rate, int(self.rows[index]))[0]
        except AudioReadError:
            return None
        from .augment import sample_generator

        rng = sample_generator(self.seed, epoch, index)
        augment = self.train and self.augmenter is not None and self.augmenter.active
        if augment:
            wave = self.augmenter.channel(wave, rng, key=trial.id)
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2 ** 62)))
        if self.train and self.policy.mode == "full" and self.max_samples and wave.size > self.max_samples:
            start = int(torch.randint(0, wave.size - self.max_samples + 1, (1,), generator=generator))
            start = 0 if self.eval_crop else start
            wave = wave[start:start + self.max_samples]
        if augment:
            wave = self.augmenter.signal(wave, rng)
        out = self.policy.apply(wave, train=self.train and not self.eval_crop, generator=generator)
        return fit_length(out, self.min_samples, self.policy.pad), int(self.targets[index]), index


def pad_batch(waves: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(B, T_max)`` float32: the ``(T,)`` clips zero-padded at the end."""
    return torch.nn.utils.rnn.pad_sequence(list(waves), batch_first=True).to(torch.float32)


def collate_train(items: list) -> dict[str, torch.Tensor]:
    """Zero-pad a list of dataset items into ``waves (B, T)``, ``lengths``, ``targets``, ``indices``."""
    good = [x for x in items if x is not None]
    if not good:
        return {"waves": torch.zeros(0, 0), "lengths": torch.zeros(0, dtype=torch.int64),
                "targets": torch.zeros(0, dtype=torch.int64), "indices": torch.zeros(0, dtype=torch.int64),
                "failed": len(items)}
    return {"waves": pad_batch([w for w, _, _ in good]),
            "lengths": torch.tensor([w.numel() for w, _, _ in good], dtype=torch.int64),
            "targets": torch.tensor([t for _, t, _ in good], dtype=torch.int64),
            "indices": torch.tensor([i for _, _, i in good], dtype=torch.int64),
            "failed": len(items) - len(good)}


class BucketBatchSampler(torch.utils.data.Sampler):
    """Seeded batches of ``(epoch, index)``: shuffled, optionally class-balanced and length-bucketed.

    ``balance=True`` draws each epoch's indices with replacement, half bona fide and half spoof.
    Bucketing sorts pools of ``pool_batches * batch_size`` shuffled clips by length, cuts them into
    batches and shuffles the batch order. With ``world_size > 1`` each rank gets every
    ``world_size``-th batch (the list padded by wrapping so all ranks step equally often).
    """

    def __init__(self, lengths: Sequence[int], targets: Sequence[int], batch_size: int, *, seed: int,
                 balance: bool = False, bucket: bool = True, shuffle: bool = True, pool_batches: int = 50,
                 rank: int = 0, world_size: int = 1):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.targets = np.asarray(targets, dtype=np.int64)
        self.batch_size, self.seed, self.balance = batch_size, seed, balance
        self.bucket, self.shuffle, self.pool_batches = bucket, shuffle, pool_batches
        self.rank, self.world_size, self.epoch = rank, world_size, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self, rng: np.random.Generator) -> np.ndarray:
        n = len(self.targets)
        if self.balance:
            classes = [np.flatnonzero(self.targets == c) for c in (0, 1)]
            classes = [c for c in classes if c.size]
            per_class = -(-n // len(classes))
            drawn = np.concatenate([rng.choice(c, size=per_class, replace=True) for c in classes])
            return rng.permutation(drawn)[:n] if self.shuffle else np.sort(drawn)[:n]
        return rng.permutation(n) if self.shuffle else np.arange(n)

    def batches(self) -> list[list[int]]:
        """All batches of the current epoch (all ranks), as index lists."""
        rng = np.random.default_rng([self.seed, self.epoch, 0x5EED])
        order = self._indices(rng)
        if self.bucket:
            pool = self.batch_size * self.pool_batches
            batches = []
            for start in range(0, len(order), pool):
                chunk = order[start:start + pool]
                chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
                batches += _cut(chunk, self.batch_size)
            if self.shuffle:
                batches = [batches[i] for i in rng.permutation(len(batches))]
        else:
            batches = _cut(order, self.batch_size)
        return batches

    def _mine(self) -> list[list[int]]:
        batches = self.batches()
        if self.world_size > 1:
            total = -(-len(batches) // self.world_size) * self.world_size
            batches = (batches * (total // max(len(batches), 1) + 1))[:total]
            batches = batches[self.rank::self.world_size]
        return batches

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for batch in self._mine():
            yield [(self.epoch, i) for i in batch]

    def __len__(self) -> int:
        return len(self._mine())


def _cut(order: np.ndarray, batch_size: int) -> list[list[int]]:
    """Consecutive batches of ``order``; a trailing single clip joins the previous batch (BatchNorm
    cannot train on a batch of one)."""
    batches = [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] += batches.pop()
    return batches


def worker_init(_worker_id: int) -> None:
    """DataLoader workers use one intra-op thread each (the main process keeps the rest)."""
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
