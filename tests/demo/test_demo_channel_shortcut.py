"""Rung 6 (rung 4 through laundering and replay) and the silence-shortcut check of the demo: configs, the chain
order, the merge's relabelling, the ladder's columns and the shortcut table/words on small synthetic runs."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from spoofbench.atomic import write_text_atomic
from spoofbench.demo.la19 import QUICK_LA19, build_la19_manifests

from test_demo_benchmark import _fake_corpus

N = 40  # trials per label of the synthetic sub-runs


def _scores(kind: str, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if kind == "separating":  # bona fide above every spoof: EER 0
        return labels + 0.1 * rng.random(len(labels))
    return rng.random(len(labels))  # chance: EER ~ 0.5


def _run(folder: Path, test: str, codec: str, detectors: dict[str, str], seed: int = 0) -> dict:
    """A sub-run folder: keys of ``test`` and one score file per detector (``{label: "separating"|"chance"}``)."""
    labels = np.r_[np.ones(N), np.zeros(N)].astype(int)
    ids = [f"{test}_{i:03d}" for i in range(2 * N)]
    write_text_atomic(folder / "keys" / f"{test}.txt", "".join(
        f"s{i} {u} - {'-' if y else 'A01'} {'bonafide' if y else 'spoof'}\n" for i, (u, y) in enumerate(zip(ids, labels))))
    cells = []
    for k, (det, kind) in enumerate(detectors.items()):
        rel = f"scores/{det}/{test}__{codec}.txt"
        values = _scores(kind, labels, np.random.default_rng([seed, k, len(codec)]))
        write_text_atomic(folder / rel, "".join(f"{u} {v:.6f}\n" for u, v in zip(ids, values)))
        cells.append({"detector": det, "seed": seed, "test_set": test, "codec": codec, "domain": "ood",
                      "score_file": rel, "metrics": {"eer": 0.1, "eer_ci95": [0.0, 0.3]}})
    return {"config": {"name": folder.name, "detectors": [{"name": d.split("@")[0], "label": d} for d in detectors]},
            "detectors": {d: {"parameters": 10} for d in detectors if "@seed" not in d},
            "test_sets": {test: {"domain": "ood", "n_trials": 2 * N}}, "cells": cells, "failed_cells": []}


def test_rung_6_and_shortcut_configs(tmp_path):
    from spoofbench.demo.runs import (CHANNEL_CONDITIONS_FULL, CHANNEL_CONDITIONS_QUICK, DemoSettings,
                                      channel_config, pretrained_config, shortcut_config)

    corpus = _fake_corpus(tmp_path)
    root, la19 = build_la19_manifests(tmp_path / "la19", QUICK_LA19)
    checkpoints = {("rawcnn_2m", 1): str(tmp_path / "best.pt"), ("lfcc_gmm@la19", 0): str(tmp_path / "gmm.pt")}
    quick, full = DemoSettings(quick=True, aasist_weights=None), DemoSettings(aasist_weights=None)
    assert quick.channel_conditions() == CHANNEL_CONDITIONS_QUICK == ("noise_pink_10db",)
    assert len(full.channel_conditions()) == 4 and "replay_sim_office" in CHANNEL_CONDITIONS_FULL
    channel = channel_config(corpus, full, checkpoints)
    assert channel.codecs == CHANNEL_CONDITIONS_FULL and [t.name for t in channel.test_sets] == ["r4_corpora"]
    assert [d.display for d in channel.detectors] == ["rawcnn_2m@seed1", "lfcc_gmm@la19@seed0"]
    assert channel.detectors[1].name == "lfcc_gmm" and channel.detectors[1].checkpoint.endswith("gmm.pt")
    shortcut = shortcut_config(corpus, quick, checkpoints, la19, root, "in-domain")
    assert shortcut.codecs == ("vad_trim",)  # the `none` cells are the ladder's / LA 2019 run's
    assert [(t.name, t.domain) for t in shortcut.test_sets] == [("la19_dev", "in-domain")]
    weights = tmp_path / "AASIST.pth"
    weights.write_bytes(b"")
    assert pretrained_config(corpus, quick, la19, root, weights).codecs == ("none", "vad_trim")
    assert pretrained_config(corpus, DemoSettings(shortcut=False), la19, root, weights).codecs == ("none",)
    assert DemoSettings(real_attacks=False).shortcut_conditions() == ()
    assert DemoSettings(shortcut=False).shortcut_conditions() == ()
    assert DemoSettings(channels=("none", "lufs_m23")).channel_conditions() == ("lufs_m23",)


def test_the_ladder_chain_rescoring_order_and_notes(tmp_path, monkeypatch):
    from spoofbench.demo import runs

    ladder = SimpleNamespace(detectors=[SimpleNamespace(slug="rawcnn_2m", display="rawcnn_2m")], seeds=(0,))
    monkeypatch.setattr(runs, "demo_config", lambda *args: ladder)
    for name in ("telephone_config", "channel_config", "shortcut_config"):
        monkeypatch.setattr(runs, name, lambda *args, _n=name: _n)
    ran = []
    monkeypatch.setattr(runs._Chains, "_run", lambda self, name, config: ran.append((name, config)))
    monkeypatch.setattr(runs, "trained_checkpoints", lambda *args: {("rawcnn_2m", 0): "best.pt"})
    la19 = {"la19_dev": tmp_path / "dev.jsonl.gz"}
    chains = runs._Chains(tmp_path, runs.DemoSettings(device="cpu"), None, la19, tmp_path, False)
    chains.ladder()
    assert ran == [("ladder", ladder), ("telephone", "telephone_config"), ("channel", "channel_config"),
                   ("shortcut", "shortcut_config")]
    # nothing trained: every rescoring sub-run says it is skipped
    monkeypatch.setattr(runs, "trained_checkpoints", lambda *args: {})
    ran.clear()
    chains = runs._Chains(tmp_path, runs.DemoSettings(device="cpu"), None, la19, tmp_path, False)
    chains.ladder()
    assert ran == [("ladder", ladder)]
    assert [n.split(" is skipped")[0] for n in chains.notes] == [
        "Rung 5 (telephone codecs)", "Rung 6 (laundering and replay)", "The silence-shortcut check"]


@pytest.fixture
def merged(tmp_path):
    """A demo result: ladder (rung 4 and la19_dev as is), telephone, rung 6, and the trimmed la19_dev of two
    detectors: rawcnn_2m separates as is and falls to chance trimmed; lfcc_gmm is the same both ways."""
    from spoofbench.demo.merge import merge_results
    from spoofbench.demo.runs import RESCORED_RUNS, TRAINED_ON

    both = {"rawcnn_2m": "separating", "lfcc_gmm": "separating"}
    ladder = _run(tmp_path / "ladder", "la19_dev", "none", both)
    r4 = _run(tmp_path / "ladder", "r4_corpora", "none", both)
    ladder["cells"] += r4["cells"]
    ladder["test_sets"].update(r4["test_sets"])
    runs = {
        "ladder": ladder,
        "telephone": _run(tmp_path / "telephone", "r4_corpora", "tel_gsm", {"rawcnn_2m@seed0": "chance"}),
        "channel": _run(tmp_path / "channel", "r4_corpora", "replay_sim_office", {"rawcnn_2m@seed0": "chance"}),
        "shortcut": _run(tmp_path / "shortcut", "la19_dev", "vad_trim",
                         {"rawcnn_2m@seed0": "chance", "lfcc_gmm@seed0": "separating"}),
    }
    # lfcc_gmm's trimmed scores are its untrimmed ones: no change at all
    source = tmp_path / "ladder" / "scores" / "lfcc_gmm" / "la19_dev__none.txt"
    write_text_atomic(tmp_path / "shortcut" / "scores" / "lfcc_gmm@seed0" / "la19_dev__vad_trim.txt",
                      source.read_text())
    extra = {"channel_conditions": ["replay_sim_office"], "telephone_codecs": ["tel_gsm"],
             "shortcut_condition": "vad_trim"}
    return merge_results(tmp_path, runs, name="demo", trained_on=TRAINED_ON, not_ood_evidence={}, extra=extra,
                         rescored=RESCORED_RUNS), tmp_path


def test_merge_relabels_the_new_sub_runs(merged):
    result, out = merged
    cells = {(c["detector"], c["seed"], c["test_set"], c["codec"]): c for c in result["cells"]}
    assert ("rawcnn_2m", 0, "la19_dev", "vad_trim") in cells and ("lfcc_gmm", 0, "la19_dev", "vad_trim") in cells
    assert cells[("rawcnn_2m", 0, "r4_corpora", "replay_sim_office")]["score_file"].startswith("channel/")
    assert set(result["detectors"]) == {"rawcnn_2m", "lfcc_gmm"}  # no @seed rows


def test_ladder_shows_rung_5_and_rung_6_as_labelled_columns(merged):
    from spoofbench.demo.ladder import ladder_table
    from spoofbench.runner.report import ReportSettings

    result, _ = merged
    table, _ = ladder_table(result, None, ["rawcnn_2m"], ["r4_corpora"], title="t", caption="c", telephone=True,
                            settings=ReportSettings(resamples=20))
    assert list(table.frame.columns) == ["r4_corpora: + unseen bona fide recording corpora",
                                         "r5_telephone: r4 through tel_gsm",
                                         "r6_channel: r4 through replay_sim_office (simulation)"]
    # without the demo's record of rung 6 (an older result) every coded cell stays rung 5
    result = {**result, "demo": {}}
    table, _ = ladder_table(result, None, ["rawcnn_2m"], ["r4_corpora"], title="t", caption="c", telephone=True,
                            settings=ReportSettings(resamples=20))
    assert "r5_telephone: r4 through replay_sim_office" in table.frame.columns


def test_only_the_replay_chain_is_called_a_simulation():
    from spoofbench.demo.ladder import channel_title
    from spoofbench.demo.runs import CHANNEL_CONDITIONS_FULL

    titles = {c: channel_title(c) for c in CHANNEL_CONDITIONS_FULL}
    assert [c for c, t in titles.items() if t.endswith("(simulation)")] == ["replay_sim_office"]
    assert channel_title("no_such_condition") == "r6_channel: r4 through no_such_condition"


def test_shortcut_rows_words_table_and_files(merged):
    from spoofbench.demo.silence import (shortcut_rows, shortcut_section, shortcut_summary, shortcut_words,
                                         write_shortcut_tables)
    from spoofbench.runner.report import ReportSettings

    _, out = merged
    rows = shortcut_rows(out, ReportSettings(resamples=200, seed=0), "vad_trim")
    by = {r.detector: r for r in rows}
    assert set(by) == {"rawcnn_2m", "lfcc_gmm"} and all(r.test_set == "la19_dev" for r in rows)
    assert by["rawcnn_2m"].rests_on_silence and by["rawcnn_2m"].eer_as_is == 0.0 and by["rawcnn_2m"].delta > 0.2
    assert not by["lfcc_gmm"].rests_on_silence and by["lfcc_gmm"].delta == 0.0
    words = shortcut_words(rows)
    assert "The number of rawcnn_2m (la19_dev) rests in part on silence" in words
    assert f"No separable change for lfcc_gmm (la19_dev); with {2 * N} trials" in words
    summary = shortcut_summary(rows)
    assert "| rawcnn_2m | la19_dev |" in summary and "Müller et al. (2021)" in summary
    section = shortcut_section(rows)
    table = section.blocks[1]
    assert table.frame.loc["rawcnn_2m on la19_dev", "rests on silence"] == "yes"
    assert table.frame.loc["lfcc_gmm on la19_dev", "rests on silence"] == "no"
    written = write_shortcut_tables(rows, out / "tables")
    assert [p.name for p in written] == ["shortcut_vad_trim.md", "shortcut_vad_trim.json"]
    assert shortcut_rows(out, ReportSettings(resamples=20), None) == []
    assert shortcut_rows(out, ReportSettings(resamples=20), "silence_pad_1s") == []  # no such cells: no check


def test_no_detector_resting_on_silence_is_said_too(merged):
    from spoofbench.demo.silence import shortcut_rows, shortcut_words
    from spoofbench.runner.report import ReportSettings

    _, out = merged
    rows = [r for r in shortcut_rows(out, ReportSettings(resamples=100), "vad_trim") if r.detector == "lfcc_gmm"]
    assert shortcut_words(rows).startswith("No detector's number rests on silence separably here")
    pretrained = [dataclasses.replace(rows[0], detector="aasist_official", test_set="la19_pretrained")]
    assert "in their own training data" in shortcut_words(pretrained)
    assert shortcut_words([]) == "The silence-shortcut check did not run (no trimmed cells)."


def test_demo_plots_of_the_channel_rungs_and_the_shortcut(merged):
    from spoofbench.demo.plots import plot_demo_extras

    result, out = merged
    paths = plot_demo_extras(result, out / "plots")
    assert [p.name for p in paths] == ["demo_channels.png", "demo_silence_shortcut.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert plot_demo_extras({**result, "cells": [], "demo": {}}, out / "none") == []


def test_the_reports_rung_5_and_6_section(merged):
    from spoofbench.demo.runs import _channel_section
    from spoofbench.runner.report import ReportSettings

    result, out = merged
    section = _channel_section(result, out, ReportSettings(resamples=20))
    (table,) = section.blocks
    assert "r6_channel: r4 through replay_sim_office (simulation)" in table.frame.columns
    assert "simulated loudspeaker" in table.caption and list(table.frame.index) == ["rawcnn_2m", "lfcc_gmm"]
    no_coded = {**result, "cells": [c for c in result["cells"] if c["codec"] == "none"]}
    assert _channel_section(no_coded, out, ReportSettings(resamples=20)) is None
