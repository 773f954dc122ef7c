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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

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
        text = data.decode("utf-8-sig")  # a byte-order mark is not part of the first id
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

MISSING_POLICIES = ("error", "drop")


@dataclass(frozen=True)
class ScoreNormalization:
    """Explicit, recorded rules that turn a messy score file into ``utt_id score`` trials.

    ``score_col``: 1-based column holding the score (default: the last of 2 or 4 columns);
    ``id_map``: a regex whose first group is the trial id (searched in the first column);
    ``flip``: negate scores (higher must mean bona fide); ``on_missing`` / ``on_extra``:
    ``error`` or ``drop`` for trials without a score / scored ids not in the keys.
    """

    score_col: int | None = None
    id_map: str | None = None
    flip: bool = False
    on_missing: str = "error"
    on_extra: str = "error"

    def __post_init__(self) -> None:
        if self.score_col is not None and self.score_col < 2:
            raise ScoreFileError(f"score column {self.score_col} must be >= 2 (column 1 holds the id)",
                                 field="score_col")
        for name in ("on_missing", "on_extra"):
            if getattr(self, name) not in MISSING_POLICIES:
                raise ScoreFileError(f"{getattr(self, name)!r} is not one of {MISSING_POLICIES}", field=name)
        if self.id_map is not None:
            try:
                pattern = re.compile(self.id_map)
            except re.error as err:
                raise ScoreFileError(f"id map {self.id_map!r} is not a valid regex ({err})",
                                     field="id_map") from err
            if pattern.groups < 1:
                raise ScoreFileError(f"id map {self.id_map!r} has no group; the first group is the trial id",
                                     field="id_map")

    @property
    def is_default(self) -> bool:
        return self == ScoreNormalization()

    def to_dict(self) -> dict:
        return {"score_col": self.score_col, "id_map": self.id_map, "flip": self.flip,
                "on_missing": self.on_missing, "on_extra": self.on_extra}


class ScoreTable(Mapping[str, float]):
    """Scores of a file: ``ids (N,)`` str and ``scores (N,)`` float64 in file order.

    A read-only mapping ``utt_id -> score`` (equal to the dict the file describes); the dict view is
    built on first item access, so vectorised consumers (:func:`align`) never pay for it.
    """

    def __init__(self, ids: np.ndarray, scores: np.ndarray, path: str = "", index=None):
        self.ids, self.scores, self.path = ids, scores, path
        self._dict: dict[str, float] | None = None
        self._index = index

    @property
    def index(self):
        """A ``pandas.Index`` of the ids (its hash table built once, shared by :func:`align`)."""
        if self._index is None:
            import pandas as pd
            self._index = pd.Index(self.ids)
        return self._index

    def _mapping(self) -> dict[str, float]:
        if self._dict is None:
            self._dict = dict(zip(self.ids.tolist(), self.scores.tolist()))
        return self._dict

    def __getitem__(self, utt_id: str) -> float:
        return self._mapping()[utt_id]

    def __contains__(self, utt_id: object) -> bool:
        return utt_id in self._mapping()

    def __iter__(self):
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return int(self.ids.size)

    def __repr__(self) -> str:
        return f"ScoreTable({len(self)} scores from {self.path or '<memory>'})"


def read_scores(path: str | Path, normalization: ScoreNormalization | None = None) -> ScoreTable:
    """Read a score file into a :class:`ScoreTable` (file order); bad lines raise :class:`ScoreFileError`.

    Parsing is vectorised (pandas' C reader); any line the fast path cannot take as it is sends the
    file through the line-by-line parser (what it did before it was vectorised), which raises the located
    error (or parses the file).
    """
    path = Path(path)
    norm = normalization or ScoreNormalization()
    table = _read_scores_fast(path, norm)
    if table is None:
        ids, values = _parse_python(path, norm)
        table = ScoreTable(np.asarray(ids, dtype=object), np.asarray(values, dtype=np.float64), str(path))
    if norm.flip:
        table = ScoreTable(table.ids, -table.scores, str(path), table._index)
    return table


