"""Tables and plots render from result.json alone."""
from __future__ import annotations

import json

import pytest

from spoofbench.cli import main
from spoofbench.errors import InputFileError, SpoofbenchError
from spoofbench.runner.plots import plot_eer_heatmaps, plot_params_vs_ood
from spoofbench.atomic import write_json_atomic
from spoofbench.runner.results import SCHEMA_VERSION, load_result, write_tidy
from spoofbench.runner.tables import (codec_robustness_table, domain_gap_table, pivot_table, render)


def _cell(detector, seed, test_set, codec, domain, eer):
    return {"detector": detector, "seed": seed, "test_set": test_set, "codec": codec, "domain": domain,
            "n_failed": 0, "metrics": {"eer": eer, "min_dcf": eer * 2, "act_dcf": eer * 3, "cllr": 0.5,
                                        "min_cllr": 0.4, "auc": 1 - eer, "n_bonafide": 10, "n_spoof": 90}}


@pytest.fixture
def result():
    cells = []
    for seed, jitter in ((0, 0.0), (1, 0.02)):
        cells += [
            _cell("small", seed, "a_eval", "none", "in-domain", 0.01 + jitter),
            _cell("small", seed, "a_eval", "mp3_32k", "in-domain", 0.05 + jitter),
            _cell("small", seed, "b_eval", "none", "ood", 0.20 + jitter),
            _cell("small", seed, "b_eval", "mp3_32k", "ood", 0.30 + jitter),
            _cell("big", seed, "a_eval", "none", "in-domain", 0.005),
            _cell("big", seed, "a_eval", "mp3_32k", "in-domain", 0.10),
            _cell("big", seed, "b_eval", "none", "ood", 0.40),
            _cell("big", seed, "b_eval", "mp3_32k", "ood", 0.45),
        ]
    return {"schema": SCHEMA_VERSION, "cells": cells,
            "detectors": {"small": {"parameters": 2_000_000}, "big": {"parameters": 300_000_000}}}


def test_pivot_mean_and_sd_over_seeds(result):
    table = pivot_table(result)
    assert table.numeric.loc["small", ("a_eval", "none")] == pytest.approx(0.02)
    assert table.frame.loc["small", ("a_eval", "none")] == "2.00% ± 1.41"
    assert table.frame.loc["big", ("b_eval", "none")] == "40.00% ± 0.00"


def test_domain_gap_and_codec_robustness(result):
    gap = domain_gap_table(result)
    assert gap.numeric.loc["big", "gap"] == pytest.approx(0.395)
    assert gap.numeric.loc["small", "ood (all codecs)"] == pytest.approx((0.21 + 0.31) / 2)
    codec = codec_robustness_table(result)
    assert codec.numeric.loc["big", "mp3_32k"] == pytest.approx((0.095 + 0.05) / 2)
    assert codec.frame.loc["big", "mp3_32k"] == "+7.25"


@pytest.mark.parametrize("fmt,needle", [("md", "| small"), ("csv", "small,"), ("latex", "\\begin{tabular}"),
                                        ("html", "<table")])
def test_render_formats(result, fmt, needle):
    assert needle in render(pivot_table(result), fmt)


def test_bad_metric_and_pivot(result):
    with pytest.raises(SpoofbenchError, match="unknown metric 'eerr'"):
        pivot_table(result, "eerr")
    with pytest.raises(SpoofbenchError, match="cannot pivot on 'codex'"):
        pivot_table(result, "eer", ("detector",), ("codex",))


def test_table_cli_from_file(tmp_path, result, capsys):
    path = tmp_path / "result.json"
    write_json_atomic(path, result)
    assert main(["table", str(path), "--format", "csv", "--view", "pivot"]) == 0
    out = capsys.readouterr().out
    assert "small" in out and "2.00% ± 1.41" in out
    assert main(["table", str(tmp_path), "--pivot", "nonsense"]) == 2


def test_load_result_errors(tmp_path):
    bad = tmp_path / "result.json"
    bad.write_text("{not json")
    with pytest.raises(InputFileError, match="not valid JSON"):
        load_result(bad)
    bad.write_text(json.dumps({"schema": 99, "cells": []}))
    with pytest.raises(InputFileError, match="schema 99"):
        load_result(bad)
    with pytest.raises(InputFileError, match="no such result file"):
        load_result(tmp_path / "missing.json")


def test_plots_and_tidy(tmp_path, result):
    heatmaps = plot_eer_heatmaps(result, tmp_path, formats=("png", "svg"))
    assert sorted(p.name for p in heatmaps) == ["eer_heatmap__a_eval.png", "eer_heatmap__a_eval.svg",
                                                "eer_heatmap__b_eval.png", "eer_heatmap__b_eval.svg"]
    assert all(p.stat().st_size > 1000 for p in heatmaps)
    scatter = plot_params_vs_ood(result, tmp_path)
    assert scatter[0].read_bytes()[:4] == b"\x89PNG"
    (csv_path, *_) = write_tidy(result, tmp_path)
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 1 + len(result["cells"])
