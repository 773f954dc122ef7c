"""Export a finished run's cells in the layouts public anti-spoofing leaderboards take.

Formats (:data:`LEADERBOARD_FORMATS`):

- ``df-arena``: the Speech DF Arena results for each detector. Layout taken from the Arena's toolkit
  (github.com/Speech-Arena/speech_df_arena, ``evaluate.py`` and ``utils/metrics.py``, commit 3dbdf8f):
  one result per model and dataset key (``asvspoof_2019``, ``in_the_wild``, ...), the EER in percent under
  ``"EER (%)"``, results of a run under ``"Average"``. ``.json`` writes that object
  (``{"Average": {model: {dataset: {"EER (%)": ...}}}}``); ``.csv`` writes the table the leaderboard
  shows: a ``Model`` column, one EER (%) column per dataset key and their mean (``Average EER (%)``).
  Columns are named with the Arena's dataset keys where :data:`DF_ARENA_KEYS` knows the test set, else
  with the test set's own name (or what ``--map`` says). The Arena's pooled EER (one threshold over every
  exported cell's trials) is ``Pooled EER (%)`` / the JSON's ``"Pooled"`` block, from the cells' score
  files and the run's keys. F1 and accuracy are not exported.
- ``asvspoof5-codalab``: the ASVspoof 5 CodaLab submission, a zip holding one ``score.tsv`` at its top
  level, in the evaluation package's ``filename<TAB>cm-score`` layout (codalab.lisn.upsaclay.fr
  competition pages, "How to Submit": ``zip submission.zip score.tsv``; track 1, countermeasure only).
- ``asvspoof2021-codalab``: an ASVspoof 2021 track's score file (``utt_id score``), named ``score.txt``
  as the 2021 evaluation package names a system's CM scores (asvspoof-challenge-2021 ``eval-package``),
  zipped the same way.

Every cell exported must be finished and complete (every trial scored); anything else is refused with
the run file, the cell and what was expected. Outputs are written atomically.
"""
from __future__ import annotations

import csv
import io
import os
import statistics
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from ..errors import ConfigError, InputFileError
from ..hashing import sha256_file
from .result_model import Cell

LEADERBOARD_FORMATS: dict[str, str] = {
    "df-arena": "Speech DF Arena results: one row per detector, one EER (%) column per dataset (.csv or .json)",
    "asvspoof5-codalab": "ASVspoof 5 CodaLab submission: a zip holding score.tsv (filename<TAB>cm-score)",
    "asvspoof2021-codalab": "ASVspoof 2021 submission: a zip holding score.txt (utt_id score)",
}
#: Zip formats: (score layout of :mod:`spoofbench.metrics.score_formats`, member name the challenge requires).
ZIP_FORMATS: dict[str, tuple[str, str]] = {
    "asvspoof5-codalab": ("asvspoof5", "score.tsv"),
    "asvspoof2021-codalab": ("asvspoof2021", "score.txt"),
}
#: spoofbench corpus id → the Speech DF Arena's dataset key (its toolkit's protocol names). A test set
#: named like the corpus, or ``<corpus>_eval``, gets the Arena's name; ``--map`` overrides.
DF_ARENA_KEYS: dict[str, str] = {
    "asvspoof2019_la": "asvspoof_2019",
    "asvspoof2021_la": "asvspoof_2021_la",
    "asvspoof2021_df": "asvspoof_2021_df",
    "asvspoof5": "asvspoof_2024",  # the Arena lists ASVspoof 5's evaluation set as "ASVSpoof2024-Eval"
    "in_the_wild": "in_the_wild",
    "fakeorreal_norm": "fake_or_real",  # the Arena's Fake-or-Real download is the "for-norm" version
}
_ROW_FIELDS = ("Model", "Seeds", "Average EER (%)", "Pooled EER (%)")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member time: the same cells give the same bytes


