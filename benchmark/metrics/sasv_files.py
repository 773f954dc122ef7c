"""SASV metrics from score files (what ``spoofbench sasv`` runs)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import SpoofbenchError
from .det import check_ties
from .readers import load_trials
from .sasv import ASVSPOOF5_SASV, ADcfCostModel, compute_a_dcf, compute_t_eer, compute_tandem_a_dcf
from .tdcf import read_asv_scores


@dataclass(frozen=True)
class SasvJob:
    """CM scores + keys and ASV scores (``source key score``, the ASVspoof 2019 layout) give the
    t-EER and tandem a-DCF; ``sasv_scores`` (same layout, one SASV score per trial) gives the a-DCF."""

    cm_scores: str | None = None
    cm_keys: str | None = None
    asv_scores: str | None = None
    sasv_scores: str | None = None
    key_format: str | None = None
    ties: str = "safe"
    model: ADcfCostModel = ASVSPOOF5_SASV


def evaluate_sasv(job: SasvJob) -> dict:
    """Run ``job``; a JSON-ready dict with ``t_eer`` (+ ``t_eer_asv_threshold``,
    ``t_eer_cm_threshold``), ``a_dcf_tandem`` (+ thresholds), ``a_dcf_asv`` (the ASV scores alone)
    when CM and ASV scores are given, ``a_dcf`` (+ ``a_dcf_threshold``) for SASV scores, and the
    inputs, ``ties`` and ``cost_model``."""
    ties = check_ties(job.ties)
    has_cm = bool(job.cm_scores or job.cm_keys)
    if has_cm and not (job.cm_scores and job.cm_keys and job.asv_scores):
        raise SpoofbenchError("t-EER and tandem a-DCF need --cm-scores, --cm-keys and --asv-scores")
    if not has_cm and not job.sasv_scores:
        raise SpoofbenchError("nothing to compute: give --cm-scores/--cm-keys/--asv-scores or --sasv-scores")
    report: dict = {"ties": ties, "cost_model": asdict(job.model)}
    if has_cm and job.cm_scores and job.cm_keys and job.asv_scores:  # all three, checked above
        trials = load_trials(job.cm_scores, job.cm_keys, job.key_format)
        asv = read_asv_scores(job.asv_scores)
        t_eer, asv_threshold, cm_threshold = compute_t_eer(trials.bonafide, trials.spoof, asv, ties)
        a_dcf, a_asv_threshold, a_cm_threshold = compute_tandem_a_dcf(trials.bonafide, trials.spoof, asv,
                                                                      job.model, ties)
        report.update(cm_scores=str(job.cm_scores), cm_keys=str(job.cm_keys), asv_scores=str(job.asv_scores),
                      t_eer=t_eer, t_eer_asv_threshold=asv_threshold, t_eer_cm_threshold=cm_threshold,
                      a_dcf_tandem=a_dcf, a_dcf_tandem_asv_threshold=a_asv_threshold,
                      a_dcf_tandem_cm_threshold=a_cm_threshold,
                      a_dcf_asv=compute_a_dcf(asv.target, asv.nontarget, asv.spoof, job.model)[0])
    if job.sasv_scores:
        sasv = read_asv_scores(job.sasv_scores)
        a_dcf, threshold = compute_a_dcf(sasv.target, sasv.nontarget, sasv.spoof, job.model)
        report.update(sasv_scores=str(job.sasv_scores), a_dcf=a_dcf, a_dcf_threshold=threshold)
    return report


__all__ = ["SasvJob", "evaluate_sasv"]
