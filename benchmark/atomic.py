"""Atomic file writes: write a temporary file in the target's folder, then ``os.replace`` it.

A reader (or a resumed run) never sees a half-written file: it sees the old one or the new one.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    ``suffix`` (default: ``path``'s own) lets writers that choose the format by extension
    (soundfile, matplotlib) see the right one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix or path.suffix or ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (``fsync`` for checkpoints that must survive a crash)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())


def write_text_atomic(path: str | os.PathLike, text: str, *, fsync: bool = False) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), fsync=fsync)


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities replaced by None (strict JSON has no such numbers)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_json_atomic(path: str | os.PathLike, obj: Any, *, fsync: bool = False) -> None:
    """Write ``obj`` as indented, strict JSON (NaN → null) to ``path`` atomically."""
    text = json.dumps(json_safe(obj), indent=2, allow_nan=False, default=str, ensure_ascii=False) + "\n"
    write_text_atomic(path, text, fsync=fsync)