def _score_index(fields: list[str], norm: ScoreNormalization, path: Path, number: int, line: str) -> int:
    if norm.score_col is not None:
        if len(fields) < norm.score_col:
            raise ScoreFileError(f"expected at least {norm.score_col} columns (--score-col {norm.score_col}), "
                                 f"got {len(fields)}: {line.strip()!r}", path, number)
        return norm.score_col - 1
    if len(fields) not in (2, 4):
        raise ScoreFileError(f"expected 2 columns 'utt_id score' (or the 4-column ASVspoof 2019 "
                             f"'utt_id attack key score'), got {len(fields)}: {line.strip()!r}",
                             path, number)
    return len(fields) - 1


def _parse_python(path: Path, norm: ScoreNormalization) -> tuple[list[str], list[float]]:
    lines = _read_lines(path, "score file")
    pattern = re.compile(norm.id_map) if norm.id_map else None
    scores: dict[str, float] = {}
    first_line: dict[str, int] = {}
    header_seen = False
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        column = _score_index(fields, norm, path, number, line)
        utt_id, text = fields[0], fields[column]
        try:
            if "_" in text:  # Python's digit grouping ('1_0' == 10.0) is no number any other tool reads
                raise ValueError(text)
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
        if pattern is not None:
            utt_id = _mapped_id(pattern, utt_id, path, number)
        if utt_id in scores:
            raise ScoreFileError(f"duplicate utt_id {utt_id!r} (first on line {first_line[utt_id]})",
                                 path, number, "utt_id")
        scores[utt_id] = value
        first_line[utt_id] = number
    if not scores:
        raise ScoreFileError("score file has a header but no scores", path)
    return list(scores), list(scores.values())


def _mapped_id(pattern: re.Pattern, raw: str, path: Path, number: int) -> str:
    match = pattern.search(raw)
    if match is None or not match.group(1):
        raise ScoreFileError(f"id {raw!r} does not match --id-map {pattern.pattern!r} (its first group "
                             "is the trial id)", path, number, "utt_id")
    return match.group(1)


#: Bytes Python's ``str.split``/``splitlines`` and pandas' whitespace parser surely agree on: printable
#: ASCII, tab and line breaks (control characters, Unicode spaces or U+2028 send a file to the line parser).
_PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\t\n\r"


def _plain_text(path: Path) -> bool:
    """True when the file holds only printable ASCII, tabs and line breaks (a UTF-8 BOM aside)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.isascii() and not data.translate(None, _PLAIN_BYTES)


def _first_data_line(path: Path) -> tuple[int, list[str]] | None:
    """``(index of the first non-blank line, its fields)`` from the file's head, or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    try:
        lines = head.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None
    for index, line in enumerate(lines[:-1] if len(head) == 1 << 16 else lines):
        if line.split():
            return index, line.split()
    return None


def _read_scores_fast(path: Path, norm: ScoreNormalization) -> ScoreTable | None:
    """The vectorised reader; None when the file needs the line-by-line parser (errors included)."""
    import csv

    import pandas as pd

    first = _first_data_line(path)
    if first is None or not _plain_text(path):
        return None
    index, fields = first
    n_columns = len(fields)
    if norm.score_col is None and n_columns not in (2, 4) or (norm.score_col or 0) > n_columns:
        return None
    column = (norm.score_col or n_columns) - 1
    try:
        float(fields[column])
        skip = index
    except ValueError:
        if "score" not in fields[column].lower():
            return None
        skip = index + 1  # the header line
    try:
        # One sentinel column more than the first line has: a longer line shows up in it.
        frame = pd.read_csv(path, sep=r"\s+", header=None, names=list(range(n_columns + 1)),
                            dtype={0: object, column: np.float64, n_columns: object}, index_col=False,
                            skiprows=skip, na_filter=False, quoting=csv.QUOTE_NONE, encoding="utf-8",
                            engine="c")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if (frame[n_columns] != "").any():
        return None
    ids = frame[0].to_numpy(dtype=object)
    values = frame[column].to_numpy(dtype=np.float64)
    if ids.size == 0 or not np.isfinite(values).all():
        return None
    if norm.id_map:
        mapped = pd.Series(ids, dtype=object).str.extract(norm.id_map, expand=False)
        mapped = mapped.iloc[:, 0] if isinstance(mapped, pd.DataFrame) else mapped
        if mapped.isna().any() or (mapped == "").any():
            return None
        ids = mapped.to_numpy(dtype=object)
    index = pd.Index(ids)
    if index.has_duplicates:
        return None
    return ScoreTable(ids, values, str(path), index)


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
    """Scores aligned with keys: ``ids (N,)``, ``scores (N,)`` float64, ``labels (N,)`` int8, ``keys``.

    ``dropped``: ``{"missing": {"count", "ids"}, "extra": {...}}`` for ids dropped under a ``drop``
    policy (empty when nothing was dropped).
    """

    ids: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    keys: KeyTable
    dropped: dict = field(default_factory=dict)

    @property
    def bonafide(self) -> np.ndarray:
        return self.scores[self.labels == 1]

    @property
    def spoof(self) -> np.ndarray:
        return self.scores[self.labels == 0]


