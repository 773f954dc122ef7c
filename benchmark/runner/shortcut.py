"""The silence-shortcut check: does a detector's EER rest on leading/trailing silence?

Müller et al. (2021) showed that ASVspoof 2019 LA detectors lean on the length of the silence
around speech. A run whose ``codecs:`` hold ``none`` and ``vad_trim`` (silero-vad removes the
leading and trailing non-speech; :mod:`spoofbench.codecs.vad`) scores every test set both ways on
the same trials; this module pairs the two cells of each (detector, seed, test set) and tests the
EER change with the paired bootstrap of :func:`spoofbench.metrics.paired_bootstrap` (trials
resampled within class, the same resample for both), Holm-adjusted over all the run's pairs.

A detector "rests on silence" on a test set when trimming raises its EER separably: every seed's
change is positive and the largest Holm-adjusted p-value is below ``alpha``.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import SpoofbenchError
from .report import ReportSettings, ScoreStore, format_p, holm
from .results import load_result


class NoTrimmedCells(SpoofbenchError):
    """The run has no cells of the trimmed condition (nothing to compare yet)."""


@dataclass(frozen=True)
class ShortcutRow:
    """One detector on one test set: EER as is and trimmed (means over seeds), the change, its
    95% CI (the widest over seeds), the paired p-values and the verdict in words."""

    detector: str
    test_set: str
    seeds: tuple[int, ...]
    eer_as_is: float
    eer_trimmed: float
    delta: float
    delta_ci95: tuple[float, float]
    p_values: tuple[float, ...]
    p_holm: float
    n_trials: int
    rests_on_silence: bool
    verdict: str
    resamples: int = 1000  # of each paired bootstrap: a p of 0 is shown as "< 1/resamples"


def _verdict(detector: str, test_set: str, delta: float, ci: tuple[float, float], p_holm: float,
             raised: bool, lowered: bool, settings: ReportSettings, condition: str) -> str:
    stats = (f"EER {delta * 100:+.2f} pp after `{condition}` (95% CI {ci[0] * 100:+.2f} to {ci[1] * 100:+.2f} pp, "
             f"Holm-adjusted p = {format_p(p_holm, settings.resamples)})")
    if raised:
        return f"{detector} on {test_set}: its number rests in part on silence: {stats}."
    if lowered:
        return f"{detector} on {test_set}: trimming silence lowers its EER separably: {stats}."
    return f"{detector} on {test_set}: no separable change when silence is removed: {stats}."


def shortcut_check(run_dir: str | os.PathLike, *, condition: str = "vad_trim", baseline: str = "none",
                   settings: ReportSettings | None = None) -> list[ShortcutRow]:
    """Pair the ``baseline`` and ``condition`` cells of the run in ``run_dir`` (see module docstring)."""
    settings = settings if settings is not None else ReportSettings()
    from ..metrics import paired_bootstrap

    result = load_result(run_dir)
    run = Path(run_dir)
    run = run.parent if run.is_file() else run
    store = ScoreStore(result, run)
    pairs = sorted({(d, t) for d, _, t, c in store.cells if c == condition})
    if not pairs:
        codecs = sorted({c for *_, c in store.cells})
        raise NoTrimmedCells(
            f"{run}: no `{condition}` cells (codecs scored: {', '.join(codecs) or 'none'}); add {condition} to the "
            f"config's codecs: (e.g. codecs: [none, {condition}]) and run `spoofbench run CONFIG --out {run}` again: "
            f"the cells already scored are kept")
    tests = []
    for detector, test_set in pairs:
        seeds = sorted(s for d, s, t, c in store.cells
                       if (d, t, c) == (detector, test_set, condition) and (d, s, t, baseline) in store.cells)
        if not seeds:
            raise SpoofbenchError(f"{run}: {detector} on {test_set} has `{condition}` cells but no `{baseline}` "
                                  f"cells to compare with; add {baseline} to the codecs and run again")
        results, n = [], 0
        for seed in seeds:
            trimmed, labels = store.arrays(detector, seed, test_set, condition)
            as_is, _ = store.arrays(detector, seed, test_set, baseline)
            keep = ~(np.isnan(trimmed) | np.isnan(as_is))
            if keep.sum() == 0 or len(set(labels[keep].tolist())) < 2:
                raise SpoofbenchError(f"{run}: {detector}/{seed}/{test_set}: no trials scored both ways with "
                                      f"both classes")
            n = int(keep.sum())
            results.append(paired_bootstrap(trimmed[keep], as_is[keep], labels[keep], metric="eer",
                                            n_resamples=settings.resamples, seed=settings.seed))
        tests.append((detector, test_set, seeds, results, n))
    adjusted = holm([max(r.p_value for r in t[3]) for t in tests])
    rows = []
    for (detector, test_set, seeds, results, n), p in zip(tests, adjusted):
        delta = float(np.mean([r.delta for r in results]))
        ci = (min(r.delta_ci95[0] for r in results), max(r.delta_ci95[1] for r in results))
        raised = p < settings.alpha and all(r.delta > 0 for r in results)
        lowered = p < settings.alpha and all(r.delta < 0 for r in results)
        rows.append(ShortcutRow(detector, test_set, tuple(seeds), float(np.mean([r.value_b for r in results])),
                                float(np.mean([r.value_a for r in results])), delta, ci,
                                tuple(r.p_value for r in results), p, n, raised,
                                _verdict(detector, test_set, delta, ci, p, raised, lowered, settings, condition),
                                settings.resamples))
    return rows


def shortcut_markdown(rows: list[ShortcutRow], condition: str = "vad_trim") -> str:
    """A Markdown table of the rows and their verdicts."""
    lines = [f"| detector | test set | EER as is | EER after {condition} | change (95% CI) | Holm p | rests on silence |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.detector} | {r.test_set} | {r.eer_as_is * 100:.2f}% | {r.eer_trimmed * 100:.2f}% | "
                     f"{r.delta * 100:+.2f} pp ({r.delta_ci95[0] * 100:+.2f}, {r.delta_ci95[1] * 100:+.2f}) | "
                     f"{format_p(r.p_holm, r.resamples)} | {'yes' if r.rests_on_silence else 'no'} |")
    return "\n".join(lines + [""] + [f"- {r.verdict}" for r in rows]) + "\n"


def rows_as_dicts(rows: list[ShortcutRow]) -> list[dict]:
    return [{**asdict(r), "seeds": list(r.seeds), "delta_ci95": list(r.delta_ci95), "p_values": list(r.p_values)}
            for r in rows]
