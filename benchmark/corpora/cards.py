"""Corpus cards: ``data_manifests/<corpus>/card.yaml`` (source, licence, published counts, the
sha256 of the protocol files), and checking a user's protocol file against them."""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from ..hashing import sha256_file


@dataclass(frozen=True)
class CorpusCard:
    name: str
    title: str
    recipes: tuple[str, ...]
    source: str
    licence: str
    expected: Mapping[str, Mapping[str, int | None]]
    protocol_files: Mapping[str, Mapping[str, Any]]
    notes: str = ""


def cards_dir() -> Path:
    return Path(str(resources.files("spoofbench.data_manifests")))


#: Keys every corpus card must have.
REQUIRED_KEYS = ("name", "recipes", "expected")


def load_card(path: str | os.PathLike) -> CorpusCard:
    """The corpus card at ``path`` (a ConfigError naming the file and the missing key otherwise)."""
    import yaml

    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping of card fields, got {type(data).__name__}", path=path)
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ConfigError(f"required key missing (a corpus card needs {', '.join(REQUIRED_KEYS)})",
                              path=path, field=key)
    return CorpusCard(name=data["name"], title=data.get("title", ""),
                      recipes=tuple(data["recipes"]), source=data.get("source", ""),
                      licence=data.get("licence", ""), expected=data["expected"],
                      protocol_files=data.get("protocol_files") or {}, notes=data.get("notes", ""))


def all_cards() -> dict[str, CorpusCard]:
    """Every corpus card shipped in ``data_manifests`` keyed by corpus name."""
    return {p.parent.name: load_card(p) for p in sorted(cards_dir().glob("*/card.yaml"))}


def check_protocol_file(path: str | os.PathLike) -> str:
    """Whether ``path`` is a known official protocol file: a one-line verdict for reports."""
    path = Path(path)
    digest = sha256_file(path)
    known = [(card.name, key, entry) for card in all_cards().values()
             for key, entry in card.protocol_files.items() if entry.get("name") == path.name]
    for corpus, key, entry in known:
        if entry.get("sha256") == digest:
            return f"{path.name}: sha256 matches the {corpus} card ({key})"
    with_sha = [entry["sha256"] for _, _, entry in known if entry.get("sha256")]
    if with_sha:
        return f"{path.name}: sha256 {digest[:12]}… differs from the card's {with_sha[0][:12]}…"
    return f"{path.name}: sha256 {digest[:12]}… (no reference checksum in the cards)"
