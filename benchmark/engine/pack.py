"""Decode once: packed waveform shards of a corpus, read by training and scoring through numpy memmaps.

``pack_manifests(manifests, root=..., out=...)`` decodes every clip a manifest names with the one
reader, resamples it with the one resampler (:mod:`spoofbench.audio_io`) and appends its samples to
large raw shards; each finished shard is recorded by an index file written atomically after the
shard's bytes are on disk, so a killed pack resumes from the last finished shard. Layout::

    DIR/pack.json                 format, version, sample rate, dtype policy, resampler
    DIR/shards/00000.bin          raw little-endian samples, each clip at a 4-byte aligned offset
    DIR/shards/00000.index.npz    its rows (:data:`ROW`), trial ids and (corpus, path) keys
    DIR/failed.tsv                ``corpus<TAB>path<TAB>reason`` of the clips the last pack could not read

An entry is keyed by ``(corpus, path)`` and carries the sha256 of the file's bytes (the project's
audio content digest, :func:`spoofbench.hashing.sha256_file`) and the file's size and mtime when it
was packed. A reader trusts an entry only while the file's size and mtime are unchanged; a changed
clip is read from its file instead, and the next ``spoofbench pack`` hashes it again: same bytes →
the entry is kept (its stat refreshed), other bytes → the clip is packed anew.

Samples are stored as int16 where that is lossless (the float32 the reader returns is exactly
``int16 / 32768``: 16-bit PCM/FLAC at the pack's rate), else float32 (``dtype="auto"``), so a clip
read from the pack is bit-identical to the one decoded from its file. ``dtype="int16"`` or
``"float16"`` quantise every clip (smaller, not identical). The index is numpy structured arrays
(about 80 bytes a clip plus its id and path), never a Python object per trial.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..atomic import atomic_path, write_json_atomic, write_text_atomic
from ..errors import ConfigError, InputFileError, SpoofbenchError

FORMAT, VERSION = "spoofbench-pack", 1
#: Where ``spoofbench pack`` writes and train/score look for a pack when none is named: under the root.
DEFAULT_DIR = ".spoofbench_pack"
DTYPES = ("auto", "int16", "float16", "float32")
CODES = {"int16": 0, "float16": 1, "float32": 2}
NUMPY = (np.dtype("<i2"), np.dtype("<f2"), np.dtype("<f4"))
DECODERS = ("libsndfile", "pyav")
ALIGN = 4
INT16_SCALE = np.float32(1 / 32768)

#: One index row per packed clip (89 bytes): where its samples are, how they are stored, the file's
#: sha256 and stat when packed, and its own rate and length (what a header probe of the file says).
ROW = np.dtype([("key", "<u8"), ("shard", "<u4"), ("dtype", "u1"), ("decoder", "u1"), ("offset", "<u8"),
                ("length", "<u8"), ("size", "<u8"), ("mtime_ns", "<i8"), ("digest", "S32"),
                ("source_rate", "<u4"), ("source_samples", "<u8")])


class PackError(SpoofbenchError):
    """A pack folder that cannot be used (another format, another sample rate, a damaged index)."""


def entry_key(corpus: str, path: str) -> str:
    return f"{corpus}\0{path}"


def key_hash(keys: Iterable[str]) -> np.ndarray:
    """uint64 of each ``corpus\\0path`` key (blake2b, 8 bytes): the sorted lookup column."""
    return np.fromiter((int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "little")
                        for k in keys), dtype=np.uint64)


def encode(wave: np.ndarray, dtype: str) -> tuple[int, np.ndarray]:
    """``(code, samples)`` to store for a float32 ``wave``; ``auto``: int16 when exact, else float32."""
    if dtype in ("auto", "int16"):
        scaled = wave.astype(np.float64) * 32768.0
        ints = np.clip(np.round(scaled), -32768, 32767).astype(np.int16)
        if dtype == "int16" or np.array_equal(ints.astype(np.float32) * INT16_SCALE, wave):
            return CODES["int16"], ints
        return CODES["float32"], wave.astype(np.float32, copy=False)
    return CODES[dtype], wave.astype(NUMPY[CODES[dtype]])


def decode(code: int, samples: np.ndarray) -> np.ndarray:
    """The float32 wave of stored ``samples`` (int16 → ``x / 32768`` exactly as the audio reader scales)."""
    if code == CODES["int16"]:
        return samples.astype(np.float32) * INT16_SCALE
    return samples.astype(np.float32)


@dataclass(frozen=True)
class PackSettings:
    """What ``pack.json`` fixes for every shard of a pack."""
    sample_rate: int
    dtype: str = "auto"

    def record(self) -> dict[str, Any]:
        from ..audio_io import resampler_info
        return {"format": FORMAT, "version": VERSION, "sample_rate": self.sample_rate, "dtype": self.dtype,
                "resampler": resampler_info()}


def read_settings(directory: Path) -> PackSettings | None:
    """The settings of the pack in ``directory`` (None when there is none)."""
    path = directory / "pack.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise PackError(f"{path}: format {data.get('format')!r} version {data.get('version')!r}; expected "
                            f"{FORMAT!r} version {VERSION} (pack again into a new folder)")
        return PackSettings(int(data["sample_rate"]), str(data["dtype"]))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PackError(f"{path}: not a readable pack description ({err})") from err


# --- the index ----------------------------------------------------------------------------------

@dataclass
class PackIndex:
    """Every finished shard's rows, sorted by key hash; the newest entry of a key wins."""
    rows: np.ndarray                     # ROW, sorted by "key"
    ids: np.ndarray                      # bytes (S): trial id per row
    keys: np.ndarray                     # bytes (S): "corpus\0path" per row
    shards: tuple[int, ...] = ()

    @classmethod
    def empty(cls) -> "PackIndex":
        return cls(np.zeros(0, ROW), np.zeros(0, "S1"), np.zeros(0, "S1"))

    @classmethod
    def load(cls, directory: Path) -> "PackIndex":
        parts = sorted(shard_dir(directory).glob("*.index.npz"))
        if not parts:
            return cls.empty()
        rows, ids, keys, recency = [], [], [], []
        for number, part in enumerate(parts):
            try:
                with np.load(part, allow_pickle=False) as data:
                    rows.append(data["rows"].astype(ROW, copy=False))
                    ids.append(data["ids"])
                    keys.append(data["keys"])
                    recency.append(np.full(len(rows[-1]), number, dtype=np.int64))
            except (OSError, ValueError, KeyError) as err:
                raise PackError(f"{part}: damaged shard index ({err}); delete it and its .bin, then pack again") from err
        all_rows, all_ids, all_keys = np.concatenate(rows), np.concatenate(ids), np.concatenate(keys)
        # newest first (later index files are later packs; a kept entry's row may point at an older
        # shard's bytes), then keep the first row of each key
        order = np.lexsort((-np.concatenate(recency), all_rows["key"]))
        all_rows, all_ids, all_keys = all_rows[order], all_ids[order], all_keys[order]
        first = np.ones(len(all_rows), bool)
        first[1:] = all_rows["key"][1:] != all_rows["key"][:-1]
        shards = tuple(int(p.name.split(".")[0]) for p in parts)
        return cls(all_rows[first], all_ids[first], all_keys[first], shards)

    def __len__(self) -> int:
        return len(self.rows)

    def find(self, hashes: np.ndarray, keys: Sequence[str] | None = None) -> np.ndarray:
        """Row number of each key hash (-1 where absent; with ``keys``, also where the key text differs)."""
        if not len(self.rows):
            return np.full(len(hashes), -1, dtype=np.int64)
        where = np.minimum(np.searchsorted(self.rows["key"], hashes), len(self.rows) - 1)
        found = self.rows["key"][where] == hashes
        if keys is not None:
            found &= self.keys[where] == np.array([k.encode() for k in keys])
        return np.where(found, where, -1)

    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.ids.nbytes + self.keys.nbytes)


