"""The batch-level training loader (``data.loader: batch``): a whole batch per dataset read, crops straight
from the pack's memmaps, augmentation and normalisation as tensor ops on the batch.

The per-clip path (:class:`~spoofbench.engine.data.TrainDataset` + ``collate_train``) does, for every clip, a
seeded generator, a decode of the whole clip, the policy's crop, the augmentation in numpy, a tensor per clip and
a collate copy. Here one DataLoader read is one batch (:class:`BatchDataset`, fed ``(epoch, index)`` lists by the
same :class:`~spoofbench.engine.data.BucketBatchSampler`):

1. one generator per batch, seeded by ``(seed, epoch, the batch's indices)``, draws every clip's crop start
   (the same batch gives the same crops in whichever worker reads it: deterministic for a seed and epoch);
2. each clip's crop is copied straight from the pack's shard (a contiguous slice of the memmap; int16 samples
   cast and scaled exactly as :func:`~spoofbench.engine.pack.decode` does) into one ``(batch, samples)`` array;
   in a DataLoader worker that array is a slot of a ring of shared-memory buffers the main process allocated
   once (:class:`RingLoader`: the packed int16 travel, the main process copies them out as float32); clips the
   pack does not hold (or whose file changed) are decoded from their files as before;
3. tiling/zero padding to the policy's length is done in that array (a clip's crop repeated by doubling copies);
4. :class:`BatchTransform` then runs on the device the model trains on (the GPU when there is one): the cheap
   augmentations (``augment.rawboost_style``: RawBoost-style impulsive noise, coloured noise, convolutive
   filtering; gain; band-limiting for the resampling round trip) as tensor ops on the whole batch, then the
   policy's normalisation.

Codec augmentation and the published RawBoost (``augment.rawboost``) stay in the CPU workers, per clip, on the
whole clip before cropping, as in the per-clip path (the CodecCache hits after the first epoch). What differs
from the per-clip path (so trained weights differ): the crops drawn; the RawBoost-style augmentation runs on the
crop (not the whole clip) with other random streams; impulsive noise hits each sample
with a drawn probability (not an exact count); resampling is an FFT band-limit at the drawn rate's Nyquist
(not a soxr round trip); ``normalize`` statistics are over the crop (not the whole clip). docs/packs.md.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .audio import AudioReadError
from .augment import Augmenter, random_filter
from .data import PackedRoot, read_clip, resolve_root
from .pack import CODES, INT16_SCALE, NUMPY

_BATCH_SALT = 0xBA7C


def batch_generator(seed: int, epoch: int, indices: Sequence[int]) -> np.random.Generator:
    """The generator of one batch: the same for the same ``(seed, epoch, indices)`` in any worker."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch, _BATCH_SALT,
                                                                       *map(int, indices)])))


