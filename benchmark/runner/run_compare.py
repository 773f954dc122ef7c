"""Compare two benchmark runs: matching cells, paired tests on the same trials, what changed in the configs.

``spoofbench compare RUN_A RUN_B --out DIR`` answers "what did my change do?", where ``reproduce --against``
answers "did the number reproduce?" (:mod:`spoofbench.reproduce.compare`). A deliberate change is not a
failure: the comparison is written to a folder of its own (never into either run) and the command exits 0.

- Cells are matched by (detector label, seed, test set, codec). A cell in one run only is listed.
- A matched cell is tested on the trials both runs scored (matched by trial id, labels checked equal):
  the paired bootstrap of :func:`spoofbench.metrics.paired_bootstrap` (both runs see the same resampled
  trials; ``delta = B - A``, negative: B makes fewer errors), Holm-adjusted over all tested cells
  (:func:`spoofbench.runner.report.holm`). Cells with the same cache hash and the same score file are
  ``identical`` and not tested (their difference is zero by construction).
- The configs (``result.json``'s ``config``), the environments and the test sets' data digests are
  diffed field by field; a list of named entries (detectors, test sets) is matched by name.

Outputs in ``DIR``: ``compare.md`` (Markdown), ``cells.csv``, ``changes.csv`` and ``compare.json``.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..atomic import write_json_atomic, write_text_atomic
from ..errors import SpoofbenchError
from .results import load_result

#: Fields of a named list entry used to match it across runs, in order of preference.
_NAME_FIELDS = ("label", "name", "id")
#: Environment fields worth naming when they differ (others: platform noise).
_ENV_FIELDS = ("spoofbench", "python", "numpy", "torch", "cuda", "av", "git")
#: Per-test-set fields that say whether the data changed.
_DATA_FIELDS = ("manifest_sha256", "audio_sha256", "n_trials", "domain")


@dataclass(frozen=True)
class CompareSettings:
    """``metric`` (``eer`` or ``min_dcf``) tested with ``resamples`` paired-bootstrap replicates at ``alpha``."""

    metric: str = "eer"
    resamples: int = 1000
    alpha: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.metric not in ("eer", "min_dcf"):
            raise SpoofbenchError(f"metric {self.metric!r}: expected 'eer' or 'min_dcf' (the paired test's metrics)")
        if self.resamples < 1:
            raise SpoofbenchError(f"resamples {self.resamples}: expected at least 1")
        if not 0 < self.alpha < 1:
            raise SpoofbenchError(f"alpha {self.alpha}: expected a level between 0 and 1")


@dataclass(frozen=True)
class Change:
    """One field that differs: ``where`` (config / environment / data / codecs), its dotted ``path``, A's and B's value."""

    where: str
    path: str
    a: Any
    b: Any


@dataclass
class CellDiff:
    """One matched cell: the metric in A and B, the paired test of B vs A (``delta = B - A``) and a status.

    ``status``: ``identical`` (same cache hash and score file), ``tested``, or ``not tested`` (``note`` says why).
    """

    detector: str
    seed: int
    test_set: str
    codec: str
    status: str
    value_a: float | None = None
    value_b: float | None = None
    delta: float | None = None
    delta_ci95: tuple[float, float] | None = None
    p_value: float | None = None
    p_holm: float | None = None
    separable: bool = False
    n_trials: int = 0
    note: str = ""


@dataclass
class RunComparison:
    run_a: str
    run_b: str
    settings: CompareSettings
    cells: list[CellDiff]
    only_a: list[str]
    only_b: list[str]
    changes: list[Change] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"run_a": self.run_a, "run_b": self.run_b, "settings": asdict(self.settings),
                "changes": [asdict(c) for c in self.changes], "cells": [asdict(c) for c in self.cells],
                "only_a": self.only_a, "only_b": self.only_b}


def _run_dir(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.parent if path.is_file() else path


# ---------------------------------------------------------------------------------------- changes

def _named(items: list) -> dict | None:
    """A list of dicts that all carry one name field, as ``{name: item}``; else None."""
    if not items or not all(isinstance(i, Mapping) for i in items):
        return None
    for key in _NAME_FIELDS:
        names = [i.get(key) for i in items]
        if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            return dict(zip(names, items))
    return None


def diff_values(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every leaf where ``a`` and ``b`` differ, as ``(dotted path, a, b)``; absent is ``None``.

    Dicts are walked key by key; lists of named dicts (``detectors``, ``test_sets``) by name
    (``detectors[rawcnn_2m].overrides.channels``); other lists are compared whole."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = []
        for key in list(a) + [k for k in b if k not in a]:
            out += diff_values(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(a, list) and isinstance(b, list):
        named_a, named_b = _named(a), _named(b)
        if named_a is not None and named_b is not None:
            out = []
            for name in list(named_a) + [n for n in named_b if n not in named_a]:
                out += diff_values(named_a.get(name), named_b.get(name), f"{path}[{name}]")
            return out
    return [] if a == b else [(path, a, b)]


def run_changes(a: dict, b: dict) -> list[Change]:
    """What differs between two results: config, environment, test-set data and codec provenance."""
    changes = [Change("config", p, x, y) for p, x, y in diff_values(a.get("config") or {}, b.get("config") or {})]
    env_a, env_b = a.get("environment") or {}, b.get("environment") or {}
    changes += [Change("environment", k, env_a.get(k), env_b.get(k)) for k in _ENV_FIELDS
                if env_a.get(k) != env_b.get(k)]
    tests_a, tests_b = a.get("test_sets") or {}, b.get("test_sets") or {}
    for name in sorted(set(tests_a) & set(tests_b)):
        for key in _DATA_FIELDS:
            x, y = (tests_a[name] or {}).get(key), (tests_b[name] or {}).get(key)
            if x != y:
                changes.append(Change("data", f"{name}.{key}", x, y))
    codecs_a, codecs_b = a.get("codecs") or {}, b.get("codecs") or {}
    for name in sorted(set(codecs_a) & set(codecs_b)):
        changes += [Change("codecs", f"{name}.{p}", x, y) for p, x, y in diff_values(codecs_a[name], codecs_b[name])]
    return changes


# ---------------------------------------------------------------------------------------- cells

class _Trials:
    """Scores of one run's cells by trial id, with the run's keys per test set (read once)."""

    def __init__(self, result: dict, run: Path):
        self.run = run
        self._keys: dict[str, dict[str, int]] = {}
        self.cells = {_key(c): c for c in result["cells"]}

    def keys(self, test_set: str) -> dict[str, int]:
        from ..metrics import read_keys

        if test_set not in self._keys:
            table = read_keys(self.run / "keys" / f"{test_set}.txt")
            self._keys[test_set] = dict(zip(table.ids.tolist(), table.labels.tolist()))
        return self._keys[test_set]

    def scores(self, cell: dict) -> dict[str, float]:
        from ..metrics import read_scores

        table = read_scores(self.run / cell["score_file"])
        return dict(zip(table.ids.tolist(), table.scores.tolist()))


def _key(cell: Mapping) -> tuple[str, int, str, str]:
    return cell["detector"], int(cell["seed"]), cell["test_set"], cell["codec"]


def _ident(key: tuple) -> str:
    detector, seed, test_set, codec = key
    return f"{detector}/seed{seed}/{test_set}/{codec}"


def _shared(trials_a: _Trials, trials_b: _Trials, cell_a: dict, cell_b: dict):
    """``(scores A, scores B, labels)`` on the trials both runs scored, in A's key order; or a note why not."""
    test_set = cell_a["test_set"]
    keys_a, keys_b = trials_a.keys(test_set), trials_b.keys(test_set)
    disagree = [i for i in keys_a if i in keys_b and keys_a[i] != keys_b[i]]
    if disagree:
        return f"{len(disagree)} shared trial(s) carry different labels in the two runs (e.g. {disagree[0]})"
    scores_a, scores_b = trials_a.scores(cell_a), trials_b.scores(cell_b)
    ids = [i for i in keys_a if i in keys_b and i in scores_a and i in scores_b]
    labels = np.array([keys_a[i] for i in ids], dtype=np.int8)
    if len(set(labels.tolist())) < 2:
        return f"{len(ids)} trial(s) scored in both runs: both classes are needed for a paired test"
    return (np.array([scores_a[i] for i in ids]), np.array([scores_b[i] for i in ids]), labels)


