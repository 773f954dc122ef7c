"""What a run says: the printed summary, and ``spoofbench report``'s Markdown + HTML report.

The report reads the run result (:class:`~spoofbench.runner.result_model.RunResult`) and the run's score and key files, nothing else. Every sentence
that compares two numbers is generated only when its interval or test supports it:

* per test set, each detector's EER with a 95% bootstrap CI (trials resampled within class);
* detector pairs trained on the same data (``trained_on``), on the same trials: a paired bootstrap per
  seed pair (the statistics live in :mod:`spoofbench.metrics.paired`: ``holm``, ``format_p``,
  ``Comparison``, which stay importable from here); a pair is *separable* only when every seed pair agrees in sign
  and the largest p-value, Holm-adjusted over all comparisons of the report, is below ``alpha``;
  otherwise the report says "not separable" and gives the numbers;
* the in-domain → OOD gap, stated only when the two CIs do not overlap;
* codec robustness: the worst codec per detector and test set, tested against the same trials
  uncoded (paired, per seed).

Cells marked as trained on their test data (a pretrained detector whose training set holds the
test trials, see ``not_ood_evidence``) are shown but never used as OOD evidence.
"""
from __future__ import annotations

import html
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from ..atomic import write_text_atomic
from ..errors import SpoofbenchError
from ..metrics.catalog import metric_info
from ..metrics.paired import Comparison, adjust, comparison, format_p, holm, paired_tests, seed_pairs
from .result_model import ResultLike, RunResult, as_result
from .results import read_result
from .tables import Table, codec_robustness_table, domain_gap_table, pivot_table, render


# ----------------------------------------------------------------------------- printed summary

def summary_text(result: ResultLike) -> str:
    """The Markdown EER table and the in-domain → OOD gap of ``result`` (as printed)."""
    result = as_result(result)
    if not result.cells:
        return "no finished cells\n"
    # codecs as rows: a full matrix has ~20 conditions, too many for columns a person can read
    parts = [render(pivot_table(result, "eer", ("codec",), ("test_set", "detector")), "md")]
    try:
        parts.append(render(domain_gap_table(result, "eer"), "md"))
    except SpoofbenchError:
        pass
    return "\n".join(parts)


def print_summary(result: ResultLike, out_dir: str | Path, console: Console | None = None, *,
                  tables: bool = True) -> None:
    """Print the EER tables (unless ``tables`` is False), failed cells with reasons, and the output paths."""
    result = as_result(result)
    console = console or Console(soft_wrap=True)
    out = Path(out_dir)
    if tables:
        console.print(summary_text(result), markup=False, highlight=False)
    failed = result.failed_cells
    if failed:
        console.print(f"[bold red]{len(failed)} cell(s) failed[/]:")
        seen = set()
        for cell in failed:
            line = f"  {cell.detector} seed {cell.seed} {cell.test_set} {cell.codec} [{cell.stage}]: {cell.error}"
            if (cell.detector, cell.stage, cell.error) in seen and cell.stage != "score":
                continue
            seen.add((cell.detector, cell.stage, cell.error))
            console.print(line, markup=False)
    console.print(f"results: {out / 'result.json'}  ·  cells: {out / 'cells.csv'}  ·  "
                  f"tables: {out / 'tables'}  ·  plots: {out / 'plots'}", markup=False)


def _or_unknown(model, field: str, value, missing: str = "?"):
    """``value``, or ``missing`` when the file did not have ``field`` (a key written as null stays None)."""
    return value if field in model.model_fields_set else missing


# ----------------------------------------------------------------------------- evidence

@dataclass(frozen=True)
class ReportSettings:
    """How strict the report is: ``alpha`` for every test, bootstrap ``resamples`` per test."""
    alpha: float = 0.05
    resamples: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class Estimate:
    """EER of one detector on one (test set, codec): mean ± sd over seeds and a 95% CI."""
    detector: str
    test_set: str
    codec: str
    domain: str
    mean: float
    sd: float | None
    ci: tuple[float, float]
    seeds: tuple[int, ...]
    evidence: bool          # False: the detector was trained on these trials (not OOD evidence)

    def text(self) -> str:
        eer = metric_info("eer")
        spread = f" ± {eer.format(self.sd, unit=False)} (sd, {len(self.seeds)} seeds)" if self.sd is not None else ""
        return f"{eer.format(self.mean)}{spread}, 95% CI {eer.format_interval(*self.ci)}"