@dataclass(frozen=True)
class ColumnMap:
    """One ``--map TEST_SET[@CODEC][=COLUMN]``: which cell fills which leaderboard column (or zip member)."""
    test_set: str
    codec: str = "none"
    column: str | None = None

    @classmethod
    def parse(cls, text: str) -> "ColumnMap":
        cell, _, column = text.partition("=")
        test_set, _, codec = cell.partition("@")
        if not test_set.strip() or ("=" in text and not column.strip()) or ("@" in cell and not codec.strip()):
            raise ConfigError(f"bad mapping {text!r}; expected TEST_SET[@CODEC][=COLUMN], "
                              "e.g. la21_eval=asvspoof_2021_la or itw@mp3_32k=in_the_wild_mp3", field="--map")
        return cls(test_set.strip(), codec.strip() or "none", column.strip() or None)


@dataclass(frozen=True)
class ExportSelection:
    """Which cells to export: mappings, detectors and seeds (empty: all of the run), one row per seed or
    the mean over seeds (``df-arena``)."""
    maps: tuple[ColumnMap, ...] = ()
    detectors: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    per_seed: bool = False
    allow_dev_as_test: bool = False  # export cells of a test set that shares trials with the dev set


class _Run:
    """A run's cells indexed by (detector, seed, test set, codec), with the file they came from."""

    def __init__(self, run: str | os.PathLike, allow_dev_as_test: bool = False):
        from .results import read_result, result_file

        self.allow_dev_as_test = allow_dev_as_test
        path = result_file(run)
        self.result = read_result(path)
        self.folder = path.parent
        self.where = path  # the file refusals name
        self.cells = self.result.cell_map()
        self.failed = {(f.detector, f.seed, f.test_set, f.codec): f for f in self.result.failed_cells}

    def detectors(self) -> list[str]:
        seen = dict.fromkeys(self.result.detectors)
        seen.update(dict.fromkeys(k[0] for k in (*self.cells, *self.failed)))
        return list(seen)

    def seeds(self, detector: str) -> list[int]:
        configured = self.result.config.get("seeds")
        if configured:
            return [int(s) for s in configured]
        return sorted({k[1] for k in (*self.cells, *self.failed) if k[0] == detector})

    def test_sets(self) -> list[str]:
        return list(dict.fromkeys([*self.result.test_sets, *(k[2] for k in self.cells)]))

    def codecs(self) -> list[str]:
        return list(dict.fromkeys([*self.result.codecs, *(k[3] for k in self.cells)]))

    def cell(self, detector: str, seed: int, test_set: str, codec: str) -> Cell:
        """The finished, complete cell, or a refusal naming it and what was expected."""
        key = (detector, seed, test_set, codec)
        name = f"cell {detector} seed {seed} {test_set}@{codec}"
        cell = self.cells.get(key)
        if cell is None:
            failed = self.failed.get(key)
            why = (f"it failed at {failed.stage}: {failed.error}" if failed
                   else "it is not in the run")
            raise InputFileError(f"{name}: expected a finished cell, but {why}", self.where)
        if not cell.complete or (cell.coverage is not None and cell.coverage < 1.0):
            raise InputFileError(
                f"{name}: incomplete ({cell.n_scored} of {cell.n_expected} trials scored, "
                f"coverage {cell.coverage}); a leaderboard needs every trial: re-run it "
                "(`spoofbench run` redoes incomplete cells)", self.where)
        if cell.metrics.eer is None:
            raise InputFileError(f"{name}: no EER in its metrics", self.where)
        why = self.result.dev_as_test(test_set)
        if why and not self.allow_dev_as_test:
            raise InputFileError(f"{name}: {why}; a leaderboard takes held-out results only (pass "
                                 "--allow-dev-as-test to export it anyway)", self.where)
        return cell


def export_leaderboard(run: str | os.PathLike, fmt: str, out: str | os.PathLike,
                       selection: ExportSelection = ExportSelection()) -> Path:
    """Write ``run``'s cells (a run folder, result.json or cells.jsonl) to ``out`` in layout ``fmt``."""
    if fmt not in LEADERBOARD_FORMATS:
        raise ConfigError(f"unknown leaderboard format {fmt!r}; expected one of {', '.join(LEADERBOARD_FORMATS)}",
                          field="--format")
    state = _Run(run, selection.allow_dev_as_test)
    out = Path(out)
    if fmt == "df-arena":
        return _write_df_arena(state, out, selection)
    return _write_zip(state, fmt, out, selection)


