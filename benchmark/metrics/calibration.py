"""Score calibration: an affine map from detector scores to log-likelihood ratios.

Cllr and actDCF read scores as natural-log LLRs (bona fide vs spoof); detectors emit logits or
other uncalibrated scores. :func:`fit_linear_calibration` fits ``llr = scale * score + offset`` on
a development set by *prior-weighted linear logistic regression* (the BOSARIS toolkit's
``train_linear_calibration`` convention, used for ASVspoof): with the bona fide prior ``P`` and
``logit P = log(P / (1 - P))`` it minimises

    P / N_bona * sum_bona softplus(-(llr_i + logit P)) + (1 - P) / N_spoof * sum_spoof softplus(llr_j + logit P)

where ``softplus(x) = log(1 + e^x)``. With ``P = 0.5`` this objective is ``ln 2`` times the Cllr of
the calibrated dev scores, so the fit minimises the dev Cllr; ``P = CostModel.effective_prior``
weights the fit towards the ASVspoof 5 actDCF operating point. The map is increasing whenever the
scores separate the classes at all, so EER and minDCF are unchanged by it.

Dev scores that separate the classes perfectly (saturated detectors) have no finite optimum: the
scale grows until the optimiser stops, and one eval error then costs thousands of bits. By default
(``smoothing=True``) the targets are Platt's (1999) pseudo-count targets, ``(N_bona + 1) / (N_bona + 2)``
for bona fide and ``1 / (N_spoof + 2)`` for spoof instead of 1 and 0 (each term above becomes
``t softplus(-x) + (1 - t) softplus(x)``): the map stays finite and no more confident than the dev set
supports; on thousands of trials the change is negligible. ``smoothing=False`` is the plain objective.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import SpoofbenchError
from .validation import split_by_label

#: Value of ``kind`` in a calibration JSON file.
KIND = "linear_logistic"
#: Default bona fide prior of the fit: 0.5 makes the objective the dev-set Cllr.
DEFAULT_PRIOR = 0.5


@dataclass(frozen=True)
class LinearCalibration:
    """``llr = scale * score + offset``, fitted at bona fide ``prior`` on ``n_bonafide``/``n_spoof`` trials.

    ``dev_cllr`` is the Cllr (bits) of the calibrated dev scores; ``source`` says what it was fitted on;
    ``smoothing`` whether Platt's pseudo-count targets were used.
    """

    scale: float
    offset: float
    prior: float = DEFAULT_PRIOR
    n_bonafide: int = 0
    n_spoof: int = 0
    dev_cllr: float | None = None
    source: str = ""
    smoothing: bool = True

    def apply(self, scores) -> np.ndarray:
        """Calibrated LLRs ``(N,)`` float64 of ``scores (N,)``."""
        return self.scale * np.asarray(scores, dtype=np.float64) + self.offset

    def to_dict(self) -> dict:
        """A JSON-ready dict (with ``kind``), the inverse of :meth:`from_dict`."""
        return {"kind": KIND, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict, where: str = "calibration") -> "LinearCalibration":
        """Read :meth:`to_dict`'s output; a :class:`SpoofbenchError` naming ``where`` on bad input."""
        if not isinstance(data, dict):
            raise SpoofbenchError(f"{where}: expected a JSON object, got {type(data).__name__}")
        if data.get("kind", KIND) != KIND:
            raise SpoofbenchError(f"{where}: kind {data.get('kind')!r} is not {KIND!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known - {"kind"})
        if unknown:
            raise SpoofbenchError(f"{where}: unknown field(s) {', '.join(unknown)}; "
                                  f"expected {', '.join(sorted(known))}")
        for name in ("scale", "offset"):
            value = data.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value):
                raise SpoofbenchError(f"{where}: field {name!r} must be a finite number, got {value!r}")
        prior = data.get("prior", DEFAULT_PRIOR)
        if not isinstance(prior, (int, float)) or not 0.0 < prior < 1.0:
            raise SpoofbenchError(f"{where}: field 'prior' must be in (0, 1), got {prior!r}")
        if not isinstance(data.get("smoothing", True), bool):
            raise SpoofbenchError(f"{where}: field 'smoothing' must be true or false, got {data['smoothing']!r}")
        return cls(**{name: data[name] for name in known if name in data})

    def save(self, path: str | Path) -> Path:
        """Write the calibration as JSON, atomically."""
        from ..atomic import write_json_atomic
        write_json_atomic(Path(path), self.to_dict())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "LinearCalibration":
        """Read a calibration JSON file written by :meth:`save`."""
        import json
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except OSError as err:
            raise SpoofbenchError(f"{path}: cannot read calibration ({err.strerror})") from err
        except json.JSONDecodeError as err:
            raise SpoofbenchError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from err
        return cls.from_dict(data, str(path))


