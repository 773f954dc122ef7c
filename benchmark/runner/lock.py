"""One process per run folder: an exclusive lock held for the life of the run.

``<run>/.run.lock`` is locked with ``flock`` (through :mod:`filelock`), which the kernel releases
when the process dies, so the lock of a SIGKILLed run is simply taken over by the next one.
``<run>/.run.lock.json`` names the holder (pid, host, start time, command) for the message a second
process prints when it finds the folder taken (:class:`RunLockedError`, raised at once, no waiting).
Nested use in one process is re-entrant.
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
from typing import Callable, Iterator

from ..errors import SpoofbenchError

LOCK_NAME = ".run.lock"
HOLDER_NAME = ".run.lock.json"

_held: dict[Path, list] = {}          # folder → [FileLock, depth] for re-entrant use in this process
_guard = threading.Lock()


class RunLockedError(SpoofbenchError):
    """Another process is running in this run folder."""


def holder_of(folder: str | os.PathLike) -> dict | None:
    """Who holds (or last held) the lock of ``folder``, as written beside it."""
    try:
        return json.loads((Path(folder) / HOLDER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _describe(holder: dict | None) -> str:
    if not holder:
        return "another process (no holder record)"
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(holder.get("started", 0)))
    return f"pid {holder.get('pid')} on {holder.get('host')} since {started} ({holder.get('command', '?')})"


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, log: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the exclusive lock of run folder ``folder`` (created if needed) inside the block."""
    from filelock import FileLock, Timeout

    folder = Path(folder).resolve()
    with _guard:
        entry = _held.get(folder)
        if entry is not None:
            entry[1] += 1
    if entry is not None:
        try:
            yield
        finally:
            with _guard:
                entry[1] -= 1
        return
    lock = FileLock(str(folder / LOCK_NAME), timeout=0)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunLockedError(f"{folder}: the run folder is in use by {_describe(holder_of(folder))}; wait for "
                             "it to finish or choose another --out") from None
    try:
        previous = holder_of(folder)
        if previous and previous.get("pid") != os.getpid() and log is not None:
            log(f"{folder}: taking over the lock of {_describe(previous)}, which is no longer running")
        _write_holder(folder)
        with _guard:
            _held[folder] = [lock, 1]
        yield
    finally:
        with _guard:
            _held.pop(folder, None)
        with contextlib.suppress(OSError):
            (folder / HOLDER_NAME).unlink()
        lock.release()


def _write_holder(folder: Path) -> None:
    from ..atomic import write_json_atomic

    write_json_atomic(folder / HOLDER_NAME, {"pid": os.getpid(), "host": socket.gethostname(),
                                              "started": time.time(), "command": " ".join(sys.argv)[:300]})
