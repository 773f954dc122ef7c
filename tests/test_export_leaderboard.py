"""``spoofbench export leaderboard``: a tiny real run's cells as Speech DF Arena results and CodaLab zips,
and the refusals (missing, failed, incomplete or changed cells; ambiguous zips)."""
from __future__ import annotations

import csv
import json
import shutil
import statistics
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from tiny_corpus import make_set

from spoofbench.cli import main
from spoofbench.errors import ConfigError
from spoofbench.metrics import compute_eer, read_keys, read_scores
from spoofbench.metrics.score_formats import convert_score_file
from spoofbench.runner.leaderboard_export import ColumnMap, ExportSelection, df_arena_table, export_leaderboard

DETECTOR = "lfcc_gmm:tiny"
#: named like a spoofbench corpus id + "_eval": the export knows the Speech DF Arena's key for it
LA19 = "asvspoof2019_la_eval"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A real two-seed run: LFCC-GMM trained on corpus A, scored on A and on a harder corpus B, uncoded and
    through G.711 (B's spoofs are drawn like its bona fide clips, so its EERs are not zero)."""
    from spoofbench.runner import run_benchmark

    root = tmp_path_factory.mktemp("leaderboard_run")
    make_set(root, "a_train", "A", 24, 0, ("a1", "a2"))
    make_set(root, "a_dev", "A", 12, 1, ("a1", "a2"))
    make_set(root, "a_eval", "A", 12, 2, ("a1", "a2"))
    make_set(root, "b_eval", "B", 15, 3, ("b1",), spoof_noise=0.05, buzz=False)
    config = {"name": "tiny-leaderboard",
              "train": {"manifest": "a_train.jsonl.gz", "root": "."},
              "dev": {"manifest": "a_dev.jsonl.gz", "root": "."},
              "test_sets": [{"name": "a_eval", "manifest": "a_eval.jsonl.gz", "root": "."},
                            {"name": LA19, "manifest": "b_eval.jsonl.gz", "root": "."}],
              "codecs": ["none", "g711_mulaw"], "seeds": [0, 1], "device": "cpu", "calibration": False,
              "training": {"epochs": 1, "batch_size": 8, "num_workers": 0, "device": "cpu"},
              "scoring": {"batch_size": 8, "num_workers": 0},
              "detectors": [{"name": "lfcc_gmm", "preset": "tiny"}]}
    (root / "bench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    out = root / "run"
    result = run_benchmark(root / "bench.yaml", out, progress=False, tables=False, log=lambda _: None)
    assert result["failed_cells"] == [] and len(result["cells"]) == 2 * 2 * 2
    return out


def _cells(run: Path) -> dict[tuple, dict]:
    result = json.loads((run / "result.json").read_text())
    return {(c["detector"], c["seed"], c["test_set"], c["codec"]): c for c in result["cells"]}


def _eer_percent(cells, seeds, test_set, codec="none") -> float:
    return statistics.fmean(100 * cells[(DETECTOR, s, test_set, codec)]["metrics"]["eer"] for s in seeds)


@pytest.mark.slow
def test_df_arena_csv_has_one_eer_column_per_dataset(run, tmp_path, capsys):
    out = tmp_path / "arena.csv"
    assert main(["export", "leaderboard", str(run), "--format", "df-arena", "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # the test set named like the 2019 LA corpus gets the Arena's key; a_eval keeps its own name
    assert list(rows[0]) == ["Model", "Seeds", "a_eval", "asvspoof_2019", "Average EER (%)", "Pooled EER (%)"]
    assert len(rows) == 1 and rows[0]["Model"] == DETECTOR and rows[0]["Seeds"] == "0 1"
    cells = _cells(run)
    a, la = _eer_percent(cells, (0, 1), "a_eval"), _eer_percent(cells, (0, 1), LA19)
    assert float(rows[0]["a_eval"]) == pytest.approx(a, abs=5e-5)  # rounded to 4 decimals
    assert float(rows[0]["asvspoof_2019"]) == pytest.approx(la, abs=5e-5)
    assert float(rows[0]["Average EER (%)"]) == pytest.approx((a + la) / 2, abs=5e-5)
    assert all(len(v.partition(".")[2]) <= 4 for k, v in rows[0].items() if k not in ("Model", "Seeds"))
    assert out.read_text().endswith("\n")
    assert la > 0  # the harder corpus: a real number, not a table of zeros
    # pooled: one threshold over both test sets' trials, per seed, then the mean over seeds
    pooled = statistics.fmean(100 * _pooled(run, cells, seed, [("a_eval", "none"), (LA19, "none")])
                              for seed in (0, 1))
    assert float(rows[0]["Pooled EER (%)"]) == pytest.approx(pooled, abs=5e-5)


def _pooled(run: Path, cells, seed: int, which) -> float:
    bonafide, spoof = [], []
    for test_set, codec in which:
        scores = read_scores(run / cells[(DETECTOR, seed, test_set, codec)]["score_file"])
        keys = read_keys(run / "keys" / f"{test_set}.txt")
        by_id = dict(zip(scores.ids, scores.scores))
        bonafide += [by_id[i] for i, label in zip(keys.ids, keys.labels) if label == 1]
        spoof += [by_id[i] for i, label in zip(keys.ids, keys.labels) if label == 0]
    return compute_eer(np.array(bonafide), np.array(spoof))[0]


@pytest.mark.slow
def test_df_arena_json_per_seed_with_explicit_columns(run, tmp_path):
    out = tmp_path / "arena.json"
    assert main(["export", "leaderboard", str(run / "cells.jsonl"), "--format", "df-arena", "--out", str(out),
                 "--per-seed", "--map", f"{LA19}@g711_mulaw=in_the_wild", "a_eval=my_set", "--seed", "0", "1"]) == 0
    summary = json.loads(out.read_text())
    cells = _cells(run)
    assert list(summary) == ["Average", "Pooled"]
    assert sorted(summary["Average"]) == [f"{DETECTOR}@seed0", f"{DETECTOR}@seed1"]
    for seed in (0, 1):
        model = summary["Average"][f"{DETECTOR}@seed{seed}"]
        assert list(model) == ["in_the_wild", "my_set"]
        assert model["in_the_wild"]["EER (%)"] == pytest.approx(_eer_percent(cells, (seed,), LA19, "g711_mulaw"))
        assert model["my_set"]["EER (%)"] == pytest.approx(_eer_percent(cells, (seed,), "a_eval"))
        assert summary["Pooled"][f"{DETECTOR}@seed{seed}"]["EER (%)"] == pytest.approx(
            100 * _pooled(run, cells, seed, [(LA19, "g711_mulaw"), ("a_eval", "none")]))
    # the Python API gives the same numbers
    columns, rows = df_arena_table(run, ExportSelection(maps=(ColumnMap(LA19, "g711_mulaw"),), seeds=(1,)))
    assert columns == ["asvspoof_2019@g711_mulaw"]
    assert rows[0]["asvspoof_2019@g711_mulaw"] == pytest.approx(_eer_percent(cells, (1,), LA19, "g711_mulaw"))
    # pooled over one cell is that cell's own EER: the score file and keys align as the run aligned them
    assert rows[0]["Pooled EER (%)"] == pytest.approx(_eer_percent(cells, (1,), LA19, "g711_mulaw"), abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("fmt, layout, member", [("asvspoof5-codalab", "asvspoof5", "score.tsv"),
                                                 ("asvspoof2021-codalab", "asvspoof2021", "score.txt")])
def test_codalab_zip_holds_the_cells_score_file_in_the_challenge_form(run, tmp_path, fmt, layout, member):
    out = tmp_path / "submission.zip"
    assert main(["export", "leaderboard", str(run), "--format", fmt, "--out", str(out), "--map", f"{LA19}@g711_mulaw",
                 "--seed", "1"]) == 0
    cell = _cells(run)[(DETECTOR, 1, LA19, "g711_mulaw")]
    expected = convert_score_file(run / cell["score_file"], layout, out=tmp_path / "expected" / member).read_text()
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == [member]  # at the top level, no parent folder
        text = archive.read(member).decode()
    assert text == expected
    lines = text.splitlines()
    if layout == "asvspoof5":
        assert lines[0] == "filename\tcm-score" and all(len(line.split("\t")) == 2 for line in lines[1:])
        lines = lines[1:]
    assert len(lines) == cell["n_scored"] == cell["n_expected"]
    first = tmp_path / "again.zip"  # the same cell gives the same bytes
    export_leaderboard(run, fmt, first, ExportSelection(maps=(ColumnMap(LA19, "g711_mulaw"),), seeds=(1,)))
    assert first.read_bytes() == out.read_bytes()


def _broken_copy(run: Path, tmp_path: Path, edit) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    result = json.loads((copy / "result.json").read_text())
    edit(result)
    (copy / "result.json").write_text(json.dumps(result))
    return copy / "result.json"


def _drop(result: dict, test_set: str, codec: str, seed: int = 1) -> dict:
    cell = next(c for c in result["cells"] if (c["test_set"], c["codec"], c["seed"]) == (test_set, codec, seed))
    result["cells"].remove(cell)
    return cell


def _incomplete(result: dict) -> None:
    cell = next(c for c in result["cells"] if (c["test_set"], c["seed"], c["codec"]) == ("a_eval", 1, "none"))
    cell.update(complete=False, n_scored=9, coverage=0.75)


def _failed(result: dict) -> None:
    cell = _drop(result, "a_eval", "none")
    result["failed_cells"].append({**{k: cell[k] for k in ("detector", "seed", "test_set", "codec")},
                                   "stage": "score", "error": "DecodeError: truncated file"})


@pytest.mark.slow
@pytest.mark.parametrize("edit, says", [
    (_incomplete, "cell lfcc_gmm:tiny seed 1 a_eval@none: incomplete (9 of 12 trials scored, coverage 0.75)"),
    (_failed, "cell lfcc_gmm:tiny seed 1 a_eval@none: expected a finished cell, but it failed at score: "
              "DecodeError: truncated file"),
    (lambda r: _drop(r, "a_eval", "none"), "cell lfcc_gmm:tiny seed 1 a_eval@none: expected a finished cell, "
                                           "but it is not in the run"),
])
@pytest.mark.parametrize("fmt", ["df-arena", "asvspoof5-codalab"])
def test_a_missing_failed_or_incomplete_cell_is_refused(run, tmp_path, capsys, edit, says, fmt):
    result = _broken_copy(run, tmp_path, edit)
    out = tmp_path / ("arena.csv" if fmt == "df-arena" else "submission.zip")
    out.write_text("an earlier export\n")
    extra = [] if fmt == "df-arena" else ["--map", "a_eval", "--seed", "1"]
    assert main(["export", "leaderboard", str(result), "--format", fmt, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert f"{result}: {says}" in err and "Traceback" not in err
    assert out.read_text() == "an earlier export\n"  # nothing half-written over it


@pytest.mark.slow
def test_a_changed_score_file_and_ambiguous_zips_are_refused(run, tmp_path, capsys):
    result = _broken_copy(run, tmp_path, lambda r: None)
    cell = _cells(run)[(DETECTOR, 0, "a_eval", "none")]
    with (result.parent / cell["score_file"]).open("a") as handle:
        handle.write("extra_trial 0.5\n")
    out = tmp_path / "s.zip"
    args = ["export", "leaderboard", str(result), "--format", "asvspoof5-codalab", "--out", str(out)]
    assert main([*args, "--map", "a_eval", "--seed", "0"]) == 2
    assert "changed since the run scored it" in capsys.readouterr().err
    assert main([*args, "--seed", "0"]) == 2
    assert "one --map TEST_SET[@CODEC] (the run has: a_eval, asvspoof2019_la_eval)" in capsys.readouterr().err
    assert main([*args, "--map", "a_eval"]) == 2
    assert "pick its seed with --seed (the run has: 0, 1)" in capsys.readouterr().err
    assert main([*args, "--map", "a_eval@mp3_32k", "--seed", "0"]) == 2
    assert "codec 'mp3_32k' is not in the run; expected one of none, g711_mulaw" in capsys.readouterr().err
    assert main([*args, "--map", "a_eval", "--seed", "0", "--detector", "aasist"]) == 2
    assert f"detector 'aasist' is not in the run; expected one of {DETECTOR}" in capsys.readouterr().err
    assert main(["export", "leaderboard", str(result), "--format", "df-arena", "--out", str(tmp_path / "x.txt")]) == 2
    assert "df-arena writes .csv" in capsys.readouterr().err
    assert not out.exists()
    arena = ["export", "leaderboard", str(result), "--format", "df-arena", "--out", str(tmp_path / "a.csv")]
    assert main([*arena, "--map", "a_eval=x", f"{LA19}=x"]) == 2
    assert "column name(s) x used twice" in capsys.readouterr().err
    assert main([*arena, "--map", "a_eval=Model"]) == 2
    assert "column name(s) Model used twice (the table's own columns are Model, Seeds" in capsys.readouterr().err
    # given a run folder, a refusal names the file it read (the folder's result.json, newer than its cell log)
    assert main(["export", "leaderboard", str(run), "--format", "df-arena", "--out", str(tmp_path / "x.csv"),
                 "--map", "a_eval@mp3_32k"]) == 2
    assert f"{run / 'result.json'}: --map: codec 'mp3_32k' is not in the run" in capsys.readouterr().err


def test_column_maps_parse_and_bad_ones_say_what_was_expected():
    assert ColumnMap.parse("la21_eval") == ColumnMap("la21_eval", "none", None)
    assert ColumnMap.parse("itw@mp3_32k=in_the_wild") == ColumnMap("itw", "mp3_32k", "in_the_wild")
    for bad in ("=x", "itw@=x", "itw=", "@mp3"):
        with pytest.raises(ConfigError, match=r"expected TEST_SET\[@CODEC\]\[=COLUMN\]"):
            ColumnMap.parse(bad)
