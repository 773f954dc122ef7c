"""One process per run folder: an exclusive lock held for the life of the run.

``<run>/.run.lock`` is held through :func:`spoofbench.locks.hold` (the one lock mechanism: ``flock`` through
:mod:`filelock`), which the kernel releases when the process dies, so the lock of a SIGKILLed run is simply
taken over by the next one. ``<run>/.run.lock.json`` names the holder (pid, host, start time, command) for
the message a second process prints when it finds the folder taken (:class:`RunLockedError`, raised at
once, no waiting). Nested use in one process is re-entrant.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator

from ..locks import LockedError, describe, hold, read_holder

LOCK_NAME = ".run.lock"
HOLDER_NAME = ".run.lock.json"


class RunLockedError(LockedError):
    """Another process is running in this run folder."""


def holder_of(folder: str | os.PathLike) -> dict | None:
    """Who holds (or last held) the lock of ``folder``, as written beside it."""
    return read_holder(Path(folder) / HOLDER_NAME)


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, log: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the exclusive lock of run folder ``folder`` (created if needed) inside the block."""
    folder = Path(folder).resolve()

    def locked(record: dict | None) -> RunLockedError:
        return RunLockedError(f"{folder}: the run folder is in use by {describe(record)}; wait for it to finish "
                              "or choose another --out")

    with hold(folder / LOCK_NAME, locked, reentrant=True) as previous:
        if previous and log is not None:
            log(f"{folder}: taking over the lock of {describe(previous)}, which is no longer running")
        yield
