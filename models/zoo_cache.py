"""``spoofbench models list`` without importing torch when nothing changed.

The rows of :func:`spoofbench.models.catalog.describe_zoo` (parameters counted from modules built on
the meta device) are kept in ``<cache_dir>/zoo-<key>.json``. The key hashes the spoofbench version,
the installed torch / torchaudio / transformers / s3prl versions, the size and mtime of every file of
``spoofbench.models`` and the registered detectors; any change rebuilds the rows. Third-party
detectors (entry points) are never cached: their code is not in the key.
"""
from __future__ import annotations

import hashlib
import json
import logging
from importlib import metadata
from pathlib import Path
from typing import Any

from . import DETECTORS

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "spoofbench"
_LIBRARIES = ("torch", "torchaudio", "transformers", "s3prl")
log = logging.getLogger("spoofbench.models")


def zoo_key() -> str:
    """A hash of everything the zoo's rows depend on (see the module docstring)."""
    from spoofbench import __version__

    digest = hashlib.sha256(f"spoofbench {__version__}".encode())
    for lib in _LIBRARIES:
        try:
            digest.update(f"{lib} {metadata.version(lib)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{lib} -".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        stat = path.stat()
        digest.update(f"{path.name} {stat.st_size} {stat.st_mtime_ns}".encode())
    for name in DETECTORS.names():
        digest.update(f"{name} {DETECTORS.source(name)}".encode())
    return digest.hexdigest()[:20]


def zoo_rows(cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
             names: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows of detectors ``names`` (default: all) and their presets, from the cache when its key
    matches (``cache_dir=None``: no cache)."""
    cacheable = cache_dir is not None and all(DETECTORS.source(n) == "spoofbench" for n in DETECTORS.names())
    path = Path(cache_dir) / f"zoo-{zoo_key()}.json" if cacheable else None
    if path is not None and path.is_file():
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
            return [r for r in rows if not names or r["name"] in names]
        except (OSError, ValueError) as err:
            log.debug("ignoring an unreadable zoo cache %s: %s", path, err)
    from .catalog import describe_zoo

    if path is None:
        return describe_zoo(names or None, include_tiny=True)
    rows = describe_zoo(include_tiny=True)
    if path is not None:
        from spoofbench.atomic import write_json_atomic

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, rows)
        except OSError as err:  # a read-only home: list anyway
            log.debug("cannot write the zoo cache %s: %s", path, err)
    return [r for r in rows if not names or r["name"] in names]
