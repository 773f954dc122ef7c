"""Plots of a benchmark run: EER heatmaps, DET curves and the parameters-vs-OOD-EER scatter."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .results import tidy_cells


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, formats: tuple[str, ...]) -> list[Path]:
    paths = []
    for fmt in formats:
        path = out.with_suffix(f".{fmt}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight", format=fmt)
        paths.append(path)
    return paths


def plot_eer_heatmaps(result: dict, out_dir: str | os.PathLike,
                      formats: tuple[str, ...] = ("png",)) -> list[Path]:
    """One detector × codec EER heatmap (mean over seeds, %) per test set."""
    plt = _pyplot()
    cells = tidy_cells(result)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    codec_order = list(dict.fromkeys(cells.codec))
    for test_set, group in cells.groupby("test_set", sort=False):
        grid = group.pivot_table(index="detector", columns="codec", values="eer", sort=False) * 100
        grid = grid.reindex(columns=[c for c in codec_order if c in grid.columns])
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * grid.shape[1] + 3), 0.55 * grid.shape[0] + 1.8))
        image = ax.imshow(grid.to_numpy(), cmap="viridis_r", vmin=0, vmax=max(50.0, np.nanmax(grid.to_numpy())),
                          aspect="auto")
        ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=60, ha="right")
        ax.set_yticks(range(grid.shape[0]), grid.index)
        for (i, j), value in np.ndenumerate(grid.to_numpy()):
            if value == value:
                ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 25 else "black")
        domain = group.domain.iloc[0]
        ax.set_title(f"EER (%) on {test_set} ({domain})")
        fig.colorbar(image, ax=ax, label="EER (%)")
        written += _save(fig, out_dir / f"eer_heatmap__{test_set}", formats)
        plt.close(fig)
    return written


def plot_params_vs_ood(result: dict, out_dir: str | os.PathLike,
                       formats: tuple[str, ...] = ("png",)) -> list[Path]:
    """Parameter count (log x) against mean EER in-domain and out-of-distribution (all codecs)."""
    plt = _pyplot()
    cells = tidy_cells(result)
    cells = cells[cells.parameters.notna() & (cells.parameters > 0)]  # fitted models (GMM) have none
    if cells.empty:
        return []
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for domain, marker in (("in-domain", "o"), ("ood", "s")):
        sub = cells[cells.domain == domain].groupby("detector").agg(eer=("eer", "mean"), parameters=("parameters", "first"))
        if sub.empty:
            continue
        ax.scatter(sub.parameters, sub.eer * 100, marker=marker, s=60, label=domain)
        for name, row in sub.iterrows():
            ax.annotate(name, (row.parameters, row.eer * 100), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("mean EER (%) over test sets and codecs")
    ax.set_title("Does size buy robustness? parameters vs EER")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = _save(fig, out_dir / "params_vs_eer", formats)
    plt.close(fig)
    return written
