"""A content-addressed, process-safe, bounded cache of coded audio.

Key: sha256 over the input samples (float32 bytes), the input rate, the condition record, the
engine provenance (engine + library version) and, for random conditions, the trial key. Entry
file ``<dir>/<key[:2]>/<key>.f32``: a 48-byte header (magic, sample count, sha256 of the
payload) then the float32 samples. Writes go to a temp file in the same folder and are
published with ``os.replace`` (atomic), so concurrent writers of one key simply race to the same
bytes. A read checks size and checksum; a damaged entry is deleted and reported as a miss.
The folder is kept under ``max_bytes`` by deleting the least recently used entries (reads touch
the file's mtime); each process rescans after writing 5 % of the budget, so the bound may be
overshot by that much per writer.

A cache that cannot write (a full disk, a read-only or missing folder) is bypassed: one
``RuntimeWarning`` per cache, then clips are coded without caching (``stats.write_errors``).
Entries get the mode a plain ``open()`` would give them (the umask is respected).
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spoofbench.atomic import current_umask
from spoofbench.errors import CodecError
from spoofbench.filecache import evict_lru

_MAGIC = b"SBCODEC1"
_HEADER = struct.Struct("<8sQ32s")  # magic, sample count, sha256(payload)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    writes: int = 0
    damaged: int = 0
    evicted: int = 0
    write_errors: int = 0


class CodecCache:
    """Coded-audio cache in ``directory`` holding at most about ``max_bytes``."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int = 2 * 1024 ** 3):
        if int(max_bytes) <= 0:
            raise CodecError(f"cache max_bytes must be > 0, got {max_bytes!r}")
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self.stats = CacheStats()
        self._written_since_scan = 0
        self.disabled: str | None = None  # why writes are bypassed
        self._mode = 0o666 & ~current_umask()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            self._bypass(f"cannot create the cache folder: {err.strerror or err}")

    @staticmethod
    def make_key(wave: np.ndarray, sample_rate: int, condition: dict, provenance: dict, key: str = "") -> str:
        """sha256 hex digest identifying one coded clip."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(wave, dtype="<f4").tobytes())
        meta = {"rate": int(sample_rate), "condition": condition, "engine": provenance, "key": key}
        digest.update(json.dumps(meta, sort_keys=True).encode("utf-8"))
        return digest.hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.f32"

    def get(self, key: str) -> np.ndarray | None:
        """The cached samples (float32), or None on a miss or a damaged entry (which is deleted)."""
        path = self.path(key)
        try:
            blob = path.read_bytes()
        except OSError:  # absent, or an unreadable folder: code the clip again
            self.stats.misses += 1
            return None
        if len(blob) >= _HEADER.size:
            magic, count, checksum = _HEADER.unpack_from(blob)
            payload = blob[_HEADER.size:]
            if (magic == _MAGIC and len(payload) == 4 * count
                    and hashlib.sha256(payload).digest() == checksum):
                try:
                    os.utime(path)  # least-recently-used bookkeeping
                except OSError:
                    pass
                self.stats.hits += 1
                return np.frombuffer(payload, dtype="<f4").astype(np.float32)
        self.stats.damaged += 1
        self.stats.misses += 1
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return None

    def _bypass(self, why: str) -> None:
        """Stop writing (once, with one warning): coding goes on without the cache."""
        self.stats.write_errors += 1
        if self.disabled is None:
            self.disabled = why
            warnings.warn(f"codec cache {self.directory}: {why}; coding continues without caching",
                          RuntimeWarning, stacklevel=3)

    def put(self, key: str, samples: np.ndarray) -> None:
        """Store ``samples`` (float32 (n,)) atomically under ``key``; a write error (full disk,
        read-only folder) disables the cache with one warning instead of failing the clip."""
        if self.disabled is not None:
            self.stats.write_errors += 1
            return
        payload = np.ascontiguousarray(samples, dtype="<f4").tobytes()
        blob = _HEADER.pack(_MAGIC, len(payload) // 4, hashlib.sha256(payload).digest()) + payload
        try:
            self._write(self.path(key), blob)
        except OSError as err:
            self._bypass(f"cannot write an entry ({err.strerror or err})")
            return
        self.stats.writes += 1
        self._written_since_scan += len(blob)
        if self._written_since_scan >= max(1, self.max_bytes // 20) or self.stats.writes == 1:
            self.evict()

    def _write(self, path: Path, blob: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".f32", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
            os.chmod(tmp, self._mode)  # mkstemp makes 0600 files
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every entry."""
        found = []
        for shard in self.directory.iterdir() if self.directory.exists() else ():
            if not shard.is_dir():
                continue
            for entry in os.scandir(shard):
                if entry.name.endswith(".f32") and not entry.name.startswith(".tmp-"):
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    found.append((st.st_mtime, st.st_size, Path(entry.path)))
        return found

    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def evict(self) -> int:
        """Delete the oldest entries until the folder fits ``max_bytes``; returns how many went."""
        self._written_since_scan = 0
        removed = sum(1 for _ in evict_lru(self.entries(), self.max_bytes, keep=1.0))
        self.stats.evicted += removed
        return removed
