"""On-disk caches of facts about files, and of files themselves: the one implementation of each.

:class:`StatStore` remembers a fact about a file (its sha256, its audio header) in one SQLite table keyed by
the file's absolute path, valid only while the file's stat signature (size, mtime, ...) is unchanged. It is
safe for several threads (one lock) and processes (SQLite's locking, a busy timeout), writes in batches, and
is either bypassed (``on_error="bypass"``: the fact is recomputed, never wrong) or loud (``"raise"``) when
the database cannot be used. :class:`~spoofbench.digests.DigestCache` and
:class:`~spoofbench.corpora.probe.ProbeCache` are built on it, each keeping its file and table as before.

:func:`evict_lru` keeps a folder of cached files under a byte budget, dropping the least recently used
(oldest mtime; a hit ``touch``-es its file) first, down to a fraction of the budget. The codec cache
(``spoofbench.codecs.cache``) and the SSL feature cache (``spoofbench.engine.ssl_cache``) evict that way.

Why our own module and not the ``diskcache`` library: these caches are keyed by a file's *stat signature*,
which diskcache has no notion of (a lookup must compare the stored signature with a fresh ``stat``), they keep
readable SQLite tables other tools and older spoofbench versions already have on disk, the LRU caches hold
plain ``.npy``/``.f32`` files that a person can inspect and delete, and the foundation adds no dependency:
what is shared (a locked SQLite table with batched writes and a bypass, an LRU sweep by mtime) is ~100 lines.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Iterator, Literal, Sequence

#: Rows buffered before one write transaction.
BATCH = 500


class StatStore:
    """``path → (signature, values)`` in ``table`` of the SQLite file ``database`` (None: memory only).

    ``signature`` and ``values`` name the table's columns after ``path`` (an SQL type each). A row is
    returned only when its signature equals the caller's (a rewritten file is a miss).
    """

    def __init__(self, database: str | os.PathLike | None, table: str, signature: Sequence[tuple[str, str]],
                 values: Sequence[tuple[str, str]], *, wal: bool = False,
                 on_error: Literal["bypass", "raise"] = "bypass"):
        self.database = Path(database) if database is not None else None
        self.table, self.on_error = table, on_error
        self._n_signature = len(signature)
        self._columns = [name for name, _ in (*signature, *values)]
        self._lock = threading.Lock()
        self._pending: list[tuple] = []
        self._db: sqlite3.Connection | None = None
        self.note: str | None = None   # why the on-disk store is bypassed, if it is
        if self.database is None:
            return
        try:
            self.database.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.database, timeout=60, check_same_thread=False, isolation_level=None)
            if wal:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable enough for a cache
            columns = ", ".join(f"{name} {kind}" for name, kind in (*signature, *values))
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (path TEXT PRIMARY KEY, {columns})")
        except (OSError, sqlite3.Error) as err:
            self._give_up(f"{self.database} not usable ({err})", err)

    def _give_up(self, why: str, err: Exception) -> None:
        if self._db is not None:
            self._db.close()
        self._db = None
        if self.on_error == "raise":
            raise err
        self.note = why

    def get_many(self, keys: Iterable[tuple[str, tuple]]) -> dict[str, tuple]:
        """``{path: values}`` for the ``(path, signature)`` keys whose stored signature still matches."""
        wanted = dict(keys)
        paths, found = list(wanted), {}
        with self._lock:  # rows still pending (not flushed) are not seen: callers keep their own memory
            if self._db is None:
                return {}
            try:
                for start in range(0, len(paths), BATCH):  # under SQLite's variable limit
                    part = paths[start:start + BATCH]
                    rows = self._db.execute(f"SELECT path, {', '.join(self._columns)} FROM {self.table} "
                                            f"WHERE path IN ({','.join('?' * len(part))})", part)
                    for path, *row in rows:
                        if tuple(row[:self._n_signature]) == tuple(wanted[path]):
                            found[path] = tuple(row[self._n_signature:])
            except sqlite3.Error:
                if self.on_error == "raise":
                    raise
                return {}
        return found

    def get(self, path: str, signature: tuple) -> tuple | None:
        """The values stored for ``path`` under ``signature``, or None."""
        return self.get_many([(path, signature)]).get(path)

    def put_many(self, rows: Iterable[tuple[str, tuple, tuple]], *, flush: bool = False) -> None:
        """Store ``(path, signature, values)`` rows (written in batches; ``flush``: now)."""
        with self._lock:
            self._pending += [(path, *signature, *values) for path, signature, values in rows]
            if flush or len(self._pending) >= BATCH:
                self._flush()

    def _flush(self) -> None:
        """Write pending rows in one transaction (caller holds the lock)."""
        rows, self._pending = self._pending, []
        if self._db is None or not rows:
            return
        marks = ", ".join("?" * (1 + len(self._columns)))
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(f"INSERT OR REPLACE INTO {self.table} VALUES ({marks})", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            self._give_up(f"{self.database} not writable ({err})", err)

    def flush(self) -> None:
        """Write the rows stored so far."""
        with self._lock:
            self._flush()

    def __len__(self) -> int:
        with self._lock:
            self._flush()
            if self._db is None:
                return 0
            return int(self._db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._flush()
            if self._db is not None:
                self._db.close()
                self._db = None


def lru_entries(directory: str | os.PathLike, pattern: str) -> list[tuple[float, int, Path]]:
    """``(mtime, size, path)`` of the files matching ``pattern`` under ``directory``, least recent first
    (files that vanish while listed are skipped)."""
    found = []
    for path in Path(directory).glob(pattern):
        try:
            st = path.stat()
        except OSError:
            continue
        found.append((st.st_mtime, st.st_size, path))
    return sorted(found, key=lambda e: e[0])


def evict_lru(entries: Iterable[tuple[float, int, Path]], max_bytes: int, keep: float = 0.9) -> Iterator[int]:
    """Delete the least recently used of ``entries`` (as :func:`lru_entries` gives) until they hold at most
    ``keep * max_bytes``; yields the size of each file removed."""
    entries = sorted(entries, key=lambda e: e[0])
    total = sum(size for _, size, _ in entries)
    for _, size, path in entries:
        if total <= keep * max_bytes:
            break
        try:
            path.unlink()
        except FileNotFoundError:   # another process evicted it first
            total -= size
            continue
        except OSError:
            continue
        total -= size
        yield size

__all__ = ["BATCH", "StatStore", "evict_lru", "lru_entries"]