def _shared_empty(rows: int, cols: int, dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised ``(rows, cols)`` tensor; in shared memory inside a DataLoader worker, so sending it
    to the main process moves a handle, not the samples."""
    if torch.utils.data.get_worker_info() is None:
        return torch.empty((rows, cols), dtype=dtype)
    size = torch.empty(0, dtype=dtype).element_size()
    storage = torch.UntypedStorage._new_shared(max(rows * cols, 1) * size)
    return torch.empty(0, dtype=dtype).set_(storage, 0, (rows, cols))


def _tile(row: np.ndarray, have: int, want: int) -> None:
    """Repeat ``row[:have]`` cyclically up to ``row[:want]`` in place (doubling copies, not per sample)."""
    while have < want:
        step = min(have, want - have)
        row[have:have + step] = row[:step]
        have += step


@dataclass(frozen=True)
class _Plan:
    """One batch before its samples are copied (:meth:`BatchDataset.plan`)."""
    asked: int                       # clips asked for
    keep: list[int]                  # the readable ones, in order
    waves: list[np.ndarray | None]   # each kept clip's decoded (coded) wave, None = slice it from the pack
    take: np.ndarray                 # samples of real audio per clip
    target: np.ndarray               # each clip's input length (tiled/padded up to it)
    starts: np.ndarray               # crop starts
    int16: bool                      # every clip int16 in the pack and read from it
    seed: int                        # BatchTransform's seed for this batch

    @property
    def width(self) -> int:
        return int(self.target.max()) if self.keep else 0

    def meta(self, targets: np.ndarray) -> dict[str, Any]:
        """The batch dict without its waves."""
        keep = np.asarray(self.keep, dtype=np.int64)
        return {"lengths": torch.from_numpy(self.target.astype(np.int64)),
                "valid": torch.from_numpy(self.take.astype(np.int64)),
                "targets": torch.from_numpy(targets[keep] if len(keep) else np.zeros(0, np.int64)),
                "indices": torch.from_numpy(keep), "failed": self.asked - len(keep), "seed": self.seed}


class BatchDataset(torch.utils.data.Dataset):
    """A map-style dataset whose item is a whole batch: ``dataset[[(epoch, i), ...]]`` → a batch dict.

    The dict: ``waves (B, T)`` float32, or (``int16_batches``, for a GPU) int16 samples as packed when every
    clip of the batch is int16 in the pack (:func:`train_view` scales them on the device), cropped and
    tiled/zero-padded per the policy, not yet augmented or normalised; ``lengths (B,)`` (each clip's input
    length, as the per-clip path's), ``valid (B,)`` (samples of real audio before tiling/padding),
    ``targets``, ``indices``, ``failed`` (unreadable clips dropped) and ``seed`` (for
    :class:`BatchTransform`'s draws on this batch).
    """

    def __init__(self, trials: Sequence[Any], root: Any, *, sample_rate: int, policy: Any, min_samples: int,
                 seed: int, max_samples: int | None = None, augmenter: Augmenter | None = None,
                 eval_crop: bool = False, int16_batches: bool = False):
        self.trials, self.root = list(trials), root
        self.int16_batches = int16_batches
        self.sample_rate, self.policy, self.min_samples = sample_rate, policy, int(min_samples)
        self.seed, self.max_samples, self.eval_crop = seed, max_samples, eval_crop
        whole = augmenter is not None and augmenter.whole_clip
        self.augmenter = augmenter if whole else None      # only codecs and published RawBoost run here, per clip
        self.targets = np.array([t.target for t in self.trials], dtype=np.int64)
        self.rows = root.rows(self.trials) if isinstance(root, PackedRoot) else np.full(len(self.trials), -1)
        if isinstance(root, PackedRoot):       # each clip's place in the pack, as flat columns
            table = root.pack.index.rows
            safe = np.where(self.rows >= 0, self.rows, 0)
            self._shard = table["shard"][safe].astype(np.int64)
            self._offset = table["offset"][safe].astype(np.int64)
            self._length = table["length"][safe].astype(np.int64)
            self._code = table["dtype"][safe].astype(np.int64)
        self._maps: dict[int, np.ndarray] = {}
        self._files: dict[int, str] = {}         # each clip's file, built once (pathlib is slow per batch)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_maps"], state["_files"] = {}, {}
        return state

    def __len__(self) -> int:
        return len(self.trials)

    @property
    def crop(self) -> int | None:
        """Samples cropped from a longer clip: the policy's fixed length, else the ``full`` policy's cap."""
        if self.policy.mode == "fixed":
            return int(self.policy.num_samples)
        return int(self.max_samples) if self.max_samples else None

    def _shard_bytes(self, shard: int) -> np.ndarray:
        plain = self._maps.get(shard)
        if plain is None:   # a plain ndarray over the memmap: slicing it skips np.memmap's per-slice bookkeeping
            plain = self._maps[shard] = self.root.pack._map(shard).view(np.ndarray)
        return plain

    def _file(self, index: int) -> str:
        file = self._files.get(index)
        if file is None:
            trial = self.trials[index]
            file = self._files[index] = str(trial.audio_path(resolve_root(self.root, trial)))
        return file

    def _source(self, index: int, rng: np.random.Generator) -> tuple[int, np.ndarray | None]:
        """``(length, wave)``: a fresh packed clip is ``(its length, None)`` (sliced later); else the decoded
        (and, with codec augmentation, coded) whole clip. Raises AudioReadError."""
        trial, row = self.trials[index], int(self.rows[index])
        packed = row >= 0 and self.root.pack.fresh(row, self._file(index))
        if packed and self.augmenter is None:
            return int(self._length[index]), None
        wave = read_clip(trial, self.root, self.sample_rate, row)[0]
        if self.augmenter is not None:
            wave = self.augmenter.channel(wave, rng, key=trial.id)
        if wave.size == 0:
            raise AudioReadError(f"{trial.path}: no samples")
        return int(wave.size), wave

    def _copy(self, out: np.ndarray, index: int, wave: np.ndarray | None, start: int, count: int) -> None:
        """``count`` samples of clip ``index`` from ``start`` into ``out[:count]``: as stored into an int16
        ``out``, else as float32."""
        if wave is not None:
            out[:count] = wave[start:start + count]
            return
        code = int(self._code[index])
        dtype = NUMPY[code]
        first = int(self._offset[index]) + start * dtype.itemsize
        samples = self._shard_bytes(int(self._shard[index]))[first:first + count * dtype.itemsize].view(dtype)
        if code == CODES["int16"] and out.dtype != np.int16:
            np.multiply(samples, INT16_SCALE, out=out[:count], casting="unsafe")   # = decode(): float32(x) / 32768
        else:
            out[:count] = samples

    def plan(self, items: Sequence[tuple[int, int]]) -> _Plan:
        """Everything about a batch but its samples: the clips kept, their sources, crops and lengths."""
        epoch = int(items[0][0]) if items else 0
        indices = [int(i) for _, i in items]
        rng = batch_generator(self.seed, epoch, indices)
        keep, lengths, waves = [], [], []
        for index in indices:
            try:
                length, wave = self._source(index, rng)
            except AudioReadError:
                continue
            keep.append(index)
            lengths.append(length)
            waves.append(wave)
        draws = rng.random(len(indices))[:len(keep)]          # one crop draw per clip asked for
        clip = np.asarray(lengths, dtype=np.int64)
        crop = self.crop
        take = np.minimum(clip, crop) if crop else clip
        starts = np.zeros(len(keep), dtype=np.int64)
        if crop and not self.eval_crop:
            longer = clip > crop
            starts[longer] = (draws[longer] * (clip[longer] - crop + 1)).astype(np.int64)
        target = np.maximum(take, self.min_samples) if self.policy.mode == "full" else \
            np.full(len(keep), max(int(self.policy.num_samples), self.min_samples), dtype=np.int64)
        # every clip int16 in the pack and read from it: the batch can travel as the packed int16 samples
        int16 = len(keep) > 0 and all(w is None for w in waves) and bool(
            (self._code[np.asarray(keep)] == CODES["int16"]).all())
        return _Plan(len(indices), keep, waves, take, target, starts, int16, int(rng.integers(0, 2 ** 62)))

    def fill(self, out: np.ndarray, plan: _Plan) -> None:
        """The batch's crops into ``out (len(plan.keep), plan.width)`` (int16 as packed, else float32),
        tiled or zero-padded per the policy."""
        repeat = self.policy.pad == "repeat"
        for b, index in enumerate(plan.keep):
            have, want = int(plan.take[b]), int(plan.target[b])
            self._copy(out[b], index, plan.waves[b], int(plan.starts[b]), have)
            if repeat:
                _tile(out[b], have, want)
                out[b, want:] = 0
            else:
                out[b, have:] = 0

    def __getitem__(self, items: Sequence[tuple[int, int]]) -> dict[str, Any]:
        plan = self.plan(items)
        # int16_batches (training on a GPU) and all clips int16 in the pack: the batch travels as int16 (half
        # the bytes to the main process and the GPU) and becomes float32 there (train_view), exactly as decode()
        # scales it; on a CPU the workers scale it (the main process is the one training)
        batch = _shared_empty(len(plan.keep), plan.width, torch.int16 if self.int16_batches and plan.int16
                              else torch.float32)
        self.fill(batch.numpy(), plan)
        return {"waves": batch, **plan.meta(self.targets)}


def as_is(batch: Any) -> Any:
    """The DataLoader's collate for :class:`BatchDataset`: a batch is already a batch."""
    return batch


# --- the hand-over from the workers: a ring of shared-memory batch buffers ---------------------------
#
# A batch that a worker allocates itself (torch's default) is a fresh shared-memory segment per batch: created
# and page-faulted in the worker, its descriptor fetched by the main process over a socket, mapped and
# page-faulted again there, then unmapped - several ms for a 4 MB batch, more than reading the batch from the pack
# (perf/RESULTS_engine.md). Here the main process allocates ``slots`` buffers in shared memory once, before the
# workers start (a forked worker inherits the mapping, a spawned one receives it with the dataset); the worker
# writes batch n into slot ``n % slots`` (int16 as packed when every clip is int16 in the pack: half the bytes)
# and returns only the slot and the batch's metadata; the main process copies the slot out (scaling int16 to
# float32 exactly as decode() does, unless the batch goes to a GPU as int16; into pinned memory on CUDA)
# before it hands the batch on, and checks the slot's tag after the copy: a slot overwritten while in flight
# raises instead of training on the wrong samples.
#
# Why ``slots >= workers * prefetch + 2`` suffices (DataLoader, map-style, in order; torch/utils/data/
# dataloader.py): task n is numbered by :class:`_Numbered` in the order the sampler yields it, which is the
# order the DataLoader sends tasks (``_send_idx``) and returns them (``_rcvd_idx``). The DataLoader sends
# ``workers * prefetch`` tasks up front and afterwards at most one more per batch it returns, so when it sends
# task m, r (tasks returned so far) satisfies m < r + workers * prefetch. Task m = n + slots reuses task n's
# slot; it is sent only when r > n + slots - workers * prefetch >= n + 2, i.e. once the DataLoader has
# returned task n + 1, which it does only when :class:`RingLoader` asks for the next batch, after it has
# copied task n out. (slots = workers * prefetch + 1 is the tight bound; one slot more is the margin.) A new
# epoch (or a new iterator after an abandoned one) restarts the numbering at 0: with persistent workers the
# DataLoader first waits until every worker has finished every task it was sent, so no write of the old
# epoch is still under way. tests/engine/test_batch_loader.py checks every batch against the in-process loader
# with several workers and the smallest ring allowed.

_TAG_FREE = -1


class _Numbered:
    """The batch sampler with each batch numbered in the order it is yielded: ``(n, items)``."""

    def __init__(self, sampler: Any):
        self.sampler = sampler

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return enumerate(self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class _RingDataset(torch.utils.data.Dataset):
    """The worker side: ``dataset[(n, items)]`` writes batch n into ring slot ``n % slots`` and returns its
    metadata; a batch too large for a slot travels as before (its own shared-memory tensor)."""

    def __init__(self, dataset: BatchDataset, ring: torch.Tensor, tags: torch.Tensor):
        self.dataset, self.ring, self.tags = dataset, ring, tags

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, Sequence[tuple[int, int]]]) -> dict[str, Any]:
        n, items = item
        data = self.dataset
        plan = data.plan(items)
        dtype = torch.int16 if plan.int16 else torch.float32
        rows, width = len(plan.keep), plan.width
        need = rows * width * dtype.itemsize
        if need > self.ring.shape[1]:
            waves = _shared_empty(rows, width, torch.int16 if data.int16_batches and plan.int16 else torch.float32)
            data.fill(waves.numpy(), plan)
            return {"waves": waves, **plan.meta(data.targets)}
        slot = n % self.ring.shape[0]
        self.tags[slot] = n                       # first: the main process checks it after copying the slot
        data.fill(_slot_view(self.ring, slot, rows, width, dtype).numpy(), plan)
        # the metadata as numpy arrays, pickled by value: a tensor would cost a shared-memory segment each
        meta = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in plan.meta(data.targets).items()}
        return {"slot": slot, "tag": n, "shape": (rows, width), "int16": plan.int16, **meta}


def _slot_view(ring: torch.Tensor, slot: int, rows: int, width: int, dtype: torch.dtype) -> torch.Tensor:
    return ring[slot, :rows * width * dtype.itemsize].view(dtype).view(rows, width)


def ring_slots(workers: int, prefetch: int) -> int:
    """The fewest ring slots that a batch in flight never shares (see the comment above)."""
    return workers * prefetch + 2


class RingLoader:
    """The main-process side: iterates the DataLoader and copies each batch out of its ring slot before it
    asks for the next (float32 from int16 as decode() scales, or the int16 itself when the dataset's
    ``int16_batches``; pinned memory on CUDA). ``len`` and ``iter`` as the DataLoader's."""

    def __init__(self, dataset: BatchDataset, sampler: Any, *, workers: int, prefetch: int, cuda: bool,
                 slot_bytes: int, slots: int | None = None, context: Any = None):
        from .data import worker_init

        slots = ring_slots(workers, prefetch) if slots is None else slots
        if workers < 1 or slots < ring_slots(workers, prefetch):
            raise ValueError(f"a ring of {slots} slots for {workers} workers x {prefetch} prefetched batches: "
                             f"at least {ring_slots(workers, prefetch)} slots and one worker are needed")
        self.dataset, self.cuda = dataset, cuda
        self.ring = torch.zeros((slots, max(slot_bytes, 4)), dtype=torch.uint8).share_memory_()
        self.tags = torch.full((slots,), _TAG_FREE, dtype=torch.int64).share_memory_()
        self.loader = torch.utils.data.DataLoader(
            _RingDataset(dataset, self.ring, self.tags), sampler=_Numbered(sampler), batch_size=None,
            num_workers=workers, collate_fn=as_is, worker_init_fn=worker_init, pin_memory=False,   # take() pins
            prefetch_factor=prefetch, persistent_workers=True, multiprocessing_context=context)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.loader:
            yield self.take(batch)

    def take(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The batch with its waves copied out of its slot (the slot is free again once this returns); a
        batch that came without a slot (larger than one) as it came, pinned on CUDA."""
        if "slot" not in batch:
            return {k: v.pin_memory() if self.cuda and isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        slot, (rows, width) = int(batch.pop("slot")), batch.pop("shape")
        tag, int16 = int(batch.pop("tag")), bool(batch.pop("int16"))
        source = _slot_view(self.ring, slot, rows, width, torch.int16 if int16 else torch.float32)
        keep16 = int16 and self.dataset.int16_batches
        waves = torch.empty((rows, width), dtype=torch.int16 if keep16 else torch.float32, pin_memory=self.cuda)
        if int16 and not keep16:      # the same ufunc and casting as BatchDataset._copy: bit-identical floats
            np.multiply(source.numpy(), INT16_SCALE, out=waves.numpy(), casting="unsafe")
        else:
            waves.copy_(source)
        if int(self.tags[slot]) != tag:
            raise RuntimeError(f"batch loader: ring slot {slot} of batch {tag} was overwritten by batch "
                               f"{int(self.tags[slot])} while in flight ({self.ring.shape[0]} slots too few)")
        meta = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in batch.items()}
        if self.cuda:
            meta = {k: v.pin_memory() if isinstance(v, torch.Tensor) else v for k, v in meta.items()}
        return {"waves": waves, **meta}


def _slot_bytes(dataset: BatchDataset, sampler: Any) -> int | None:
    """Bytes of the largest float32 batch ``sampler`` can ask for, when bounded (else None: no ring)."""
    size = getattr(sampler, "batch_size", None)
    if size is None:
        try:
            size = max((len(b) for b in sampler), default=0)
        except TypeError:
            return None
    if dataset.policy.mode == "fixed":
        width = max(int(dataset.policy.num_samples), dataset.min_samples)
    elif dataset.max_samples:
        width = max(int(dataset.max_samples), dataset.min_samples)
    else:
        return None                   # the ``full`` policy without a cap: a batch is as long as its longest clip
    return int(size) * width * 4


def batch_loader(dataset: BatchDataset, sampler: Any, *, workers: int, cuda: bool, prefetch: int = 4,
                 ring: bool = True, context: Any = None) -> torch.utils.data.DataLoader | RingLoader:
    """One DataLoader read = one batch (``batch_size=None``, the batch sampler as the sampler); pinned host
    memory on CUDA, persistent workers, ``prefetch`` batches prefetched per worker. With workers, batches come
    back through a :class:`RingLoader` (``ring``, when the batch size and crop bound a batch's size);
    ``context``: the workers' multiprocessing context (default: torch's)."""
    from .data import worker_init

    slot_bytes = _slot_bytes(dataset, sampler) if workers and ring else None
    if slot_bytes:
        return RingLoader(dataset, sampler, workers=workers, prefetch=prefetch, cuda=cuda, slot_bytes=slot_bytes,
                          context=context)
    return torch.utils.data.DataLoader(
        dataset, sampler=sampler, batch_size=None, num_workers=workers, collate_fn=as_is,
        worker_init_fn=worker_init if workers else None, pin_memory=cuda,
        prefetch_factor=prefetch if workers else None, persistent_workers=workers > 0,
        multiprocessing_context=context if workers else None)


# --- on the device: augmentation and normalisation of a whole batch ---------------------------------

def _fft_filter(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Each row of ``x (B, T)`` convolved with its odd-length, centred ``kernels (B, K)``, 'same' length."""
    t, k = x.shape[1], kernels.shape[1]
    n = 1 << (t + k - 1 - 1).bit_length()
    spectrum = torch.fft.rfft(x, n=n) * torch.fft.rfft(kernels.to(x.dtype), n=n)
    full = torch.fft.irfft(spectrum, n=n)
    half = (k - 1) // 2
    return full[:, half:half + t]


def _kernels(filters: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """Odd-length FIRs stacked centred in one ``(len(filters), K)`` array (zeros around the shorter)."""
    width = max(f.size for f in filters)
    out = np.zeros((len(filters), width), dtype=np.float64)
    for i, f in enumerate(filters):
        pad = (width - f.size) // 2
        out[i, pad:pad + f.size] = f
    return torch.from_numpy(out).to(device=device, dtype=torch.float32)


class BatchTransform:
    """The train-time augmentation (:class:`~spoofbench.engine.config.AugmentConfig`, codecs aside) and the
    input policy's normalisation, on a ``(B, T)`` batch on its device; draws from the batch's ``seed``.

    Each clip draws the same five probabilities as the per-clip path (convolutive, impulsive, coloured noise,
    resampling, gain); random filters are designed with the same :func:`~spoofbench.engine.augment.random_filter`
    on the CPU (a few per batch) and applied as one batched FFT convolution on the device.
    """

    def __init__(self, augmenter: Augmenter | None, policy: Any, *, train: bool = True):
        self.augmenter, self.policy, self.train = augmenter, policy, train

    @property
    def augmenting(self) -> bool:
        if not self.train or self.augmenter is None:
            return False
        c = self.augmenter.config
        style = c.rawboost_style
        return any(p > 0 for p in (style.linear_nonlinear, style.impulsive, style.coloured,
                                   c.gain_probability, c.resample_probability))

    @property
    def active(self) -> bool:
        return self.augmenting or self.policy.normalize != "none"

    def __call__(self, waves: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        if waves.numel() == 0 or not self.active:
            return waves
        lengths = batch["lengths"].to(waves.device)
        valid = batch["valid"].to(waves.device)
        columns = torch.arange(waves.shape[1], device=waves.device)
        inside = columns[None, :] < lengths[:, None]             # input samples (tiled ones included)
        x = waves.float()
        if self.augmenting:
            x = self._augment(x, inside, int(batch["seed"]))
        if self.policy.normalize != "none":
            x = self._normalize(x, columns[None, :] < valid[:, None])
        audio = inside if self.policy.pad == "repeat" else columns[None, :] < valid[:, None]
        return torch.where(audio, x, torch.zeros((), dtype=x.dtype, device=x.device)).to(waves.dtype)

    def _normalize(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The policy's normalisation with each clip's statistics over its real (untiled, unpadded) samples."""
        m = mask.to(x.dtype)
        count = m.sum(1, keepdim=True).clamp_min(1)
        if self.policy.normalize == "mean":
            mean = (x * m).sum(1, keepdim=True) / count
            std = (((x - mean) * m) ** 2).sum(1, keepdim=True).div(count).sqrt()
            return (x - mean) / (std + 1e-8)
        peak = (x.abs() * m).amax(1, keepdim=True)
        return x / (peak + 1e-8)

    def _augment(self, x: torch.Tensor, inside: torch.Tensor, seed: int) -> torch.Tensor:
        c, sr = self.augmenter.config, self.augmenter.sample_rate
        rb = c.rawboost_style
        rng = np.random.default_rng([seed, 0xA06])
        gen = torch.Generator(device=x.device).manual_seed(int(rng.integers(0, 2 ** 62)))
        b = x.shape[0]
        draws = rng.random((b, 5))
        m = inside.to(x.dtype)
        dev = x.device

        def rows(p: float, column: int) -> torch.Tensor:
            return torch.from_numpy(np.flatnonzero(draws[:, column] < p)).to(dev)

        pick = rows(rb.linear_nonlinear, 0)
        if pick.numel():
            sel = x[pick]
            out = torch.zeros_like(sel)
            for order in range(1, rb.max_order + 1):
                filters = [random_filter(rng, sr, rb.num_bands) for _ in range(pick.numel())]
                gains = [1.0 if order == 1 else float(rng.uniform(0.0, 0.5)) / order for _ in range(pick.numel())]
                out += torch.tensor(gains, dtype=x.dtype, device=dev)[:, None] * _fft_filter(sel ** order,
                                                                                           _kernels(filters, dev))
            out = out * m[pick]
            peak_in, peak_out = sel.abs().amax(1, keepdim=True), out.abs().amax(1, keepdim=True)
            x = x.index_copy(0, pick, torch.where(peak_out > 0, out * peak_in / peak_out.clamp_min(1e-12), out))
        pick = rows(rb.impulsive, 1)
        if pick.numel():
            sel = x[pick]
            share = torch.from_numpy(rng.uniform(0, rb.impulsive_fraction, pick.numel())).to(dev, x.dtype)
            hit = torch.rand(sel.shape, generator=gen, device=dev) < share[:, None]
            amount = torch.rand(sel.shape, generator=gen, device=dev) * 6.0 - 3.0
            x = x.index_copy(0, pick, torch.clamp(sel + hit * sel * amount, -1.0, 1.0))
        pick = rows(rb.coloured, 2)
        if pick.numel():
            sel, mask = x[pick], m[pick]
            noise = torch.randn(sel.shape, generator=gen, device=dev)
            noise = _fft_filter(noise, _kernels([random_filter(rng, sr, rb.num_bands) for _ in range(pick.numel())],
                                                dev)) * mask
            snr = torch.from_numpy(rng.uniform(*rb.snr_db, pick.numel())).to(dev, x.dtype)
            count = mask.sum(1).clamp_min(1)
            signal_power = (sel ** 2 * mask).sum(1) / count + 1e-12
            noise_power = (noise ** 2).sum(1) / count + 1e-12
            scale = torch.sqrt(signal_power / (noise_power * 10 ** (snr / 10)))
            x = x.index_copy(0, pick, sel + noise * scale[:, None])
        lower = [r for r in c.resample_rates if r < sr]
        pick = rows(c.resample_probability if lower else 0.0, 3)
        if pick.numel():
            rates = np.asarray(lower)[rng.integers(0, len(lower), pick.numel())]
            spectrum = torch.fft.rfft(x[pick], dim=1)
            freqs = torch.fft.rfftfreq(x.shape[1], d=1.0 / sr).to(dev)
            keep = freqs[None, :] < torch.from_numpy(rates / 2.0).to(dev, freqs.dtype)[:, None]
            x = x.index_copy(0, pick, torch.fft.irfft(spectrum * keep, n=x.shape[1], dim=1) * m[pick])
        pick = rows(c.gain_probability, 4)
        if pick.numel():
            gain = torch.from_numpy(10 ** (rng.uniform(*c.gain_db, pick.numel()) / 20)).to(dev, x.dtype)
            x = x.index_copy(0, pick, torch.clamp(x[pick] * gain[:, None], -1.0, 1.0))
        return x


def train_view(batch: dict[str, Any], transform: BatchTransform | None, device: torch.device) -> torch.Tensor:
    """The batch's float32 waves on ``device``, augmented and normalised there (the per-clip path's are
    ready). An int16 batch of the batch loader is scaled by 1/32768 on the device (bit-identical to
    :func:`~spoofbench.engine.pack.decode`)."""
    waves = batch["waves"].to(device, non_blocking=True)
    if waves.dtype == torch.int16:
        waves = waves.to(torch.float32).mul_(float(INT16_SCALE))
    if transform is None or "valid" not in batch:
        return waves
    return transform(waves, batch)