# ---- Speech DF Arena -----------------------------------------------------------------------------------


def df_arena_table(run: str | os.PathLike, selection: ExportSelection = ExportSelection()
                   ) -> tuple[list[str], list[dict]]:
    """``(dataset columns, rows)``: each row ``{"Model", "Seeds", column: EER %, ..., "Average EER (%)",
    "Pooled EER (%)"}`` (EERs in percent)."""
    return _df_arena_rows(_Run(run, selection.allow_dev_as_test), selection)


def _df_arena_rows(state: _Run, selection: ExportSelection) -> tuple[list[str], list[dict]]:
    maps = _checked_maps(state, selection.maps) or tuple(ColumnMap(t) for t in state.test_sets())
    columns = [_arena_column(m) for m in maps]
    taken = [*columns, *_ROW_FIELDS]
    if len(set(taken)) != len(taken):
        dupes = sorted({c for c in taken if taken.count(c) > 1})
        raise ConfigError(f"column name(s) {', '.join(dupes)} used twice (the table's own columns are "
                          f"{', '.join(_ROW_FIELDS)}); give each cell its own =COLUMN", field="--map")
    rows = []
    for detector in _detectors(state, selection):
        seeds = _seeds(state, detector, selection)
        eers = {m: [100.0 * float(state.cell(detector, s, m.test_set, m.codec).metrics.eer or 0.0)
                   for s in seeds]
                for m in maps}
        groups = [[(i, s)] for i, s in enumerate(seeds)] if selection.per_seed else [list(enumerate(seeds))]
        for group in groups:
            row = {"Model": detector if not selection.per_seed else f"{detector}@seed{group[0][1]}",
                   "Seeds": " ".join(str(s) for _, s in group)}
            for m, column in zip(maps, columns):
                row[column] = statistics.fmean(eers[m][i] for i, _ in group)
            row["Average EER (%)"] = statistics.fmean(row[c] for c in columns)
            row["Pooled EER (%)"] = statistics.fmean(_pooled_eer(state, detector, s, maps) for _, s in group)
            rows.append(row)
    return columns, rows


def _pooled_eer(state: _Run, detector: str, seed: int, maps: tuple[ColumnMap, ...]) -> float:
    """EER (%) at one threshold over the trials of every mapped cell of (detector, seed)."""
    import numpy as np

    from ..metrics import compute_eer, load_trials

    bonafide, spoof = [], []
    for m in maps:
        cell = state.cell(detector, seed, m.test_set, m.codec)
        keys = state.folder / "keys" / f"{m.test_set}.txt"
        if not keys.is_file():
            raise InputFileError(f"the pooled EER needs the run's key file of {m.test_set} (expected {keys})",
                                 state.where)
        trials = load_trials(_checked_score_file(state, cell), keys)
        bonafide.append(trials.bonafide)
        spoof.append(trials.spoof)
    eer, _ = compute_eer(np.concatenate(bonafide), np.concatenate(spoof))
    return 100.0 * eer


def _arena_column(m: ColumnMap) -> str:
    if m.column:
        return m.column
    base = m.test_set[:-len("_eval")] if m.test_set.endswith("_eval") else m.test_set
    name = DF_ARENA_KEYS.get(m.test_set, DF_ARENA_KEYS.get(base, m.test_set))
    return name if m.codec == "none" else f"{name}@{m.codec}"


#: Decimals of the EER (%) values in the Arena CSV.
ARENA_DECIMALS = 4


def _write_df_arena(state: _Run, out: Path, selection: ExportSelection) -> Path:
    if out.suffix not in (".csv", ".json"):
        raise ConfigError(f"{out.name}: df-arena writes .csv (the leaderboard table) or .json (the toolkit's "
                          "summary object)", field="--out")
    columns, rows = _df_arena_rows(state, selection)
    if out.suffix == ".json":
        write_json_atomic(out, {"Average": {r["Model"]: {c: {"EER (%)": r[c]} for c in columns} for r in rows},
                                "Pooled": {r["Model"]: {"EER (%)": r["Pooled EER (%)"]} for r in rows}})
        return out
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*_ROW_FIELDS[:2], *columns, *_ROW_FIELDS[2:]],
                            lineterminator="\n")
    writer.writeheader()
    # EER (%) to 4 decimals (1e-4 points: finer than one trial in a million); the JSON keeps full precision.
    writer.writerows({k: round(v, ARENA_DECIMALS) if isinstance(v, float) else v for k, v in r.items()}
                     for r in rows)
    write_text_atomic(out, buffer.getvalue())
    return out


