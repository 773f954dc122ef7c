"""The metric catalog: one place that decides names, units and how values are shown."""
from __future__ import annotations

import math

import pytest

from spoofbench.errors import SpoofbenchError
from spoofbench.metrics.catalog import HEADLINE_METRICS, METRICS, format_metric, metric_info


def test_costs_are_never_percentages():
    for name in ("min_dcf", "act_dcf", "act_dcf_raw", "min_tdcf_2019", "min_tdcf_2021", "a_dcf"):
        assert metric_info(name).kind == "cost"
        assert "%" not in format_metric(name, 0.535)
    assert format_metric("min_dcf", 0.0535) == "0.0535"
    assert format_metric("act_dcf", 0.535) == "0.5350"


def test_rates_are_percentages_and_bits_are_bits():
    assert format_metric("eer", 0.0106) == "1.06%"
    assert format_metric("eer", 0.0106, unit=False) == "1.06"
    assert format_metric("t_eer", 0.25) == "25.00%"
    assert metric_info("eer").column_label == "EER (%)"
    assert metric_info("cllr").column_label == "Cllr (bits)"
    assert metric_info("min_dcf").column_label == "minDCF"
    assert metric_info("eer").shown(0.0106) == pytest.approx(1.06)


def test_mean_sd_missing_and_intervals():
    assert format_metric("eer", 0.01, sd=0.002) == "1.00% ± 0.20"
    assert format_metric("min_dcf", 0.05, sd=0.001) == "0.0500 ± 0.0010"
    assert format_metric("cllr", float("nan")) == "—"
    assert format_metric("cllr", None) == "—"
    assert metric_info("eer").format_interval(0.01, 0.02) == "[1.00%, 2.00%]"
    assert format_metric("eer_threshold", 1.23456789) == "1.23457"
    assert format_metric("n_spoof", 12.0) == "12"


def test_direction_and_unknown_names():
    assert metric_info("eer").better(0.01, 0.02)
    assert metric_info("auc").better(0.99, 0.9)
    with pytest.raises(SpoofbenchError, match="no better or worse"):
        metric_info("eer_threshold").better(1, 2)
    with pytest.raises(SpoofbenchError, match="unknown metric 'eerr'.*expected one of eer"):
        metric_info("eerr")
    assert set(HEADLINE_METRICS) <= set(METRICS)
    assert all(not math.isnan(METRICS[name].scale) for name in METRICS)


def test_compute_metrics_keys_are_all_in_the_catalog():
    import numpy as np

    from spoofbench.metrics import compute_metrics
    keys = compute_metrics(np.array([1.0, 2.0, 0.5, -1.0]), np.array([1, 1, 0, 0])).keys()
    assert set(keys) <= set(METRICS)
