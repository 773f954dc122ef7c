"""A test set that is (or overlaps) the dev set is flagged in result, cells.csv, tables, report, exports."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from runner_corpus import bench_config, make_corpus, write_config

from spoofbench.errors import InputFileError
from spoofbench.runner.leaderboard_export import ExportSelection, export_leaderboard
from spoofbench.runner.benchmark import run_benchmark
from spoofbench.runner.report import build_report, report_markdown
from spoofbench.runner.tables import pivot_table, render


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict]:
    corpus = make_corpus(tmp_path_factory.mktemp("dev_corpus"))
    config = bench_config(corpus, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"}],
                          test_sets=[{"name": "a_eval", "manifest": "a_eval.jsonl.gz", "root": "."},
                                     {"name": "a_dev_again", "manifest": "a_dev.jsonl.gz", "root": "."}])
    out = tmp_path_factory.mktemp("dev_run") / "run"
    result = run_benchmark(write_config(corpus, "dev.yaml", config), out, progress=False, log=lambda _: None)
    return out, result


def test_dev_overlap_is_recorded_and_flagged(run):
    out, result = run
    assert result["test_sets"]["a_dev_again"]["dev_overlap"]["n_shared_trials"] == 12
    assert result["test_sets"]["a_dev_again"]["dev_overlap"]["same_manifest"] is True
    assert result["test_sets"]["a_eval"]["dev_overlap"]["n_shared_trials"] == 0
    rows = {r["test_set"]: r["dev_as_test"] for r in csv.DictReader((out / "cells.csv").open())}
    assert rows == {"a_eval": "False", "a_dev_again": "True"}
    text = render(pivot_table(result), "md")
    assert "a_dev_again ‡" in text and "‡ dev set used as a test set: a_dev_again is the dev set" in text
    assert "a_eval ‡" not in text
    report = report_markdown(build_report(out))
    assert "‡ dev set used as a test set" in report


def test_leaderboard_export_refuses_dev_as_test_unless_allowed(run, tmp_path):
    out, _ = run
    with pytest.raises(InputFileError, match="a_dev_again is the dev set.*--allow-dev-as-test"):
        export_leaderboard(out, "df-arena", tmp_path / "arena.csv")
    export_leaderboard(out, "df-arena", tmp_path / "arena.csv", ExportSelection(allow_dev_as_test=True))
    assert "a_dev_again" in (tmp_path / "arena.csv").read_text()


def test_table_by_attack_with_cis(run, capsys):
    from spoofbench.cli import main
    from spoofbench.runner.tables import attack_table

    out, result = run
    assert main(["table", str(out), "--by", "attack", "--resamples", "50"]) == 0
    text = capsys.readouterr().out
    assert "EER per attack with 95% CIs" in text and "a_eval / a1" in text and "a_eval / a2" in text
    assert "[" in text.split("a_eval / a1")[1]  # the CI of each value
    table = attack_table(result, out, codecs=None, resamples=50)
    assert list(table.numeric.index.names) == ["detector", "codec"]
    value = table.numeric.loc[("lfcc_gmm:tiny", "none"), ("a_eval", "a1")]
    assert 0.0 <= value <= 1.0
    report = report_markdown(build_report(out))
    assert "## Per attack" in report or "Per attack" in report


def test_paths_per_cell_and_table_paths(run, capsys):
    from spoofbench.cli import main

    out, result = run
    runs = result["detectors"]["lfcc_gmm:tiny"]["runs"]["0"]
    assert runs["checkpoint"].endswith("checkpoints/best.pt") and (out / runs["checkpoint"]).is_file()
    rows = list(csv.DictReader((out / "cells.csv").open()))
    assert all((out / r["score_file"]).is_file() and r["checkpoint"] == runs["checkpoint"] for r in rows)
    assert main(["table", str(out), "--paths"]) == 0
    assert f"lfcc_gmm:tiny seed 0 (lfcc_gmm, defaults): train {runs['train_dir']}" in capsys.readouterr().out