def _objective(params: np.ndarray, bona: np.ndarray, spoof: np.ndarray, prior: float,
               targets: tuple[float, float] = (1.0, 0.0)) -> tuple[float, np.ndarray]:
    """Prior-weighted logistic loss (nats) and its gradient in ``(scale, offset)``.

    ``targets``: the probability of "bona fide" aimed at for bona fide and spoof trials (1 and 0, or
    Platt's pseudo-count targets).
    """
    scale, offset = params
    shift = np.log(prior) - np.log1p(-prior)
    loss, gradient = 0.0, np.zeros(2)
    for scores, weight, target in ((bona, prior, targets[0]), (spoof, 1 - prior, targets[1])):
        logit = scale * scores + offset + shift
        loss += weight * np.mean(target * np.logaddexp(0.0, -logit) + (1 - target) * np.logaddexp(0.0, logit))
        # d/dx [t softplus(-x) + (1 - t) softplus(x)] = sigmoid(x) - t
        residual = weight * (_sigmoid(logit) - target) / scores.size
        gradient += (residual @ scores, residual.sum())
    return float(loss), gradient


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))


def fit_linear_calibration(scores, labels, *, prior: float = DEFAULT_PRIOR, smoothing: bool = True,
                           source: str = "") -> LinearCalibration:
    """Fit ``llr = scale * score + offset`` on dev ``scores (N,)``, ``labels (N,)`` (1 bona fide, 0 spoof).

    Minimises the prior-weighted logistic loss of the module docstring with L-BFGS (scipy) on
    standardised scores, then maps the solution back to the raw score axis. ``smoothing`` uses
    Platt's pseudo-count targets (see the module docstring), which keeps the map finite on perfectly
    separated dev scores.
    """
    from scipy.optimize import minimize

    from .cllr import compute_cllr

    if not 0.0 < prior < 1.0:
        raise SpoofbenchError(f"calibration prior must be in (0, 1), got {prior!r}")
    bona, spoof = split_by_label(scores, labels)
    centre = float(np.mean(np.concatenate([bona, spoof])))
    spread = float(np.std(np.concatenate([bona, spoof]))) or 1.0
    bona_z, spoof_z = (bona - centre) / spread, (spoof - centre) / spread
    targets = ((bona.size + 1) / (bona.size + 2), 1 / (spoof.size + 2)) if smoothing else (1.0, 0.0)
    result = minimize(_objective, np.array([1.0, 0.0]), args=(bona_z, spoof_z, prior, targets), jac=True,
                      method="L-BFGS-B", options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-14})
    scale_z, offset_z = (float(v) for v in result.x)
    scale = scale_z / spread
    offset = offset_z - scale_z * centre / spread
    fitted = LinearCalibration(scale, offset, float(prior), int(bona.size), int(spoof.size),
                               source=source, smoothing=smoothing)
    dev_cllr = compute_cllr(fitted.apply(bona), fitted.apply(spoof))
    return replace(fitted, dev_cllr=dev_cllr)


__all__ = ["DEFAULT_PRIOR", "KIND", "LinearCalibration", "fit_linear_calibration"]
