"""ASVspoof-grade metrics: EER, minDCF/actDCF, Cllr, t-DCF, t-EER, a-DCF, calibration, bootstrap, breakdowns,
paired comparisons over seeds with Holm's adjustment (:mod:`.paired`), DET plots, readers, and the catalog of how each metric is named and shown.

Convention: higher score = more bona fide; labels 1 = bona fide, 0 = spoof; rates are fractions.
"""
from .bootstrap import Interval, PairedTest, bootstrap_ci, paired_bootstrap
from .calibration import LinearCalibration, fit_linear_calibration
from .catalog import METRICS, MetricInfo, format_metric, metric_info
from .breakdown import breakdown, is_attack_like
from .cllr import compute_cllr, compute_min_cllr
from .dcf import ASVSPOOF5, CostModel, compute_act_dcf, compute_min_dcf
from .det import (TIES, DetCurve, SortedScores, compute_eer, cross_class_ties, det_curve, eer_from_curve,
                  min_cost)
from .paired import holm
from .plot import plot_det
from .readers import (KEY_FORMATS, LABELS, KeyFormat, KeyTable, ScoredTrials, align, load_trials,
                      read_keys, read_scores)
from .roc import ThresholdRates, auc_from_curve, rates_at_threshold
from .sasv import (A_DCF_PAPER, ASVSPOOF5_SASV, ADcfCostModel, compute_a_dcf, compute_t_eer,
                   compute_tandem_a_dcf)
from .summary import EvaluationOptions, PolarityWarning, TieWarning, compute_metrics, evaluate
from .tdcf import AsvScores, TdcfCostModel, asv_operating_point, compute_min_tdcf, read_asv_scores

__all__ = [
    "A_DCF_PAPER", "ADcfCostModel", "AsvScores", "ASVSPOOF5", "ASVSPOOF5_SASV", "CostModel", "DetCurve",
    "EvaluationOptions", "Interval", "KEY_FORMATS", "KeyFormat", "KeyTable", "LABELS", "LinearCalibration",
    "MetricInfo", "METRICS", "PairedTest", "PolarityWarning", "ScoredTrials", "SortedScores", "TdcfCostModel",
    "ThresholdRates", "TIES", "TieWarning", "align", "asv_operating_point", "auc_from_curve", "bootstrap_ci",
    "breakdown", "compute_a_dcf", "compute_act_dcf", "compute_cllr", "compute_eer", "compute_metrics",
    "compute_min_cllr", "compute_min_dcf", "compute_min_tdcf", "compute_t_eer", "compute_tandem_a_dcf",
    "cross_class_ties", "det_curve", "eer_from_curve", "evaluate", "fit_linear_calibration", "format_metric",
    "holm", "is_attack_like", "load_trials", "metric_info", "min_cost", "paired_bootstrap", "plot_det",
    "rates_at_threshold", "read_asv_scores", "read_keys", "read_scores",
]
