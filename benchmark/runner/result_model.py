"""The run result as a typed, frozen, versioned model: what ``result.json`` and the cells of
``cells.jsonl`` hold, read and written only through here.

:class:`RunResult` is one run (or the demo's merge of several): its config and environment as recorded,
the detectors (:class:`DetectorInfo`), codec conditions, test sets (:class:`TestSetInfo`), finished
cells (:class:`Cell`, with their :class:`Metrics`) and failed cells (:class:`FailedCell`).

Compatibility rules:

- A file keeps the keys it was written with: :meth:`ResultModel.to_dict` leaves out every field that was
  not in the input (``exclude_unset``), and fields are declared in the order the runner writes them, so
  reading and writing a file gives back the same bytes (the quick demo's result.json and cells.jsonl are
  pinned by this).
- ``schema`` (``schema_version``) is the version of the shape. Version 1 grew by optional keys only
  (coverage/complete in Nov 2026, calibration, dev overlap, per-seed folders, stale cells in Dec 2026);
  a file from before any of them reads with defaults (``complete`` true, absent metrics None). A
  version that changes the shape bumps :data:`SCHEMA_VERSION` and registers the step that upgrades the
  older files in :data:`MIGRATIONS` (``{from_version: upgrade(raw dict) -> raw dict of the next}``);
  :func:`migrate` applies them in order, so every reader sees the current version.
- Sections the run copies from elsewhere stay free-form mappings: ``config`` (a
  :class:`~spoofbench.runner.config.BenchmarkConfig` as a dict), ``environment``, ``codecs`` (codec
  provenance), ``timing``, and the demo's ``demo`` notes. :class:`Metrics` allows new metric keys (the
  catalog grows); every other object forbids unknown keys.

``python -m spoofbench.runner.result_model [PATH]`` writes the JSON Schema (docs/result.schema.json).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputFileError

SCHEMA_VERSION: Literal[1] = 1
#: Upgrades of older shapes: {version: function(raw dict of that version) -> raw dict of version + 1}.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}

#: A JSON number kept as it was written (an int stays an int, so files round-trip byte for byte).
Number = Union[int, float]
#: A metric value: None where it is undefined (strict JSON has no NaN).
Value = Optional[Number]


class ResultModel(BaseModel):
    """Base of the result models: frozen, unknown keys rejected, ``to_dict`` gives back what was read."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this model: the keys it was given, in the order the runner writes them."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Metrics(ResultModel):
    """The metrics of one cell (rates are fractions; see :mod:`spoofbench.metrics.catalog`)."""

    model_config = ConfigDict(extra="allow")   # a new metric of the catalog is a new key

    eer: Value = None
    eer_threshold: Value = None
    min_dcf: Value = None
    min_dcf_threshold: Value = None
    act_dcf: Value = None              # on calibrated scores when ``calibrated``
    act_dcf_threshold: Value = None
    cllr: Value = None                 # on calibrated scores when ``calibrated``
    min_cllr: Value = None
    auc: Value = None
    n_bonafide: Optional[int] = None
    n_spoof: Optional[int] = None
    warnings: tuple[str, ...] = ()
    act_dcf_raw: Value = None          # the uncalibrated actDCF / Cllr
    cllr_raw: Value = None
    calibration: Optional[dict[str, Any]] = None   # the LinearCalibration applied
    calibrated: Optional[bool] = None
    eer_ci95: Optional[tuple[Value, Value]] = None
    min_dcf_ci95: Optional[tuple[Value, Value]] = None
    per_attack_eer: Optional[dict[str, Value]] = None


class Stale(ResultModel):
    """Why a finished cell is from an earlier configuration (its re-run failed)."""

    failed_hash: Optional[str] = None
    reason: str = "from an earlier configuration"


class Cell(ResultModel):
    """A finished score cell: (detector, seed, test set, codec), its score file and metrics."""

    detector: str
    seed: int
    test_set: str
    codec: str
    domain: Optional[str] = None
    hash: Optional[str] = None
    score_file: Optional[str] = None           # relative to the run folder
    score_sha256: Optional[str] = None
    n_scored: Optional[int] = None
    n_failed: Optional[int] = None
    n_expected: Optional[int] = None
    coverage: Value = None                     # n_scored / n_expected
    complete: bool = True                      # false: part of the test set is missing
    failed_file: Optional[str] = None
    clips_per_s: Value = None
    metrics: Metrics = Field(default_factory=Metrics)
    stale: Optional[Stale] = None              # kept after a failed re-run of the same cell

    @property
    def ident(self) -> tuple[str, int, str, str]:
        """(detector, seed, test set, codec)."""
        return (self.detector, self.seed, self.test_set, self.codec)


