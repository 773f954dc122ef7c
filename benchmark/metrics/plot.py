"""DET curves on normal-deviate axes, several systems on one plot (PNG or SVG by suffix)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import norm

from ..atomic import atomic_path
from ..errors import SpoofbenchError
from .catalog import format_metric, metric_info
from .det import det_curve, eer_from_curve
from .validation import split_by_label

_TICKS = np.array([0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2,
                   0.4, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99])
_MAX_POINTS = 20000
FORMATS = (".png", ".svg")


def _thin(n: int) -> np.ndarray:
    """Indices of at most ``_MAX_POINTS`` points of an ``n``-point curve, ends kept."""
    if n <= _MAX_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, _MAX_POINTS).round().astype(np.int64))


def _tick_label(rate: float) -> str:
    return f"{metric_info('far').shown(rate):g}"


def det_limits(eers: list[float], low: float = 0.0005) -> tuple[float, float]:
    """Axis limits that show every system's EER point: from ``low`` up to the first tick at least 10
    points above the worst EER (60% for systems at or below 50% EER; up to 99% for a worse-than-chance one)."""
    need = max([0.5] + [e for e in eers if np.isfinite(e)]) + 0.1
    above = _TICKS[_TICKS >= need]
    return low, float(above[0] if above.size else _TICKS[-1])


def plot_det(systems: dict[str, tuple[np.ndarray, np.ndarray]], out_path: str | Path, *,
             title: str = "DET curve", limits: tuple[float, float] | None = None) -> Path:
    """Write the DET curves of ``{name: (scores (N,), labels (N,))}`` to ``out_path`` (.png/.svg).

    Axes are probit (normal deviate) scales of the false acceptance (x) and false rejection (y)
    rates, labelled in percent; each curve marks its EER point. ``limits`` (rates) default to
    :func:`det_limits` of the systems' EERs, so no EER point falls off the plot. Written atomically.
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in FORMATS:
        raise SpoofbenchError(f"DET plot {out_path}: unknown suffix {out_path.suffix!r}; "
                              f"expected one of {', '.join(FORMATS)}")
    if not systems:
        raise SpoofbenchError("plot_det: no systems to plot")
    curves = {}
    for name, (scores, labels) in systems.items():
        curve = det_curve(*split_by_label(scores, labels))
        curves[name] = (curve, eer_from_curve(curve)[0])
    limits = limits or det_limits([eer for _, eer in curves.values()])
    low, high = norm.ppf(limits[0]), norm.ppf(limits[1])
    figure = Figure(figsize=(5.5, 5.5))
    axes = figure.add_subplot(1, 1, 1)
    for name, (curve, eer) in curves.items():
        keep = _thin(curve.frr.size)
        x = norm.ppf(np.clip(curve.far[keep], 1e-9, 1 - 1e-9))
        y = norm.ppf(np.clip(curve.frr[keep], 1e-9, 1 - 1e-9))
        (line,) = axes.plot(x, y, drawstyle="steps-post", label=f"{name} (EER {format_metric('eer', eer)})")
        axes.plot([norm.ppf(eer)], [norm.ppf(eer)], "o", color=line.get_color(), markersize=4)
    axes.plot([low, high], [low, high], ":", color="0.6", linewidth=0.8)
    ticks = _TICKS[(_TICKS >= limits[0]) & (_TICKS <= limits[1])]
    for set_ticks, set_labels, set_limits in ((axes.set_xticks, axes.set_xticklabels, axes.set_xlim),
                                              (axes.set_yticks, axes.set_yticklabels, axes.set_ylim)):
        set_ticks(norm.ppf(ticks))
        set_labels([_tick_label(t) for t in ticks], fontsize=7)
        set_limits(low, high)
    axes.set_xlabel(f"False acceptance rate ({metric_info('far').unit})")
    axes.set_ylabel(f"False rejection rate ({metric_info('frr').unit})")
    axes.set_title(title)
    axes.grid(True, linewidth=0.4, alpha=0.6)
    axes.legend(loc="upper right", fontsize=7)
    figure.tight_layout()
    with atomic_path(out_path) as temporary:
        figure.savefig(temporary, format=suffix[1:], dpi=150)
    return out_path
