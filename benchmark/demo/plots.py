"""The demo's own plots beside the runner's heat maps: rung 4 through its channels (rungs 5 and 6, the replay
chain named a simulation), and the silence-shortcut check (la19_dev as is and after ``vad_trim``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .ladder import channel_title


def _eers(result: dict, detectors: list[str], test_set: str, codec: str) -> list[tuple[float, float, float]]:
    """Per detector: (mean EER, mean CI low, mean CI high) over seeds, in %, NaN where not scored."""
    out = []
    for d in detectors:
        cells = [c for c in result["cells"] if (c["detector"], c["test_set"], c["codec"]) == (d, test_set, codec)]
        eer = [c["metrics"].get("eer") for c in cells if c.get("metrics", {}).get("eer") is not None]
        ci = [c["metrics"].get("eer_ci95") for c in cells if c.get("metrics", {}).get("eer_ci95")]
        if not eer:
            out.append((np.nan, np.nan, np.nan))
            continue
        low, high = (np.mean([x[0] for x in ci]), np.mean([x[1] for x in ci])) if ci else (np.nan, np.nan)
        out.append((100 * float(np.mean(eer)), 100 * float(low), 100 * float(high)))
    return out


def _bars(ax, groups: list[str], detectors: list[str], values: list[list[tuple[float, float, float]]]) -> None:
    width = 0.8 / max(1, len(detectors))
    x = np.arange(len(groups))
    for k, d in enumerate(detectors):
        mean = np.array([values[g][k][0] for g in range(len(groups))])
        low = np.array([values[g][k][1] for g in range(len(groups))])
        high = np.array([values[g][k][2] for g in range(len(groups))])
        err = np.vstack([np.clip(mean - low, 0, None), np.clip(high - mean, 0, None)])
        err = np.where(np.isfinite(err), err, 0.0)
        ax.bar(x + (k - (len(detectors) - 1) / 2) * width, mean, width, yerr=err, capsize=2, label=d)
    ax.set_xticks(x, groups, rotation=30, ha="right")
    ax.set_ylabel("EER (%), mean over seeds [mean 95% CI]")
    ax.axhline(50, color="grey", lw=0.6, ls=":")
    ax.legend(fontsize=7)


def plot_demo_extras(result: dict, out_dir: Path, formats: tuple[str, ...] = ("png",)) -> list[Path]:
    """``demo_channels.png`` (rung 4 as is, through rung 5's codecs and rung 6's conditions) and
    ``demo_silence_shortcut.png`` (la19_dev as is and trimmed, per detector), where the result has the cells."""
    from ..runner.plots import _pyplot, _save

    plt = _pyplot()
    demo = result.get("demo", {})
    written: list[Path] = []
    ladder = [d for d, i in result["detectors"].items() if i.get("run") == "ladder"]
    coded = sorted({c["codec"] for c in result["cells"] if c["test_set"] == "r4_corpora" and c["codec"] != "none"})
    channel = [c for c in demo.get("channel_conditions") or () if c in coded]
    groups = [("r4_corpora as is", "none")] + [(f"r5_telephone: {c}", c) for c in coded if c not in channel] \
        + [(channel_title(c).replace(" r4 through", ""), c) for c in channel]
    if ladder and len(groups) > 1:
        fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups) + 2), 4.2))
        _bars(ax, [g for g, _ in groups], ladder, [_eers(result, ladder, "r4_corpora", c) for _, c in groups])
        ax.set_title("Rung 4 through telephone codecs (r5) and laundering / replay (r6), trained on demo corpus A")
        written += _save(fig, Path(out_dir) / "demo_channels", formats)
        plt.close(fig)
    condition = demo.get("shortcut_condition")
    trimmed = sorted({c["detector"] for c in result["cells"]
                      if c["test_set"] == "la19_dev" and c["codec"] == condition}) if condition else []
    if trimmed:
        fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(trimmed) + 2), 4.2))
        values = [_eers(result, trimmed, "la19_dev", "none"), _eers(result, trimmed, "la19_dev", condition)]
        _bars(ax, trimmed, ["as is", f"after {condition}"],
              [[values[0][k], values[1][k]] for k in range(len(trimmed))])
        ax.set_title(f"The silence shortcut: la19_dev EER as is and after {condition}")
        written += _save(fig, Path(out_dir) / "demo_silence_shortcut", formats)
        plt.close(fig)
    return written
