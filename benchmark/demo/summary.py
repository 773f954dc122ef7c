"""``demo_summary.md``: the demo's printed result (the ladder, the real-attack rungs, separability, notes)."""
from __future__ import annotations

from pathlib import Path

from .rungs import LA19_LABEL, RUNGS


def _seed_words(seeds: list[int]) -> str:
    if len(seeds) > 1:
        return f"Mean ± sd over {len(seeds)} training seeds"
    return "One training seed (no spread across seeds; the full demo trains 3)"


def seed_question(result: dict, out: Path, comparisons: list, settings) -> list[tuple[str, list[dict]]]:
    """(title, :func:`~spoofbench.demo.verdict.verdict_rows`) of each direction whose detectors include both of
    the seed's families: corpus A → ladder, 2019 LA → its dev half and demo rung 4."""
    from .verdict import ENCODER, RAW, verdict_rows

    info = result["detectors"]
    out_parts = []
    for run, suffix, tests, title in (
            ("ladder", "", [("r1_speakers", False), ("r2_voices", True), ("r3_families", True),
                            ("r4_corpora", True), ("la19_dev", True)],
             "The seed's question, trained on demo corpus A"),
            ("la19", LA19_LABEL, [("la19_dev", False), ("r4_corpora", True)],
             "The seed's question, trained on ASVspoof 2019 LA (mini train half)")):
        raw, encoder = f"{RAW}{suffix}", f"{ENCODER}{suffix}"
        if raw not in info or encoder not in info:
            continue
        detectors = [d for d, i in info.items() if i.get("run") == run]
        rows = verdict_rows(comparisons, out, [t for t in tests if t[0] in result.get("test_sets", {})],
                            detectors, raw, encoder, settings.alpha)
        if rows:
            out_parts.append((title, rows))
    return out_parts


def encoder_note(result: dict) -> str | None:
    """How the frozen pretrained encoder row is labelled: what it is and its frozen / trained parameters."""
    from .verdict import ENCODER

    rows = [(label, i) for label, i in result["detectors"].items() if i.get("name") == ENCODER]
    if not rows:
        return None
    frontend = rows[0][1].get("frontend") or ""
    counts = frontend.split("frozen: ", 1)[1] if "frozen: " in frontend else "frozen and trained counts unknown"
    return (f"{', '.join(label for label, _ in rows)}: a frozen pretrained encoder + small trained head — "
            "resemblyzer's GE2E speaker encoder (3-layer LSTM on 40 mel bands, trained by its authors for speaker "
            f"verification; a speaker encoder, not an SSL model like WavLM), {counts}; only the head is trained "
            "here. It stands in for the 'large pretrained encoder' family: no SSL weights are available offline.")


def demo_summary(result: dict, out: Path, comparisons: list, settings, shortcut: list | None = None) -> str:
    """The demo's printed result: the ladder (rungs 5 and 6 as coded columns of rung 4), the real-attack rungs,
    separability, the silence-shortcut check (``shortcut``: :func:`~spoofbench.demo.silence.shortcut_rows`),
    notes."""
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
                "bootstrap CIs]. Uncoded unless the column names a codec: r5_telephone = rung 4 through telephone "
                "codecs, r6_channel = rung 4 through laundering and replay conditions (\"(simulation)\": a simulated "
                "loudspeaker → room → microphone chain, not a re-recording).")
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
    if shortcut:
        from .silence import shortcut_summary

        parts.append(shortcut_summary(shortcut, result.get("demo", {}).get("shortcut_condition") or "vad_trim"))
    note = encoder_note(result)
    if note:
        parts.append(f"{note}\n")
    from .verdict import verdict_markdown

    for title, rows in seed_question(result, out, comparisons, settings):
        parts.append(verdict_markdown(rows, title, len(comparisons), settings.alpha))
    for note in result.get("demo", {}).get("notes", []):
        parts.append(f"Note: {note}\n")
    return "\n".join(parts)
