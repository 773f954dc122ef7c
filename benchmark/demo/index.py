"""The vendored bona fide clips of the demo: ``spoofbench.data_manifests/demo/index.tsv``.

One tab-separated row per clip (header first) with the columns of :class:`VendoredClip`.
The corpus (``A`` / ``B``) and split of each clip are fixed here, so the demo's speaker split
is data, not code.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from ..errors import ManifestError

#: Licence of each source, as stated in its SOURCE.txt (see ATTRIBUTION.md).
LICENCES = {
    "librispeech": "CC-BY-4.0",
    "ljspeech": "public-domain",
    "cmu_arctic": "CMU-ARCTIC (free use with attribution)",
}
CORPORA = ("A", "B")
SPLITS = {"A": ("train", "dev", "eval"), "B": ("eval",)}


@dataclass(frozen=True)
class VendoredClip:
    """One bona fide clip shipped with the package (16 kHz mono 16-bit FLAC, 1.5–3 s)."""

    clip_id: str
    path: str          # relative to the demo data folder
    corpus: str        # "A" | "B"
    split: str         # "train" | "dev" | "eval"
    speaker: str
    sex: str           # "F" | "M" | "-"
    source: str        # librispeech | ljspeech | cmu_arctic
    licence: str
    origin: str        # the source file, relative to the shared corpora folder
    chunk: int         # k-th clip cut from the silence-trimmed source utterance
    duration_s: float
    sha256: str


INDEX_COLUMNS = tuple(f.name for f in fields(VendoredClip))


def demo_data_dir() -> Path:
    """The folder of the vendored demo data inside the installed package."""
    return Path(str(resources.files("spoofbench.data_manifests") / "demo"))


def load_index(path: Path | None = None) -> list[VendoredClip]:
    """Parse ``index.tsv``; raises :class:`ManifestError` naming line and field."""
    path = Path(path) if path is not None else demo_data_dir() / "index.tsv"
    if not path.is_file():
        raise ManifestError("vendored demo index not found; expected the package's "
                            "data_manifests/demo/index.tsv", path=path)
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")) != INDEX_COLUMNS:
        raise ManifestError(f"bad header {lines[0] if lines else ''!r}; expected the columns "
                            f"{list(INDEX_COLUMNS)}", path=path, line=1)
    clips, seen = [], set()
    for number, line in enumerate(lines[1:], start=2):
        values = line.split("\t")
        if len(values) != len(INDEX_COLUMNS):
            raise ManifestError(f"expected {len(INDEX_COLUMNS)} tab-separated fields, "
                                f"got {len(values)}", path=path, line=number)
        row = dict(zip(INDEX_COLUMNS, values))
        try:
            clip = VendoredClip(**{**row, "chunk": int(row["chunk"]),
                                   "duration_s": float(row["duration_s"])})
        except ValueError as err:
            raise ManifestError(f"expected a number in chunk/duration_s: {err}", path=path,
                                line=number, field="chunk/duration_s") from err
        if clip.corpus not in CORPORA or clip.split not in SPLITS[clip.corpus]:
            raise ManifestError(f"expected corpus A (train/dev/eval) or B (eval), got "
                                f"{clip.corpus!r}/{clip.split!r}", path=path, line=number,
                                field="corpus")
        if clip.source not in LICENCES or clip.licence != LICENCES[clip.source]:
            raise ManifestError(f"unknown source/licence {clip.source!r}/{clip.licence!r}; "
                                f"expected one of {LICENCES}", path=path, line=number,
                                field="licence")
        if clip.clip_id in seen:
            raise ManifestError(f"duplicate clip id {clip.clip_id!r}", path=path, line=number,
                                field="clip_id")
        seen.add(clip.clip_id)
        clips.append(clip)
    return clips


def index_digest(path: Path | None = None) -> str:
    """sha256 of ``index.tsv`` (it holds every clip's sha256, so it pins the audio too)."""
    path = Path(path) if path is not None else demo_data_dir() / "index.tsv"
    return hashlib.sha256(path.read_bytes()).hexdigest()
