"""Content digests of input files and of the audio a manifest points at (foundation: the runner, the
pack and reproduce all key on them).

- :func:`file_sha256`: the sha256 of one file's bytes.
- :class:`DigestCache`: an on-disk (SQLite) cache of file digests keyed by the file's absolute path
  and its stat signature (size, mtime_ns, ctime_ns, inode), so a second run does not re-read a
  corpus: a file whose signature is unchanged is not read again; a rewritten file always is.
- :func:`audio_digest`: per-trial content hashes of trials' audio files and one digest over
  them (``AudioDigest``); :func:`changed_trials` tells which trials differ between two digests.

Nothing here imports torch or numpy. The cache (:class:`spoofbench.filecache.StatStore`) is safe for several
processes at once (SQLite with a busy timeout); a cache that cannot be opened or written is bypassed
(digests are then computed, never wrong).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .atomic import atomic_path
from .filecache import StatStore
from .hashing import sha256_file
from .logs import progress as show_progress

#: The per-trial value of a trial whose audio file cannot be read.
MISSING = "missing"
_CHUNK = 1 << 20
_CACHE_FILE = "file_digests.sqlite"


file_sha256 = sha256_file  # the sha256 of one file's bytes (:mod:`spoofbench.hashing`)


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


class DigestCache:
    """sha256 of files, remembered in ``directory/file_digests.sqlite`` by path + stat signature
    (a :class:`~spoofbench.filecache.StatStore`, bypassed with a ``note`` when it cannot be used).

    ``DigestCache(None)`` keeps the digests in memory only (one process, one run).
    """

    def __init__(self, directory: str | os.PathLike | None):
        self.directory = Path(directory) if directory is not None else None
        self.hits = 0
        self.misses = 0
        self._memory: dict[str, tuple[tuple[int, int, int, int], str]] = {}
        self._lock = threading.Lock()
        self._store = StatStore(self.directory / _CACHE_FILE if self.directory is not None else None, "files",
                                (("size", "INTEGER"), ("mtime_ns", "INTEGER"), ("ctime_ns", "INTEGER"),
                                 ("inode", "INTEGER")), (("sha256", "TEXT"),))

    @property
    def note(self) -> str | None:
        """Why the on-disk cache is bypassed, if it is."""
        why = self._store.note
        return f"digest cache {why}; digests are recomputed" if why else None

    def sha256(self, path: str | os.PathLike) -> str:
        """The sha256 of ``path``: from the cache when its stat signature is unchanged, else read."""
        key = str(Path(path).resolve())
        signature = _signature(os.stat(key))
        cached = self._lookup(key, signature)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        value = file_sha256(key)
        after = os.stat(key)
        if _signature(after) == signature:  # not rewritten while being read
            with self._lock:
                self._memory[key] = (signature, value)
            self._store.put_many([(key, signature, (value,))])
        return value

    def _lookup(self, key: str, signature: tuple[int, int, int, int]) -> str | None:
        with self._lock:
            hit = self._memory.get(key)
        if hit is not None and hit[0] == signature:
            return hit[1]
        row = self._store.get(key, signature)
        return row[0] if row else None

    def flush(self) -> None:
        """Write the digests computed so far to disk."""
        self._store.flush()

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> "DigestCache":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _as_cache(cache: "DigestCache | str | os.PathLike | None") -> DigestCache:
    return cache if isinstance(cache, DigestCache) else DigestCache(cache)


@dataclass(frozen=True)
class AudioDigest:
    """The content of a manifest's audio: ``digest`` over every (trial id, file sha256) pair.

    ``trials`` maps trial id → sha256 of its audio file (``MISSING`` when unreadable). The digest
    changes when any clip's bytes change, a trial is added or removed, or a file goes missing.
    """
    digest: str
    n_files: int
    n_missing: int
    trials: Mapping[str, str] = field(repr=False, default_factory=dict)

    def summary(self) -> dict:
        """The JSON-able record kept in ``manifest.json`` (without the per-trial hashes)."""
        return {"sha256": self.digest, "n_files": self.n_files, "n_missing": self.n_missing}


def _root_of(root: Any, trial: Any) -> Path:
    if isinstance(root, Mapping):
        corpus = getattr(trial, "corpus", None)
        if corpus not in root:
            raise FileNotFoundError(f"no root for corpus {corpus!r}")
        return Path(root[corpus])
    return Path(root)


def _trials(trials: Any) -> list:
    if isinstance(trials, (str, os.PathLike)):  # reading manifests is the corpora layer's job
        raise TypeError("spoofbench.digests.audio_digest takes trials; for a manifest path use "
                        "spoofbench.reproduce.digest.audio_digest")
    return list(trials)


def digest_of(trial_hashes: Mapping[str, str]) -> str:
    """The digest over per-trial hashes (independent of their order)."""
    digest = hashlib.sha256()
    for trial_id in sorted(trial_hashes):
        digest.update(f"{trial_id}\t{trial_hashes[trial_id]}\n".encode("utf-8"))
    return digest.hexdigest()


def audio_digest(trials: Any, root: Any, *, cache: "DigestCache | str | os.PathLike | None" = None,
                 workers: int = 1, progress: bool = False) -> AudioDigest:
    """Per-trial content hashes and one digest over the audio of a list of trials
    (:func:`spoofbench.reproduce.digest.audio_digest` also takes a manifest path).

    Args:
        trials: trials with ``id``, ``path`` (relative to the corpus root) and ``corpus``.
        root: the corpus root, or a mapping corpus name → root (as the runner's protocol roots).
        cache: a :class:`DigestCache` or the folder of one (None: in memory only).
        workers: threads reading files (several help on network storage).
    """
    trials = _trials(trials)
    owned = not isinstance(cache, DigestCache)
    store = _as_cache(cache)

    def one(trial: Any) -> tuple[str, str]:
        try:
            return trial.id, store.sha256(_root_of(root, trial) / trial.path)
        except OSError:
            return trial.id, MISSING

    try:
        shown = progress and len(trials) > 200
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                pairs = list(show_progress(pool.map(one, trials), total=len(trials), desc="audio digest",
                                           enabled=shown))
        else:
            pairs = [one(t) for t in show_progress(trials, desc="audio digest", enabled=shown)]
    finally:
        if owned:
            store.close()
    hashes = dict(pairs)
    missing = sum(1 for v in hashes.values() if v == MISSING)
    return AudioDigest(digest_of(hashes), len(hashes) - missing, missing, hashes)


@dataclass(frozen=True)
class TrialChanges:
    """Trials whose audio differs between two digests."""
    changed: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.changed or self.added or self.removed)

    def describe(self, limit: int = 5) -> str:
        parts = []
        for name, ids in (("changed", self.changed), ("added", self.added), ("removed", self.removed)):
            if ids:
                shown = ", ".join(ids[:limit]) + (f", … ({len(ids)} in all)" if len(ids) > limit else "")
                parts.append(f"{len(ids)} {name}: {shown}")
        return "; ".join(parts) or "no trial changed"


def changed_trials(old: "AudioDigest | Mapping[str, str]", new: "AudioDigest | Mapping[str, str]") -> TrialChanges:
    """Which trials changed content, appeared or disappeared from ``old`` to ``new``."""
    a = old.trials if isinstance(old, AudioDigest) else old
    b = new.trials if isinstance(new, AudioDigest) else new
    return TrialChanges(changed=tuple(sorted(i for i in a.keys() & b.keys() if a[i] != b[i])),
                        added=tuple(sorted(b.keys() - a.keys())),
                        removed=tuple(sorted(a.keys() - b.keys())))


def write_trial_hashes(path: str | os.PathLike, digest: "AudioDigest | Mapping[str, str]") -> Path:
    """Write per-trial hashes as gzipped ``trial_id<TAB>sha256`` lines (atomic); returns the path."""
    hashes = digest.trials if isinstance(digest, AudioDigest) else digest
    text = "".join(f"{i}\t{hashes[i]}\n" for i in sorted(hashes))
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        # no name and mtime 0 in the header: identical content, identical bytes
        with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as handle:
            handle.write(text.encode("utf-8"))
    return path


def read_trial_hashes(path: str | os.PathLike) -> dict[str, str]:
    """Read what :func:`write_trial_hashes` wrote (raises InputFileError when unreadable)."""
    from .errors import InputFileError

    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            pairs = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise InputFileError(f"cannot read trial hashes ({err})", path) from err
    bad = next((n for n, p in enumerate(pairs, 1) if len(p) != 2), None)
    if bad is not None:
        raise InputFileError("expected 'trial_id<TAB>sha256'", path, bad)
    return dict(pairs)


def tree_digest(directory: str | os.PathLike, *, suffix: str = "", cache: "DigestCache | str | os.PathLike | None" = None
                ) -> AudioDigest:
    """Per-file hashes (keyed by path relative to ``directory``) of every file under it ending in ``suffix``.

    Used for folders of generated or cached audio (the demo corpus, the codec cache); temp files
    (names starting with ``.``) are skipped.
    """
    base = Path(directory)
    owned = not isinstance(cache, DigestCache)
    store = _as_cache(cache)
    hashes: dict[str, str] = {}
    try:
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or not name.endswith(suffix) or name == _CACHE_FILE:
                    continue
                path = Path(dirpath, name)
                try:
                    hashes[path.relative_to(base).as_posix()] = store.sha256(path)
                except OSError:
                    continue  # removed while walking (cache eviction)
    finally:
        if owned:
            store.close()
    return AudioDigest(digest_of(hashes), len(hashes), 0, hashes)