class ScoreStore:
    """Aligned ``(scores, labels)`` of every finished cell of a run, read once on demand."""

    def __init__(self, result: ResultLike, run_dir: Path):
        self.result, self.run = as_result(result), Path(run_dir)
        self._keys: dict[str, object] = {}
        self.cells = self.result.cell_map()

    def available(self) -> bool:
        return all(c.score_file and (self.run / c.score_file).is_file() for c in self.result.cells) and \
            all((self.run / "keys" / f"{t}.txt").is_file() for t in self.result.test_sets)

    def arrays(self, detector: str, seed: int, test_set: str, codec: str) -> tuple[np.ndarray, np.ndarray]:
        """Scores in key order with ``NaN`` for unscored trials, and labels (1 bona fide)."""
        from ..metrics import read_keys, read_scores

        if test_set not in self._keys:
            self._keys[test_set] = read_keys(self.run / "keys" / f"{test_set}.txt")
        keys = self._keys[test_set]
        scores = read_scores(self.run / str(self.cells[(detector, seed, test_set, codec)].score_file))
        values = np.array([scores.get(i, np.nan) for i in keys.ids], dtype=np.float64)
        return values, keys.labels


def _not_evidence(result: RunResult, detector: str, test_set: str) -> str | None:
    """Why cells of ``detector`` on ``test_set`` are not OOD evidence (trained on those trials)."""
    reason = result.detector(detector).not_ood_evidence.get(test_set)
    if reason:
        return reason
    overlap = result.test_set(test_set).overlap_by_detector.get(detector)
    if overlap and overlap.get("n_shared_trials"):
        return f"{overlap['n_shared_trials']} test trials are in its training data"
    return result.dev_as_test(test_set)


def _trained_on(result: RunResult, detector: str) -> tuple[str, ...] | None:
    return result.detector(detector).trained_on or None


def _seeds(result: RunResult, detector: str, test_set: str, codec: str) -> list[int]:
    return sorted({c.seed for c in result.cells
                   if c.detector == detector and c.test_set == test_set and c.codec == codec})


def estimate(result: ResultLike, store: ScoreStore | None, detector: str, test_set: str, codec: str,
             settings: ReportSettings) -> Estimate | None:
    """Mean ± sd over seeds, and the mean of the seeds' 95% bootstrap CIs (the run's, or computed)."""
    from ..metrics import bootstrap_ci

    result = as_result(result)
    seeds = _seeds(result, detector, test_set, codec)
    if not seeds:
        return None
    by_ident = result.cell_map()
    cells = [by_ident[(detector, s, test_set, codec)] for s in seeds]
    values = np.array([c.metrics.eer for c in cells], dtype=float)
    lows, highs = [], []
    for seed, cell in zip(seeds, cells):
        ci = cell.metrics.eer_ci95
        if not ci and store is not None:
            scores, labels = store.arrays(detector, seed, test_set, codec)
            keep = ~np.isnan(scores)
            interval = bootstrap_ci(scores[keep], labels[keep], n_resamples=settings.resamples,
                                    seed=settings.seed, metrics=("eer",))["eer"]
            ci = [interval.low, interval.high]
        if ci:
            lows.append(ci[0])
            highs.append(ci[1])
    ci = (float(np.mean(lows)), float(np.mean(highs))) if lows else (float("nan"), float("nan"))
    return Estimate(detector, test_set, codec, cells[0].domain or "?", float(values.mean()),
                    float(values.std(ddof=1)) if len(values) > 1 else None, ci, tuple(seeds),
                    _not_evidence(result, detector, test_set) is None)


