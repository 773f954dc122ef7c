"""Read audio headers fast: in parallel, streamed, and cached by path + mtime + size.

Headers are parsed in pure Python (WAV, FLAC) or by :func:`spoofbench.audio_io.probe_audio`
(libsndfile, which runs without the GIL, else PyAV),
so a thread pool overlaps the file-system latency of many small reads. Results are cached in a
small SQLite file keyed by the absolute path, its modification time (ns) and its size, so a second
pass over an unchanged corpus costs one ``stat`` per file. Nothing holds audio in memory and both
inputs and outputs are iterators processed in bounded chunks.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..filecache import StatStore
from .headers import read_header
from .manifest import Trial

#: Files handed to the pool per round; bounds memory for arbitrarily long inputs.
CHUNK = 2048
#: Files per pool task.
BATCH = 64


@dataclass(frozen=True)
class ProbeResult:
    """Header facts of one file, or why it could not be read (``error`` set, numbers 0)."""

    path: str
    sampling_rate: int = 0
    num_samples: int = 0
    channels: int = 0
    format: str = ""
    subtype: str = ""
    size: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def duration(self) -> float:
        return self.num_samples / self.sampling_rate if self.sampling_rate else 0.0


def default_workers() -> int:
    """Threads for header probing: I/O bound, so more than the cores, capped."""
    return min(32, (os.cpu_count() or 1) * 4)


class ProbeCache:
    """SQLite cache of :class:`ProbeResult` keyed by (absolute path, mtime_ns, size): a
    :class:`~spoofbench.filecache.StatStore` (errors raise: a probe cache that was asked for must work).

    Safe to share between processes (SQLite locking) and threads (one lock per instance).
    Failed probes are not cached, so a fixed file is probed again.
    """

    FILENAME = "probes.sqlite"

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / self.FILENAME
        self._store = StatStore(self.path, "probe", (("mtime_ns", "INTEGER"), ("size", "INTEGER")),
                                (("sampling_rate", "INTEGER"), ("num_samples", "INTEGER"), ("channels", "INTEGER"),
                                 ("format", "TEXT"), ("subtype", "TEXT")), wal=True, on_error="raise")

    def get_many(self, keys: Sequence[tuple[str, int, int]]) -> dict[str, ProbeResult]:
        """Cached results for ``(path, mtime_ns, size)`` keys that are still current."""
        found = self._store.get_many((path, (mtime_ns, size)) for path, mtime_ns, size in keys)
        sizes = {path: size for path, _, size in keys}
        return {path: ProbeResult(path, rate, frames, channels, fmt, subtype, sizes[path])
                for path, (rate, frames, channels, fmt, subtype) in found.items()}

    def put_many(self, rows: Iterable[tuple[ProbeResult, int]]) -> None:
        """Store successful results with their ``mtime_ns``."""
        self._store.put_many(((r.path, (mtime_ns, r.size), (r.sampling_rate, r.num_samples, r.channels, r.format,
                                                            r.subtype)) for r, mtime_ns in rows if r.ok), flush=True)

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> "ProbeCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stat(path: str) -> tuple[str, int, int] | str:
    try:
        st = os.stat(path)
    except OSError as err:
        return f"missing: {err.strerror or err}"
    return path, st.st_mtime_ns, st.st_size


def probe_header(path: str | os.PathLike, size: int | None = None) -> ProbeResult:
    """Read one file's header: WAV/FLAC by a small pure-Python parser, anything else (or anything
    odd) by :func:`spoofbench.audio_io.probe_audio` (libsndfile, else PyAV), so the length agrees
    with what :func:`spoofbench.audio_io.read_audio` decodes."""
    path = str(path)
    if size is not None:
        fast = read_header(path, size)
        if fast is not None:
            return ProbeResult(path, *fast, size=size)
    from ..audio_io import AudioReadError, probe_audio

    try:
        info = probe_audio(path)
    except AudioReadError as err:
        return ProbeResult(path, size=size or 0, error=err.message)
    return ProbeResult(path, info.sample_rate, info.num_samples, info.channels,
                       info.format, info.subtype, size or 0)


def probe_files(paths: Iterable[str | os.PathLike], *, cache: ProbeCache | None = None,
                workers: int | None = None, serial: bool = False) -> Iterator[ProbeResult]:
    """Probe ``paths`` in input order, yielding one :class:`ProbeResult` per path.

    Missing files give ``error="missing: ..."``; files no decoder reads give
    ``error="unreadable: ..."`` (or ``empty: ...``). ``serial=True`` is the single-thread baseline (no pool).
    """
    workers = 1 if serial else (workers or default_workers())
    pool = None if serial else ThreadPoolExecutor(max_workers=workers,
                                                  thread_name_prefix="probe")
    mapper = map if pool is None else pool.map
    try:
        chunk: list[str] = []
        for item in paths:
            chunk.append(os.fspath(item))
            if len(chunk) >= CHUNK:
                yield from _probe_chunk(chunk, cache, mapper)
                chunk = []
        if chunk:
            yield from _probe_chunk(chunk, cache, mapper)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _batches(items: list, size: int = BATCH) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _stat_batch(paths: list[str]) -> list[tuple[str, int, int] | str]:
    return [_stat(p) for p in paths]


def _header_batch(keys: list[tuple[str, int, int]]) -> list[ProbeResult]:
    return [probe_header(path, size) for path, _, size in keys]


def _probe_chunk(chunk: list[str], cache: ProbeCache | None, mapper) -> Iterator[ProbeResult]:
    # one task per BATCH files: per-task overhead of the pool is comparable to a header read
    stats = [s for batch in mapper(_stat_batch, _batches(chunk)) for s in batch]
    keys = [s for s in stats if isinstance(s, tuple)]
    cached = cache.get_many(keys) if cache is not None else {}
    todo = [s for s in keys if s[0] not in cached]
    results = [r for batch in mapper(_header_batch, _batches(todo)) for r in batch]
    fresh = {r.path: r for r in results}
    if cache is not None and fresh:
        cache.put_many((fresh[s[0]], s[1]) for s in todo)
    for path, stat in zip(chunk, stats):
        if isinstance(stat, str):
            yield ProbeResult(path, error=stat)
        else:
            yield cached.get(path) or fresh[path]


def probe_trials(trials: Iterable[Trial], root: str | os.PathLike, *,
                 cache: ProbeCache | None = None, workers: int | None = None
                 ) -> Iterator[tuple[Trial, ProbeResult]]:
    """Yield ``(trial with sampling_rate/num_samples/duration filled in, probe result)``.

    A trial whose file is missing or unreadable comes back unchanged with the failed result.
    Streams: at most :data:`CHUNK` trials are held at a time.
    """
    base = os.fspath(root)
    pending: deque[Trial] = deque()

    def paths() -> Iterator[str]:
        for trial in trials:
            pending.append(trial)
            yield os.path.join(base, trial.path)  # == str(trial.audio_path(root)), cheaper

    for result in probe_files(paths(), cache=cache, workers=workers):
        trial = pending.popleft()
        yield (trial.with_probe(result.sampling_rate, result.num_samples)
               if result.ok else trial), result
