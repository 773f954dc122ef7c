"""The sha256 of a file's bytes: the one implementation (a leaf: the standard library only, so models/
and codecs/ may use it too)."""
from __future__ import annotations

import hashlib
import os

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike, chunk: int = CHUNK) -> str:
    """sha256 hex digest of the bytes of ``path``, read in ``chunk``-byte blocks (OSError if unreadable)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