def _as_table(scores: Mapping[str, float]) -> ScoreTable:
    if isinstance(scores, ScoreTable):
        return scores
    return ScoreTable(np.asarray(list(scores), dtype=object),
                      np.fromiter(scores.values(), dtype=np.float64, count=len(scores)))


def align(scores: Mapping[str, float], keys: KeyTable, scores_path: str | Path | None = None,
          *, on_missing: str = "error", on_extra: str = "error") -> ScoredTrials:
    """Scores in the keys' order; every id must be on both sides (unless dropped) and both classes present.

    ``on_missing="drop"`` drops key trials without a score, ``on_extra="drop"`` ignores scored ids that
    are not in the keys; both are recorded in :attr:`ScoredTrials.dropped`.
    """
    import pandas as pd

    table = _as_table(scores)
    key_ids = keys.ids.astype(object)
    position = table.index.get_indexer(key_ids)
    known = pd.Index(key_ids).get_indexer(table.ids) >= 0
    dropped: dict = {}
    unknown = table.ids[~known].tolist()
    if unknown:
        if on_extra != "drop":
            raise ScoreFileError(f"{len(unknown)} of {len(table)} scored id(s) are not in the keys "
                                 f"{keys.path}: {_examples(unknown)}", scores_path, field="utt_id")
        dropped["extra"] = {"count": len(unknown), "ids": unknown}
    present = position >= 0
    if not present.all():
        missing = keys.ids[~present].tolist()
        if on_missing != "drop":
            raise ScoreFileError(f"{len(missing)} of {len(key_ids)} id(s) of the keys {keys.path} have no "
                                 f"score: {_examples(missing)}", scores_path, field="utt_id")
        dropped["missing"] = {"count": len(missing), "ids": missing}
        keys = _subset(keys, present)
        position = position[present]
    values = table.scores[position]
    n_bona = int(keys.labels.sum())
    if n_bona == 0 or n_bona == len(keys):
        only = "bona fide" if n_bona else "spoof"
        raise ScoreFileError(f"all {len(keys)} trials are {only}; metrics need both bona fide and "
                             "spoof trials", keys.path or None, field="label")
    return ScoredTrials(keys.ids, values, keys.labels, keys, dropped)


def _subset(keys: KeyTable, mask: np.ndarray) -> KeyTable:
    return KeyTable(keys.ids[mask], keys.labels[mask], {k: v[mask] for k, v in keys.columns.items()},
                    keys.path, keys.format)


def load_trials(scores_path: str | Path, keys_path: str | Path, key_format: str | None = None,
                normalization: ScoreNormalization | None = None) -> ScoredTrials:
    """Read a score file (normalised as asked) and its keys, and align them."""
    norm = normalization or ScoreNormalization()
    return align(read_scores(scores_path, norm), read_keys(keys_path, key_format), scores_path,
                 on_missing=norm.on_missing, on_extra=norm.on_extra)