def _diff_cell(key: tuple, cell_a: dict, cell_b: dict, trials_a: _Trials, trials_b: _Trials,
               settings: CompareSettings) -> CellDiff:
    from ..metrics import paired_bootstrap

    diff = CellDiff(*key, status="not tested", value_a=(cell_a.get("metrics") or {}).get(settings.metric),
                    value_b=(cell_b.get("metrics") or {}).get(settings.metric))
    if cell_a.get("hash") and cell_a.get("hash") == cell_b.get("hash") and \
            cell_a.get("score_sha256") and cell_a.get("score_sha256") == cell_b.get("score_sha256"):
        diff.status, diff.delta, diff.note = "identical", 0.0, "same cache hash and score file: same inputs, same scores"
        diff.n_trials = int(cell_a.get("n_scored") or 0)
        return diff
    try:
        shared = _shared(trials_a, trials_b, cell_a, cell_b)
    except SpoofbenchError as err:
        diff.note = f"scores or keys unreadable: {err}"
        return diff
    if isinstance(shared, str):
        diff.note = shared
        return diff
    scores_a, scores_b, labels = shared
    test = paired_bootstrap(scores_b, scores_a, labels, metric=settings.metric, n_resamples=settings.resamples,
                            seed=settings.seed)
    diff.status, diff.n_trials = "tested", int(labels.size)
    diff.value_a, diff.value_b, diff.delta = test.value_b, test.value_a, test.delta
    diff.delta_ci95, diff.p_value = test.delta_ci95, test.p_value
    return diff


