"""Plots of a benchmark run: metric heatmaps, DET curves and the parameters-vs-EER scatter.

Every number on a plot is formatted by :mod:`spoofbench.metrics.catalog`; every axis is labelled.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..metrics.catalog import metric_info
from .result_model import ResultLike, RunResult, as_result
from .results import tidy_cells

#: DET axes: probit ticks; the upper end reaches 99% so that OOD curves (EER 40–60%) are whole.
DET_TICKS = np.array([0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2,
                      0.4, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99])
DET_UPPER = 0.99


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, formats: tuple[str, ...]) -> list[Path]:
    paths = []
    for fmt in formats:
        path = out.with_suffix(f".{fmt}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight", format=fmt)
        paths.append(path)
    return paths


def plot_eer_heatmaps(result: ResultLike, out_dir: str | os.PathLike, formats: tuple[str, ...] = ("png",),
                      metric: str = "eer") -> list[Path]:
    """One detector × codec heatmap of ``metric`` (mean over seeds) per test set, axes labelled."""
    plt = _pyplot()
    info = metric_info(metric)
    cells = tidy_cells(result)
    out_dir = Path(out_dir)
    written = []
    codec_order = list(dict.fromkeys(cells.codec))
    for test_set, group in cells.groupby("test_set", sort=False):
        grid = group.pivot_table(index="detector", columns="codec", values=metric, sort=False)
        grid = grid.reindex(columns=[c for c in codec_order if c in grid.columns])
        shown = grid.to_numpy(dtype=float) * info.scale
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * grid.shape[1] + 3), 0.55 * grid.shape[0] + 2.4))
        top = max(50.0 * info.scale / 100.0, float(np.nanmax(shown)) if np.isfinite(shown).any() else 1.0)
        image = ax.imshow(shown, cmap="viridis_r" if info.lower_is_better else "viridis", vmin=0, vmax=top,
                          aspect="auto")
        ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=60, ha="right")
        ax.set_yticks(range(grid.shape[0]), grid.index)
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            if value == value:
                ax.text(j, i, info.format(value, unit=False), ha="center", va="center", fontsize=6,
                        color="white" if value * info.scale > top / 2 else "black")
        ax.set_xlabel("codec condition")
        ax.set_ylabel("detector")
        domain = group.domain.iloc[0]
        ax.set_title(f"{info.column_label} on {test_set} ({domain}), mean over seeds")
        fig.colorbar(image, ax=ax, label=info.column_label)
        written += _save(fig, out_dir / f"{metric}_heatmap__{test_set}", formats)
        plt.close(fig)
    return written


# ----------------------------------------------------------------------------- parameters

def _spec_of(result: RunResult, label: str) -> dict | None:
    for spec in result.config.get("detectors", []) or []:
        name, preset = spec.get("name"), spec.get("preset")
        display = spec.get("label") or (name if not preset else f"{name}:{preset}")
        if display == label:
            return spec
    return None


def fitted_parameter_count(spec: dict) -> int:
    """Fitted statistics of a closed-form detector (``training_mode == "fit"``, e.g. lfcc_gmm): the
    detector's own floating-point buffers (mixture weights, means, precisions); 0 for others."""
    import torch

    from ..models import build_detector

    detector = build_detector(spec["name"], spec.get("preset"), **dict(spec.get("overrides") or {}))
    if getattr(detector, "training_mode", "gradient") != "fit":
        return 0
    return int(sum(b.numel() for b in detector.buffers(recurse=False) if torch.is_floating_point(b)))


def parameter_counts(result: ResultLike) -> dict[str, int]:
    """Detector label → parameter count, with fitted models counted by their fitted statistics."""
    result = as_result(result)
    counts = {}
    for label, info in result.detectors.items():
        n = int(info.parameters or 0)
        if n <= 0:
            spec = _spec_of(result, label)
            if spec is not None:
                try:
                    n = fitted_parameter_count(spec)
                except Exception:  # an unbuildable detector stays out of the plot, not the run
                    n = 0
        if n > 0:
            counts[label] = n
    return counts


