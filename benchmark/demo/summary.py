"""``demo_summary.md``: the demo's printed result (the ladder, the real-attack rungs, separability, notes)."""
from __future__ import annotations

from pathlib import Path

from .runs import RUNGS


def _seed_words(seeds: list[int]) -> str:
    if len(seeds) > 1:
        return f"Mean ± sd over {len(seeds)} training seeds"
    return "One training seed (no spread across seeds; the full demo trains 3)"


def demo_summary(result: dict, out: Path, comparisons: list, settings) -> str:
    """The demo's printed result: the ladder, the real-attack rungs, separability, notes."""
    from ..runner.report import ScoreStore
    from ..runner.tables import render
    from .ladder import ladder_table, separability_lines, separable_rungs

    store = ScoreStore(result, out)
    store = store if store.available() else None
    info = result["detectors"]
    a_dets = [d for d, i in info.items() if i.get("run") == "ladder"]
    la_dets = [d for d, i in info.items() if i.get("run") in ("la19", "pretrained")]
    seeds = result.get("demo", {}).get("seeds", [])
    ladder_tests = [t for t in RUNGS if t != "la19_pretrained"]
    parts = []
    table, _ = ladder_table(
        result, store, a_dets, ladder_tests, telephone=True, settings=settings,
        title="The ladder: EER (%) of detectors trained on demo corpus A",
        caption=f"Each rung adds one shift to the one before; la19_dev holds real ASVspoof 2019 LA attacks no demo "
                f"generator resembles (out of distribution). {_seed_words(seeds)}, then [mean of the seeds' 95% "
                "bootstrap CIs]. Uncoded unless the column names a codec.")
    parts.append(render(table, "md"))
    lines = separability_lines(comparisons, ladder_tests, a_dets)
    rungs = separable_rungs(comparisons, a_dets)
    verdict = (f"Detectors trained on corpus A are separable (paired bootstrap, Holm-adjusted p < {settings.alpha}, "
               f"every seed pair agreeing) on: {', '.join(rungs)}." if rungs else
               "On no rung are the detectors trained on corpus A separable by the paired tests; the numbers are above.")
    parts.append("\n".join(["#### Which detectors differ (paired bootstrap, Holm-adjusted)", "", verdict, "",
                            *[f"- {line}" for line in lines], ""]))
    if la_dets:
        table, _ = ladder_table(
            result, store, la_dets, ["la19_dev", "la19_pretrained", "r1_speakers", "r4_corpora"], settings=settings,
            title="Real attacks: EER (%) of detectors trained on ASVspoof 2019 LA",
            caption="@la19: trained on the real 2019 LA mini train half (a few dozen utterances), tested on its dev "
                    "half (in-domain) and on demo rungs (out of distribution). aasist_official: the "
                    "official AASIST weights scored as is on a subset of the dev half (la19_pretrained).")
        parts.append(render(table, "md"))
        lines = separability_lines(comparisons, ["la19_dev", "r1_speakers", "r4_corpora"], la_dets)
        if lines:
            parts.append("\n".join(f"- {line}" for line in lines) + "\n")
    for note in result.get("demo", {}).get("notes", []):
        parts.append(f"Note: {note}\n")
    return "\n".join(parts)
