"""The sha256 of a file's bytes and of JSON-able data: the one implementation of each (a leaf: the
standard library only, so models/ and codecs/ may use it too)."""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike, chunk: int = CHUNK) -> str:
    """sha256 hex digest of the bytes of ``path``, read in ``chunk``-byte blocks (OSError if unreadable)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(obj: Any) -> str:
    """The one canonical JSON text of ``obj``: keys sorted, no spaces, non-ASCII escaped (``\\u00e9``), and
    anything JSON cannot hold as ``str(value)``. Cache keys and manifest seals hash this text, so changing
    it changes every key (tests pin it)."""
    return json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))


def sha256_json(obj: Any) -> str:
    """sha256 hex digest of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode("ascii")).hexdigest()
