"""Tandem detection cost (t-DCF) of a CM with a fixed ASV system: ASVspoof 2019 and 2021 forms.

The ASV operates at its own EER threshold (target vs non-target scores); its miss and false-alarm
rates and its behaviour on spoofs set the weights of the CM's miss and false-alarm rates.

- 2019 (legacy, ASVspoof 2019 evaluation plan): ``C1 Pmiss_cm + C2 Pfa_cm`` normalised by
  ``min(C1, C2)``.
- 2021 (revised, Kinnunen et al. 2020; ASVspoof 2021): ``C0 + C1 Pmiss_cm + C2 Pfa_cm`` normalised
  by ``C0 + min(C1, C2)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ScoreFileError
from .det import SortedScores, compute_eer, min_cost

FORMULATIONS = ("2019", "2021")


@dataclass(frozen=True, eq=False)
class AsvScores:
    """ASV scores of target ``(Nt,)``, non-target ``(Nn,)`` and spoof ``(Ns,)`` trials."""

    target: np.ndarray
    nontarget: np.ndarray
    spoof: np.ndarray


@dataclass(frozen=True)
class TdcfCostModel:
    """Priors and costs of the ASVspoof 2019/2021 t-DCF (defaults are the official ones)."""

    p_spoof: float = 0.05
    p_target_given_bonafide: float = 0.99
    c_miss: float = 1.0       # ASV and CM miss (the 2019 plan has one value for both)
    c_fa: float = 10.0        # ASV false alarm on a non-target
    c_fa_spoof: float = 10.0  # accepting a spoof (2021: ASV; 2019: the CM false alarm)

    @property
    def p_target(self) -> float:
        return (1 - self.p_spoof) * self.p_target_given_bonafide

    @property
    def p_nontarget(self) -> float:
        return (1 - self.p_spoof) * (1 - self.p_target_given_bonafide)


def read_asv_scores(path: str | Path) -> AsvScores:
    """Read an ASVspoof 2019 ASV score file: ``source key score`` per line.

    ``key`` is ``target``, ``nontarget`` or ``spoof`` (e.g. ``bonafide target 18.2``, ``A07 spoof -3.1``).
    """
    groups: dict[str, list[float]] = {"target": [], "nontarget": [], "spoof": []}
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ScoreFileError(f"cannot read ASV score file ({err.strerror})", path) from err
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise ScoreFileError(f"expected 3 columns 'source key score', got {len(fields)}: {line!r}",
                                 path, number)
        if fields[1] not in groups:
            raise ScoreFileError(f"unknown ASV key {fields[1]!r}; expected target, nontarget or spoof",
                                 path, number, "key")
        try:
            value = float(fields[2])
        except ValueError:
            raise ScoreFileError(f"score {fields[2]!r} is not a number", path, number, "score") from None
        if not np.isfinite(value):
            raise ScoreFileError(f"score {fields[2]!r} is not finite", path, number, "score")
        groups[fields[1]].append(value)
    for key, values in groups.items():
        if not values:
            raise ScoreFileError(f"no {key} trials; t-DCF needs target, nontarget and spoof ASV scores",
                                 path)
    return AsvScores(*(np.asarray(groups[k]) for k in ("target", "nontarget", "spoof")))


@dataclass(frozen=True)
class AsvOperatingPoint:
    """ASV error rates at its EER threshold: misses, false alarms, and spoofs it rejects/accepts."""

    threshold: float
    p_miss: float
    p_fa: float
    p_miss_spoof: float

    @property
    def p_fa_spoof(self) -> float:
        return 1.0 - self.p_miss_spoof


def asv_operating_point(asv: AsvScores) -> AsvOperatingPoint:
    """The ASV at the EER threshold of target vs non-target (a miss is ``score < threshold``)."""
    _, threshold = compute_eer(asv.target, asv.nontarget)
    return AsvOperatingPoint(
        threshold,
        p_miss=float(np.sum(asv.target < threshold) / asv.target.size),
        p_fa=float(np.sum(asv.nontarget >= threshold) / asv.nontarget.size),
        p_miss_spoof=float(np.sum(asv.spoof < threshold) / asv.spoof.size))


def compute_min_tdcf(bonafide_scores, spoof_scores, asv: AsvScores, formulation: str = "2021",
                     model: TdcfCostModel = TdcfCostModel()) -> tuple[float, float]:
    """Minimum normalised t-DCF of CM scores ``(Nb,)``, ``(Ns,)`` and its CM threshold."""
    if formulation not in FORMULATIONS:
        raise ValueError(f"unknown t-DCF formulation {formulation!r}; expected one of {FORMULATIONS}")
    point = asv_operating_point(asv)
    sorted_scores = SortedScores.from_classes(bonafide_scores, spoof_scores)
    if formulation == "2019":
        c1 = model.p_target * (model.c_miss - model.c_miss * point.p_miss) \
            - model.p_nontarget * model.c_fa * point.p_fa
        c2 = model.c_fa_spoof * model.p_spoof * (1 - point.p_miss_spoof)
        c0, default = 0.0, min(c1, c2)
    else:
        c0 = model.p_target * model.c_miss * point.p_miss + model.p_nontarget * model.c_fa * point.p_fa
        c1 = model.p_target * model.c_miss - c0
        c2 = model.p_spoof * model.c_fa_spoof * point.p_fa_spoof
        default = c0 + min(c1, c2)
    if c1 < 0 or c2 < 0 or default <= 0:
        raise ScoreFileError(f"t-DCF weights C1={c1:.4g}, C2={c2:.4g} are not positive: the ASV "
                             "scores do not describe a working ASV system")

    def cost(frr: np.ndarray, far: np.ndarray) -> np.ndarray:
        return (c0 + c1 * frr + c2 * far) if formulation == "2021" else (c1 * frr + c2 * far)

    value, threshold = min_cost(sorted_scores, cost)
    return value / default, threshold
