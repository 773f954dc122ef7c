"""What the demo's evidence says about the seed's question, rung by rung, with the power of each rung.

The seed asks whether a small raw-waveform model generalises out of distribution better than a pipeline on a
large pretrained encoder. The demo's two families: ``rawcnn_2m`` (a ~2 M-parameter raw-waveform CNN trained from
scratch) and ``ge2e_speaker_head`` (a frozen pretrained encoder — resemblyzer's GE2E *speaker* encoder, not an
SSL model — with a small trained head). Per rung this module states which of the two is better when the paired
bootstrap separates them (Holm-adjusted over every comparison of the report, every seed pair agreeing), or that
the rung cannot tell, and how large a difference the rung could have detected:

**Power.** The paired bootstrap's 95% interval of Δ EER gives its standard error, ``se = width / (2 · 1.96)``
(the interval of a comparison spans all its seed pairs, so seed-to-seed spread widens it: conservative).
A true difference ``d`` is found separable with probability ~80% when ``d ≥ (z(1 − α'/2) + z(0.8)) · se``,
where ``α'`` is the level Holm applies to it: between ``α / m`` (the first of ``m`` ordered tests) and ``α``
(the last). Both ends are stated; the conservative one (``α / m``) is "the smallest detectable difference".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np

#: The seed's two families in the demo: small raw-waveform model vs frozen pretrained encoder + head.
RAW, ENCODER = "rawcnn_2m", "ge2e_speaker_head"
CLAIM = ("a small raw-waveform model (rawcnn_2m) generalises out of distribution better than a frozen pretrained "
         "encoder with a small head (ge2e_speaker_head)")
POWER = 0.8


@dataclass(frozen=True)
class RungPower:
    """Trials of a rung and the smallest Δ EER (fraction) its paired tests detect with 80% power."""
    test_set: str
    bonafide: int
    spoof: int
    se: float | None            # standard error of Δ EER (mean over the rung's pairs), None: no pair
    detectable: float | None    # at Holm's strictest level α / m
    detectable_last: float | None  # at Holm's last level α

    def text(self) -> str:
        if self.detectable is None:
            return "—"
        return f"{self.detectable * 100:.1f} pp (≥ {self.detectable_last * 100:.1f} pp at Holm's last step)"


def detectable_difference(se: float, alpha: float, power: float = POWER) -> float:
    """The Δ a two-sided test at level ``alpha`` finds with probability ``power`` when its SE is ``se``."""
    z = NormalDist().inv_cdf
    return (z(1 - alpha / 2) + z(power)) * se


def _counts(out: Path, test_set: str) -> tuple[int, int]:
    from ..metrics import read_keys

    path = out / "keys" / f"{test_set}.txt"
    if not path.is_file():
        return 0, 0
    labels = np.asarray(read_keys(path).labels)
    return int((labels == 1).sum()), int((labels == 0).sum())


def rung_power(comparisons: list, out: Path, test_set: str, detectors: list[str], alpha: float) -> RungPower:
    """Power of rung ``test_set`` from its paired comparisons among ``detectors`` (uncoded)."""
    bona, spoof = _counts(out, test_set)
    mine = [c for c in comparisons if c.test_set == test_set and c.codec == "none" and c.a in detectors
            and c.b in detectors]
    if not mine:
        return RungPower(test_set, bona, spoof, None, None, None)
    se = float(np.mean([(c.delta_ci[1] - c.delta_ci[0]) / (2 * 1.959964) for c in mine]))
    m = max(1, len(comparisons))
    return RungPower(test_set, bona, spoof, se, detectable_difference(se, alpha / m),
                     detectable_difference(se, alpha))


def _pair(comparisons: list, test_set: str, a: str, b: str):
    return next((c for c in comparisons if c.test_set == test_set and c.codec == "none" and {c.a, c.b} == {a, b}),
                None)


def _stats(c, raw: str) -> str:
    """EERs, Δ(raw − other) with its 95% CI and the Holm-adjusted p of a comparison, raw-waveform model first."""
    from ..runner.report import format_p

    flip = c.a != raw
    other, v_raw, v_other = (c.a, c.value_b, c.value_a) if flip else (c.b, c.value_a, c.value_b)
    low, high = (-c.delta_ci[1], -c.delta_ci[0]) if flip else c.delta_ci
    return (f"EER {raw} {v_raw * 100:.2f}% vs {other} {v_other * 100:.2f}%; Δ 95% CI [{low * 100:+.2f}, "
            f"{high * 100:+.2f}] pp; {len(c.p_values)} seed pair(s), Holm-adjusted p = "
            f"{format_p(c.p_adjusted, c.resamples)}")


def verdict(comparison, power: RungPower, raw: str, encoder: str, ood: bool) -> tuple[str, str]:
    """(what the test says, whether it agrees with the seed's claim) for one rung."""
    if comparison is None:
        return "no paired test (a detector is missing on this rung)", "cannot tell"
    sentence = _stats(comparison, raw)
    if not comparison.separable:
        detect = f"; differences of {power.detectable * 100:.1f} pp or more would be found with 80% power" \
            if power.detectable is not None else ""
        return f"not separable{detect} ({sentence})", "cannot tell (the set does not separate them)"
    raw_better = (comparison.value_a < comparison.value_b) == (comparison.a == raw)
    winner = raw if raw_better else encoder
    if not ood:
        return f"{winner} is better ({sentence})", "in-domain: not the claim's test"
    return f"{winner} generalises better ({sentence})", "agrees" if raw_better else "contradicts"


def verdict_rows(comparisons: list, out: Path, tests: list[tuple[str, bool]], detectors: list[str], raw: str,
                 encoder: str, alpha: float) -> list[dict]:
    """One row per rung: ``tests`` are (test set, out of distribution?)."""
    rows = []
    for test_set, ood in tests:
        power = rung_power(comparisons, out, test_set, detectors, alpha)
        if not power.bonafide:
            continue
        comparison = _pair(comparisons, test_set, raw, encoder)
        says, agrees = verdict(comparison, power, raw, encoder, ood)
        rows.append({"rung": test_set, "domain": "OOD" if ood else "in-domain",
                     "trials": f"{power.bonafide} / {power.spoof}", "detectable": power.text(),
                     "evidence": says, "claim": agrees, "power": power})
    return rows


def verdict_markdown(rows: list[dict], title: str, m: int, alpha: float) -> str:
    """A Markdown table of ``verdict_rows`` with its reading."""
    lines = [f"#### {title}", "",
             f"The seed's claim: {CLAIM}. Per rung: the trials (bona fide / spoof), the smallest EER difference "
             f"its paired test detects with 80% power at Holm's strictest level (α = {alpha} over {m} comparisons; "
             "in brackets at its last level; from the width of the paired Δ intervals, which span every seed pair, "
             "so seed-to-seed spread makes it conservative), what the test says about the two families, and "
             "whether that agrees with the claim. ge2e_speaker_head is a speaker-verification encoder, not an SSL "
             "model.", "",
             "| rung | domain | trials | detectable Δ EER | raw-waveform CNN vs frozen pretrained encoder "
             "| seed's claim |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['rung']} | {r['domain']} | {r['trials']} | {r['detectable']} | {r['evidence']} | "
                     f"{r['claim']} |")
    return "\n".join(lines) + "\n"


def verdict_table(rows: list[dict], title: str, caption: str):
    """The same rows as a runner :class:`~spoofbench.runner.tables.Table` (for the report's sections)."""
    import pandas as pd

    from ..runner.tables import Table

    index = [r["rung"] for r in rows]
    columns = ["domain", "trials (bona fide / spoof)", "detectable Δ EER (80% power)",
               "raw-waveform CNN vs frozen pretrained encoder", "seed's claim"]
    display = pd.DataFrame([[r["domain"], r["trials"], r["detectable"], r["evidence"], r["claim"]] for r in rows],
                           index=index, columns=columns, dtype=object)
    numeric = pd.DataFrame(np.nan, index=index, columns=columns)
    numeric["detectable Δ EER (80% power)"] = [r["power"].detectable if r["power"].detectable is not None
                                               else np.nan for r in rows]
    display.index.name = numeric.index.name = "rung"
    return Table(title, display, numeric, caption=caption, unit="pp", metric="eer", delta=True)