class FailedCell(ResultModel):
    """A score cell that failed, with the stage and the error."""

    hash: Optional[str] = None
    detector: str
    seed: int
    test_set: str
    codec: str
    stage: str
    error: str
    traceback: Optional[str] = None


class DetectorRun(ResultModel):
    """Where one seed of a detector lives in the run folder."""

    train_dir: str
    checkpoint: str
    scores_dir: str
    train_key: str
    overrides: dict[str, Any] = Field(default_factory=dict)


class TrainingSummary(ResultModel):
    """A train cell's summary (from its done.json) and the calibration fitted on the dev set."""

    best_epoch: Optional[int] = None
    best_dev_eer: Value = None
    epochs_run: Optional[int] = None
    stopped_early: Optional[bool] = None
    weights_sha256: Optional[str] = None
    calibration: Optional[dict[str, Any]] = None   # LinearCalibration.to_dict(), or {"error": ...}


class DetectorInfo(ResultModel):
    """A detector of the run: what it is, its size and input policy, and its folders and training per seed."""

    name: Optional[str] = None
    preset: Optional[str] = None
    parameters: Optional[int] = None
    frontend: Optional[str] = None
    sample_rate: Optional[int] = None
    input_policy: Optional[dict[str, Any]] = None
    checkpoint: Optional[str] = None
    trained_on: Optional[tuple[str, ...]] = None
    checkpoint_sha256: Optional[str] = None
    runs: dict[str, DetectorRun] = Field(default_factory=dict)          # seed → folders
    training: dict[str, TrainingSummary] = Field(default_factory=dict)  # seed → summary
    run: Optional[str] = None                                  # the demo's sub-run it comes from
    not_ood_evidence: dict[str, str] = Field(default_factory=dict)     # the demo's test set → why


class DevOverlap(ResultModel):
    """Trials a test set shares with the dev set that selected checkpoints and fitted the calibration."""

    n_shared_trials: int = 0
    n_trials: Optional[int] = None
    same_manifest: bool = False
    examples: tuple[str, ...] = ()


class TestSetInfo(ResultModel):
    """A test set: its domain label (and why), size, manifest and audio digests, and overlaps."""

    __test__ = False   # not a pytest class

    domain: Optional[str] = None
    reason: Optional[str] = None
    n_trials: Optional[int] = None
    manifest: Optional[str] = None
    manifest_sha256: Optional[str] = None
    audio_sha256: Optional[str] = None
    overlap: dict[str, Any] = Field(default_factory=dict)                   # with the training set
    dev_overlap: DevOverlap = Field(default_factory=DevOverlap)
    domain_by_detector: dict[str, dict[str, Any]] = Field(default_factory=dict)   # trained_on detectors
    overlap_by_detector: dict[str, dict[str, Any]] = Field(default_factory=dict)
    domain_by_run: dict[str, Optional[str]] = Field(default_factory=dict)   # the demo's sub-runs


class RunResult(ResultModel):
    """A run's ``result.json`` (or the rendering of its cell log)."""

    schema_version: Literal[1] = Field(SCHEMA_VERSION, alias="schema")
    run_id: Optional[str] = None
    config: dict[str, Any] = Field(default_factory=dict)          # BenchmarkConfig.to_dict()
    environment: dict[str, Any] = Field(default_factory=dict)
    detectors: dict[str, DetectorInfo] = Field(default_factory=dict)
    codecs: dict[str, dict[str, Any]] = Field(default_factory=dict)   # condition id → provenance
    test_sets: dict[str, TestSetInfo] = Field(default_factory=dict)
    cells: tuple[Cell, ...]
    failed_cells: tuple[FailedCell, ...] = ()
    timing: dict[str, Any] = Field(default_factory=dict)
    demo: Optional[dict[str, Any]] = None                          # the demo's merge notes

    # ---------------------------------------------------------------- lookups
    def detector(self, label: str) -> DetectorInfo:
        """The detector ``label`` (an empty record when the run does not describe it)."""
        return self.detectors.get(label) or DetectorInfo()

    def test_set(self, name: str) -> TestSetInfo:
        """The test set ``name`` (an empty record when the run does not describe it)."""
        return self.test_sets.get(name) or TestSetInfo()

    def run_of(self, label: str, seed: int | str) -> Optional[DetectorRun]:
        """The folders of ``label``'s seed ``seed`` (None when not recorded)."""
        return self.detector(label).runs.get(str(seed))

    def cell_map(self) -> dict[tuple[str, int, str, str], Cell]:
        """(detector, seed, test set, codec) → cell."""
        return {c.ident: c for c in self.cells}

    @property
    def name(self) -> Optional[str]:
        """The config's name."""
        return self.config.get("name")

    def dev_as_test(self, test_set: str) -> Optional[str]:
        """Why ``test_set`` is not a held-out test (it shares trials with the run's dev set, which selected
        the checkpoints and fitted the calibration), or None."""
        info = self.test_set(test_set).dev_overlap
        shared, total = info.n_shared_trials or 0, info.n_trials
        if not shared:
            return None
        if info.same_manifest or shared == total:
            return (f"{test_set} is the dev set ({shared} trials) that selected the checkpoints and fitted the "
                    "calibration: not a held-out result")
        return (f"{shared} of {total} trials of {test_set} are in the dev set that selected the checkpoints and "
                "fitted the calibration: not a held-out result")