def plot_params_vs_ood(result: ResultLike, out_dir: str | os.PathLike,
                       formats: tuple[str, ...] = ("png",)) -> list[Path]:
    """Parameter count (log x) against mean EER in-domain and out-of-distribution (all codecs)."""
    result = as_result(result)
    plt = _pyplot()
    info = metric_info("eer")
    counts = parameter_counts(result)
    cells = tidy_cells(result)
    cells = cells[cells.detector.isin(list(counts))]
    if cells.empty:
        return []
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for domain, marker in (("in-domain", "o"), ("ood", "s")):
        sub = cells[cells.domain == domain].groupby("detector", sort=False)["eer"].mean()
        if sub.empty:
            continue
        x = [counts[d] for d in sub.index]
        ax.scatter(x, sub.to_numpy() * info.scale, marker=marker, s=60, label=domain)
        for name, xv, yv in zip(sub.index, x, sub.to_numpy()):
            fitted = " (fitted)" if not result.detector(name).parameters else ""
            ax.annotate(f"{name}{fitted}", (xv, yv * info.scale), textcoords="offset points",
                        xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (trainable weights, or fitted statistics for GMMs)")
    ax.set_ylabel(f"mean {info.column_label} over test sets and codecs")
    ax.set_title("Does size buy robustness? parameters vs EER")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="test domain", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    written = _save(fig, Path(out_dir) / "params_vs_eer", formats)
    plt.close(fig)
    return written


# ----------------------------------------------------------------------------- DET

def det_limits(n_bonafide: int, n_spoof: int) -> tuple[float, float]:
    """Axis range of a DET plot: from the finest rate the smaller class can resolve to 99%."""
    finest = 1.0 / max(1, min(n_bonafide, n_spoof))
    below = DET_TICKS[DET_TICKS <= finest / 2]
    return (float(below[-1]) if below.size else float(DET_TICKS[0])), DET_UPPER


def small_class_note(n_bonafide: int, n_spoof: int, floor: float = 0.01) -> str | None:
    """A warning when a class has too few trials to measure rates below ``floor`` (1%)."""
    weak = [(name, n) for name, n in (("bona fide", n_bonafide), ("spoof", n_spoof)) if n and 1.0 / n > floor / 2]
    if not weak:
        return None
    parts = [f"{name}: {n} trials (one error = {metric_info('eer').format(1.0 / n)})" for name, n in weak]
    return "Too few trials for the low-error region; " + "; ".join(parts) + ". The curve is a staircase there."


def det_figure(systems: dict[str, tuple[np.ndarray, np.ndarray]], *, title: str):
    """A matplotlib ``Figure`` of the DET curves of ``{name: (scores (N,), labels (N,))}`` on probit
    axes wide enough for OOD curves, the legend beside the axes (never over a curve) and a note when a
    class is small."""
    from matplotlib.figure import Figure
    from scipy.stats import norm

    from ..metrics.det import det_curve, eer_from_curve

    info = metric_info("eer")
    labels_any = next(iter(systems.values()))[1]
    n_bona, n_spoof = int(np.sum(labels_any == 1)), int(np.sum(labels_any == 0))
    low, high = det_limits(n_bona, n_spoof)
    figure = Figure(figsize=(8.2, 5.6))
    axes = figure.add_axes((0.09, 0.16, 0.55, 0.76))
    for name, (scores, labels) in systems.items():
        scores, labels = np.asarray(scores, dtype=float), np.asarray(labels)
        curve = det_curve(scores[labels == 1], scores[labels == 0])
        eer, _ = eer_from_curve(curve)
        x = norm.ppf(np.clip(curve.far, 1e-9, 1 - 1e-9))
        y = norm.ppf(np.clip(curve.frr, 1e-9, 1 - 1e-9))
        (line,) = axes.plot(x, y, drawstyle="steps-post", label=f"{name} (EER {info.format(eer)})")
        axes.plot([norm.ppf(max(eer, 1e-9))], [norm.ppf(max(eer, 1e-9))], "o", color=line.get_color(),
                  markersize=4)
    lo, hi = norm.ppf(low), norm.ppf(high)
    axes.plot([lo, hi], [lo, hi], ":", color="0.6", linewidth=0.8)
    ticks = DET_TICKS[(DET_TICKS >= low) & (DET_TICKS <= high)]
    for set_ticks, set_labels, set_lim in ((axes.set_xticks, axes.set_xticklabels, axes.set_xlim),
                                           (axes.set_yticks, axes.set_yticklabels, axes.set_ylim)):
        set_ticks(norm.ppf(ticks))
        set_labels([f"{t * 100:g}" for t in ticks], fontsize=7)
        set_lim(lo, hi)
    axes.set_xlabel("False acceptance rate: spoofs accepted (%)")
    axes.set_ylabel("False rejection rate: bona fide rejected (%)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, linewidth=0.4, alpha=0.6)
    axes.legend(loc="upper left", bbox_to_anchor=(1.03, 1.0), fontsize=7, borderaxespad=0,
                title="detector (first seed)", title_fontsize=7)
    note = small_class_note(n_bona, n_spoof)
    if note:
        figure.text(0.02, 0.015, note, fontsize=6.5, wrap=True, color="0.25")
    return figure


def plot_det(systems: dict[str, tuple[np.ndarray, np.ndarray]], out_path: str | os.PathLike, *,
             title: str) -> Path:
    """Write :func:`det_figure` to ``out_path`` (PNG/SVG by suffix), atomically."""
    figure = det_figure(systems, title=title)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_path) as tmp:
        figure.savefig(tmp, format=out_path.suffix[1:], dpi=150)
    return out_path


def plot_det_curves(result: ResultLike, run_dir: str | os.PathLike,
                    formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """DET curves per test set (uncoded, each detector's first seed) from the run's keys and scores."""
    from ..metrics import read_keys, read_scores

    result = as_result(result)
    run = Path(run_dir)
    written = []
    for test_set, meta in result.test_sets.items():
        keys_path = run / "keys" / f"{test_set}.txt"
        if not keys_path.is_file():
            continue
        keys = read_keys(keys_path)
        systems = {}
        for cell in result.cells:
            if cell.test_set != test_set or cell.codec != "none" or cell.detector in systems:
                continue
            scores = read_scores(run / str(cell.score_file))
            present = np.fromiter((i in scores for i in keys.ids), dtype=bool, count=len(keys))
            values = np.array([scores[i] for i in keys.ids[present]])
            systems[cell.detector] = (values, keys.labels[present])
        if systems:
            for fmt in formats:
                written.append(plot_det(systems, run / "plots" / f"det__{test_set}.{fmt}",
                                        title=f"DET: {test_set} ({meta.domain or '?'}), uncoded"))
    return written
