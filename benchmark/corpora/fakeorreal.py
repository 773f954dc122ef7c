"""Fake-or-Real (FoR, Reimao & Tzerpos, 2019): four versions, each with
``training/``, ``validation/``, ``testing/`` and ``real/`` ``fake/`` folders inside.

The Kaggle / York release nests each version once more (``for-norm/for-norm/training/...``,
``for-2sec/for-2seconds/...``, ``for-rerec/for-rerecorded/...``); both nestings are accepted, and
``root`` may also be the version folder itself.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..errors import ManifestError
from .manifest import Trial
from .recipe import CorpusRecipe, relative, safe_id, scan_audio

_SPLITS = {"train": "training", "dev": "validation", "eval": "testing"}
_VERSIONS = {"original": ("for-original", "for-original"), "norm": ("for-norm", "for-norm"),
             "2sec": ("for-2sec", "for-2seconds"), "rerec": ("for-rerec", "for-rerecorded")}


def version_root(root: Path, version: str) -> Path:
    """The folder of ``version`` that holds ``training/`` etc."""
    outer, inner = _VERSIONS[version]
    for candidate in (root / outer / inner, root / outer, root / inner, root):
        if any((candidate / name).is_dir() for name in _SPLITS.values()):
            return candidate
    raise ManifestError(f"FakeOrReal {version!r} not found: expected {outer}/{inner}/training/"
                        f"{{real,fake}}/ (or {outer}/training/...)", path=root)


def _parser(version: str):
    def parse(root: Path, split: str, protocol: Path | None) -> Iterator[Trial]:
        base = version_root(root, version) / _SPLITS[split]
        for folder, label in (("real", "bonafide"), ("fake", "spoof")):
            for path in scan_audio(base / folder):
                rel = relative(path, root)
                yield Trial(id=safe_id(f"for_{version}_{split}_{folder}_{path.stem}"), path=rel,
                            label=label, corpus=f"fakeorreal_{version}", split=split,
                            speaker="-", attack="bonafide" if label == "bonafide" else "-",
                            language="en", custom={"version": version})
    return parse


def _recipe(version: str, note: str) -> CorpusRecipe:
    return CorpusRecipe(
        name=f"fakeorreal_{version}", title=f"Fake-or-Real ({_VERSIONS[version][1]})",
        source="https://bil.eecs.yorku.ca/datasets/", licence="research use (see the release)",
        expected={"train": None, "dev": None, "eval": None}, parse=_parser(version),
        layout=f"{'/'.join(_VERSIONS[version])}/{{training,validation,testing}}/{{real,fake}}/",
        notes=note)


FAKEORREAL_ORIGINAL = _recipe("original", "As collected: mixed rates and formats; not balanced.")
FAKEORREAL_NORM = _recipe("norm", "Balanced, 16 kHz mono, volume-normalised.")
FAKEORREAL_2SEC = _recipe("2sec", "for-norm cut to 2 s clips.")
FAKEORREAL_REREC = _recipe("rerec", "for-2sec played back and re-recorded (a channel shift).")
