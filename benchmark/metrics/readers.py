"""Score files, key files and their alignment.

Score file: ``utt_id score`` per line (whitespace), the ASVspoof convention; an optional header line
whose score field names a score (``filename<TAB>cm-score``, the ASVspoof 5 package's TSV) and the
four-column ASVspoof 2019 CM score file (``utt_id attack key score``) are also read.

Key files come in formats kept in :data:`KEY_FORMATS`, a :class:`~spoofbench.registry.Registry`
(entry-point group ``spoofbench.key_formats``): each format is a :class:`KeyFormat` that can *sniff*
a file and *read* it into a :class:`KeyTable`. Built in: ``manifest`` (spoofbench ``.jsonl[.gz]``),
``table`` (a header line naming an id and a label column: ASVspoof 5 TSV, CSV), ``asvspoof``
(2019/2021/5 protocol files without a header) and ``two_column`` (``utt_id label``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import ScoreFileError
from ..registry import Registry

#: Label spellings accepted in key files and what they mean (1 = bona fide, 0 = spoof).
LABELS = {"bonafide": 1, "bona-fide": 1, "bona_fide": 1, "spoof": 0}
_EXPECTED_LABELS = "'bonafide' (or 'bona-fide') or 'spoof'"
_SHOW = 5  # how many example ids an error message shows


def _read_lines(path: Path, what: str) -> list[str]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise ScoreFileError(f"cannot read {what} ({err.strerror})", path) from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScoreFileError(f"{what} is not UTF-8 text (byte {err.start})", path) from err
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ScoreFileError(f"{what} is empty; expected one trial per line", path)
    return lines


def _examples(ids: Sequence[str]) -> str:
    shown = ", ".join(list(ids)[:_SHOW])
    return shown + (", ..." if len(ids) > _SHOW else "")


# ------------------------------------------------------------------------------------------ scores

def read_scores(path: str | Path) -> dict[str, float]:
    """Read a score file into ``{utt_id: score}`` (file order); bad lines raise :class:`ScoreFileError`."""
    path = Path(path)
    lines = _read_lines(path, "score file")
    scores: dict[str, float] = {}
    first_line: dict[str, int] = {}
    header_seen = False
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (2, 4):
            raise ScoreFileError(f"expected 2 columns 'utt_id score' (or the 4-column ASVspoof 2019 "
                                 f"'utt_id attack key score'), got {len(fields)}: {line.strip()!r}",
                                 path, number)
        utt_id, text = fields[0], fields[-1]
        try:
            value = float(text)
        except ValueError:
            if not scores and not header_seen and "score" in text.lower():
                header_seen = True  # a header line such as 'filename cm-score'
                continue
            raise ScoreFileError(f"score {text!r} of {utt_id!r} is not a number", path, number,
                                 "score") from None
        if not math.isfinite(value):
            raise ScoreFileError(f"score {text!r} of {utt_id!r} is not finite (NaN or inf); "
                                 "expected a finite number", path, number, "score")
        if utt_id in scores:
            raise ScoreFileError(f"duplicate utt_id {utt_id!r} (first on line {first_line[utt_id]})",
                                 path, number, "utt_id")
        scores[utt_id] = value
        first_line[utt_id] = number
    if not scores:
        raise ScoreFileError("score file has a header but no scores", path)
    return scores


# -------------------------------------------------------------------------------------------- keys

@dataclass(frozen=True, eq=False)
class KeyTable:
    """Trial keys: ``ids (N,)`` str, ``labels (N,)`` int8 (1 bona fide, 0 spoof), extra ``columns``.

    ``columns`` maps a column name (``speaker``, ``attack``, ``codec``, ...) to an ``(N,)`` str array.
    """

    ids: np.ndarray
    labels: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    path: str = ""
    format: str = ""

    def __len__(self) -> int:
        return int(self.ids.size)

    def column(self, name: str) -> np.ndarray:
        """The values of column ``name`` (``label`` gives ``bonafide``/``spoof``)."""
        if name == "label":
            return np.where(self.labels == 1, "bonafide", "spoof")
        if name not in self.columns:
            known = ", ".join(["label", *self.columns]) or "none"
            raise ScoreFileError(f"key column {name!r} not found (columns of this {self.format} key "
                                 f"file: {known})", self.path or None, field=name)
        return self.columns[name]


class KeyBuilder:
    """Collects rows of a key file, checking labels and duplicate ids as they come."""

    def __init__(self, path: Path, format_name: str, column_names: Sequence[str]):
        self.path, self.format_name = path, format_name
        self.column_names = list(column_names)
        self.ids: list[str] = []
        self.labels: list[int] = []
        self.values: list[list[str]] = [[] for _ in self.column_names]
        self._line_of: dict[str, int] = {}

    def add(self, line: int, utt_id: str, label: str, values: Sequence[str] = ()) -> None:
        if label not in LABELS:
            raise ScoreFileError(f"unknown label {label!r} for {utt_id!r}; expected {_EXPECTED_LABELS}",
                                 self.path, line, "label")
        if utt_id in self._line_of:
            raise ScoreFileError(f"duplicate utt_id {utt_id!r} (first on line {self._line_of[utt_id]})",
                                 self.path, line, "utt_id")
        self._line_of[utt_id] = line
        self.ids.append(utt_id)
        self.labels.append(LABELS[label])
        for column, value in zip(self.values, values):
            column.append(value)

    def build(self) -> KeyTable:
        if not self.ids:
            raise ScoreFileError("key file has no trials", self.path)
        columns = {name: np.asarray(values, dtype=str)
                   for name, values in zip(self.column_names, self.values)}
        return KeyTable(np.asarray(self.ids, dtype=str), np.asarray(self.labels, dtype=np.int8),
                        columns, str(self.path), self.format_name)


@dataclass(frozen=True)
class KeyFormat:
    """A key-file format: ``sniff(path, head_lines) -> bool`` and ``read(path) -> KeyTable``."""

    name: str
    sniff: Callable[[Path, list[str]], bool]
    read: Callable[[Path], KeyTable]
    description: str = ""


KEY_FORMATS: Registry = Registry("key format", "spoofbench.key_formats")

#: Built-in formats tried, in this order, when no format is named; plug-ins are tried after them.
SNIFF_ORDER = ("manifest", "table", "asvspoof", "two_column")

_ID_HEADERS = ("utt_id", "filename", "file", "id", "trial", "utt", "flac_file_name", "audio_path")
_LABEL_HEADERS = ("cm-label", "label", "key", "cm_label", "cm-key")


def _split_header(line: str) -> tuple[str | None, list[str]]:
    for delimiter in ("\t", ","):
        if delimiter in line:
            return delimiter, [part.strip() for part in line.split(delimiter)]
    return None, line.split()


def _header_columns(header: list[str]) -> tuple[int, int] | None:
    lower = [name.lower() for name in header]
    id_index = next((lower.index(n) for n in _ID_HEADERS if n in lower), None)
    label_index = next((lower.index(n) for n in _LABEL_HEADERS if n in lower), None)
    if id_index is None or label_index is None:
        return None
    return id_index, label_index


def _sniff_table(path: Path, head: list[str]) -> bool:
    return bool(head) and _header_columns(_split_header(head[0])[1]) is not None


def _read_table(path: Path) -> KeyTable:
    lines = _read_lines(path, "key file")
    delimiter, header = _split_header(lines[0])
    located = _header_columns(header)
    if located is None:
        raise ScoreFileError(f"header {lines[0]!r} names no id column ({', '.join(_ID_HEADERS)}) "
                             f"and label column ({', '.join(_LABEL_HEADERS)})", path, 1)
    id_index, label_index = located
    extra = [i for i in range(len(header)) if i not in (id_index, label_index)]
    builder = KeyBuilder(path, "table", [header[i] for i in extra])
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(delimiter)] if delimiter else line.split()
        if len(fields) != len(header):
            raise ScoreFileError(f"expected {len(header)} columns as the header, got {len(fields)}: "
                                 f"{line.strip()!r}", path, number)
        builder.add(number, fields[id_index], fields[label_index], [fields[i] for i in extra])
    return builder.build()


def _asvspoof_layout(fields: list[str]) -> tuple[str, list[str], int] | None:
    """``(variant, column names, label index)`` of an ASVspoof protocol line, or None."""
    n = len(fields)
    if n == 5 and fields[4] in LABELS:
        return "2019", ["speaker", "utt_id", "environment", "attack", "label"], 4
    if n == 10 and fields[8] in LABELS:  # ASVspoof 5 protocol (no header)
        return "5", ["speaker", "utt_id", "gender", "codec", "codec_quality", "codec_seed",
                     "attack_tag", "attack", "label", "unused"], 8
    if n >= 8 and fields[5] in LABELS:  # ASVspoof 2021 LA / DF keys
        third = "source" if fields[1].startswith("DF_") else "transmission"
        names = ["speaker", "utt_id", "codec", third, "attack", "label", "trim", "subset"]
        names += ["vocoder" if i == 8 else f"column{i + 1}" for i in range(8, n)]
        return "2021", names, 5
    return None


def _sniff_asvspoof(path: Path, head: list[str]) -> bool:
    first = next((line.split() for line in head if line.strip()), [])
    return _asvspoof_layout(first) is not None


def _read_asvspoof(path: Path) -> KeyTable:
    lines = _read_lines(path, "key file")
    first_number, first = next((i, line.split()) for i, line in enumerate(lines, 1) if line.strip())
    layout = _asvspoof_layout(first)
    if layout is None:
        raise ScoreFileError(f"not an ASVspoof protocol line (speaker utt_id ... label): {lines[0]!r}",
                             path, first_number)
    variant, names, label_index = layout
    extra = [i for i in range(len(names)) if i not in (1, label_index)]
    builder = KeyBuilder(path, f"asvspoof{variant}", [names[i] for i in extra])
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names):
            raise ScoreFileError(f"expected {len(names)} columns of an ASVspoof {variant} protocol "
                                 f"({' '.join(names)}), got {len(fields)}: {line.strip()!r}",
                                 path, number)
        values = [fields[i] for i in extra]
        if "attack" in names:  # bona fide trials carry '-' as attack: use 'bonafide'
            slot = [names[i] for i in extra].index("attack")
            if fields[label_index] in LABELS and LABELS[fields[label_index]] == 1 \
                    and values[slot] in ("-", "bonafide"):
                values[slot] = "bonafide"
        builder.add(number, fields[1], fields[label_index], values)
    return builder.build()


def _sniff_two_column(path: Path, head: list[str]) -> bool:
    return all(len(line.split()) == 2 for line in head if line.strip())


def _read_two_column(path: Path) -> KeyTable:
    builder = KeyBuilder(path, "two_column", [])
    for number, line in enumerate(_read_lines(path, "key file"), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ScoreFileError(f"expected 2 columns 'utt_id label', got {len(fields)}: "
                                 f"{line.strip()!r}", path, number)
        builder.add(number, fields[0], fields[1])
    return builder.build()


def _sniff_manifest(path: Path, head: list[str]) -> bool:
    name = path.name.lower()
    return name.endswith(".jsonl") or name.endswith(".jsonl.gz")


KEY_FORMATS.register("table", KeyFormat(
    "table", _sniff_table, _read_table, "header line with id and label columns (ASVspoof 5 TSV, CSV)"))
KEY_FORMATS.register("asvspoof", KeyFormat(
    "asvspoof", _sniff_asvspoof, _read_asvspoof, "ASVspoof 2019/2021/5 protocol or key file"))
KEY_FORMATS.register("two_column", KeyFormat(
    "two_column", _sniff_two_column, _read_two_column, "'utt_id label' per line"))
KEY_FORMATS.register("manifest", KeyFormat(
    "manifest", _sniff_manifest, lambda path: _read_manifest_keys(path),
    "spoofbench manifest (.jsonl / .jsonl.gz)"))


def _read_manifest_keys(path: Path) -> KeyTable:
    """Keys from a spoofbench manifest; ``spoofbench.corpora.manifest`` is imported only here."""
    try:
        from ..corpora.manifest import read_manifest
    except ImportError as err:
        raise ScoreFileError(f"cannot read a manifest as keys: spoofbench.corpora.manifest is not "
                             f"available ({err})", path) from err
    fixed = ("speaker", "attack", "language", "corpus", "split")
    rows = [(trial.id, trial.label, [str(getattr(trial, name)) for name in fixed],
             dict(trial.custom or {})) for trial in read_manifest(path)]
    custom_names = sorted({name for *_, custom in rows for name in custom})
    builder = KeyBuilder(path, "manifest", [*fixed, *custom_names])
    for number, (utt_id, label, values, custom) in enumerate(rows, 1):
        builder.add(number, utt_id, label, values + [str(custom.get(n, "")) for n in custom_names])
    return builder.build()


def _head(path: Path, n: int = 5) -> list[str]:
    if path.name.lower().endswith(".gz"):
        return []
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            return [line for _, line in zip(range(n), handle)]
    except OSError as err:
        raise ScoreFileError(f"cannot read key file ({err.strerror})", path) from err


def read_keys(path: str | Path, format: str | None = None) -> KeyTable:
    """Read a key file; ``format`` names a :data:`KEY_FORMATS` entry, else the format is sniffed."""
    path = Path(path)
    if format is not None:
        return KEY_FORMATS.get(format).read(path)
    if not path.is_file():
        raise ScoreFileError("key file not found", path)
    head = _head(path)
    names = [*SNIFF_ORDER, *(n for n in KEY_FORMATS.names() if n not in SNIFF_ORDER)]
    for name in names:
        key_format = KEY_FORMATS.get(name)
        if key_format.sniff(path, head):
            return key_format.read(path)
    if not any(line.strip() for line in head):
        raise ScoreFileError("key file is empty; expected one trial per line", path)
    raise ScoreFileError(f"unknown key file format (first line {head[0].rstrip()!r}); expected "
                         "'utt_id label', an ASVspoof protocol, a TSV/CSV with a header naming id "
                         "and label columns, or a spoofbench manifest", path, 1)


# --------------------------------------------------------------------------------------- alignment

@dataclass(frozen=True, eq=False)
class ScoredTrials:
    """Scores aligned with keys: ``ids (N,)``, ``scores (N,)`` float64, ``labels (N,)`` int8, ``keys``."""

    ids: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    keys: KeyTable

    @property
    def bonafide(self) -> np.ndarray:
        return self.scores[self.labels == 1]

    @property
    def spoof(self) -> np.ndarray:
        return self.scores[self.labels == 0]


def align(scores: dict[str, float], keys: KeyTable, scores_path: str | Path | None = None
          ) -> ScoredTrials:
    """Scores in the keys' order; every id must be on both sides and both classes present."""
    key_ids = keys.ids.tolist()
    key_set = set(key_ids)
    unknown = [utt_id for utt_id in scores if utt_id not in key_set]
    if unknown:
        raise ScoreFileError(f"{len(unknown)} of {len(scores)} scored id(s) are not in the keys "
                             f"{keys.path}: {_examples(unknown)}", scores_path, field="utt_id")
    missing = [utt_id for utt_id in key_ids if utt_id not in scores]
    if missing:
        raise ScoreFileError(f"{len(missing)} of {len(key_ids)} id(s) of the keys {keys.path} have no "
                             f"score: {_examples(missing)}", scores_path, field="utt_id")
    values = np.fromiter((scores[utt_id] for utt_id in key_ids), dtype=np.float64, count=len(key_ids))
    n_bona = int(keys.labels.sum())
    if n_bona == 0 or n_bona == len(keys):
        only = "bona fide" if n_bona else "spoof"
        raise ScoreFileError(f"all {len(keys)} trials are {only}; metrics need both bona fide and "
                             "spoof trials", keys.path or None, field="label")
    return ScoredTrials(keys.ids, values, keys.labels, keys)


def load_trials(scores_path: str | Path, keys_path: str | Path, key_format: str | None = None
                ) -> ScoredTrials:
    """Read a score file and its keys and align them."""
    return align(read_scores(scores_path), read_keys(keys_path, key_format), scores_path)
