"""Exclusive locks between processes: one writer per score file, training run or run folder.

The one lock mechanism of spoofbench, on :mod:`filelock` (an ``flock`` on Linux). The kernel drops an
``flock`` when its holder exits, however it exits, so the lock of a SIGKILLed process is taken over by the
next one without any clean-up. Locks never wait: a second process fails at once with :class:`LockedError`
naming the holder (pid, host, start time, command), which the holder wrote beside the lock file as a small
JSON record (removed when it releases; a killed holder's record stays and is named in the take-over note).

- :func:`exclusive` / :func:`exclusive_all`: ``.<name>.lock`` beside a file or folder (the engine's score
  files and training runs);
- :func:`hold`: a lock file and holder record at paths of the caller's choosing (the runner's
  ``<run>/.run.lock``, :mod:`spoofbench.runner.lock`), re-entrant within one process when asked.

Soft (marker-file) locks are never used: on a file system without ``flock`` locking raises instead of
leaving a lock that a killed process would never release.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from .errors import SpoofbenchError

#: A holder record: {"pid", "host", "started" (epoch seconds), "command"}.
Holder = dict

_held: dict[Path, list] = {}           # lock file → [FileLock, depth] for re-entrant holds in this process
_guard = threading.Lock()


class LockedError(SpoofbenchError):
    """Another process holds the lock of a file or folder this process wants to write."""


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file guarding ``path``: ``.<name>.lock`` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def holder_path(lock_file: str | os.PathLike) -> Path:
    """The holder record of ``lock_file``: ``<lock file>.json``."""
    lock_file = Path(lock_file)
    return lock_file.with_name(lock_file.name + ".json")


def read_holder(record: str | os.PathLike) -> Optional[Holder]:
    """The holder record at ``record`` (None when absent or unreadable)."""
    try:
        value = json.loads(Path(record).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def describe(holder: Optional[Holder]) -> str:
    """``pid N on HOST since TIME (COMMAND)``, or what is known."""
    if not holder:
        return "another process (no holder record)"
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(holder.get("started", 0)))
    return f"pid {holder.get('pid')} on {holder.get('host')} since {started} ({holder.get('command', '?')})"


def holder(path: str | os.PathLike) -> str:
    """Who holds (or last held) the lock of ``path`` (:func:`exclusive`'s lock), "" when unknown."""
    record = read_holder(holder_path(lock_path(path)))
    return describe(record) if record else ""


@contextlib.contextmanager
def hold(lock_file: str | os.PathLike, on_locked: Callable[[Optional[Holder]], Exception], *,
         reentrant: bool = False) -> Iterator[Optional[Holder]]:
    """Hold ``lock_file`` inside the block, or raise ``on_locked(holder record)`` at once.

    Yields the record of the previous holder when one was left behind (a holder that was killed), else
    None. ``reentrant``: a nested hold of the same lock in this process passes through (yields None).
    """
    from filelock import FileLock, Timeout

    lock_file = Path(lock_file).resolve()
    record = holder_path(lock_file)
    if reentrant:
        with _guard:
            entry = _held.get(lock_file)
            if entry is not None:
                entry[1] += 1
        if entry is not None:
            try:
                yield None
            finally:
                with _guard:
                    entry[1] -= 1
            return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_file), timeout=0, thread_local=False, fallback_to_soft=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise on_locked(read_holder(record)) from None
    try:
        previous = read_holder(record)
        _write_holder(record)
        if reentrant:
            with _guard:
                _held[lock_file] = [lock, 1]
        yield previous if previous and previous.get("pid") != os.getpid() else None
    finally:
        if reentrant:
            with _guard:
                _held.pop(lock_file, None)
        with contextlib.suppress(OSError):
            record.unlink()
        lock.release()


def _write_holder(record: Path) -> None:
    from .atomic import write_json_atomic

    write_json_atomic(record, {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                               "command": " ".join(sys.argv)[:300]})


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, what: str = "file") -> Iterator[None]:
    """Hold the lock of ``path`` (a file or folder) or raise :class:`LockedError` at once."""
    target = lock_path(path)

    def locked(record: Optional[Holder]) -> LockedError:
        return LockedError(f"{path}: this {what} is being written by {describe(record)} (lock {target}); wait "
                           "for it to finish or choose another output")

    with hold(target, locked):
        yield


@contextlib.contextmanager
def exclusive_all(paths: Iterable[str | os.PathLike], what: str = "file") -> Iterator[None]:
    """Hold the locks of all ``paths`` (taken in sorted order) or none of them."""
    with contextlib.ExitStack() as stack:
        for path in sorted({str(p) for p in paths}):
            stack.enter_context(exclusive(path, what))
        yield


__all__ = ["LockedError", "describe", "exclusive", "exclusive_all", "hold", "holder", "holder_path", "lock_path",
           "read_holder"]