# ---- CodaLab zips ------------------------------------------------------------------------------------


def _write_zip(state: _Run, fmt: str, out: Path, selection: ExportSelection) -> Path:
    from ..metrics.score_formats import convert_score_file

    if out.suffix != ".zip":
        raise ConfigError(f"{out.name}: {fmt} writes a .zip (the file CodaLab takes)", field="--out")
    layout, member = ZIP_FORMATS[fmt]
    target = _one_map(state, fmt, selection)
    detector = _one(fmt, "detector", "--detector", _detectors(state, selection))
    seed = _one(fmt, "seed", "--seed", _seeds(state, detector, selection))
    cell = state.cell(detector, seed, target.test_set, target.codec)
    scores = _checked_score_file(state, cell)
    with tempfile.TemporaryDirectory() as tmp:
        converted = convert_score_file(scores, layout, out=Path(tmp) / member)
        data = converted.read_bytes()
    info = zipfile.ZipInfo(target.column or member, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, data)
    write_bytes_atomic(out, buffer.getvalue())
    return out


def _one_map(state: _Run, fmt: str, selection: ExportSelection) -> ColumnMap:
    if len(selection.maps) == 1:
        return _checked_maps(state, selection.maps)[0]
    test_sets = state.test_sets()
    if not selection.maps and len(test_sets) == 1:
        return ColumnMap(test_sets[0])
    raise ConfigError(f"the {fmt} zip holds one cell's score file: name its test set with one "
                      f"--map TEST_SET[@CODEC] (the run has: {', '.join(test_sets)})", field="--map")


def _one(fmt: str, what: str, flag: str, choices: list) -> object:
    if len(choices) == 1:
        return choices[0]
    raise ConfigError(f"the {fmt} zip holds one cell: pick its {what} with {flag} "
                      f"(the run has: {', '.join(str(c) for c in choices)})", field=flag)


def _checked_score_file(state: _Run, cell: Cell) -> Path:
    name = f"cell {cell.detector} seed {cell.seed} {cell.test_set}@{cell.codec}"
    path = state.folder / str(cell.score_file)
    if not path.is_file():
        raise InputFileError(f"{name}: its score file is missing (expected {path})", state.where)
    expected = cell.score_sha256
    if expected and sha256_file(path) != expected:
        raise InputFileError(f"{name}: its score file {path} changed since the run scored it "
                             "(sha256 differs from the cell's score_sha256)", state.where)
    return path


# ---- selection ---------------------------------------------------------------------------------------


def _checked_maps(state: _Run, maps: tuple[ColumnMap, ...]) -> tuple[ColumnMap, ...]:
    known, codecs = state.test_sets(), state.codecs()
    for m in maps:
        if m.test_set not in known:
            raise ConfigError(f"test set {m.test_set!r} is not in the run; expected one of {', '.join(known)}",
                              state.where, field="--map")
        if m.codec not in codecs:
            raise ConfigError(f"codec {m.codec!r} is not in the run; expected one of {', '.join(codecs)}",
                              state.where, field="--map")
    return maps


def _detectors(state: _Run, selection: ExportSelection) -> list[str]:
    known = state.detectors()
    unknown = [d for d in selection.detectors if d not in known]
    if unknown:
        raise ConfigError(f"detector {unknown[0]!r} is not in the run; expected one of {', '.join(known)}",
                          state.where, field="--detector")
    return list(selection.detectors) or known


def _seeds(state: _Run, detector: str, selection: ExportSelection) -> list[int]:
    known = state.seeds(detector)
    unknown = [s for s in selection.seeds if s not in known]
    if unknown:
        raise ConfigError(f"seed {unknown[0]} is not in the run for {detector}; expected one of "
                          f"{', '.join(map(str, known))}", state.where, field="--seed")
    return list(selection.seeds) or known
