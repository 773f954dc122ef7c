"""The demo's headline tables: the ladder of shifts and the real-attack rungs, each EER with its CI,
plus one line per rung saying whether the detectors are separable (from ``spoofbench report``'s
paired tests, never from the point estimates alone)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpoofbenchError
from ..metrics.catalog import metric_info
from ..runner.report import Comparison, Estimate, ReportSettings, ScoreStore, estimate
from ..runner.tables import Table
from .rungs import RUNGS

#: CI half-widths above this many percentage points get called wide.
WIDE_CI_PP = 10.0


@dataclass(frozen=True)
class Column:
    title: str
    test_set: str
    codec: str = "none"


def _columns(result: dict, test_sets: list[str], telephone: bool) -> list[Column]:
    columns = []
    for name in test_sets:
        if name not in result.get("test_sets", {}):
            continue
        what = RUNGS.get(name, (name, name))[1]
        columns.append(Column(f"{name}: {what}", name))
        if telephone and name == "r4_corpora":
            columns += _coded_columns(result, name)
    return columns


def simulated(condition: str) -> bool:
    """Whether a condition is a simulation of a physical channel (the replay chain): its tables say so."""
    from ..codecs.catalog import get_condition

    try:
        found = get_condition(condition)
    except (KeyError, SpoofbenchError):  # an id this checkout does not know (a result from elsewhere)
        return False
    steps = getattr(found, "steps", ()) or ()
    return any(getattr(step, "kind", "") == "replay" for step in steps) or "SIMULATED" in found.description


def channel_title(condition: str) -> str:
    return f"r6_channel: r4 through {condition}" + (" (simulation)" if simulated(condition) else "")


def _coded_columns(result: dict, name: str) -> list[Column]:
    """Rung 5 (telephone codecs) and rung 6 (laundering / replay) columns of rung 4's coded cells; the demo
    records which conditions are rung 6's (a result without that record: every coded cell is rung 5)."""
    channel = set(result.get("demo", {}).get("channel_conditions") or ())
    codecs = sorted({c["codec"] for c in result["cells"] if c["test_set"] == name and c["codec"] != "none"})
    columns = [Column(f"r5_telephone: r4 through {codec}", name, codec) for codec in codecs if codec not in channel]
    order = [c for c in result.get("demo", {}).get("channel_conditions") or () if c in codecs]
    return columns + [Column(channel_title(codec), name, codec) for codec in order]


def _cell_text(e: Estimate | None) -> str:
    if e is None:
        return "—"
    eer = metric_info("eer")
    spread = f" ± {eer.format(e.sd, unit=False)}" if e.sd is not None else ""
    wide = (e.ci[1] - e.ci[0]) * 50 > WIDE_CI_PP
    mark = ("" if e.evidence else " †") + (" (wide CI)" if wide else "")
    return f"{eer.format(e.mean, unit=False)}{spread} [{eer.format(e.ci[0], unit=False)}, " \
           f"{eer.format(e.ci[1], unit=False)}]{mark}"


def ladder_table(result: dict, store: ScoreStore | None, detectors: list[str], test_sets: list[str], *,
                 title: str, caption: str, settings: ReportSettings, telephone: bool = False,
                 ) -> tuple[Table, list[Estimate]]:
    """Rows ``detectors``, one column per rung (and rung-5 codec): ``mean ± sd [95% CI]`` EER (%)."""
    import pandas as pd

    columns = _columns(result, test_sets, telephone)
    display = pd.DataFrame(index=detectors, columns=[c.title for c in columns], dtype=object)
    numeric = pd.DataFrame(index=detectors, columns=[c.title for c in columns], dtype=float)
    estimates = []
    for d in detectors:
        for c in columns:
            e = estimate(result, store, d, c.test_set, c.codec, settings)
            display.loc[d, c.title] = _cell_text(e)
            numeric.loc[d, c.title] = e.mean if e else float("nan")
            if e is not None:
                estimates.append(e)
    empty = [c.title for c in columns if numeric[c.title].isna().all()]
    display, numeric = display.drop(columns=empty), numeric.drop(columns=empty)  # no cell of these rows there
    display.index.name = numeric.index.name = "detector"
    notes = []
    if any(not e.evidence for e in estimates):
        notes.append("† scored on utterances from its own training/development data: shown for reference, "
                     "never counted as out-of-distribution evidence.")
    if any("(wide CI)" in str(v) for v in display.to_numpy().ravel()):
        notes.append(f"(wide CI): the 95% CI spans more than {2 * WIDE_CI_PP:g} points: too few trials to "
                     "rank on this rung alone.")
    return Table(title, display, numeric, caption=caption, unit="%", metric="eer", notes=tuple(notes)), estimates


def separability_lines(comparisons: list[Comparison], test_sets: list[str], detectors: list[str]) -> list[str]:
    """Per rung: the separable pairs (with their tests), or 'not separable' with the numbers."""
    lines = []
    for name in test_sets:
        mine = [c for c in comparisons if c.test_set == name and c.codec == "none" and c.a in detectors
                and c.b in detectors]
        if not mine:
            continue
        separable = [c for c in mine if c.separable]
        if separable:
            lines += [f"{name}: {c.sentence()}" for c in separable]
            rest = len(mine) - len(separable)
            if rest:
                lines.append(f"{name}: the other {rest} pair(s) are not separable.")
        else:
            best = min(mine, key=lambda c: c.p_adjusted)
            lines.append(f"{name}: no pair of detectors is separable (closest: {best.sentence()})")
    return lines


def separable_rungs(comparisons: list[Comparison], detectors: list[str]) -> list[str]:
    return sorted({c.test_set for c in comparisons if c.separable and c.a in detectors and c.b in detectors})
