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
    assert table.frame.loc["small", ("a_eval", "none")] == "2.00 ± 1.41"
    assert table.frame.loc["big", ("b_eval", "none")] == "40.00 ± 0.00"
    assert "%" in table.title and table.unit == "%"


def test_domain_gap_and_codec_robustness(result):
    gap = domain_gap_table(result)
    assert gap.numeric.loc["big", "gap"] == pytest.approx(0.395)
    assert gap.numeric.loc["small", "ood (all codecs)"] == pytest.approx((0.21 + 0.31) / 2)
    codec = codec_robustness_table(result)
    # per test set: the in-domain and the OOD increase are never averaged together
    assert codec.numeric.loc["big", ("a_eval", "mp3_32k")] == pytest.approx(0.095)
    assert codec.numeric.loc["big", ("b_eval", "mp3_32k")] == pytest.approx(0.05)
    assert codec.frame.loc["big", ("a_eval", "mp3_32k")] == "+9.50 ± 0.00"
    assert "per test set" in codec.title and "percentage points" in codec.title


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
    assert "small,a_eval,none,2,1.414213562,2" in out
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


# --------------------------------------------------------------------------- tables a reader trusts

def test_html_has_title_caption_and_unit(result):
    text = render(pivot_table(result, "eer"), "html")
    assert text.startswith("<figure") and "<caption><strong>EER (%) by detector" in text
    assert "Unit: %." in text and "Mean ± sd over 2 training seeds" in text
    assert "<thead>" in text and "<th scope=\"row\">small</th>" in text
    dcf = render(pivot_table(result, "min_dcf"), "html")
    assert "normalised cost (not a percentage)" in dcf and "%" not in dcf.split("<tbody>")[1]


def test_latex_is_booktabs_with_escaped_underscores(result):
    result = {**result, "cells": [{**c, "detector": c["detector"] + "_net"} for c in result["cells"]]}
    text = render(pivot_table(result), "latex")
    assert "\\toprule" in text and "\\midrule" in text and "\\bottomrule" in text
    assert "\\hline" not in text
    body = text.split("\\begin{tabular}")[1]
    # every underscore in labels, column names and cells is escaped
    assert "_" not in body.replace("\\_", "")
    assert "small\\_net" in body and "test\\_set" in body and "mp3\\_32k" in body
    assert "$\\pm$" in body and "\\caption{EER (\\%)" in text


def test_csv_is_numeric_long_form(result):
    import io

    import pandas as pd

    for table in (pivot_table(result), domain_gap_table(result), codec_robustness_table(result),
                  pivot_table(result, "min_dcf")):
        text = render(table, "csv")
        assert "%" not in text and "±" not in text
        frame = pd.read_csv(io.StringIO(text))
        value_column = [c for c in frame.columns if c.startswith(table.metric)][0]
        assert pd.api.types.is_float_dtype(frame[value_column]) or pd.api.types.is_integer_dtype(frame[value_column])
    pivot = pd.read_csv(io.StringIO(render(pivot_table(result), "csv")))
    row = pivot[(pivot.detector == "small") & (pivot.test_set == "a_eval") & (pivot.codec == "none")].iloc[0]
    assert row.eer_percent == pytest.approx(2.0) and row.n_seeds == 2
    assert row.sd_percent == pytest.approx(1.41421356, rel=1e-6)


def test_one_rounding_rule_from_the_catalog(result):
    from spoofbench.metrics.catalog import format_metric

    eer = pivot_table(result, "eer")
    assert eer.frame.loc["big", ("a_eval", "none")].split(" ±")[0] == format_metric("eer", 0.005, unit=False)
    dcf = pivot_table(result, "min_dcf")
    cell = dcf.frame.loc["big", ("a_eval", "none")].split(" ±")[0]
    assert cell == format_metric("min_dcf", 0.01) == "0.0100"  # a cost, never "1.00%"
    gap = domain_gap_table(result, "min_dcf")
    assert gap.frame.loc["big", "in-domain"] == "0.0100" and "not a percentage" in gap.unit


def test_markdown_keeps_strings_and_caption(result):
    text = render(domain_gap_table(result), "md")
    assert "*EER in %; the gap (ood − in-domain) is in percentage points." in text
    assert "| 0.50 " in text and "+39.50" in text  # not re-parsed into bare numbers


def test_write_tables_all_formats(tmp_path, result):
    from spoofbench.runner.tables import write_tables

    paths = write_tables(result, tmp_path)
    assert {p.suffix for p in paths} == {".md", ".csv", ".tex", ".html"}
    assert any("increase_over_uncoded" in p.name for p in paths)


# --------------------------------------------------------------------------- plots

def test_heatmaps_have_axis_labels(tmp_path, result, monkeypatch):
    from spoofbench.runner import plots

    seen = []
    real_save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, out, fmts: seen.append(fig) or real_save(fig, out, fmts))
    plot_eer_heatmaps(result, tmp_path)
    ax = seen[0].axes[0]
    assert ax.get_xlabel() == "codec condition" and ax.get_ylabel() == "detector"
    assert seen[0].axes[1].get_ylabel() == "EER (%)"  # the colour bar
    texts = {t.get_text() for t in ax.texts}
    assert "0.50" in texts  # big, a_eval, none: the catalog's two decimals


def test_det_axes_hold_ood_curves_and_legend_is_off_the_curves():
    import numpy as np

    from spoofbench.runner.plots import det_figure, det_limits, small_class_note

    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(40), np.zeros(80)].astype(int)
    ood = rng.normal(size=120) + 0.1 * labels  # EER near 50 %: the old 60 % limit clipped this
    good = rng.normal(size=120) + 3.0 * labels
    figure = det_figure({"ood_sys": (ood, labels), "good": (good, labels)}, title="t")
    axes = figure.axes[0]
    from scipy.stats import norm

    assert axes.get_xlim()[1] == pytest.approx(norm.ppf(0.99))
    assert det_limits(40, 80)[1] >= 0.95
    figure.canvas.draw()
    legend_box = axes.get_legend().get_window_extent()
    axes_box = axes.get_window_extent()
    assert legend_box.x0 >= axes_box.x1  # beside the axes, never over a curve
    notes = [t.get_text() for t in figure.texts]
    assert notes and "bona fide: 40 trials" in notes[0]
    assert small_class_note(5000, 5000) is None


def test_params_plot_counts_fitted_gmm(tmp_path, result):
    from spoofbench.runner.plots import parameter_counts

    cells = result["cells"] + [{**c, "detector": "lfcc_gmm"} for c in result["cells"] if c["detector"] == "big"]
    result = {**result, "cells": cells,
              "detectors": {**result["detectors"], "lfcc_gmm": {"parameters": 0}},
              "config": {"detectors": [{"name": "lfcc_gmm", "overrides": {"gmm_components": 64}}]}}
    counts = parameter_counts(result)
    # two diagonal GMMs over 60-dim LFCC+deltas: weights + means + precisions
    assert counts["lfcc_gmm"] == 2 * (64 + 2 * 64 * 60)
    assert counts["small"] == 2_000_000
    assert plot_params_vs_ood(result, tmp_path)[0].stat().st_size > 1000
