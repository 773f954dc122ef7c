"""Plots of a run: labelled heatmaps, DET curves wide enough for OOD, fitted GMMs in the size plot."""
from __future__ import annotations

import pytest

from spoofbench.runner.plots import plot_eer_heatmaps, plot_params_vs_ood
from spoofbench.runner.results import write_tidy

from test_tables import result  # noqa: F401  (the shared fixture)


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


def test_heatmaps_have_axis_labels(tmp_path, result, monkeypatch):
    from matplotlib.figure import Figure  # the figures are seen where matplotlib saves them (public API)

    seen = []
    real_savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *args, **kw: seen.append(fig) or real_savefig(fig, *args, **kw))
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
