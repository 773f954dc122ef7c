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


def current_umask() -> int:
    """The process umask, read without changing it (Linux ``/proc``); else set-and-restore."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_mode(path: str | os.PathLike) -> int:
    """Permission bits for a file about to replace ``path``: the existing file's, else what
    ``open()`` would give a new file (``0o666`` less the umask). ``mkstemp`` makes 0600 files."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    ``suffix`` (default: ``path``'s own) lets writers that choose the format by extension
    (soundfile, matplotlib) see the right one. The published file has the mode a plain
    ``open(path, "w")`` would give it (the umask is respected; an existing file keeps its mode).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix or path.suffix or ".tmp")
    except OSError as err:
        raise _naming(err, path) from err
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, publish_mode(path))
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.filename in (None, tmp):  # a full disk names no file
            raise _naming(err, path) from err
        raise


def _naming(err: OSError, path: Path) -> OSError:
    """``err`` as the same kind of OSError about ``path`` (the file the caller asked for, not a temp file)."""
    return type(err)(err.errno, err.strerror or str(err), str(path))


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
