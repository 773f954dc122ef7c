"""In-the-Wild (Müller et al., 2022): ``release_in_the_wild/meta.csv`` + ``<n>.wav`` files.

``meta.csv`` has the header ``file,speaker,label`` with labels ``bona-fide`` / ``spoof``. The
two-column ``labels.txt`` variant (``<n>.wav label``, no speaker) circulated by training repos is
accepted too. The whole corpus is one evaluation split.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from ..errors import ManifestError
from .manifest import Trial
from .recipe import CorpusRecipe, find_file, normalise_label, read_lines, safe_id

_FOLDER = "release_in_the_wild"


def _audio_prefix(root: Path) -> str:
    return f"{_FOLDER}/" if (root / _FOLDER).is_dir() else ""


def parse_in_the_wild(root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
    path = find_file(["meta.csv", "labels.txt"], [protocol, root / _FOLDER, root],
                     "In-the-Wild meta.csv (or labels.txt)")
    prefix = _audio_prefix(root)
    if path.suffix == ".csv":
        yield from _from_meta_csv(path, prefix, split)
    else:
        for number, parts in read_lines(path):
            if len(parts) != 2:
                raise ManifestError(f"expected 2 columns 'file label', got {len(parts)}",
                                    path=path, line=number)
            yield _trial(parts[0], "-", normalise_label(parts[1], path, number), prefix, split)


def _from_meta_csv(path: Path, prefix: str, split: str) -> Iterator[Trial]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "label"} - set(reader.fieldnames or [])
        if missing:
            raise ManifestError(f"expected header file,speaker,label; got {reader.fieldnames}",
                                path=path, line=1, field=sorted(missing)[0])
        for number, row in enumerate(reader, start=2):
            label = normalise_label(row["label"] or "", path, number)
            speaker = safe_id(row.get("speaker") or "-") or "-"
            yield _trial(row["file"], speaker, label, prefix, split)


def _trial(name: str, speaker: str, label: str, prefix: str, split: str) -> Trial:
    return Trial(id=safe_id(Path(name).stem), path=f"{prefix}{name}", label=label,
                 corpus="in_the_wild", split=split, speaker=speaker,
                 attack="bonafide" if label == "bonafide" else "-", language="en",
                 custom={"source_corpus": "in_the_wild"})


IN_THE_WILD = CorpusRecipe(
    name="in_the_wild", title="In-the-Wild audio deepfakes (58 public figures)",
    source="https://deepfake-total.com/in_the_wild", licence="Apache 2.0 (see the release)",
    expected={"eval": 31_779}, parse=parse_in_the_wild,
    layout="release_in_the_wild/meta.csv and release_in_the_wild/<n>.wav",
    notes="19,963 bona fide / 11,816 spoof; speaker names are the celebrities' names.")
