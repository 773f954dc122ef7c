"""`spoofbench shortcut-check`: EER as is vs vad_trim per detector, paired bootstrap, verdict in words."""
from __future__ import annotations

import json

import numpy as np
import pytest

from spoofbench.cli import main
from spoofbench.runner.results import SCHEMA_VERSION
from spoofbench.runner.shortcut import NoTrimmedCells, shortcut_check, shortcut_markdown


def _write_run(root, with_trimmed: bool = True):
    """A run folder: two detectors on one test set of 300 trials, codecs none (+ vad_trim).

    ``silence_cue`` separates the classes as is (its score is the length of leading silence) and
    is at chance once silence is removed; ``robust`` scores the same either way."""
    rng = np.random.default_rng(0)
    n = 300
    labels = (np.arange(n) % 2 == 0)
    ids = [f"T_{i:04d}" for i in range(n)]
    (root / "keys").mkdir(parents=True)
    (root / "keys" / "t1.txt").write_text("".join(f"{i} {'bonafide' if b else 'spoof'}\n" for i, b in zip(ids, labels)))
    speechy = labels * 1.0 + rng.normal(0, 0.8, n)
    scores = {("silence_cue", "none"): labels * 2.0 + rng.normal(0, 0.5, n),
              ("silence_cue", "vad_trim"): rng.normal(0, 1, n),
              ("robust", "none"): speechy, ("robust", "vad_trim"): speechy + rng.normal(0, 1e-3, n)}
    cells = []
    for (detector, codec), values in scores.items():
        if codec == "vad_trim" and not with_trimmed:
            continue
        rel = f"scores/{detector}__seed0/t1__{codec}.txt"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("".join(f"{i} {v:.6f}\n" for i, v in zip(ids, values)))
        cells.append({"detector": detector, "seed": 0, "test_set": "t1", "codec": codec, "score_file": rel,
                      "domain": "ood", "metrics": {"eer": 0.0}})
    (root / "result.json").write_text(json.dumps({"schema": SCHEMA_VERSION, "cells": cells,
                                                  "test_sets": {"t1": {}}}))
    return root


def test_verdicts_and_cis(tmp_path):
    rows = {r.detector: r for r in shortcut_check(_write_run(tmp_path / "run"), settings=_settings())}
    cue, robust = rows["silence_cue"], rows["robust"]
    assert cue.eer_as_is < 0.1 and cue.eer_trimmed > 0.35 and cue.delta > 0.25
    assert cue.delta_ci95[0] > 0 and cue.rests_on_silence and "rests in part on silence" in cue.verdict
    assert abs(robust.delta) < 0.02 and robust.delta_ci95[0] <= 0 <= robust.delta_ci95[1]
    assert not robust.rests_on_silence and "no separable change" in robust.verdict
    assert cue.n_trials == 300
    text = shortcut_markdown(list(rows.values()))
    assert "| silence_cue | t1 |" in text and "| yes |" in text


def _settings():
    from spoofbench.runner.report import ReportSettings
    return ReportSettings(resamples=200)


def test_cli_json_and_missing_cells(tmp_path, capsys):
    run = _write_run(tmp_path / "run")
    assert main(["shortcut-check", "--scores-from", str(run), "--json", "--resamples", "100"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["detector"] for r in rows} == {"silence_cue", "robust"} and len(rows[0]["delta_ci95"]) == 2
    assert main(["shortcut-check", "--scores-from", str(run), "--resamples", "100", "--strict"]) == 1
    bare = _write_run(tmp_path / "bare", with_trimmed=False)
    with pytest.raises(NoTrimmedCells, match="add vad_trim to the config's codecs"):
        shortcut_check(bare)
    capsys.readouterr()
    assert main(["shortcut-check", "--scores-from", str(bare)]) == 0
    assert "no `vad_trim` cells" in capsys.readouterr().out
    assert main(["shortcut-check", "--scores-from", str(bare), "--strict"]) == 1


def test_run_shortcut_check_scores_each_test_set_as_is_and_trimmed(tmp_path, capsys):
    """`spoofbench run CONFIG --shortcut-check` on a config without vad_trim: both conditions are added and
    scored for every test set, and the shortcut table follows the run's summary."""
    from spoofbench.runner.results import load_result
    from tiny_corpus import write_tiny_bench

    root = tmp_path / "corpus"
    write_tiny_bench(root, ["g711_mulaw"], n=12, test=("b_eval", "B", 12), device="cpu", bootstrap=20,
                     codec_cache="codec_cache")
    out = tmp_path / "run"
    assert main(["run", str(root / "bench.yaml"), "--out", str(out), "--no-progress", "--dry-run",
                 "--shortcut-check"]) == 0
    assert "vad_trim" in capsys.readouterr().out
    assert main(["run", str(root / "bench.yaml"), "--out", str(out), "--no-progress", "--shortcut-check"]) == 0
    printed = capsys.readouterr().out
    codecs = {c["codec"] for c in load_result(out)["cells"]}
    assert codecs == {"g711_mulaw", "none", "vad_trim"}
    rows = shortcut_check(out)
    assert [(r.test_set, r.n_trials) for r in rows] == [("b_eval", 12)] and rows[0].detector.startswith("lfcc_gmm")
    assert rows[0].verdict in printed and "after `vad_trim`" in printed