def compare(store: ScoreStore, result: ResultLike, a: str, b: str, test_set: str, codec: str,
            settings: ReportSettings) -> Comparison | None:
    """Paired bootstrap of EER, A vs B, one test per seed pair (seeds paired by rank; a single-seed
    detector meets every seed of the other)."""
    result = as_result(result)
    seeds_a, seeds_b = _seeds(result, a, test_set, codec), _seeds(result, b, test_set, codec)
    if not seeds_a or not seeds_b:
        return None
    trials = ((*_pair(store, a, sa, b, sb, test_set, codec),) for sa, sb in seed_pairs(seeds_a, seeds_b))
    tests = paired_tests(trials, metric="eer", resamples=settings.resamples, seed=settings.seed)
    return comparison(test_set, codec, a, b, tests, settings.resamples)


def _pair(store: ScoreStore, a: str, seed_a: int, b: str, seed_b: int, test_set: str,
          codec: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores_a, labels = store.arrays(a, seed_a, test_set, codec)
    scores_b, _ = store.arrays(b, seed_b, test_set, codec)
    return scores_a, scores_b, labels


def _adjust(comparisons: list[Comparison], alpha: float) -> list[Comparison]:
    return adjust(comparisons, alpha)


# ----------------------------------------------------------------------------- the report

@dataclass
class Section:
    """A titled part of the report: paragraphs (Markdown text), bullet claims and tables."""
    title: str
    blocks: list = field(default_factory=list)   # str (Markdown paragraph) | Table | list[str] (bullets)


@dataclass
class Report:
    title: str
    sections: list[Section]
    comparisons: list[Comparison]
    estimates: list[Estimate]


def _estimates_table(estimates: list[Estimate], result: RunResult) -> Table:
    import pandas as pd

    eer = metric_info("eer")
    tests = list(result.test_sets)
    display = pd.DataFrame(index=list(dict.fromkeys(e.detector for e in estimates)), columns=tests, dtype=object)
    numeric = pd.DataFrame(index=display.index, columns=tests, dtype=float)
    for e in estimates:
        mark = "" if e.evidence else (" ‡" if result.dev_as_test(e.test_set) else " †")
        spread = f" ± {eer.format(e.sd, unit=False)}" if e.sd is not None else ""
        display.loc[e.detector, e.test_set] = (f"{eer.format(e.mean, unit=False)}{spread} "
                                               f"[{eer.format(e.ci[0], unit=False)}, {eer.format(e.ci[1], unit=False)}]{mark}")
        numeric.loc[e.detector, e.test_set] = e.mean
    display = display.fillna("—")
    display.columns = [f"{t} ({result.test_sets[t].domain or '?'})" for t in tests]
    display.index.name = numeric.index.name = "detector"
    notes = ("† trained on these trials (pretrained weights whose training data hold this test set): "
             "shown, never counted as OOD evidence.",) if any(not e.evidence and not result.dev_as_test(e.test_set)
                                                              for e in estimates) else ()
    notes += tuple(f"‡ dev set used as a test set: {why}; shown, never ranked or counted as evidence."
                   for t in tests if (why := result.dev_as_test(t)))
    return Table("EER (%) per test set, uncoded audio, with 95% CIs", display, numeric,
                 caption="Mean ± sd over training seeds, then [mean of the seeds' 95% percentile bootstrap "
                         "CIs] (trials resampled within class). Lower is better. The domain in each column "
                         "header is the test set's; a pretrained detector may differ (see †).",
                 unit="%", metric="eer", notes=notes)


def _overview(result: RunResult, store_ok: bool, settings: ReportSettings) -> Section:
    from .plots import parameter_counts

    counts = parameter_counts(result)
    lines = [f"Run `{_or_unknown(result, 'run_id', result.run_id)}` "
             f"(config `{result.config.get('name', '?')}`): "
             f"{len(result.cells)} finished cell(s), {len(result.failed_cells)} failed."]
    det = []
    for label, info in result.detectors.items():
        n = counts.get(label)
        size = f"{n:,} parameters" + (" (fitted statistics)" if n and not info.parameters else "") \
            if n else "parameter count unknown"
        origin = "pretrained, scored as is" if info.checkpoint else "trained in this run"
        trained_on = info.trained_on
        det.append(f"`{label}`: {size}; {origin}" + (f"; trained on {', '.join(trained_on)}" if trained_on else ""))
    tests = []
    for name, meta in result.test_sets.items():
        reason = f" ({meta.reason})" if meta.reason else ""
        by_run = meta.domain_by_run
        if len(set(by_run.values())) > 1:  # a merged run (the demo): the label depends on the training data
            reason = " (" + ", ".join(f"{domain} for the {run} run's detectors" for run, domain in by_run.items()) + ")"
            tests.append(f"`{name}`: {_or_unknown(meta, 'n_trials', meta.n_trials)} trials{reason}")
            continue
        tests.append(f"`{name}`: {_or_unknown(meta, 'domain', meta.domain)}{reason}; "
                     f"{_or_unknown(meta, 'n_trials', meta.n_trials)} trials")
    section = Section("The run", [" ".join(lines), "Detectors:", det, "Test sets:", tests])
    if not store_ok:
        section.blocks.append("Score or key files are missing from the run folder: CIs come from result.json "
                              "where the run computed them, and no paired test is made.")
    section.blocks.append(f"Every test uses α = {settings.alpha} and {settings.resamples} bootstrap resamples; "
                          "detector comparisons are Holm-adjusted over the whole report.")
    return section


def _ladder_section(result: RunResult, estimates: list[Estimate], comparisons: list[Comparison]) -> Section:
    section = Section("Detectors per test set (uncoded)", [_estimates_table(estimates, result)])
    if comparisons:
        section.blocks.append("Pairwise comparisons on the same trials (paired bootstrap of EER):")
        section.blocks.append([c.sentence() for c in comparisons])
    else:
        section.blocks.append("No pairwise comparison could be made (one detector, or no score files).")
    return section


def _gap_section(result: RunResult, estimates: list[Estimate]) -> Section:
    eer = metric_info("eer")
    section = Section("In-domain → out-of-distribution gap", [domain_gap_table(result, "eer")])
    claims = []
    for detector in dict.fromkeys(e.detector for e in estimates):
        own = [e for e in estimates if e.detector == detector and e.evidence]
        ind = [e for e in own if e.domain == "in-domain"]
        ood = [e for e in own if e.domain == "ood"]
        if not ind or not ood:
            claims.append(f"{detector}: no gap can be measured (needs uncoded in-domain and OOD test sets).")
            continue
        best_ind = min(ind, key=lambda e: e.mean)
        for e in ood:
            where = f"{detector}: {best_ind.test_set} {best_ind.text()} → {e.test_set} {e.text()}"
            if e.ci[0] > best_ind.ci[1]:
                claims.append(f"{where}: EER rises by {(e.mean - best_ind.mean) * 100:.{eer.decimals}f} "
                              "percentage points (the CIs do not overlap).")
            elif e.ci[1] < best_ind.ci[0]:
                claims.append(f"{where}: lower OOD than in-domain (the CIs do not overlap).")
            else:
                claims.append(f"{where}: the CIs overlap, so no gap is claimed.")
    section.blocks.append(claims)
    return section


def _size_section(result: RunResult, estimates: list[Estimate], comparisons: list[Comparison]) -> Section:
    """Per group of detectors trained on the same data: sizes, OOD EERs, smallest vs largest."""
    from .plots import parameter_counts

    counts = parameter_counts(result)
    section = Section("Size vs out-of-distribution EER", [])
    ood = [e for e in estimates if e.domain == "ood" and e.evidence and e.detector in counts]
    cohorts: dict = {}
    for d in dict.fromkeys(e.detector for e in ood):
        cohorts.setdefault(_trained_on(result, d), []).append(d)
    compared = False
    for trained_on, members in cohorts.items():
        if len(members) < 2:
            continue
        compared = True
        ranked = sorted(members, key=lambda d: counts[d])
        where = f"Trained on {', '.join(trained_on)}" if trained_on else "Detectors of this run"
        section.blocks.append(f"{where}:")
        section.blocks.append([f"`{d}` ({counts[d]:,} parameters): " + "; ".join(
            f"{e.test_set} {e.text()}" for e in ood if e.detector == d) for d in ranked])
        section.blocks.append(_smallest_vs_largest(ranked[0], ranked[-1], counts, ood, comparisons))
    if not compared:
        section.blocks.append("Fewer than two detectors trained on the same data with a known size have OOD "
                              "cells: nothing to compare.")
    else:
        section.blocks.append("With this few detectors no trend of EER with size is estimated; only the paired "
                              "comparisons above are claims.")
    return section


def _smallest_vs_largest(smallest: str, largest: str, counts: dict, ood: list[Estimate],
                         comparisons: list[Comparison]) -> str:
    ood_sets = {e.test_set for e in ood if e.detector in (smallest, largest)}
    relevant = [c for c in comparisons if {c.a, c.b} == {smallest, largest} and c.test_set in ood_sets
                and c.codec == "none"]
    wins = [c for c in relevant if c.separable and (c.a == smallest) == (np.mean(c.deltas) < 0)]
    losses = [c for c in relevant if c.separable and c not in wins]
    return (f"Smallest (`{smallest}`, {counts[smallest]:,}) vs largest (`{largest}`, {counts[largest]:,}) on "
            f"{len(relevant)} OOD test set(s): the smaller is separably better on {len(wins)}"
            + (f" ({', '.join(c.test_set for c in wins)})" if wins else "")
            + f", separably worse on {len(losses)}"
            + (f" ({', '.join(c.test_set for c in losses)})" if losses else "")
            + f", and not separable on {len(relevant) - len(wins) - len(losses)}.")


def _worst_codec_tests(result: RunResult, store: ScoreStore, detector: str, test_set: str, block,
                       settings: ReportSettings) -> list:
    """The worst codec of ``detector`` on ``test_set`` against the same trials uncoded, per seed."""
    from ..metrics import paired_bootstrap

    worst = str(block.idxmax())
    seeds = sorted(set(_seeds(result, detector, test_set, "none")) & set(_seeds(result, detector, test_set, worst)))
    results = []
    for seed in seeds:
        coded, labels = store.arrays(detector, seed, test_set, worst)
        clean, _ = store.arrays(detector, seed, test_set, "none")
        keep = ~(np.isnan(coded) | np.isnan(clean))
        results.append(paired_bootstrap(coded[keep], clean[keep], labels[keep], n_resamples=settings.resamples,
                                        seed=settings.seed))
    return [(detector, test_set, worst, float(block.max()), results)] if results else []


def _codec_section(result: RunResult, store: ScoreStore | None, settings: ReportSettings) -> Section:
    section = Section("Codec robustness", [])
    try:
        table = codec_robustness_table(result, "eer")
    except SpoofbenchError as err:
        section.blocks.append(f"No codec robustness: {err}.")
        return section
    section.blocks.append(table)
    if store is None:
        return section
    eer = metric_info("eer")
    claims, tests = [], []
    for detector in table.numeric.index:
        for test_set in dict.fromkeys(table.numeric.columns.get_level_values(0)):
            block = table.numeric.loc[detector, test_set].dropna()
            if block.empty:
                continue
            tests += _worst_codec_tests(result, store, detector, test_set, block, settings)
    adjusted = holm([max(r.p_value for r in t[4]) for t in tests]) if tests else []
    for (detector, test_set, worst, delta, results), p in zip(tests, adjusted):
        ps = ", ".join(format_p(r.p_value, settings.resamples) for r in results)
        raised = p < settings.alpha and all(r.delta > 0 for r in results)
        stats = (f"{delta * 100:+.{eer.decimals}f} pp over uncoded; paired bootstrap p = {ps} "
                 f"({len(results)} seed(s)), Holm-adjusted p = {format_p(p, settings.resamples)}")
        claims.append(f"{detector} on {test_set}: worst codec `{worst}` {'raises' if raised else 'does not separably raise'}"
                      f" the EER ({stats}).")
    if claims:
        section.blocks.append(claims)
    return section


def _attack_section(result: RunResult, run: Path, store_ok: bool) -> Section:
    """EER per attack (uncoded), and per codec × attack when the run has codecs, with 95% CIs."""
    from .tables import attack_table

    section = Section("Per attack", [])
    if not store_ok:
        section.blocks.append("No per-attack breakdown: the run's score or key files are not available.")
        return section
    codecs = {c.codec for c in result.cells}
    for which in ((("none",),) if codecs == {"none"} or "none" not in codecs else (("none",), None)):
        try:
            section.blocks.append(attack_table(result, run, codecs=which))
        except SpoofbenchError as err:
            section.blocks.append(f"No per-attack breakdown: {err}.")
            break
    return section


def build_report(run_dir: str | os.PathLike, settings: ReportSettings = ReportSettings()) -> Report:
    """The report of the run in ``run_dir`` (its ``result.json`` plus score and key files)."""
    run = Path(run_dir)
    result = read_result(run)
    if not result.cells:
        raise SpoofbenchError(f"{run}: the run has no finished cells; nothing to report")
    store = ScoreStore(result, run)
    store_ok = store.available()
    store_or_none = store if store_ok else None
    detectors = list(dict.fromkeys(c.detector for c in result.cells))
    tests = list(result.test_sets) or list(dict.fromkeys(c.test_set for c in result.cells))
    estimates = [e for t in tests for d in detectors
                 if (e := estimate(result, store_or_none, d, t, "none", settings)) is not None]
    comparisons: list[Comparison] = []
    if store_ok:
        for t in tests:
            for a, b in itertools.combinations(detectors, 2):
                if _not_evidence(result, a, t) or _not_evidence(result, b, t):
                    continue
                if _trained_on(result, a) != _trained_on(result, b):
                    continue  # only detectors trained on the same data are ranked against each other
                c = compare(store, result, a, b, t, "none", settings)
                if c is not None:
                    comparisons.append(c)
    comparisons = _adjust(comparisons, settings.alpha)
    sections = [_overview(result, store_ok, settings), _ladder_section(result, estimates, comparisons),
                _gap_section(result, estimates), _size_section(result, estimates, comparisons),
                _codec_section(result, store_or_none, settings), _attack_section(result, run, store_ok)]
    title = f"spoofbench report: {result.name or _or_unknown(result, 'run_id', result.run_id, run.name)}"
    return Report(title, sections, comparisons, estimates)


# ----------------------------------------------------------------------------- rendering

def report_markdown(report: Report) -> str:
    parts = [f"# {report.title}", ""]
    for section in report.sections:
        parts += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(render(block, "md"))
            elif isinstance(block, list):
                parts += [f"- {line}" for line in block] + [""]
            else:
                parts += [block, ""]
    return "\n".join(parts).rstrip() + "\n"


_CSS = ("body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.45}"
        "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border-bottom:1px solid #ccc;"
        "padding:.25em .6em;text-align:right}th[scope=row]{text-align:left}caption{text-align:left;"
        "caption-side:top;padding:.3em 0}.note{font-size:.85em;color:#555}code{background:#f3f3f3}")


def _inline(text: str) -> str:
    """Markdown inline code (`x`) to HTML, everything else escaped."""
    parts = text.split("`")
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def report_html(report: Report, plots: list[str] = ()) -> str:
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    for section in report.sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Table):
                body.append(render(block, "html"))
            elif isinstance(block, list):
                body.append("<ul>" + "".join(f"<li>{_inline(line)}</li>" for line in block) + "</ul>")
            else:
                body.append(f"<p>{_inline(block)}</p>")
    if plots:
        body.append("<h2>Plots</h2>")
        body += [f"<figure><img src=\"{html.escape(p)}\" alt=\"{html.escape(Path(p).stem)}\" "
                 f"style=\"max-width:100%\"><figcaption>{html.escape(Path(p).stem)}</figcaption></figure>"
                 for p in plots]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_report(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                 settings: ReportSettings = ReportSettings()) -> dict[str, Path]:
    """Write ``report.md`` and ``report.html`` (default: into the run folder); return their paths."""
    run = Path(run_dir)
    out = Path(out_dir) if out_dir else (run if run.is_dir() else run.parent)
    report = build_report(run, settings)
    out.mkdir(parents=True, exist_ok=True)
    plots_dir = (run if run.is_dir() else run.parent) / "plots"
    plots = [os.path.relpath(p, out) for p in sorted(plots_dir.glob("*.png"))] if plots_dir.is_dir() else []
    paths = {"md": out / "report.md", "html": out / "report.html"}
    write_text_atomic(paths["md"], report_markdown(report))
    write_text_atomic(paths["html"], report_html(report, plots))
    return paths
