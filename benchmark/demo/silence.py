"""The demo's silence-shortcut check: every detector's EER on ``la19_dev`` as is and after ``vad_trim`` (the
official AASIST row: on its cut ``la19_pretrained``).

The shortcut sub-runs (:mod:`.runs`) score the trimmed condition only; the merged ``result.json`` pairs those
cells with the ``none`` cells of the same detector, seed and trials, and
:func:`spoofbench.runner.shortcut.shortcut_check` tests each change with the paired bootstrap (Holm-adjusted over
the check's pairs). This module turns its rows into the demo's table, its sentence in words and the report's
section, and writes ``tables/shortcut_<condition>.md|json``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

#: Shown in the table and report: what the check is and where it comes from.
WHY = ("Müller et al. (2021) showed that ASVspoof 2019 LA detectors lean on the length of the leading and trailing "
       "silence. Each detector scores the same la19_dev trials (the official AASIST weights: la19_pretrained) as is "
       "and after `vad_trim` (silero-vad removes the non-speech before and after speech; labels unchanged); the change in EER is tested with the paired "
       "bootstrap (trials resampled within class, the same resample for both), Holm-adjusted over the check's "
       "pairs, every seed agreeing.")


def shortcut_rows(out: Path, settings: Any, condition: str | None) -> list:
    """:class:`~spoofbench.runner.shortcut.ShortcutRow` of each (detector, test set) with ``condition`` cells in
    the merged run ``out``; ``[]`` when the demo did not run the check."""
    if not condition:
        return []
    from ..runner.shortcut import NoTrimmedCells, shortcut_check

    try:
        return shortcut_check(out, condition=condition, settings=settings)
    except NoTrimmedCells:
        return []


def shortcut_words(rows: list, condition: str = "vad_trim") -> str:
    """One paragraph in words: whose number rests on silence, whose does not, whose moves the other way."""
    if not rows:
        return "The silence-shortcut check did not run (no trimmed cells)."
    resting = [f"{r.detector} ({r.test_set})" for r in rows if r.rests_on_silence]
    lowered = [f"{r.detector} ({r.test_set})" for r in rows if not r.rests_on_silence and "lowers" in r.verdict]
    steady = [f"{r.detector} ({r.test_set})" for r in rows
              if not r.rests_on_silence and f"{r.detector} ({r.test_set})" not in lowered]
    parts = []
    if resting:
        parts.append(f"The number of {', '.join(resting)} rests in part on silence: removing it with `{condition}` "
                     "raises the EER separably.")
    else:
        parts.append(f"No detector's number rests on silence separably here: `{condition}` raises no EER beyond "
                     "what the paired test can tell from chance.")
    if lowered:
        parts.append(f"Trimming lowers the EER of {', '.join(lowered)} separably (silence hid cues or added noise).")
    if steady:
        trials = sorted({r.n_trials for r in rows if f"{r.detector} ({r.test_set})" in steady})
        count = f"{trials[0]}" if len(trials) == 1 else f"{trials[0]}–{trials[-1]}"
        parts.append(f"No separable change for {', '.join(steady)}; with {count} trials a small dependence on "
                     "silence cannot be ruled out (the 95% CIs of the change bound it).")
    if any(r.test_set == "la19_pretrained" for r in rows):
        parts.append("The official AASIST weights are checked on la19_pretrained, a subset of la19_dev that is in "
                     "their own training data: whether their number rests on silence is an in-domain question.")
    return " ".join(parts)


def shortcut_table(rows: list, condition: str = "vad_trim"):
    """The rows as a runner :class:`~spoofbench.runner.tables.Table` (for the report's sections)."""
    import numpy as np
    import pandas as pd

    from ..runner.tables import Table

    index = [f"{r.detector} on {r.test_set}" for r in rows]
    columns = ["seeds", "trials", "EER as is (%)", f"EER after {condition} (%)", "Δ EER (pp) [95% CI]",
               "Holm-adjusted p", "rests on silence"]
    display = pd.DataFrame(
        [[len(r.seeds), r.n_trials, f"{r.eer_as_is * 100:.2f}", f"{r.eer_trimmed * 100:.2f}",
          f"{r.delta * 100:+.2f} [{r.delta_ci95[0] * 100:+.2f}, {r.delta_ci95[1] * 100:+.2f}]", f"{r.p_holm:.3g}",
          "yes" if r.rests_on_silence else "no"] for r in rows], index=index, columns=columns, dtype=object)
    numeric = pd.DataFrame(np.nan, index=index, columns=columns)
    numeric["Δ EER (pp) [95% CI]"] = [r.delta for r in rows]
    display.index.name = numeric.index.name = "detector"
    return Table(f"The silence shortcut: EER on la19_dev as is and after {condition}", display, numeric,
                 caption=WHY, unit="pp", metric="eer", delta=True)


def shortcut_summary(rows: list, condition: str = "vad_trim") -> str:
    """The demo summary's block: title, what it is, the table, the verdicts and the sentence in words."""
    from ..runner.shortcut import shortcut_markdown

    if not rows:
        return ""
    return "\n".join([f"#### The silence shortcut: EER on la19_dev as is and after `{condition}`", "", WHY, "",
                      shortcut_markdown(rows, condition), shortcut_words(rows, condition), ""])


def shortcut_section(rows: list, condition: str = "vad_trim"):
    """The report's section (a table, the verdicts as bullets, the sentence in words)."""
    from ..runner.report import Section

    return Section("The silence shortcut: does a detector's number rest on silence?",
                   [shortcut_words(rows, condition), shortcut_table(rows, condition), [r.verdict for r in rows]])


def write_shortcut_tables(rows: list, tables_dir: Path, condition: str = "vad_trim") -> list[Path]:
    """``tables/shortcut_<condition>.md`` (table and verdicts) and ``.json`` (the rows)."""
    from ..atomic import write_json_atomic, write_text_atomic
    from ..runner.shortcut import rows_as_dicts

    if not rows:
        return []
    md, js = tables_dir / f"shortcut_{condition}.md", tables_dir / f"shortcut_{condition}.json"
    write_text_atomic(md, shortcut_summary(rows, condition))
    write_json_atomic(js, {"condition": condition, "rows": rows_as_dicts(rows), "words": shortcut_words(rows, condition)})
    return [md, js]
