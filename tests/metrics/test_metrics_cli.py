"""The ``spoofbench metrics`` command: the contract other parts rely on."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spoofbench.cli import main


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    speakers = [f"S{i % 8}" for i in range(400)]
    labels = ["bonafide" if i < 100 else "spoof" for i in range(400)]
    attacks = ["-" if i < 100 else f"A{1 + i % 3}" for i in range(400)]
    scores = np.r_[rng.normal(2.5, 1, 100), rng.normal(0, 1, 300)]
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(f"{s} u{i} - {a} {lab}\n" for i, (s, a, lab) in
                            enumerate(zip(speakers, attacks, labels))))
    score_file = tmp_path / "scores.txt"
    score_file.write_text("".join(f"u{i} {float(v)!r}\n" for i, v in enumerate(scores)))
    return score_file, keys


def test_json_output(files, capsys):
    scores, keys = files
    assert main(["metrics", "--scores", str(scores), "--keys", str(keys), "--json",
                 "--bootstrap", "50", "--by", "attack"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("eer", "eer_threshold", "min_dcf", "act_dcf", "cllr", "min_cllr", "auc",
                "n_bonafide", "n_spoof", "eer_ci95"):
        assert key in report, key
    assert report["n_bonafide"] == 100 and report["n_spoof"] == 300
    assert 0 < report["eer"] < 0.5  # a fraction, not percent
    low, high = report["eer_ci95"]
    assert low <= report["eer"] <= high
    assert sorted(report["by"]["attack"]) == ["A1", "A2", "A3"]


def test_table_output_shows_percentages(files, capsys):
    scores, keys = files
    assert main(["metrics", "--scores", str(scores), "--keys", str(keys), "--by", "attack"]) == 0
    out = capsys.readouterr().out
    main(["metrics", "--scores", str(scores), "--keys", str(keys), "--json"])
    report_eer = json.loads(capsys.readouterr().out)["eer"]
    assert f"{report_eer * 100:.2f}%" in out
    assert "pooled" in out and "A2" in out


def test_det_plot_and_fixed_threshold_and_speaker_bootstrap(files, tmp_path, capsys):
    scores, keys = files
    out = tmp_path / "det.svg"
    assert main(["metrics", "--scores", str(scores), "--keys", str(keys), "--json", "--det", str(out),
                 "--threshold", "1.0", "--bootstrap", "20", "--speaker-bootstrap", "--seed", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert out.read_bytes().startswith(b"<?xml") and report["det_plot"] == str(out)
    assert report["at_threshold"]["threshold"] == 1.0 and report["bootstrap"]["unit"] == "speaker"


def test_dev_threshold_and_compare(files, tmp_path, capsys):
    scores, keys = files
    flipped = tmp_path / "worse.txt"
    flipped.write_text("".join(f"{line.split()[0]} {float(line.split()[1]) * 0.3 + i % 5}\n"
                               for i, line in enumerate(scores.read_text().splitlines())))
    assert main(["metrics", "--scores", str(scores), "--keys", str(keys), "--json",
                 "--dev-scores", str(scores), "--dev-keys", str(keys),
                 "--compare", str(flipped), "--bootstrap", "30"]) == 0
    report = json.loads(capsys.readouterr().out)
    at = report["at_threshold"]
    assert at["threshold"] == report["eer_threshold"]
    assert (at["frr"] + at["far"]) / 2 == pytest.approx(report["eer"])
    assert report["compare"]["eer"]["delta"] < 0 and 0 <= report["compare"]["eer"]["p_value"] <= 1


def test_bad_input_exits_nonzero_with_location(files, tmp_path, capsys):
    scores, keys = files
    bad = tmp_path / "bad.txt"
    lines = scores.read_text().splitlines()
    lines[7] = "u7 oops"
    bad.write_text("\n".join(lines) + "\n")
    assert main(["metrics", "--scores", str(bad), "--keys", str(keys)]) == 2
    err = capsys.readouterr().err
    assert "bad.txt:8: score:" in err and "is not a number" in err


def test_inverted_polarity_warns_and_is_not_flipped(files, tmp_path, capsys):
    scores, keys = files
    inverted = tmp_path / "inverted.txt"
    inverted.write_text("".join(f"{u} {-float(v)}\n" for u, v in
                                (line.split() for line in scores.read_text().splitlines())))
    assert main(["metrics", "--scores", str(inverted), "--keys", str(keys), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["eer"] > 0.5
    assert "worse than chance: inverted labels or scores" in captured.err and report["warnings"]


def test_help_ends_with_example(capsys):
    with pytest.raises(SystemExit):
        main(["metrics", "--help"])
    assert "example:\n  spoofbench metrics --scores" in capsys.readouterr().out


def test_unknown_column_and_missing_speakers_are_user_errors(files, tmp_path, capsys):
    scores, keys = files
    assert main(["metrics", "--scores", str(scores), "--keys", str(keys), "--by", "codec"]) == 2
    assert "key column 'codec' not found" in capsys.readouterr().err
    two_column = tmp_path / "two.txt"
    two_column.write_text("".join(f"{line.split()[1]} {line.split()[4]}\n"
                                  for line in keys.read_text().splitlines()))
    assert main(["metrics", "--scores", str(scores), "--keys", str(two_column), "--bootstrap", "5",
                 "--speaker-bootstrap"]) == 2
    assert "speaker bootstrap needs a 'speaker' column" in capsys.readouterr().err


def test_normalisation_options_are_applied_and_recorded(files, tmp_path, capsys):
    scores, keys = files
    messy = tmp_path / "messy.txt"
    lines = scores.read_text().splitlines()
    messy.write_text("".join(f"wav/{u}.wav {-float(v)} x\n" for u, v in (line.split() for line in lines[:-2]))
                     + "wav/extra_1.wav 0.5 x\n")
    assert main(["metrics", "--scores", str(scores), "--keys", str(keys), "--json"]) == 0
    clean = json.loads(capsys.readouterr().out)
    args = ["metrics", "--scores", str(messy), "--keys", str(keys), "--json", "--score-col", "2",
            "--id-map", r"([^/]+)\.wav$", "--flip"]
    assert main(args) == 2
    assert "1 of 399 scored id(s) are not in the keys" in capsys.readouterr().err
    assert main(args + ["--on-extra", "drop"]) == 2
    assert "have no score: u398, u399" in capsys.readouterr().err
    assert main(args + ["--on-missing", "drop", "--on-extra", "drop"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    norm = report["normalization"]
    assert norm["score_col"] == 2 and norm["flip"] is True and norm["id_map"] == r"([^/]+)\.wav$"
    assert norm["dropped"]["missing"] == {"count": 2, "ids": ["u398", "u399"]}
    assert norm["dropped"]["extra"] == {"count": 1, "ids": ["extra_1"]}
    assert report["n_spoof"] == clean["n_spoof"] - 2
    assert "dropped 2 missing id(s)" in captured.err
