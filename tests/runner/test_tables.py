"""Tables and plots render from result.json alone."""
from __future__ import annotations

import json

import pytest

from spoofbench.cli import main
from spoofbench.errors import InputFileError, SpoofbenchError
from spoofbench.atomic import write_json_atomic
from spoofbench.runner.results import SCHEMA_VERSION, load_result
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


def test_gap_caption_when_detectors_label_a_test_set_differently(result):
    # a detector trained on b's corpus sees b_eval in-domain: the caption must not pool the labels
    cells = result["cells"] + [{**c, "detector": "other", "domain": "in-domain" if c["test_set"] == "b_eval" else "ood"}
                               for c in result["cells"] if c["detector"] == "small"]
    gap = domain_gap_table({**result, "cells": cells})
    assert "each detector's own labels" in gap.caption
    assert gap.numeric.loc["other", "in-domain"] == pytest.approx(0.21)
    assert "In-domain: mean over a_eval; OOD: mean over b_eval" in domain_gap_table(result).caption


def test_single_seed_pivot_shows_the_cells_bootstrap_ci():
    from spoofbench.runner.tables import pivot_table, render

    result = {"schema": 1, "test_sets": {"t": {}}, "detectors": {}, "cells": [
        {"detector": "d", "seed": 0, "test_set": "t", "codec": "none", "domain": "ood",
         "metrics": {"eer": 0.1, "eer_ci95": [0.05, 0.15]}},
        {"detector": "d", "seed": 0, "test_set": "t", "codec": "mp3", "domain": "ood", "metrics": {"eer": 0.2}}]}
    text = render(pivot_table(result), "md")
    assert "10.00 [5.00, 15.00]" in text and "| 20.00 " in text and "95% bootstrap CI" in text
