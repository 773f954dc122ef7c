"""Exclusive per-file locks: one writer per score file (or run folder), for the process's life.

A lock is an ``fcntl.flock`` on a small lock file beside the guarded file; the kernel drops it
when its holder exits, however it exits, so a lock left by a killed process is taken over by the
next one without any clean-up. The holder writes ``pid N on HOST`` into the lock file, and a
second process that finds the lock taken fails at once with :class:`LockedError` naming it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import SpoofbenchError


class LockedError(SpoofbenchError):
    """Another process holds the lock of a file this process wants to write."""


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file guarding ``path``: ``.<name>.lock`` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def holder(path: str | os.PathLike) -> str:
    """What the lock file of ``path`` says about its holder ("" when unknown)."""
    try:
        return lock_path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, what: str = "file") -> Iterator[None]:
    """Hold the lock of ``path`` (a file or folder) or raise :class:`LockedError` at once."""
    target = lock_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        who = os.pread(fd, 512, 0).decode("utf-8", errors="replace").strip() or "another process"
        os.close(fd)
        raise LockedError(f"{path}: this {what} is being written by {who} (lock {target}); wait for it "
                          "to finish or choose another output") from None
    try:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextlib.contextmanager
def exclusive_all(paths: Iterable[str | os.PathLike], what: str = "file") -> Iterator[None]:
    """Hold the locks of all ``paths`` (taken in sorted order) or none of them."""
    with contextlib.ExitStack() as stack:
        for path in sorted({str(p) for p in paths}):
            stack.enter_context(exclusive(path, what))
        yield