def shard_dir(directory: Path) -> Path:
    return Path(directory) / "shards"


# --- packing ------------------------------------------------------------------------------------

_KEPT = ("shard", "dtype", "decoder", "offset", "length", "source_rate", "source_samples")


@dataclass(frozen=True, slots=True)
class _Clip:
    """One clip to pack: where it is and what the index knew of it (slots: 600k of them stay small)."""
    id: str
    corpus: str
    path: str
    file: str
    old_digest: bytes = b""
    old_row: tuple = ()          # the _KEPT fields of the entry it may keep


@dataclass
class PackResult:
    """What a pack call did."""
    directory: Path
    trials: int = 0              # distinct (corpus, path) clips the manifests name
    packed: int = 0              # decoded and written by this call
    refreshed: int = 0           # changed stat, same bytes: entry kept
    unchanged: int = 0           # already in the pack, file untouched
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (corpus, path, reason)
    shards: int = 0              # shards finished by this call
    seconds: float = 0.0
    bytes_written: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "trials": self.trials, "packed": self.packed,
                "refreshed": self.refreshed, "unchanged": self.unchanged, "failed": len(self.failed),
                "shards": self.shards, "seconds": self.seconds, "bytes_written": self.bytes_written}


def pack_manifests(manifests: Sequence[str | os.PathLike] | Iterable[Any], *, root: Any, out: str | os.PathLike,
                   sample_rate: int = 16000, dtype: str = "auto", workers: int = 0, shard_clips: int = 2000,
                   progress: bool = True, on_shard: Callable[[int], None] | None = None) -> PackResult:
    """Pack the audio of ``manifests`` (paths, or one iterable of trials) into ``out``; resumable.

    ``root``: the corpus root, or ``{corpus: root}``. ``workers``: decoding processes (0 = in this
    process). ``shard_clips``: at most this many clips per shard (fewer when that keeps every worker
    busy). ``on_shard(n)`` is called after each finished shard (progress hooks, tests). Unreadable
    clips are skipped and listed in ``result.failed`` and ``out/failed.tsv``.
    """
    from ..logs import ProgressCounter, context_logger
    from ..locks import exclusive

    if dtype not in DTYPES:
        raise ConfigError(f"dtype {dtype!r}; expected one of {', '.join(DTYPES)}", field="dtype")
    if sample_rate <= 0 or shard_clips <= 0 or workers < 0:
        raise ConfigError("sample_rate and shard_clips must be > 0 and workers >= 0", field="pack")
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with exclusive(directory, "pack"):
        settings = _open_settings(directory, PackSettings(int(sample_rate), dtype))
        _drop_unfinished(directory)
        index = PackIndex.load(directory)
        result = PackResult(directory)
        todo = _plan(manifests, root, index, result)
        log = context_logger(__name__)
        jobs = _jobs(todo, shard_clips, workers, next_shard=max(index.shards, default=-1) + 1)
        counter = ProgressCounter(len(todo), desc=f"packing {directory.name}", logger=log, enabled=progress)
        try:
            for done in _run_jobs(jobs, settings, directory, workers):
                result.packed += done["packed"]
                result.refreshed += done["refreshed"]
                result.bytes_written += done["bytes"]
                result.failed += done["failed"]
                result.shards += 1 if done["rows"] else 0
                counter.update(done["clips"])
                if on_shard is not None:
                    on_shard(result.shards)
        finally:
            counter.close()
            _write_failed(directory, result.failed)
        result.seconds = time.perf_counter() - t0
    return result