def compare_runs(run_a: str | os.PathLike, run_b: str | os.PathLike,
                 settings: CompareSettings = CompareSettings()) -> RunComparison:
    """Compare the runs in ``run_a`` and ``run_b`` (folders or their result.json): see the module docstring."""
    from .report import holm

    result_a, result_b = load_result(run_a), load_result(run_b)  # read through the typed model, as dicts
    trials_a, trials_b = _Trials(result_a, _run_dir(run_a)), _Trials(result_b, _run_dir(run_b))
    matched = sorted(set(trials_a.cells) & set(trials_b.cells))
    diffs = [_diff_cell(k, trials_a.cells[k], trials_b.cells[k], trials_a, trials_b, settings) for k in matched]
    tested = [d for d in diffs if d.status == "tested"]
    for diff, p in zip(tested, holm([d.p_value for d in tested]) if tested else []):
        diff.p_holm = p
        diff.separable = p < settings.alpha
    return RunComparison(str(run_a), str(run_b), settings, diffs,
                         [_ident(k) for k in sorted(set(trials_a.cells) - set(trials_b.cells))],
                         [_ident(k) for k in sorted(set(trials_b.cells) - set(trials_a.cells))],
                         run_changes(result_a, result_b))


# ---------------------------------------------------------------------------------------- output

