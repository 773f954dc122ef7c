"""One line of metrics for a score file whose manifest carries labels (what ``spoofbench score`` prints)."""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import SpoofbenchError
from .catalog import format_metric

log = logging.getLogger(__name__)


def labelled_summary(scores: str | Path, manifest: str | Path) -> str | None:
    """``NAME: EER … · minDCF … · Cllr … (N bona fide + M spoof scored trials)`` of ``scores`` against the
    labels in ``manifest``; None when the manifest has no usable labels (both classes are needed).

    Trials without a score (an incomplete file) are left out of the numbers, and the line says so. A
    worse-than-chance EER adds the polarity warning's words."""
    from .readers import ScoreNormalization
    from .summary import EvaluationOptions, evaluate

    options = EvaluationOptions(normalization=ScoreNormalization(on_missing="drop"))
    try:
        report = evaluate(scores, manifest, options)
    except SpoofbenchError as err:  # no labels, one class only: nothing to measure
        log.debug(f"{scores}: no metrics ({err})")
        return None
    missing = report.get("normalization", {}).get("dropped", {}).get("missing", {}).get("count", 0)
    parts = [f"EER {format_metric('eer', report['eer'])}", f"minDCF {format_metric('min_dcf', report['min_dcf'])}",
             f"Cllr {format_metric('cllr', report['cllr'])}"]
    counts = f"{report['n_bonafide']} bona fide + {report['n_spoof']} spoof scored trials"
    if missing:
        counts += f"; {missing} unscored trial(s) left out"
    line = f"{Path(scores).name}: {' · '.join(parts)} ({counts})"
    if report["eer"] > 0.5:
        line += ": worse than chance (inverted labels or scores, or a detector that does not work)"
    return line