def _open_settings(directory: Path, wanted: PackSettings) -> PackSettings:
    have = read_settings(directory)
    if have is None:
        write_json_atomic(directory / "pack.json", wanted.record(), fsync=True)
        return wanted
    if have != wanted:
        raise PackError(f"{directory / 'pack.json'}: this pack holds {have.sample_rate} Hz {have.dtype} audio; "
                        f"asked for {wanted.sample_rate} Hz {wanted.dtype} (choose another --out)")
    return have


def _drop_unfinished(directory: Path) -> None:
    """Remove shard bytes an interrupted pack left without their index (they were never recorded)."""
    for part in shard_dir(directory).glob("*.bin"):
        if not part.with_name(part.name[:-4] + ".index.npz").exists():
            part.unlink(missing_ok=True)


def _trials(manifests: Sequence[str | os.PathLike] | Iterable[Any]) -> Iterable[Any]:
    items = list(manifests) if not isinstance(manifests, (str, os.PathLike)) else [manifests]
    if items and all(isinstance(m, (str, os.PathLike)) for m in items):
        from ..corpora.manifest import read_manifest
        for manifest in items:
            yield from read_manifest(manifest)
    else:
        yield from items


def _plan(manifests: Any, root: Any, index: PackIndex, result: PackResult) -> list[_Clip]:
    """The clips to (re)pack: absent from the index, or whose file's size or mtime changed."""
    seen: set[int] = set()   # 64-bit key hashes, not the keys' text: a 600k-trial manifest stays small
    todo: list[_Clip] = []
    batch: list[tuple[Any, str, os.stat_result | None]] = []

    def flush() -> None:
        keys = [entry_key(t.corpus, t.path) for t, _, _ in batch]
        rows = index.find(key_hash(keys), keys) if len(index) else np.full(len(batch), -1)
        for (trial, file, st), row in zip(batch, rows):
            if st is None:
                continue
            if row >= 0:
                r = index.rows[row]
                if int(r["size"]) == st.st_size and int(r["mtime_ns"]) == st.st_mtime_ns:
                    result.unchanged += 1
                    continue
                todo.append(_Clip(trial.id, trial.corpus, trial.path, file, bytes(r["digest"]),
                                  tuple(int(r[f]) for f in _KEPT)))
            else:
                todo.append(_Clip(trial.id, trial.corpus, trial.path, file))
        batch.clear()

    for trial in _trials(manifests):
        key = int(key_hash([entry_key(trial.corpus, trial.path)])[0])
        if key in seen:
            continue
        seen.add(key)
        result.trials += 1
        file = os.path.join(_root_of(root, trial), trial.path)  # not pathlib: it interns every part
        try:
            st = os.stat(file)
        except OSError as err:
            result.failed.append((sys.intern(trial.corpus), trial.path, sys.intern(f"missing: {err.strerror or err}")))
            st = None
        batch.append((trial, file, st))
        if len(batch) >= 10_000:
            flush()
    flush()
    return todo