def _pct(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{value * 100:+.2f}" if signed else f"{value * 100:.2f}%"


def _short(value: Any, limit: int = 60) -> str:
    text = "(absent)" if value is None else str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _verdict(diff: CellDiff, settings: CompareSettings) -> str:
    if diff.status != "tested":
        return diff.status if not diff.note else f"{diff.status}: {diff.note}"
    if not diff.separable:
        return "no separable change"
    return "B lower (better)" if diff.delta < 0 else "B higher (worse)"


def _cells_markdown(comparison: RunComparison) -> list[str]:
    s = comparison.settings
    from .report import format_p

    name = "EER" if s.metric == "eer" else "minDCF"
    lines = [f"| detector | seed | test set | codec | {name} A | {name} B | Δ (B − A) pp, 95% CI | p | Holm p | trials | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for d in comparison.cells:
        ci = f" [{_pct(d.delta_ci95[0], True)}, {_pct(d.delta_ci95[1], True)}]" if d.delta_ci95 else ""
        p = format_p(d.p_value, s.resamples) if d.p_value is not None else "–"
        ph = format_p(d.p_holm, s.resamples) if d.p_holm is not None else "–"
        lines.append(f"| {d.detector} | {d.seed} | {d.test_set} | {d.codec} | {_pct(d.value_a)} | {_pct(d.value_b)} | "
                     f"{_pct(d.delta, True)}{ci} | {p} | {ph} | {d.n_trials} | {_verdict(d, s)} |")
    return lines


def comparison_markdown(comparison: RunComparison) -> str:
    """The comparison as Markdown: what changed, the matched cells with their paired tests, unmatched cells."""
    s = comparison.settings
    lines = ["# Compare runs", "", f"- A: `{comparison.run_a}`", f"- B: `{comparison.run_b}`",
             f"- test: paired bootstrap of {s.metric} on the trials both runs scored ({s.resamples} resamples), "
             f"Holm-adjusted over {sum(d.status == 'tested' for d in comparison.cells)} tested cell(s), alpha {s.alpha}; "
             "Δ = B − A (negative: B makes fewer errors)", "", "## What changed", ""]
    if comparison.changes:
        lines += ["| where | field | A | B |", "|---|---|---|---|"]
        lines += [f"| {c.where} | `{c.path}` | {_short(c.a)} | {_short(c.b)} |" for c in comparison.changes]
    else:
        lines.append("Nothing in the configs, environments, test-set data or codec provenance differs.")
    lines += ["", "## Matched cells", ""]
    lines += _cells_markdown(comparison) if comparison.cells else ["No cell is in both runs."]
    for label, cells in (("Only in A", comparison.only_a), ("Only in B", comparison.only_b)):
        if cells:
            lines += ["", f"## {label}", ""] + [f"- {c}" for c in cells]
    return "\n".join(lines) + "\n"


def _csv(rows: Iterable[dict], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell_text(row.get(k)) for k in columns})
    return buffer.getvalue()


def _cell_text(value: Any) -> Any:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list, tuple)) else value


def check_out_dir(out: str | os.PathLike, runs: Iterable[str | os.PathLike]) -> None:
    """Refuse an output folder that is one of the compared runs or inside one (before any work)."""
    out = Path(out)
    target = out.resolve()
    for run in runs:
        folder = _run_dir(run).resolve()
        if target == folder or folder in target.parents:
            raise SpoofbenchError(f"--out {out}: inside the compared run {folder}; a comparison is written to a "
                                  "folder of its own, never into a run (e.g. --out runs/compare-a-b)")


def write_comparison(comparison: RunComparison, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``compare.md``, ``cells.csv``, ``changes.csv`` and ``compare.json`` into ``out_dir`` (not a run's folder)."""
    out = Path(out_dir)
    check_out_dir(out, (comparison.run_a, comparison.run_b))
    out.mkdir(parents=True, exist_ok=True)
    cells = []
    for d in comparison.cells:
        row = asdict(d)
        low, high = d.delta_ci95 or (None, None)
        row.update(delta_ci_low=low, delta_ci_high=high, verdict=_verdict(d, comparison.settings))
        cells.append(row)
    columns = ["detector", "seed", "test_set", "codec", "status", "value_a", "value_b", "delta", "delta_ci_low",
               "delta_ci_high", "p_value", "p_holm", "separable", "n_trials", "verdict", "note"]
    files = {"compare.md": comparison_markdown(comparison), "cells.csv": _csv(cells, columns),
             "changes.csv": _csv((asdict(c) for c in comparison.changes), ["where", "path", "a", "b"])}
    written = []
    for name, text in files.items():
        write_text_atomic(out / name, text)
        written.append(out / name)
    write_json_atomic(out / "compare.json", comparison.to_dict())
    return written + [out / "compare.json"]