ResultLike = Union[RunResult, Mapping[str, Any]]


def migrate(raw: Any, path: str | os.PathLike | None = None) -> dict:
    """``raw`` (a parsed result) upgraded to :data:`SCHEMA_VERSION` (InputFileError when it is not a result
    or its version is unknown)."""
    if not isinstance(raw, dict) or "cells" not in raw:
        raise InputFileError("not a spoofbench result.json: no 'cells' key", path)
    version = raw.get("schema")
    while isinstance(version, int) and version in MIGRATIONS and version < SCHEMA_VERSION:
        raw = MIGRATIONS[version](raw)
        version = raw.get("schema")
    if version != SCHEMA_VERSION:
        raise InputFileError(f"schema {version!r} is not supported (expected {SCHEMA_VERSION})", path,
                             field="schema")
    return raw


def parse_result(raw: Any, path: str | os.PathLike | None = None) -> RunResult:
    """The :class:`RunResult` of a parsed ``result.json`` (migrated; one error naming the field)."""
    raw = migrate(raw, path)
    try:
        return RunResult.model_validate(raw)
    except ValidationError as err:
        raise _located(err, path) from None


def as_result(result: ResultLike) -> RunResult:
    """``result`` as a :class:`RunResult` (a dict, e.g. from an older caller, is validated)."""
    return result if isinstance(result, RunResult) else parse_result(dict(result))


def parse_cell(raw: Mapping[str, Any], path: str | os.PathLike | None = None, line: int | None = None) -> Cell:
    """A finished cell record (a ``cell`` line of the log without its ``type``)."""
    try:
        return Cell.model_validate(raw)
    except ValidationError as err:
        raise _located(err, path, line) from None


def parse_failed(raw: Mapping[str, Any], path: str | os.PathLike | None = None,
                 line: int | None = None) -> FailedCell:
    """A failed cell record (a ``failed`` line of the log without its ``type``)."""
    try:
        return FailedCell.model_validate(raw)
    except ValidationError as err:
        raise _located(err, path, line) from None


def _located(err: ValidationError, path: str | os.PathLike | None, line: int | None = None) -> InputFileError:
    """The first error of ``err`` as one InputFileError naming the field (``cells[3].metrics.eer``); a value
    that fits none of a union's types says which types were expected."""
    errors = err.errors()
    first = errors[0]
    where, _ = _split_loc(first["loc"])
    tags = [tag for e in errors if (split := _split_loc(e["loc"]))[0] == where and (tag := split[1])]
    message = f"expected {' or '.join(dict.fromkeys(tags))}" if len(tags) > 1 else first["msg"]
    shown = "" if first["type"] == "missing" else f" (got {json.dumps(first.get('input'), default=str)[:60]})"
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".")
    return InputFileError(f"{message}{shown}", path, line, field=field or None)


#: pydantic's names of the members of a union in an error's location (not fields of the file).
_UNION_TAGS = frozenset({"int", "float", "str", "bool", "none", "list", "dict", "tuple"})


def _split_loc(loc: tuple) -> tuple[tuple, str]:
    """(the location in the file, the union member pydantic tried, or "")."""
    parts, tag = list(loc), ""
    while parts and isinstance(parts[-1], str) and (parts[-1] in _UNION_TAGS or "[" in parts[-1]):
        tag = tag or parts[-1]
        parts.pop()
    return tuple(parts), tag


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``result.json`` (published as docs/result.schema.json)."""
    schema = RunResult.model_json_schema(by_alias=True, mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text() -> str:
    """:func:`json_schema` as the text of docs/result.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the JSON Schema to the path given (default: stdout)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        from ..atomic import write_text_atomic
        write_text_atomic(Path(argv[0]), schema_text())
    else:
        sys.stdout.write(schema_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
