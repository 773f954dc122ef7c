"""`spoofbench compare RUN_A RUN_B --out DIR`: matched cells, paired tests on the same trials, config changes."""
from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest

from spoofbench.cli import main
from spoofbench.errors import SpoofbenchError
from spoofbench.runner.results import SCHEMA_VERSION
from spoofbench.runner.run_compare import CompareSettings, compare_runs, diff_values, write_comparison

N = 300
IDS = [f"T_{i:04d}" for i in range(N)]
LABELS = np.arange(N) % 2 == 0


def _write_run(root, scores: dict, config: dict, *, flip_label: str | None = None, drop: int = 0):
    """A run folder with one test set ``t1`` (keys/t1.txt) and a cell per ``(detector, codec) -> scores``.

    ``flip_label``: a trial whose label this run's key file gives the other way; ``drop``: trials left out of
    every score file (so the runs share fewer trials)."""
    (root / "keys").mkdir(parents=True)
    (root / "keys" / "t1.txt").write_text("".join(
        f"{i} {'bonafide' if (b != (i == flip_label)) else 'spoof'}\n" for i, b in zip(IDS, LABELS)))
    cells = []
    for (detector, codec), values in scores.items():
        rel = f"scores/{detector}__seed0/t1__{codec}.txt"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{i} {v:.6f}\n" for i, v in list(zip(IDS, values))[drop:])
        (root / rel).write_text(text)
        cells.append({"detector": detector, "seed": 0, "test_set": "t1", "codec": codec, "score_file": rel,
                      "hash": hashlib.sha256(f"{detector}{codec}{text}".encode()).hexdigest(),
                      "score_sha256": hashlib.sha256(text.encode()).hexdigest(), "n_scored": N - drop,
                      "domain": "ood", "metrics": {"eer": 0.1}})
    (root / "result.json").write_text(json.dumps({
        "schema": SCHEMA_VERSION, "config": config, "cells": cells, "environment": {"torch": "2.0"},
        "test_sets": {"t1": {"manifest_sha256": "abc", "n_trials": N}}}))
    return root


def _config(channels: int, codecs=("none", "g711")) -> dict:
    return {"name": "x", "seeds": [0], "codecs": list(codecs),
            "detectors": [{"name": "cnn", "label": "cnn", "overrides": {"channels": channels}},
                          {"name": "gmm", "label": "gmm", "overrides": {}}]}


@pytest.fixture()
def runs(tmp_path):
    rng = np.random.default_rng(0)
    weak = LABELS * 0.6 + rng.normal(0, 1, N)
    strong = LABELS * 3.0 + rng.normal(0, 1, N)
    gmm = LABELS * 1.0 + rng.normal(0, 1, N)
    a = _write_run(tmp_path / "a", {("cnn", "none"): weak, ("gmm", "none"): gmm}, _config(16))
    b = _write_run(tmp_path / "b", {("cnn", "none"): strong, ("gmm", "none"): gmm, ("cnn", "g711"): strong},
                   _config(32))
    return a, b


def test_matched_cells_paired_tests_and_changes(runs):
    a, b = runs
    comparison = compare_runs(a, b, CompareSettings(resamples=200))
    cells = {(c.detector, c.codec): c for c in comparison.cells}
    assert set(cells) == {("cnn", "none"), ("gmm", "none")}
    cnn = cells[("cnn", "none")]
    assert cnn.status == "tested" and cnn.n_trials == N
    assert cnn.value_a > 0.25 and cnn.value_b < 0.1 and cnn.delta == pytest.approx(cnn.value_b - cnn.value_a)
    assert cnn.delta_ci95[1] < 0 and cnn.separable and cnn.p_holm is not None
    assert cells[("gmm", "none")].status == "identical" and cells[("gmm", "none")].p_value is None
    assert comparison.only_b == ["cnn/seed0/t1/g711"] and comparison.only_a == []
    paths = {c.path: (c.a, c.b) for c in comparison.changes}
    assert paths == {"detectors[cnn].overrides.channels": (16, 32)}


def test_an_unchanged_detector_is_not_separable(tmp_path):
    rng = np.random.default_rng(1)
    base = LABELS * 1.0 + rng.normal(0, 1, N)
    a = _write_run(tmp_path / "a", {("cnn", "none"): base}, _config(16))
    b = _write_run(tmp_path / "b", {("cnn", "none"): base + rng.normal(0, 1e-3, N)}, _config(16))
    cnn, = compare_runs(a, b, CompareSettings(resamples=200)).cells
    assert cnn.status == "tested" and not cnn.separable and cnn.delta_ci95[0] <= 0 <= cnn.delta_ci95[1]


def test_only_shared_trials_are_paired_and_labels_must_agree(tmp_path, runs):
    a, _ = runs
    rng = np.random.default_rng(2)
    fewer = _write_run(tmp_path / "fewer", {("cnn", "none"): rng.normal(0, 1, N)}, _config(16), drop=20)
    cnn = next(c for c in compare_runs(a, fewer, CompareSettings(resamples=50)).cells if c.detector == "cnn")
    assert cnn.status == "tested" and cnn.n_trials == N - 20
    relabelled = _write_run(tmp_path / "relab", {("cnn", "none"): rng.normal(0, 1, N)}, _config(16),
                            flip_label=IDS[7])
    cnn = next(c for c in compare_runs(a, relabelled, CompareSettings(resamples=50)).cells if c.detector == "cnn")
    assert cnn.status == "not tested" and "different labels" in cnn.note and IDS[7] in cnn.note


def test_cli_writes_its_own_folder_and_exits_0_for_a_change(runs, tmp_path, capsys):
    a, b = runs
    before = sorted(p.name for p in a.rglob("*")), sorted(p.name for p in b.rglob("*"))
    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(out), "--resamples", "100"]) == 0
    text = capsys.readouterr().out
    assert "detectors[cnn].overrides.channels" in text and "B lower (better)" in text
    assert (sorted(p.name for p in a.rglob("*")), sorted(p.name for p in b.rglob("*"))) == before
    assert {p.name for p in out.iterdir()} == {"compare.md", "cells.csv", "changes.csv", "compare.json"}
    rows = list(csv.DictReader((out / "cells.csv").open()))
    assert {r["status"] for r in rows} == {"tested", "identical"}
    data = json.loads((out / "compare.json").read_text())
    assert data["only_b"] == ["cnn/seed0/t1/g711"] and data["settings"]["resamples"] == 100
    assert (out / "compare.md").read_text().endswith("\n")


def test_cli_refuses_an_output_inside_a_run(runs, capsys):
    a, b = runs
    assert main(["compare", str(a), str(b), "--out", str(b / "cmp")]) == 2
    assert "inside the compared run" in capsys.readouterr().err and not (b / "cmp").exists()
    with pytest.raises(SpoofbenchError, match="inside the compared run"):
        write_comparison(compare_runs(a, a, CompareSettings(resamples=10)), a)


def test_diff_values_walks_dicts_and_named_lists():
    a = {"x": 1, "dets": [{"name": "p", "lr": 1}, {"name": "q"}], "codecs": ["none"]}
    b = {"x": 1, "dets": [{"name": "q"}, {"name": "p", "lr": 2}, {"name": "r"}], "codecs": ["none", "g711"], "y": 0}
    assert diff_values(a, b) == [("dets[p].lr", 1, 2), ("dets[r]", None, {"name": "r"}),
                                 ("codecs", ["none"], ["none", "g711"]), ("y", None, 0)]
