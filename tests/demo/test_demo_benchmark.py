"""The demo's benchmark: real-attack cuts, sub-run configs, the merge, the ladder table, and an
end-to-end run on tiny sizes."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from spoofbench.atomic import write_text_atomic
from spoofbench.corpora.manifest import read_manifest
from spoofbench.demo.la19 import FULL_LA19, QUICK_LA19, La19Sizes, build_la19_manifests, la19_mini_root
from spoofbench.errors import ManifestError, SpoofbenchError

from testenv import SHARED

AASIST = SHARED / "reference" / "aasist" / "AASIST.pth"


def test_vendored_la19_mini_has_its_attribution_and_protocols():
    root = la19_mini_root()
    assert "ODC-By" in (root / "SOURCE.txt").read_text() and "Todisco" in (root / "ATTRIBUTION.md").read_text()
    assert len(list((root / "ASVspoof2019_LA_train" / "flac").glob("*.flac"))) == 100
    assert len(list((root / "ASVspoof2019_LA_dev" / "flac").glob("*.flac"))) == 100


@pytest.mark.parametrize("sizes", [FULL_LA19, QUICK_LA19])
def test_la19_cuts_are_balanced_disjoint_and_real(tmp_path, sizes):
    root, paths = build_la19_manifests(tmp_path, sizes, seed=1)
    sets = {name: list(read_manifest(path)) for name, path in paths.items()}
    ids = {name: {t.id for t in trials} for name, trials in sets.items()}
    assert not ids["la19_train"] & ids["la19_select"]
    assert ids["la19_pretrained"] <= ids["la19_dev"]
    assert all(t.split == "dev" for t in sets["la19_dev"]) and all(t.split == "train" for t in sets["la19_train"])
    for name, trials in sets.items():
        labels = [t.label for t in trials]
        assert labels.count("bonafide") == labels.count("spoof"), name
        assert all((root / t.path).is_file() for t in trials)
    assert {t.attack for t in sets["la19_dev"] if t.label == "spoof"} <= {f"A0{i}" for i in range(1, 7)}
    assert len(sets["la19_select"]) == 2 * sizes.select and len(sets["la19_pretrained"]) == 2 * sizes.pretrained
    if sizes.test is None:
        assert len(sets["la19_dev"]) == 100 and len(sets["la19_train"]) == 100 - 2 * sizes.select


def test_la19_missing_folder_is_one_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="ASVspoof 2019 LA mini set is missing"):
        build_la19_manifests(tmp_path / "m", QUICK_LA19, root=tmp_path)


# --------------------------------------------------------------------------- merge

def _sub_run(folder: Path, detectors: list[str], test: str, codec: str = "none", seeds=(0,)) -> dict:
    labels = np.r_[np.ones(8), np.zeros(8)].astype(int)
    ids = [f"{test}_{i}" for i in range(16)]
    write_text_atomic(folder / "keys" / f"{test}.txt", "".join(
        f"s{i} {u} - {'-' if y else 'A01'} {'bonafide' if y else 'spoof'}\n" for i, (u, y) in enumerate(zip(ids, labels))))
    cells = []
    for det in detectors:
        for seed in seeds:
            rel = f"scores/{det}/{test}__{codec}.txt"
            write_text_atomic(folder / rel, "".join(f"{u} {float(y) + 0.1 * i}\n" for i, (u, y) in
                                                    enumerate(zip(ids, labels))))
            cells.append({"detector": det, "seed": seed, "test_set": test, "codec": codec, "domain": "ood",
                          "score_file": rel, "metrics": {"eer": 0.1, "eer_ci95": [0.0, 0.3]}})
    return {"config": {"name": folder.name, "detectors": [{"name": d.split("@")[0], "label": d} for d in detectors]},
            "detectors": {d: {"parameters": 10} for d in detectors if "@seed" not in d},
            "test_sets": {test: {"domain": "ood", "n_trials": 16}}, "cells": cells, "failed_cells": []}


def test_merge_relabels_prefixes_and_flags(tmp_path):
    from spoofbench.demo.merge import merge_results
    from spoofbench.runner.results import load_result

    runs = {"ladder": _sub_run(tmp_path / "ladder", ["rawcnn_2m"], "r4_corpora"),
            "telephone": _sub_run(tmp_path / "telephone", ["rawcnn_2m@seed2"], "r4_corpora", "tel_gsm"),
            "pretrained": _sub_run(tmp_path / "pretrained", ["aasist_official"], "la19_pretrained")}
    merged = merge_results(tmp_path, runs, name="demo", trained_on={"ladder": ["demo_a"], "telephone": ["demo_a"]},
                           not_ood_evidence={"aasist_official": {"la19_pretrained": "its training data"}})
    assert load_result(tmp_path)["cells"] == merged["cells"]
    coded = [c for c in merged["cells"] if c["codec"] == "tel_gsm"]
    assert coded[0]["detector"] == "rawcnn_2m" and coded[0]["seed"] == 2
    assert coded[0]["score_file"] == "telephone/scores/rawcnn_2m@seed2/r4_corpora__tel_gsm.txt"
    assert (tmp_path / coded[0]["score_file"]).is_file() and (tmp_path / "keys" / "r4_corpora.txt").is_file()
    assert set(merged["detectors"]) == {"rawcnn_2m", "aasist_official"}
    assert merged["detectors"]["rawcnn_2m"]["trained_on"] == ["demo_a"]
    assert merged["detectors"]["aasist_official"]["not_ood_evidence"] == {"la19_pretrained": "its training data"}
    # the same test set name with other trials in two sub-runs is refused
    write_text_atomic(tmp_path / "telephone" / "keys" / "r4_corpora.txt", "x y - - bonafide\n")
    with pytest.raises(SpoofbenchError, match="different trials"):
        merge_results(tmp_path, runs, name="demo", trained_on={}, not_ood_evidence={})


def test_ladder_table_marks_wide_cis_and_non_evidence(tmp_path):
    from spoofbench.demo.ladder import ladder_table
    from spoofbench.demo.merge import merge_results
    from spoofbench.runner.report import ReportSettings

    runs = {"pretrained": _sub_run(tmp_path / "pretrained", ["aasist_official"], "la19_pretrained")}
    merged = merge_results(tmp_path, runs, name="demo", trained_on={},
                           not_ood_evidence={"aasist_official": {"la19_pretrained": "its training data"}})
    table, estimates = ladder_table(merged, None, ["aasist_official"], ["la19_pretrained"], title="t", caption="c",
                                    settings=ReportSettings(resamples=50))
    cell = table.frame.iloc[0, 0]
    assert cell == "10.00 [0.00, 30.00] † (wide CI)"
    assert any("never counted as out-of-distribution evidence" in n for n in table.notes)
    assert not estimates[0].evidence


# --------------------------------------------------------------------------- configs

def _fake_corpus(tmp_path):
    from spoofbench.demo.build import DemoCorpus
    from spoofbench.demo.plan import SETS

    manifests = {}
    for name in SETS:
        manifests[name] = tmp_path / f"{name}.jsonl.gz"
        manifests[name].write_bytes(b"")
    return DemoCorpus(tmp_path, manifests, {}, {}, {}, "fp", False, 0, 0.0)


def test_sub_run_configs(tmp_path):
    from spoofbench.demo.runs import (DemoSettings, demo_config, la19_config, pretrained_config,
                                           telephone_config)

    corpus = _fake_corpus(tmp_path)
    root, la19 = build_la19_manifests(tmp_path / "la19", QUICK_LA19)
    settings = DemoSettings(quick=True, detectors=("rawcnn_2m", "lfcc_gmm"), seeds=(0, 1, 2), aasist_weights=None)
    ladder = demo_config(corpus, settings, la19, root)
    assert [t.name for t in ladder.test_sets] == ["r1_speakers", "r2_voices", "r3_families", "r4_corpora", "la19_dev"]
    assert [t.domain for t in ladder.test_sets] == ["in-domain", "ood", "ood", "ood", "ood"]
    assert ladder.seeds == (0, 1, 2) and ladder.codecs == ("none",)
    reverse = la19_config(corpus, settings, la19, root)
    assert reverse.train.manifest.endswith("la19_train.jsonl.gz")
    assert {t.name: t.domain for t in reverse.test_sets} == {"la19_dev": "in-domain", "r4_corpora": "ood"}
    full = la19_config(corpus, DemoSettings(detectors=("lfcc_gmm",), aasist_weights=None), la19, root)
    assert full.seeds == (0, 1, 2) and full.training["epochs"] == 4
    assert [d.display for d in reverse.detectors] == ["rawcnn_2m@la19", "lfcc_gmm@la19"]
    phone = telephone_config(corpus, settings, {("rawcnn_2m", 1): str(tmp_path / "best.pt")})
    assert phone.detectors[0].display == "rawcnn_2m@seed1" and phone.detectors[0].checkpoint
    assert phone.codecs == ("tel_gsm",) and [t.name for t in phone.test_sets] == ["r4_corpora"]
    weights = tmp_path / "AASIST.pth"
    weights.write_bytes(b"")
    pretrained = pretrained_config(corpus, settings, la19, root, weights)
    (spec,) = pretrained.detectors
    assert spec.checkpoint == str(weights) and pretrained.test_sets[0].domain == "in-domain"
    if hasattr(spec, "trained_on"):
        assert spec.trained_on == ("asvspoof2019_la",)


def test_the_frozen_encoder_row_is_a_default_detector_in_both_directions(tmp_path):
    from spoofbench.demo.runs import (DEMO_DETECTORS_CPU, DEMO_DETECTORS_GPU, ENCODER_DETECTOR, DemoSettings,
                                      demo_config, la19_config)

    assert ENCODER_DETECTOR in DEMO_DETECTORS_CPU and ENCODER_DETECTOR in DEMO_DETECTORS_GPU
    corpus = _fake_corpus(tmp_path)
    root, la19 = build_la19_manifests(tmp_path / "la19", QUICK_LA19)
    settings = DemoSettings(detectors=DEMO_DETECTORS_CPU, aasist_weights=None)
    for config, label, epochs in ((demo_config(corpus, settings, la19, root), ENCODER_DETECTOR, 3 * 3),
                                  (la19_config(corpus, settings, la19, root), f"{ENCODER_DETECTOR}@la19", 3 * 4)):
        spec = next(d for d in config.detectors if d.display == label)
        assert spec.overrides == {"num_samples": 48000}  # the demo's 3-s window, as the other fixed-window rows
        train = config.train_config(list(config.detectors).index(spec), 0)
        assert train.epochs == epochs and train.optim.lr == 3e-3 and train.cpu_threads == 1
        other = config.train_config(0, 0)
        assert other.epochs == epochs // 3 and other.optim.lr == 1e-3


# --------------------------------------------------------------------------- end to end

@pytest.mark.slow
def test_tiny_demo_end_to_end(tmp_path):
    """Every sub-run, the merge, tables, plots, report and summary on tiny sizes (lfcc_gmm, 2 seeds; the raw CNN
    and the frozen pretrained encoder for the seed's question)."""
    from spoofbench.demo import DemoSizes
    from spoofbench.demo.runs import DemoSettings, run_demo

    sizes = DemoSizes(8, 8, 4, 4, 4, 8, 4, 8, max_seconds=2.0, voices_spoof=4, families_spoof=8)
    settings = DemoSettings(quick=True, detectors=("lfcc_gmm", "rawcnn_2m", "ge2e_speaker_head"), seeds=(0, 1),
                            codecs=("g711_mulaw",), bootstrap=50, corpus_sizes=sizes, la19_sizes=La19Sizes(8, 4, 6, 1),
                            aasist_weights=str(AASIST) if AASIST.is_file() else None, jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, _ = run_demo(tmp_path / "demo", settings, progress=False)
    out = tmp_path / "demo"
    assert result["failed_cells"] == []
    cells = {(c["detector"], c["seed"], c["test_set"], c["codec"]) for c in result["cells"]}
    for seed in (0, 1):
        for test in ("r1_speakers", "r2_voices", "r3_families", "r4_corpora", "la19_dev"):
            assert ("lfcc_gmm", seed, test, "none") in cells
        assert ("lfcc_gmm", seed, "r4_corpora", "g711_mulaw") in cells  # rung 5, from the ladder's checkpoints
        assert ("lfcc_gmm@la19", seed, "la19_dev", "none") in cells
        assert ("lfcc_gmm", seed, "r4_corpora", "noise_pink_10db") in cells  # rung 6 (quick: one condition)
        for label in ("lfcc_gmm", "lfcc_gmm@la19"):  # the silence-shortcut check, both directions
            assert (label, seed, "la19_dev", "vad_trim") in cells
    assert result["detectors"]["lfcc_gmm@la19"]["trained_on"] == ["asvspoof2019_la (mini train half)"]
    summary = (out / "demo_summary.md").read_text()
    assert "The ladder: EER (%)" in summary and "r5_telephone: r4 through g711_mulaw" in summary
    assert "Real attacks: EER (%)" in summary and "r6_channel: r4 through noise_pink_10db" in summary
    assert "The silence shortcut: EER on la19_dev as is and after `vad_trim`" in summary
    assert "| lfcc_gmm@la19 | la19_dev |" in summary and "rests" in summary
    assert (out / "tables" / "shortcut_vad_trim.json").is_file()
    if AASIST.is_file():
        assert result["detectors"]["aasist_official"]["not_ood_evidence"]["la19_pretrained"]
        assert "aasist_official" in summary and "†" in summary
    else:
        assert "pretrained AASIST row is skipped" in summary
    assert (out / "report.html").is_file() and (out / "tables").is_dir()
    assert "not an SSL model" in summary and "1,423,616 frozen + 50,882 trained parameters" in summary
    for direction in ("trained on demo corpus A", "trained on ASVspoof 2019 LA"):
        assert f"The seed's question, {direction}" in summary
    for label in ("ge2e_speaker_head", "ge2e_speaker_head@la19"):
        assert (label, 0, "r4_corpora", "none") in cells
    report = (out / "report.md").read_text()
    assert "## The seed's question: small raw-waveform model vs frozen pretrained encoder" in report
    assert "## The silence shortcut: does a detector's number rest on silence?" in report
    assert "## Rungs 5 and 6: rung 4 through telephone codecs, laundering and simulated replay" in report
    assert "detectable Δ EER" in report and "ge2e_speaker_head" in (out / "report.html").read_text()
    assert json.loads((out / "result.json").read_text())["config"]["name"] == "demo-quick"


@pytest.mark.slow
def test_the_demos_numbers_do_not_depend_on_jobs_or_the_pack(tmp_path):
    """One job at a time in this process reading FLAC files, or two side by side in workers reading the
    packed corpus: the same cells, the same EERs (every job trains and scores on one thread; pack-fed clips
    are bit-identical), and the same plots and report sections."""
    from spoofbench.engine.pack import Pack
    from spoofbench.demo import DemoSizes
    from spoofbench.demo.runs import DemoSettings, run_demo

    sizes = DemoSizes(8, 8, 4, 4, 4, 8, 4, 8, max_seconds=2.0, voices_spoof=4, families_spoof=8)
    eers, plots = {}, {}
    for jobs in (1, 2):
        settings = DemoSettings(quick=True, detectors=("lfcc_gmm",), seeds=(0, 1), codecs=("g711_mulaw",),
                                bootstrap=20, corpus_sizes=sizes, la19_sizes=La19Sizes(8, 4, 6, 1),
                                aasist_weights=None, jobs=jobs, pack=jobs == 2)
        assert settings.pinned_threads() == {"cpu_threads": 1}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result, corpus = run_demo(tmp_path / f"jobs{jobs}", settings, progress=False,
                                      corpus_dir=tmp_path / "corpus")
        assert result["failed_cells"] == []
        packed = tmp_path / "corpus" / ".spoofbench_pack"
        assert (packed / "pack.json").is_file() == (jobs == 2)
        eers[jobs] = {(c["detector"], c["seed"], c["test_set"], c["codec"]): c["metrics"]["eer"]
                      for c in result["cells"]}
        plots[jobs] = sorted(p.name for p in (tmp_path / f"jobs{jobs}" / "plots").iterdir())
        assert (tmp_path / f"jobs{jobs}" / "report.html").is_file()
    # per seed: ladder 5 rungs, rung 5 (1 codec), rung 6 (1 condition), LA 2019 2 sets, vad_trim in both directions
    assert eers[1] == eers[2] and len(eers[1]) == 2 * (5 + 1 + 1 + 2 + 2)
    assert plots[1] == plots[2] and plots[1]
    clips = {(t.corpus, t.path) for manifest in corpus.manifests.values() for t in read_manifest(manifest)}
    assert len(Pack(tmp_path / "corpus" / ".spoofbench_pack")) == len(clips) > 0


def test_job_workers_and_pinned_threads(monkeypatch):
    from spoofbench.demo import runs
    from spoofbench.engine import runtime

    monkeypatch.setattr(runtime, "usable_cpus", lambda: 16)
    assert runs.DemoSettings(device="cpu").job_workers() == runs.MAX_DEMO_JOBS
    assert runs.DemoSettings(device="cpu", jobs=3).job_workers() == 3
    assert runs.DemoSettings(device="cuda").job_workers() == 1
    assert runs.DemoSettings(device="cuda").pinned_threads() == {}
    cpu = runs.DemoSettings(device="cpu")
    assert cpu.training()["cpu_threads"] == 1
    monkeypatch.setattr(runtime, "usable_cpus", lambda: 1)
    assert runs.DemoSettings(device="cpu").job_workers() == 1


def test_demo_jobs_below_one_is_refused(capsys):
    from spoofbench.cli import build_parser
    from spoofbench.commands.demo import settings_from_args

    for bad in ("0", "-2", "two"):
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(["demo", "--jobs", bad])
        assert exit_info.value.code == 2
        assert "argument --jobs: expected a whole number >= 1" in capsys.readouterr().err
    assert settings_from_args(build_parser().parse_args(["demo", "--jobs", "2"])).jobs == 2


def test_cli_settings():
    from spoofbench.cli import build_parser
    from spoofbench.commands.demo import settings_from_args

    parser = build_parser()
    quick = settings_from_args(parser.parse_args(["demo", "--quick", "--aasist-weights", "none"]))
    assert quick.seed_list() == (0,) and quick.aasist_weights is None and quick.telephone_codecs() == ("tel_gsm",)
    full = settings_from_args(parser.parse_args(["demo", "--seeds", "3", "4", "5", "--codecs", "none", "g711_mulaw"]))
    assert full.seed_list() == (3, 4, 5) and full.telephone_codecs() == ("g711_mulaw",)
    assert full.aasist_weights.endswith("AASIST.pth") and full.real_attacks
    assert not settings_from_args(parser.parse_args(["demo", "--no-real-attacks"])).real_attacks
    assert quick.pack and not settings_from_args(parser.parse_args(["demo", "--no-pack"])).pack


def test_trained_checkpoints_found_when_the_run_folder_is_relative(tmp_path, monkeypatch):
    """``--out runs/demo`` (the default): done.json records the checkpoint relative to the working
    directory; rung 5 must still find it (it was silently skipped before)."""
    from types import SimpleNamespace

    from spoofbench.demo.runs import trained_checkpoints

    monkeypatch.chdir(tmp_path)
    train = Path("runs/demo/ladder/train/rawcnn_2m__seed0__abc")
    (train / "checkpoints").mkdir(parents=True)
    (train / "checkpoints" / "best.pt").write_bytes(b"weights")
    (train / "done.json").write_text(json.dumps({"best_checkpoint": str(train / "checkpoints" / "best.pt")}))
    config = SimpleNamespace(detectors=[SimpleNamespace(slug="rawcnn_2m", display="rawcnn_2m")], seeds=(0, 1))
    found = trained_checkpoints(Path("runs/demo/ladder"), config)
    assert found == {("rawcnn_2m", 0): str((tmp_path / train / "checkpoints" / "best.pt").resolve())}
    monkeypatch.chdir(tmp_path / "runs")  # another working directory: the folder's own checkpoints/best.pt
    assert trained_checkpoints(Path("demo/ladder"), config)[("rawcnn_2m", 0)].endswith("best.pt")


def test_a_skipped_rung_5_is_said_in_the_notes(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from spoofbench.demo import runs

    ladder = SimpleNamespace(detectors=[SimpleNamespace(slug="rawcnn_2m", display="rawcnn_2m")], seeds=(0,))
    monkeypatch.setattr(runs, "demo_config", lambda *args: ladder)
    ran = []
    monkeypatch.setattr(runs._Chains, "_run", lambda self, name, config: ran.append(name))
    chains = runs._Chains(tmp_path, runs.DemoSettings(device="cpu"), None, None, None, False)
    chains.ladder()  # the ladder "ran" but left no finished training behind
    assert ran == ["ladder"]
    assert chains.notes and "Rung 5 (telephone codecs) is skipped" in chains.notes[0]
