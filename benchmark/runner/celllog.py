"""The cell log: an append-only, fsync'd JSON-lines file, the source of truth of a run folder.

``<run>/cells.jsonl`` holds one record per line, each with a ``type``:

- ``run``: a run started (``schema``, ``run_id``, ``config``, ``environment``, ``detectors``,
  ``codecs``, ``test_sets`` and ``planned``: the hashes of its score cells, in plan order);
- ``cell``: a finished score cell (the ``result.json`` cell record);
- ``failed``: a score cell that failed (with its ``hash``, ``stage`` and ``error``);
- ``training``: a train cell's summary (``detector``, ``seed``, ``summary``);
- ``end``: the run finished (``seconds``).

``result.json`` (and ``cells.csv``) are rendered from the log (:func:`render_run`, a
:class:`~spoofbench.runner.result_model.RunResult`): the last ``run`` record, and for each of its planned
hashes the latest ``cell`` or ``failed`` record. ``cell`` and ``failed`` records are checked against the
model (:class:`~spoofbench.runner.result_model.Cell`, ``FailedCell``) when they are appended. A line
cut short by a killed writer is dropped (and cut off before the next append). Records are written
with one ``write`` and an ``fsync`` each, so a finished cell survives a crash of the machine.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import InputFileError
from .result_model import RunResult, parse_cell, parse_failed, parse_result

LOG_NAME = "cells.jsonl"


def _clean(value: Any) -> Any:
    """Strict JSON: NaN and infinities become null (as in result.json)."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class CellLog:
    """Appends records to ``path`` (after cutting off a partial last line a killed writer left)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _cut_partial_tail(self.path)

    def append(self, *records: dict) -> None:
        """Write ``records`` (one line each) in one write, then fsync."""
        if not records:
            return
        records = tuple(checked_record(r, self.path) for r in records)
        text = "".join(json.dumps(_clean(r), separators=(",", ":"), allow_nan=False) + "\n" for r in records)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            data = text.encode("utf-8")
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)


def checked_record(record: dict, path: str | os.PathLike | None = None) -> dict:
    """``record`` as written to the log: a ``cell`` or ``failed`` record through its model (so a log holds
    only what :class:`~spoofbench.runner.result_model.RunResult` reads), other records as they are."""
    kind = record.get("type")
    if kind == "cell":
        return {"type": kind, **parse_cell(_strip(record), path).to_dict()}
    if kind == "failed":
        return {"type": kind, **parse_failed(_strip(record), path).to_dict()}
    return record


def _cut_partial_tail(path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        return
    end = content.rfind(b"\n") + 1
    if end != len(content):
        with open(path, "r+b") as handle:
            handle.truncate(end)


def read_records(path: str | os.PathLike) -> Iterator[dict]:
    """The complete records of a cell log, in order (a partial last line is skipped)."""
    path = Path(path)
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise InputFileError(f"cannot read the cell log: {err.strerror}", path) from err
    with handle:
        for number, raw in enumerate(handle, 1):
            if not raw.endswith(b"\n"):
                return  # cut short by a killed writer
            try:
                record = json.loads(raw)
            except ValueError as err:
                raise InputFileError(f"not a JSON record ({err})", path, number) from err
            if not isinstance(record, dict) or "type" not in record:
                raise InputFileError("not a cell-log record (no 'type')", path, number)
            yield record


def latest_cells(records: Iterable[dict]) -> dict[str, dict]:
    """hash → the latest finished cell record (without its ``type``), over every run in the log."""
    cells: dict[str, dict] = {}
    for record in records:
        if record["type"] == "cell":
            cells[record["hash"]] = _strip(record)
        elif record["type"] == "failed" and record.get("hash") in cells:
            del cells[record["hash"]]
    return cells


def _ident(record: dict) -> tuple:
    return (record.get("detector"), str(record.get("seed")), record.get("test_set"), record.get("codec"))


def _kept_after_failure(failed: list[dict], finished: dict[tuple, dict]) -> list[dict]:
    """Earlier finished cells of the same (detector, seed, test set, codec) as a cell that failed now.

    A re-run that fails (a changed config, a broken plugin) does not wipe what the run folder already
    had: the earlier result stays in the tables, marked ``stale`` with the hash of the failed cell.
    """
    kept = []
    for cell in failed:
        old = finished.get(_ident(cell))
        if old is not None and old.get("hash") != cell.get("hash"):
            kept.append({**_strip(old), "stale": {"failed_hash": cell.get("hash"), "reason": (
                "from an earlier configuration: the re-run of this cell failed "
                f"({cell.get('stage')}: {str(cell.get('error', ''))[:200]})")}})
    return kept


def _strip(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "type"}


def render_result(path: str | os.PathLike) -> dict:
    """The result.json dict of the last run in the cell log at ``path`` (:func:`render_run` as a dict)."""
    return render_run(path).to_dict()


def render_run(path: str | os.PathLike) -> RunResult:
    """The :class:`~spoofbench.runner.result_model.RunResult` of the last run in the cell log at ``path``."""
    header: dict | None = None
    latest: dict[str, dict] = {}
    finished: dict[tuple, dict] = {}   # (detector, seed, test_set, codec) → its latest finished cell
    training: dict[tuple[str, str], dict] = {}
    end: dict | None = None
    for record in read_records(path):
        kind = record["type"]
        if kind == "run":
            header, end = record, None
        elif kind in ("cell", "failed") and "hash" in record:
            latest[record["hash"]] = record
            if kind == "cell":
                finished[_ident(record)] = record
        elif kind == "training":
            training[(record["detector"], str(record["seed"]))] = record["summary"]
        elif kind == "end":
            end = record
    if header is None:
        raise InputFileError("the cell log holds no run", path)
    result = {k: v for k, v in header.items() if k not in ("type", "planned")}
    result["detectors"] = {name: dict(info) for name, info in header["detectors"].items()}
    for (detector, seed), summary in training.items():
        if detector in result["detectors"]:
            result["detectors"][detector].setdefault("training", {})[seed] = summary
    chosen = [latest[h] for h in header["planned"] if h in latest]
    result["cells"] = [_strip(r) for r in chosen if r["type"] == "cell"]
    result["failed_cells"] = [_strip(r) for r in chosen if r["type"] == "failed"]
    result["cells"] += _kept_after_failure(result["failed_cells"], finished)
    result["timing"] = {"last_run_seconds": end["seconds"]} if end else {"finished": False}
    return parse_result(result, path)
