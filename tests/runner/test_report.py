"""``spoofbench report``: claims only where the paired tests and CIs support them."""
from __future__ import annotations

import numpy as np
import pytest

from spoofbench.atomic import write_json_atomic, write_text_atomic
from spoofbench.cli import main
from spoofbench.metrics import compute_metrics
from spoofbench.runner.report import ReportSettings, build_report, holm, report_markdown, write_report
from spoofbench.runner.results import SCHEMA_VERSION

pytestmark = pytest.mark.filterwarnings("ignore:scores. EER")

N_BONA, N_SPOOF = 150, 300
#: detector → (separation uncoded, separation under mp3_32k); the twin draws like "strong".
SYSTEMS = {"strong": (3.0, 2.9), "strong_twin": (3.0, 2.9), "weak": (0.6, 0.1)}


def _make_run(tmp_path, seeds=(0, 1, 2), not_evidence=None):
    run = tmp_path / "run"
    labels = np.r_[np.ones(N_BONA), np.zeros(N_SPOOF)].astype(int)
    cells = []
    for t_index, (test_set, domain, shift) in enumerate((("t_in", "in-domain", 0.0), ("t_ood", "ood", 1.0))):
        ids = [f"{test_set}_{i:04d}" for i in range(labels.size)]
        write_text_atomic(run / "keys" / f"{test_set}.txt", "".join(
            f"spk{i % 20} {u} - {'-' if y else 'A01'} {'bonafide' if y else 'spoof'}\n"
            for i, (u, y) in enumerate(zip(ids, labels))))
        for d_index, (det, separations) in enumerate(SYSTEMS.items()):
            for seed in seeds:
                rng = np.random.default_rng([t_index, d_index, seed])
                noise = rng.normal(size=labels.size)
                for codec, sep in zip(("none", "mp3_32k"), separations):
                    scores = noise + max(sep - shift, 0.0) * labels
                    rel = f"scores/{det}__seed{seed}/{test_set}__{codec}.txt"
                    write_text_atomic(run / rel, "".join(f"{u} {s:.6f}\n" for u, s in zip(ids, scores)))
                    metrics = compute_metrics(scores, labels)
                    cells.append({"detector": det, "seed": seed, "test_set": test_set, "codec": codec,
                                  "domain": domain, "n_failed": 0, "score_file": rel, "metrics": metrics})
    detectors = {d: {"parameters": p} for d, p in zip(SYSTEMS, (2_000_000, 2_100_000, 300_000_000))}
    for det, tests in (not_evidence or {}).items():
        detectors[det]["not_ood_evidence"] = tests
    result = {"schema": SCHEMA_VERSION, "run_id": "run", "config": {"name": "synthetic"}, "cells": cells,
              "failed_cells": [], "detectors": detectors,
              "test_sets": {"t_in": {"domain": "in-domain", "n_trials": labels.size},
                            "t_ood": {"domain": "ood", "reason": "other corpus", "n_trials": labels.size}}}
    write_json_atomic(run / "result.json", result)
    return run


SETTINGS = ReportSettings(resamples=300)


def test_claims_follow_the_tests(tmp_path):
    report = build_report(_make_run(tmp_path), SETTINGS)
    by_pair = {(c.test_set, c.a, c.b): c for c in report.comparisons}
    clear = by_pair[("t_in", "strong", "weak")]
    assert clear.separable and len(clear.p_values) == 3 and clear.p_adjusted < 0.05
    assert clear.sentence().startswith("strong beats weak on t_in by ")
    twin = by_pair[("t_in", "strong", "strong_twin")]
    assert not twin.separable
    assert twin.sentence().startswith("strong_twin and strong are not separable on t_in")  # lower EER first
    assert "(EER strong " in clear.sentence() and "Δ(strong − weak) 95% CI [-" in clear.sentence()
    text = report_markdown(report)
    for line in text.splitlines():  # no sentence claims more than its test supports
        if " beats " in line:
            assert "strong_twin beats strong" not in line and "strong beats strong_twin" not in line
    assert "Holm-adjusted" in text and "95% CI" in text
    assert "p = < 0.0033" in clear.sentence() and "p = 0," not in text  # never a bootstrap p of 0


def test_gap_size_and_codec_sections(tmp_path):
    text = report_markdown(build_report(_make_run(tmp_path), SETTINGS))
    assert "## In-domain → out-of-distribution gap" in text
    assert "weak: t_in" in text  # per-detector gap sentence with CIs
    assert "Smallest (`strong`, 2,000,000) vs largest (`weak`, 300,000,000)" in text
    assert "the smaller is separably better on 1 (t_ood)" in text
    assert "weak on t_in: worst codec `mp3_32k` raises the EER" in text
    assert "EER increase over uncoded audio, per test set" in text


def test_trained_on_test_data_is_not_evidence(tmp_path):
    run = _make_run(tmp_path, not_evidence={"weak": {"t_ood": "its training data holds these trials"}})
    report = build_report(run, SETTINGS)
    assert not any("weak" in (c.a, c.b) and c.test_set == "t_ood" for c in report.comparisons)
    text = report_markdown(report)
    assert "†" in text and "never counted as OOD evidence" in text


def test_single_seed_and_missing_scores(tmp_path):
    run = _make_run(tmp_path, seeds=(0,))
    for path in (run / "scores").rglob("*.txt"):
        path.unlink()
    text = report_markdown(build_report(run, SETTINGS))
    assert "no paired test is made" in text and "No pairwise comparison could be made" in text


def test_cli_writes_markdown_and_html(tmp_path, capsys):
    run = _make_run(tmp_path, seeds=(0,))
    assert main(["report", str(run), "--resamples", "200"]) == 0
    html = (run / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<caption><strong>EER (%) per test set" in html
    assert (run / "report.md").read_text().startswith("# spoofbench report: synthetic")
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    with pytest.raises(SystemExit) as refused:  # argparse refuses it, naming the option
        main(["report", str(run), "--alpha", "2"])
    assert refused.value.code == 2


def test_holm():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_write_report_to_other_folder(tmp_path):
    paths = write_report(_make_run(tmp_path, seeds=(0,)), tmp_path / "out", SETTINGS)
    assert paths["md"].parent == tmp_path / "out" and paths["html"].is_file()
