"""The typed run result: one model reads and writes result.json and the cell log, byte for byte, reads the
older shapes of schema 1, names the bad field, and its published JSON Schema is the generated one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spoofbench.errors import InputFileError
from spoofbench.runner.celllog import CellLog, read_records, render_result, render_run
from spoofbench.runner.result_model import (SCHEMA_VERSION, Cell, RunResult, as_result, json_schema, parse_result,
                                            schema_text)
from spoofbench.runner.results import load_result, read_result, tidy_cells, write_result

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "data" / "result_v1.json"


def test_published_schema_is_the_generated_one():
    published = ROOT / "docs" / "result.schema.json"
    assert published.read_text(encoding="utf-8") == schema_text(), (
        "docs/result.schema.json is stale: run `python -m spoofbench.runner.result_model docs/result.schema.json`")


def test_a_runner_result_reads_and_writes_back_byte_for_byte(tmp_path):
    result = read_result(FIXTURE)
    assert isinstance(result, RunResult) and result.schema_version == SCHEMA_VERSION
    write_result(tmp_path / "result.json", result)
    assert (tmp_path / "result.json").read_bytes() == FIXTURE.read_bytes()
    assert load_result(FIXTURE) == json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_typed_access_to_what_readers_need():
    result = read_result(FIXTURE)
    first = result.cells[0]
    assert isinstance(first, Cell) and first.metrics.calibrated is True and 0 <= first.metrics.eer <= 1
    assert first.metrics.eer_ci95 is None or len(first.metrics.eer_ci95) == 2
    assert result.run_of("rawcnn_2m", 0).checkpoint.endswith("checkpoints/best.pt")
    assert result.detector("rawcnn_2m").training["0"].calibration["kind"] == "linear_logistic"
    assert result.cells[-1].stale.failed_hash == result.failed_cells[0].hash
    assert result.test_set("no such set").domain is None and result.dev_as_test("r1_speakers") is None
    frame = tidy_cells(result)
    assert list(frame.stale) == [False, False, True] and frame.checkpoint.iloc[0].endswith("best.pt")


def test_the_published_schema_accepts_a_runner_result():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(json.loads(FIXTURE.read_text(encoding="utf-8")), json_schema())


# Shapes of schema 1 as earlier versions wrote them (from the git history of runner/results.py and the tests).
NOV_26 = {"schema": 1, "cells": [  # efcd3f9: no hash, coverage, complete or calibration
    {"detector": "small", "seed": 0, "test_set": "a_eval", "codec": "none", "domain": "in-domain", "n_failed": 0,
     "metrics": {"eer": 0.01, "min_dcf": 0.02, "act_dcf": 0.03, "cllr": 0.5, "min_cllr": 0.4, "auc": 0.99,
                 "n_bonafide": 10, "n_spoof": 90}}],
    "detectors": {"small": {"parameters": 2_000_000}}}
NOV_29 = {"schema": 1, "run_id": "r", "config": {"name": "x"}, "environment": {}, "codecs": {},
          "detectors": {"d": {"parameters": 5, "frontend": "raw", "sample_rate": 16000, "input_policy": {},
                              "checkpoint_sha256": None}},
          "test_sets": {"t": {"domain": "ood", "reason": "corpus not in training: b", "n_trials": 4,
                              "manifest_sha256": "0" * 64}},
          "cells": [{"detector": "d", "seed": 1, "test_set": "t", "codec": "none", "domain": "ood", "hash": "h",
                     "score_file": "scores/x.txt", "score_sha256": "s", "n_scored": 3, "n_failed": 1,
                     "n_expected": 4, "coverage": 0.75, "complete": False, "metrics": {"eer": 0.5}}],
          "failed_cells": [{"detector": "d", "seed": 2, "test_set": "t", "codec": "none", "stage": "train",
                            "error": "boom"}]}


@pytest.mark.parametrize("raw", [NOV_26, NOV_29], ids=["2026-11-26", "2026-11-29"])
def test_older_shapes_of_schema_1_read_with_defaults_and_keep_their_keys(raw, tmp_path):
    result = parse_result(raw)
    cell = result.cells[0]
    assert cell.complete is (raw is NOV_26) and cell.metrics.calibrated is None and cell.stale is None
    assert result.test_set("t").dev_overlap.n_shared_trials == 0
    assert result.to_dict() == raw                      # nothing invented on the way back
    frame = tidy_cells(raw)                             # a dict from an older caller is validated too
    assert frame.complete.tolist() == [cell.complete]


def test_a_bad_field_is_one_error_naming_it(tmp_path):
    bad = json.loads(json.dumps(NOV_29))
    bad["cells"][0]["metrics"]["eer"] = "low"
    path = tmp_path / "result.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(InputFileError, match=r"cells\[0\]\.metrics\.eer") as info:
        read_result(path)
    assert info.value.field == "cells[0].metrics.eer" and str(path) in str(info.value)
    bad = json.loads(json.dumps(NOV_29))
    bad["cells"][0]["extra_key"] = 1
    with pytest.raises(InputFileError, match=r"cells\[0\]\.extra_key"):
        as_result(bad)
    with pytest.raises(InputFileError, match="schema 2 is not supported"):
        parse_result({**NOV_29, "schema": 2})
    with pytest.raises(InputFileError, match="no 'cells' key"):
        parse_result({"schema": 1})


def test_an_older_version_is_migrated_before_it_is_read(monkeypatch):
    from spoofbench.runner import result_model

    def upgrade(raw: dict) -> dict:   # a pretend version 0 that called the cells "results"
        return {**{k: v for k, v in raw.items() if k != "results"}, "schema": 1, "cells": raw["results"]}

    monkeypatch.setitem(result_model.MIGRATIONS, 0, upgrade)
    old = {"schema": 0, "cells": [], "results": NOV_29["cells"]}
    assert parse_result(old).cells[0].coverage == 0.75


def test_the_cell_log_holds_only_model_records_and_renders_through_the_model(tmp_path):
    log = CellLog(tmp_path / "cells.jsonl")
    header = {"type": "run", "schema": 1, "run_id": "r", "config": {"name": "x"}, "environment": {},
              "detectors": {"d": {}}, "codecs": {}, "test_sets": {"t": {}}, "planned": ["h", "g"]}
    cell = {"type": "cell", **NOV_29["cells"][0]}
    log.append(header, cell, {"type": "failed", "hash": "g", **NOV_29["failed_cells"][0]})
    with pytest.raises(InputFileError, match="seed"):
        log.append({**cell, "seed": "one"})
    assert [r["type"] for r in read_records(tmp_path / "cells.jsonl")] == ["run", "cell", "failed"]
    lines = (tmp_path / "cells.jsonl").read_text().splitlines()
    assert json.loads(lines[1]) == cell and list(json.loads(lines[1])) == list(cell)   # key order kept
    rendered = render_run(tmp_path / "cells.jsonl")
    assert rendered.cells[0].n_expected == 4 and rendered.failed_cells[0].stage == "train"
    assert render_result(tmp_path / "cells.jsonl") == rendered.to_dict()
    assert read_result(tmp_path).to_dict() == rendered.to_dict()
