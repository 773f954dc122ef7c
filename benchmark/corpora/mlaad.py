"""MLAAD (Müller et al., 2024): multilingual TTS spoofs, with M-AILABS as bona fide.

Layout under ``root``: ``fake/<language>/<model>/*.wav`` with an optional ``meta.csv`` per model
folder (``|``-, ``,``- or tab-separated with columns such as ``path``, ``original_file``,
``language``, ``model_name``, ``architecture``); bona fide from M-AILABS in its published layout
``<m-ailabs>/<lang_CODE>/by_book/<gender>/<speaker>/<book>/wavs/*.wav`` where ``<m-ailabs>`` is
``root/m-ailabs`` (or ``M-AILABS``, ``mailabs``, ``original``).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from .manifest import Trial
from .recipe import CorpusRecipe, relative, safe_id, scan_audio

_BONAFIDE_DIRS = ("m-ailabs", "M-AILABS", "mailabs", "original")


def _read_meta(folder: Path) -> dict[str, dict[str, str]]:
    """Rows of ``folder/meta.csv`` keyed by audio file name (empty when absent)."""
    meta = folder / "meta.csv"
    if not meta.is_file():
        return {}
    text = meta.read_text(encoding="utf-8", errors="replace")
    first = text.splitlines()[0] if text else ""
    delimiter = max("|,\t;", key=first.count)
    rows = {}
    for row in csv.DictReader(text.splitlines(), delimiter=delimiter):
        name = Path((row.get("path") or row.get("file") or "").strip()).name
        if name:
            rows[name] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
    return rows


def parse_mlaad(root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
    bonafide = next((root / d for d in _BONAFIDE_DIRS if (root / d).is_dir()), None)
    if bonafide is not None:
        for path in scan_audio(bonafide):
            parts = path.relative_to(bonafide).parts
            language = parts[0].split("_")[0].lower() if len(parts) > 1 else "-"
            speaker = parts[3] if len(parts) > 4 and parts[1] == "by_book" else "-"
            yield Trial(id=safe_id(f"mailabs_{relative(path, bonafide).rsplit('.', 1)[0]}")
                        .replace("/", "__"), path=relative(path, root), label="bonafide",
                        corpus="mlaad", split=split, speaker=safe_id(speaker) or "-",
                        language=language,
                        custom={"source_corpus": "m-ailabs", "source_utterance": path.stem})
    fake = root / "fake"
    if not fake.is_dir():
        return
    for language_dir in sorted(p for p in fake.iterdir() if p.is_dir()):
        for model_dir in sorted(p for p in language_dir.iterdir() if p.is_dir()):
            meta = _read_meta(model_dir)
            for path in scan_audio(model_dir):
                row = meta.get(path.name, {})
                custom = {"source_corpus": "m-ailabs", "model": model_dir.name}
                if row.get("architecture"):
                    custom["architecture"] = row["architecture"]
                if row.get("original_file"):
                    custom["source_utterance"] = Path(row["original_file"]).stem
                yield Trial(id=safe_id(f"mlaad_{language_dir.name}_{model_dir.name}_{path.stem}"),
                            path=relative(path, root), label="spoof", corpus="mlaad", split=split,
                            attack=model_dir.name, language=language_dir.name, custom=custom)


MLAAD = CorpusRecipe(
    name="mlaad", title="MLAAD multi-language audio anti-spoofing (with M-AILABS bona fide)",
    source="https://deepfake-total.com/mlaad", licence="CC BY-NC-SA 4.0 (M-AILABS: BSD-like)",
    expected={"all": None}, parse=parse_mlaad,
    layout="fake/<language>/<model>/*.wav (+ meta.csv), m-ailabs/<lang>/by_book/...",
    notes="Counts grow with each release (v1..v8); no fixed published total. No official splits.")
