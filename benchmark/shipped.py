"""Protocols and benchmark configs that ship with spoofbench, usable by name from any directory.

``resolve_shipped("asvspoof2019_la_to_wild", "protocol")`` is the packaged
``spoofbench/data_manifests/protocols/asvspoof2019_la_to_wild.yaml``; an existing path is returned as
it is, so every ``PROTOCOL``/``CONFIG`` argument can take either. Shipped protocols name their
manifests (resolved under ``--manifests``), so they work from anywhere; a shipped benchmark config's
relative paths are relative to the current directory's checkout layout (see its header).
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .errors import ConfigError

#: kind → folders of ``spoofbench.data_manifests`` holding ``<name>.yaml`` files of that kind.
KINDS: dict[str, tuple[str, ...]] = {"protocol": ("protocols",), "benchmark": ("benchmarks",)}
#: names that live elsewhere in the package (the demo's protocol).
EXTRA: dict[tuple[str, str], str] = {("protocol", "demo"): "demo/protocol.yaml"}


def _package_root() -> Path:
    return Path(str(resources.files("spoofbench.data_manifests")))


def shipped(kind: str) -> dict[str, Path]:
    """Name → path of every shipped YAML of ``kind`` ("protocol" or "benchmark")."""
    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}; expected one of {sorted(KINDS)}")
    root = _package_root()
    found = {p.stem: p for folder in KINDS[kind] for p in sorted((root / folder).glob("*.y*ml"))}
    found.update({name: root / rel for (k, name), rel in EXTRA.items() if k == kind and (root / rel).is_file()})
    return dict(sorted(found.items()))


def resolve_shipped(name_or_path: str | os.PathLike, kind: str) -> Path:
    """An existing file as it is, else the shipped ``kind`` called ``name_or_path`` (``.yaml`` optional)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    name = path.name[:-5] if path.name.endswith(".yaml") else path.name
    available = shipped(kind)
    if len(path.parts) == 1 and name in available:
        return available[name]
    raise ConfigError(f"no such file, nor a shipped {kind} of that name (shipped: {', '.join(available) or 'none'})",
                      path)


def is_shipped(path: str | os.PathLike) -> bool:
    """True when ``path`` lies inside the installed ``spoofbench.data_manifests``."""
    try:
        Path(path).resolve().relative_to(_package_root().resolve())
    except ValueError:
        return False
    return True
