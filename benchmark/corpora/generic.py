"""Corpora without a recipe: a CSV (``path,label[,...]``) or ``real/`` + ``fake/`` folders.

CSV: a header with at least ``path`` and ``label``; optional ``id``, ``split``, ``speaker``,
``attack``, ``language``; every other column goes to ``Trial.custom``. Paths are relative to
``root``. Labels: bonafide/bona-fide/real/1 or spoof/fake/0. Without a ``split`` column all rows
form split ``all``. Given ``--protocol FILE`` or, by default, the only ``*.csv`` in ``root``.

Folders: ``root/{real,bonafide,bona-fide}/`` and ``root/{fake,spoof}/`` (split ``all``) or
``root/<split>/{real,fake}/``. A sub-folder under ``fake/`` names the attack.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from ..errors import ManifestError
from .manifest import Trial
from .recipe import CorpusRecipe, normalise_label, relative, safe_id, scan_audio

_CORE = {"path", "label", "id", "split", "speaker", "attack", "language"}
_REAL = ("real", "bonafide", "bona-fide", "bona_fide")
_FAKE = ("fake", "spoof")


def _csv_path(root: Path, protocol: Path | None) -> Path:
    if protocol is not None:
        if not protocol.is_file():
            raise ManifestError("CSV protocol not found", path=protocol)
        return protocol
    found = sorted(root.glob("*.csv"))
    if len(found) != 1:
        raise ManifestError(f"expected exactly one *.csv in the root (or --protocol FILE), "
                            f"found {[p.name for p in found]}", path=root)
    return found[0]


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = [f.strip() for f in reader.fieldnames or []]
        missing = {"path", "label"} - set(fields)
        if missing:
            raise ManifestError(f"expected a header with path,label[,...]; got {fields}",
                                path=path, line=1, field=sorted(missing)[0])
        for number, row in enumerate(reader, start=2):
            yield number, {k.strip(): (v or "").strip() for k, v in row.items() if k}


def csv_corpus(root: Path, protocol: Path | None) -> str:
    return safe_id(_csv_path(root, protocol).stem) or "csv"


def folder_corpus(root: Path, protocol: Path | None) -> str:
    return safe_id(root.resolve().name) or "folder"


def csv_splits(root: Path, protocol: Path | None) -> list[str]:
    path = _csv_path(root, protocol)
    return sorted({row.get("split") or "all" for _, row in _csv_rows(path)})


def parse_csv(root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
    path = _csv_path(root, protocol)
    corpus = csv_corpus(root, protocol)
    for number, row in _csv_rows(path):
        if (row.get("split") or "all") != split:
            continue
        if not row["path"]:
            raise ManifestError("empty path", path=path, line=number, field="path")
        label = normalise_label(row["label"], path, number)
        custom = {k: v for k, v in row.items() if k not in _CORE and v != ""}
        try:
            yield Trial(id=safe_id(row.get("id") or row["path"].rsplit(".", 1)[0]),
                        path=row["path"], label=label, corpus=corpus, split=split,
                        speaker=row.get("speaker") or "-",
                        attack=row.get("attack") or ("bonafide" if label == "bonafide" else "-"),
                        language=row.get("language") or "-", custom=custom)
        except ManifestError as err:
            raise ManifestError(str(err).split(": ", 1)[-1], path=path, line=number,
                                field=err.field) from None


def _class_dirs(folder: Path) -> tuple[list[Path], list[Path]]:
    return ([folder / n for n in _REAL if (folder / n).is_dir()],
            [folder / n for n in _FAKE if (folder / n).is_dir()])


def folder_splits(root: Path, protocol: Path | None) -> list[str]:
    real, fake = _class_dirs(root)
    if real or fake:
        return ["all"]
    splits = sorted(p.name for p in root.iterdir() if p.is_dir() and any(_class_dirs(p)))
    if not splits:
        raise ManifestError("expected real/ and fake/ folders (or <split>/real, <split>/fake)",
                            path=root)
    return splits


def parse_folder(root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
    base = root if split == "all" and any(_class_dirs(root)) else root / split
    real, fake = _class_dirs(base)
    corpus = folder_corpus(root, protocol)
    for label, folders in (("bonafide", real), ("spoof", fake)):
        for folder in folders:
            for path in scan_audio(folder):
                inner = path.relative_to(folder).parts
                attack = inner[0] if label == "spoof" and len(inner) > 1 else (
                    "bonafide" if label == "bonafide" else "-")
                rel = relative(path, root)
                yield Trial(id=safe_id(rel.rsplit(".", 1)[0].replace("/", "__")), path=rel,
                            label=label, corpus=corpus, split=split, attack=attack)


CSV = CorpusRecipe(
    name="csv", title="Any corpus listed in a CSV (path,label[,split,speaker,attack,...])",
    source="-", licence="-", expected={}, parse=parse_csv, list_splits=csv_splits,
    corpus_name=csv_corpus,
    layout="<root>/<list>.csv with paths relative to <root>")

FOLDER = CorpusRecipe(
    name="folder", title="Any corpus in real/ and fake/ folders (optionally per split)",
    source="-", licence="-", expected={}, parse=parse_folder, list_splits=folder_splits,
    corpus_name=folder_corpus,
    layout="<root>/{real,fake}/ or <root>/<split>/{real,fake}/")
