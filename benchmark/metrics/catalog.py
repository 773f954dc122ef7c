"""One table of metric metadata that every table, plot, result and CLI reads.

A metric is stored in results as a plain number in its natural unit: rates are *fractions*
(0.0106), normalised costs are plain numbers (0.0535), Cllr is in bits. How it is *shown* is
decided here, once: rates as percentages (``1.06%``), costs and bits as plain numbers with four
decimals, never as percentages (a normalised DCF of 0.535 is not "53.50%").

Adding a metric means adding one :class:`MetricInfo` row to :data:`METRICS`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..errors import SpoofbenchError

MetricKind = Literal["percent", "cost", "bits", "fraction", "score", "count"]
KINDS: tuple[str, ...] = ("percent", "cost", "bits", "fraction", "score", "count")
MISSING = "—"


@dataclass(frozen=True)
class MetricInfo:
    """How one metric is named, compared and shown.

    ``name`` is the key in ``compute_metrics`` / ``result.json``; ``kind`` is ``percent`` (a rate
    stored as a fraction, shown ×100 with ``%``), ``cost`` (normalised detection cost, shown as is),
    ``bits`` (Cllr), ``fraction`` (AUC), ``score`` (a threshold on the score axis) or ``count``;
    ``lower_is_better`` is ``None`` where better/worse does not apply (thresholds, counts).
    """

    name: str
    label: str
    kind: MetricKind
    lower_is_better: bool | None
    decimals: int = 4
    description: str = ""

    @property
    def unit(self) -> str:
        """Unit of the shown value: ``%``, ``bits`` or ``""``."""
        return {"percent": "%", "bits": "bits"}.get(self.kind, "")

    @property
    def scale(self) -> float:
        """Factor from the stored value to the shown one (100 for percentages)."""
        return 100.0 if self.kind == "percent" else 1.0

    @property
    def column_label(self) -> str:
        """Header for a table column: ``EER (%)``, ``Cllr (bits)``, ``minDCF``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def shown(self, value: float) -> float:
        """The stored value in display units (EER 0.0106 -> 1.06), for plot axes."""
        return value * self.scale

    def format(self, value: float | None, *, sd: float | None = None, unit: bool = True) -> str:
        """``value`` as text (``1.06%``, ``0.0535``); ``sd`` adds `` ± 0.12``; None/NaN -> ``—``."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        if self.kind == "count":
            text = f"{int(value)}"
        elif self.kind == "score":
            text = f"{value:.6g}"
        else:
            text = f"{value * self.scale:.{self.decimals}f}"
            if unit and self.kind == "percent":
                text += "%"
        if sd is not None and not math.isnan(sd):
            text += f" ± {sd * self.scale:.{self.decimals}f}"
        return text

    def format_interval(self, low: float, high: float) -> str:
        """A confidence interval as ``[1.02%, 1.10%]``."""
        return f"[{self.format(low)}, {self.format(high)}]"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b`` (SpoofbenchError for unordered metrics)."""
        if self.lower_is_better is None:
            raise SpoofbenchError(f"metric {self.name!r} has no better or worse")
        return a < b if self.lower_is_better else a > b


def _rows(*infos: MetricInfo) -> dict[str, MetricInfo]:
    return {info.name: info for info in infos}


#: Every metric spoofbench computes, in the order tables list them.
METRICS: dict[str, MetricInfo] = _rows(
    MetricInfo("eer", "EER", "percent", True, 2, "equal error rate (bona fide vs spoof)"),
    MetricInfo("min_dcf", "minDCF", "cost", True, 4,
               "minimum normalised DCF, ASVspoof 5 cost model (normalised cost, not a percentage)"),
    MetricInfo("act_dcf", "actDCF", "cost", True, 4,
               "actual normalised DCF at the Bayes threshold, scores read as LLRs (calibrated when "
               "the run calibrates)"),
    MetricInfo("act_dcf_raw", "actDCF (raw)", "cost", True, 4,
               "actual normalised DCF of the uncalibrated detector outputs"),
    MetricInfo("cllr", "Cllr", "bits", True, 4,
               "log-likelihood-ratio cost, scores read as natural-log LLRs (calibrated when the run "
               "calibrates)"),
    MetricInfo("cllr_raw", "Cllr (raw)", "bits", True, 4, "Cllr of the uncalibrated detector outputs"),
    MetricInfo("min_cllr", "minCllr", "bits", True, 4, "Cllr after the optimal monotone calibration"),
    MetricInfo("auc", "AUC", "fraction", False, 4, "area under the ROC curve"),
    MetricInfo("min_tdcf_2019", "min t-DCF (2019)", "cost", True, 4,
               "minimum normalised tandem DCF, ASVspoof 2019 (legacy) formulation"),
    MetricInfo("min_tdcf_2021", "min t-DCF (2021)", "cost", True, 4,
               "minimum normalised tandem DCF, ASVspoof 2021 (revised) formulation"),
    MetricInfo("t_eer", "t-EER", "percent", True, 2,
               "concurrent tandem EER of a CM and an ASV system (Kinnunen et al., 2023)"),
    MetricInfo("a_dcf", "a-DCF", "cost", True, 4,
               "minimum normalised architecture-agnostic DCF of SASV scores (ASVspoof 5 track 2)"),
    MetricInfo("a_dcf_tandem", "tandem a-DCF", "cost", True, 4,
               "minimum a-DCF of the CM gating the ASV over both thresholds (independent errors)"),
    MetricInfo("a_dcf_asv", "a-DCF (ASV alone)", "cost", True, 4,
               "minimum a-DCF of the ASV scores used alone as SASV scores (no CM)"),
    MetricInfo("frr", "FRR", "percent", True, 2, "bona fide rejected at a fixed threshold"),
    MetricInfo("far", "FAR", "percent", True, 2, "spoofs accepted at a fixed threshold"),
    MetricInfo("eer_threshold", "EER threshold", "score", None, 6, "score threshold at the EER"),
    MetricInfo("min_dcf_threshold", "minDCF threshold", "score", None, 6, "threshold at minDCF"),
    MetricInfo("act_dcf_threshold", "actDCF threshold", "score", None, 6,
               "Bayes threshold on LLRs, -log(beta)"),
    MetricInfo("n_bonafide", "bona fide trials", "count", None, 0, "number of bona fide trials"),
    MetricInfo("n_spoof", "spoof trials", "count", None, 0, "number of spoof trials"),
)

#: Metrics that rank detectors (a result's headline columns), in display order.
HEADLINE_METRICS: tuple[str, ...] = ("eer", "min_dcf", "act_dcf", "cllr", "min_cllr", "auc")


def metric_info(name: str) -> MetricInfo:
    """The :class:`MetricInfo` of ``name``; a :class:`SpoofbenchError` listing the known ones otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise SpoofbenchError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}") from None


def format_metric(name: str, value: float | None, *, sd: float | None = None, unit: bool = True) -> str:
    """``value`` of metric ``name`` as shown everywhere: ``format_metric("eer", 0.0106) == "1.06%"``,
    ``format_metric("min_dcf", 0.0535) == "0.0535"``; ``sd`` adds `` ± …``, None/NaN gives ``—``."""
    return metric_info(name).format(value, sd=sd, unit=unit)


__all__ = ["HEADLINE_METRICS", "KINDS", "METRICS", "MISSING", "MetricInfo", "MetricKind",
           "format_metric", "metric_info"]