def _root_of(root: Any, trial: Any) -> str:
    """``root``, or ``root[trial.corpus]`` for a mapping (as the engine's data module resolves it; that module
    imports torch, which would double the planner's memory)."""
    if isinstance(root, Mapping):
        if trial.corpus not in root:
            raise ConfigError(f"trial {trial.id!r}: no root given for corpus {trial.corpus!r} "
                              f"(roots known: {', '.join(sorted(root))})", field="root")
        return os.fspath(root[trial.corpus])
    return os.fspath(root)


def _jobs(todo: list[_Clip], shard_clips: int, workers: int, next_shard: int) -> list[tuple[int, list[_Clip]]]:
    """Consecutive runs of clips, one per shard: at most ``shard_clips``; 4 per worker where that leaves 64 clips or more each."""
    if not todo:
        return []
    size = min(shard_clips, max(64, -(-len(todo) // max(1, 4 * workers))))
    return [(next_shard + n, todo[i:i + size]) for n, i in enumerate(range(0, len(todo), size))]


def _run_jobs(jobs: list, settings: PackSettings, directory: Path, workers: int) -> Iterable[dict]:
    if workers <= 0:
        for shard, clips in jobs:
            yield pack_shard(directory, shard, clips, settings)
        return
    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(workers, mp_context=ctx)
    try:
        futures = [pool.submit(pack_shard, directory, shard, clips, settings) for shard, clips in jobs]
        for future in cf.as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def pack_shard(directory: Path, shard: int, clips: Sequence[_Clip], settings: PackSettings) -> dict:
    """Decode ``clips`` into ``shards/<shard>.bin`` and record them in ``<shard>.index.npz`` (atomic, last)."""
    from ..audio_io import AudioReadError, read_audio
    from ..hashing import sha256_file

    folder = shard_dir(directory)
    folder.mkdir(parents=True, exist_ok=True)
    rows, ids, keys, failed = [], [], [], []
    packed = refreshed = 0
    offset = 0
    bin_path = folder / f"{shard:05d}.bin"
    with atomic_path(bin_path) as tmp, open(tmp, "wb") as handle:
        for clip in clips:
            try:
                before = os.stat(clip.file)
                digest = bytes.fromhex(sha256_file(clip.file))
                if clip.old_row and digest == clip.old_digest:  # touched, same bytes: keep the entry
                    old_shard, code, decoder, old_offset, length, rate, count = clip.old_row
                    rows.append((0, old_shard, code, decoder, old_offset, length, before.st_size,
                                 before.st_mtime_ns, digest, rate, count))
                    refreshed += 1
                else:
                    wave, info = read_audio(clip.file, sample_rate=settings.sample_rate)
                    code, samples = encode(wave, settings.dtype)
                    data = samples.tobytes()
                    handle.write(data + b"\0" * (-len(data) % ALIGN))
                    rows.append((0, shard, code, DECODERS.index(info.decoder), offset, samples.size,
                                 before.st_size, before.st_mtime_ns, digest, info.sample_rate, info.num_samples))
                    offset += len(data) + (-len(data) % ALIGN)
                    packed += 1
            except (AudioReadError, InputFileError, OSError) as err:
                failed.append((clip.corpus, clip.path, _reason(err)))
                continue
            ids.append(clip.id)
            keys.append(entry_key(clip.corpus, clip.path))
        handle.flush()
        os.fsync(handle.fileno())
    if rows:
        table = np.array(rows, dtype=ROW)
        table["key"] = key_hash(keys)
        with atomic_path(folder / f"{shard:05d}.index.npz") as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, rows=table, ids=np.array([i.encode() for i in ids]),
                         keys=np.array([k.encode() for k in keys]))
                handle.flush()
                os.fsync(handle.fileno())
    else:
        bin_path.unlink(missing_ok=True)
    return {"clips": len(clips), "rows": len(rows), "packed": packed, "refreshed": refreshed,
            "bytes": offset, "failed": failed}


def _reason(err: Exception) -> str:
    text = getattr(err, "message", None) or str(err)
    return " ".join(f"{type(err).__name__}: {text}".split()) if not isinstance(err, InputFileError) else " ".join(text.split())


def _write_failed(directory: Path, failed: list[tuple[str, str, str]]) -> None:
    write_text_atomic(directory / "failed.tsv", "".join(f"{c}\t{p}\t{r}\n" for c, p, r in failed))


# --- reading ------------------------------------------------------------------------------------

class Pack:
    """A finished pack opened for reading: index lookups and memory-mapped clips.

    Picklable: DataLoader workers get the index arrays and open the shards' memmaps themselves.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        settings = read_settings(self.directory)
        if settings is None:
            raise PackError(f"{self.directory}: no pack.json; expected a folder written by `spoofbench pack`")
        self.sample_rate = settings.sample_rate
        self.index = PackIndex.load(self.directory)
        self._maps: dict[int, np.memmap] = {}

    def __getstate__(self) -> dict:
        return {"directory": self.directory, "sample_rate": self.sample_rate, "index": self.index}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._maps = {}

    def __len__(self) -> int:
        return len(self.index)

    def rows_of(self, trials: Sequence[Any]) -> np.ndarray:
        """Row of each trial in the index (-1 when the pack does not hold it)."""
        keys = [entry_key(t.corpus, t.path) for t in trials]
        return self.index.find(key_hash(keys), keys) if keys else np.zeros(0, np.int64)

    def fresh(self, row: int, file: str | os.PathLike) -> bool:
        """The file is still the one packed (same size and mtime)."""
        try:
            st = os.stat(file)
        except OSError:
            return False
        r = self.index.rows[row]
        return int(r["size"]) == st.st_size and int(r["mtime_ns"]) == st.st_mtime_ns

    def length(self, row: int) -> int:
        return int(self.index.rows[row]["length"])

    def source_length(self, row: int, sample_rate: int) -> int:
        """The clip's length at ``sample_rate`` computed as from its file's header (bucketing uses it)."""
        r = self.index.rows[row]
        return int(int(r["source_samples"]) * sample_rate / int(r["source_rate"]))

    def decoder(self, row: int) -> str:
        return DECODERS[int(self.index.rows[row]["decoder"])]

    def read(self, row: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """``(samples,)`` float32 of the clip in ``row`` (``[start:stop]`` of it), as the audio reader returns it."""
        r = self.index.rows[row]
        code, length = int(r["dtype"]), int(r["length"])
        stop = length if stop is None else min(stop, length)
        width = NUMPY[code].itemsize
        memmap = self._map(int(r["shard"]))
        first = int(r["offset"]) + start * width
        samples = memmap[first:first + (stop - start) * width].view(NUMPY[code])
        return decode(code, samples)

    def _map(self, shard: int) -> np.memmap:
        memmap = self._maps.get(shard)
        if memmap is None:
            memmap = np.memmap(shard_dir(self.directory) / f"{shard:05d}.bin", dtype=np.uint8, mode="r")
            self._maps[shard] = memmap
        return memmap


def find_pack(root: Any, pack_dir: str | os.PathLike | None = None) -> Path | None:
    """The pack folder for ``root``: ``pack_dir`` when given, else ``<root>/.spoofbench_pack`` if it exists
    (a ``{corpus: root}`` mapping: the first of its roots that holds one)."""
    if pack_dir is not None:
        return Path(pack_dir)
    roots = list(root.values()) if isinstance(root, Mapping) else [root]
    for base in roots:
        candidate = Path(base) / DEFAULT_DIR
        if (candidate / "pack.json").is_file():
            return candidate
    return None
