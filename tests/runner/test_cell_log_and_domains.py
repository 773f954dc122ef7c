"""The cell log as the source of truth, streamed domain labels, and per-detector labels (``trained_on``)."""
from __future__ import annotations

import json
import os
import time

import pytest

from testenv import SHARED
from spoofbench.cli import main
from spoofbench.corpora.manifest import Trial
from spoofbench.corpora.protocol import domain_of, overlap_report
from spoofbench.errors import InputFileError
from spoofbench.runner.celllog import CellLog, latest_cells, read_records, render_result
from spoofbench.runner.config import BenchmarkConfig
from spoofbench.runner.data import TestProfile, TrainProfile
from spoofbench.runner.plan import PlanInputs, ScoreCell, TestSet, plan_cells
from spoofbench.runner.results import SCHEMA_VERSION, load_result


def _cell(h: str, detector: str, test_set: str, eer: float) -> dict:
    return {"hash": h, "detector": detector, "seed": 0, "test_set": test_set, "codec": "none",
            "domain": "in-domain", "complete": True,
            "metrics": {"eer": eer, "min_dcf": eer, "act_dcf": eer, "cllr": 1.0, "min_cllr": 0.5, "auc": 0.9}}


def _header(planned: list[str]) -> dict:
    return {"type": "run", "schema": SCHEMA_VERSION, "run_id": "r", "config": {"name": "x"}, "environment": {},
            "detectors": {"d": {"parameters": 10}}, "codecs": {"none": {}},
            "test_sets": {"t": {"domain": "in-domain"}, "u": {"domain": "ood"}}, "planned": planned}


def test_render_takes_the_latest_record_of_each_planned_cell(tmp_path):
    log = CellLog(tmp_path / "cells.jsonl")
    log.append(_header(["h1", "h2"]), {"type": "cell", **_cell("h1", "d", "t", 0.1)})
    log.append({"type": "failed", "hash": "h2", "detector": "d", "seed": 0, "test_set": "u", "codec": "none",
                "stage": "score", "error": "boom"})
    log.append(_header(["h1", "h2"]), {"type": "cell", **_cell("h2", "d", "u", 0.3)},
               {"type": "training", "detector": "d", "seed": 0, "summary": {"best_epoch": 2}},
               {"type": "cell", **_cell("h9", "d", "t", 0.9)},   # not planned by the last run
               {"type": "end", "seconds": 1.5})
    result = render_result(tmp_path / "cells.jsonl")
    assert [c["hash"] for c in result["cells"]] == ["h1", "h2"] and result["failed_cells"] == []
    assert result["detectors"]["d"]["training"] == {"0": {"best_epoch": 2}}
    assert result["timing"] == {"last_run_seconds": 1.5}
    assert "type" not in result["cells"][0]
    assert set(latest_cells(read_records(tmp_path / "cells.jsonl"))) == {"h1", "h2", "h9"}


def test_a_torn_last_line_is_dropped_and_cut_before_the_next_append(tmp_path):
    path = tmp_path / "cells.jsonl"
    CellLog(path).append(_header(["h1"]), {"type": "cell", **_cell("h1", "d", "t", 0.1)})
    with open(path, "a") as handle:
        handle.write('{"type": "cell", "hash": "h2", "det')   # a writer killed mid-line
    assert [r["type"] for r in read_records(path)] == ["run", "cell"]
    CellLog(path).append({"type": "end", "seconds": 1})
    assert [r["type"] for r in read_records(path)] == ["run", "cell", "end"]
    path.write_text(path.read_text() + "not json\n")
    with pytest.raises(InputFileError, match=r"cells.jsonl:4: not a JSON record"):
        list(read_records(path))


def test_table_reads_the_log_of_a_run_folder(tmp_path, capsys):
    CellLog(tmp_path / "cells.jsonl").append(
        _header(["h1", "h2"]), {"type": "cell", **_cell("h1", "d", "t", 0.1)},
        {"type": "cell", **{**_cell("h2", "d", "u", 0.3), "complete": False, "n_scored": 9, "n_expected": 10}})
    stale = {"schema": SCHEMA_VERSION, "cells": [], "failed_cells": []}
    (tmp_path / "result.json").write_text(json.dumps(stale))
    old = time.time() - 60
    os.utime(tmp_path / "result.json", (old, old))       # the log is newer: a run went on after it
    assert [c["hash"] for c in load_result(tmp_path)["cells"]] == ["h1", "h2"]
    assert load_result(tmp_path / "result.json")["cells"] == []
    assert main(["table", str(tmp_path), "--view", "pivot", "--render"]) == 0
    out = capsys.readouterr().out
    assert "| d " in out and "10.00" in out and "incomplete: d seed 0 u none: 9 of 10 trials scored" in out
    assert len(json.loads((tmp_path / "result.json").read_text())["cells"]) == 2
    assert (tmp_path / "cells.csv").read_text().count("\n") == 3


def _trial(i: int, corpus: str, speaker: str, label: str, attack: str = "-", language: str = "en",
           source: str | None = None) -> Trial:
    return Trial(id=f"{corpus}{i}", path=f"{source or f'{corpus}{i}'}.wav", label=label, corpus=corpus,
                 split="eval", speaker=speaker, attack=attack if label == "spoof" else "bonafide", language=language)


def test_streamed_labels_equal_the_protocol_functions():
    train = [_trial(0, "A", "s1", "bonafide"), _trial(1, "A", "s2", "spoof", "a1"), _trial(2, "A", "s3", "spoof", "a2")]
    tests = {
        "same": [_trial(0, "A", "s1", "bonafide"), _trial(5, "A", "s9", "spoof", "a1")],
        "new_attack": [_trial(6, "A", "s2", "spoof", "a7"), _trial(7, "A", "-", "bonafide", source="A1")],
        "new_corpus": [_trial(0, "B", "s1", "bonafide", language="de"), _trial(1, "B", "x", "spoof", "b1")],
    }
    profile = TrainProfile.of(train)
    for name, trials in tests.items():
        streamed = TestProfile()
        for t in trials:
            streamed.add(t, profile)
        assert streamed.domain(profile) == domain_of(train, trials), name
        assert streamed.overlap() == overlap_report(train, trials).to_dict(), name
        assert streamed.n_trials == len(trials)


def _test_set(name: str, corpora: tuple[str, ...], domain: str) -> TestSet:
    return TestSet(name, f"{name}.jsonl.gz", ".", "m" * 64, "a" * 64, 10, domain, "", {}, f"{name}.txt", corpora)


def test_each_detector_is_labelled_by_its_declared_training_data():
    config = BenchmarkConfig.from_dict({
        "name": "x", "train": {"manifest": "a.jsonl.gz", "root": "."}, "dev": {"manifest": "a.jsonl.gz", "root": "."},
        "test_sets": [{"name": "a_eval", "manifest": "a.jsonl.gz", "root": "."}],
        "detectors": [{"name": "lfcc_gmm"},
                      {"name": "aasist", "checkpoint": "w.pth", "trained_on": ["asvspoof2019_la"]},
                      {"name": "aasist_l", "checkpoint": "l.pth", "trained_on": ["A", "asvspoof2019_la"]}]})
    inputs = PlanInputs((_test_set("a_eval", ("A",), "in-domain"),), "d", {}, {"none": {}})
    cells = {c.detector: c for c in plan_cells(config, inputs) if isinstance(c, ScoreCell)}
    assert cells["lfcc_gmm"].domain == "in-domain"            # the config's training set
    assert cells["aasist"].domain == "ood" and "trained_on: asvspoof2019_la" in cells["aasist"].reason
    assert cells["aasist_l"].domain == "in-domain"


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "reference" / "aasist" / "AASIST-L.pth").is_file(), reason="needs ../shared")
def test_official_weights_are_ood_on_a_corpus_the_config_trains_on(tmp_path):
    from runner_corpus import bench_config, make_corpus, write_config

    from spoofbench.runner.benchmark import run_benchmark

    corpus = make_corpus(tmp_path / "corpus")
    config = bench_config(corpus, codecs=["none"], test_sets=[{"name": "a_eval", "manifest": "a_eval.jsonl.gz",
                                                               "root": "."}],
                          detectors=[{"name": "aasist_l", "label": "aasist_l_official",
                                      "checkpoint": str(SHARED / "reference" / "aasist" / "AASIST-L.pth"),
                                      "trained_on": ["asvspoof2019_la"]}])
    result = run_benchmark(write_config(corpus, "bench.yaml", config), tmp_path / "run", progress=False,
                           tables=False, log=lambda _: None)
    assert result["failed_cells"] == []
    assert result["test_sets"]["a_eval"]["domain"] == "in-domain"     # against the config's training set
    (cell,) = result["cells"]
    assert cell["domain"] == "ood"                                     # against the weights' own training data
    labels = result["test_sets"]["a_eval"]
    assert labels["domain_by_detector"]["aasist_l_official"]["domain"] == "ood"
    assert labels["overlap_by_detector"]["aasist_l_official"]["shared_corpora"] == []
    assert result["detectors"]["aasist_l_official"]["trained_on"] == ["asvspoof2019_la"]


def test_one_pass_audio_digest_equals_reproduce_audio_digest(tmp_path):
    from runner_corpus import make_corpus

    from spoofbench.reproduce.digest import DigestCache, audio_digest
    from spoofbench.runner.data import _test_set

    root = make_corpus(tmp_path / "corpus")
    (root / "b_eval" / "b_eval_003.wav").unlink()          # a missing file counts as such
    with DigestCache(None) as digests:
        labelled = _test_set("b_eval", str(root / "b_eval.jsonl.gz"), str(root), None, None, None, tmp_path / "run",
                             digests, False)
    assert labelled.audio_sha256 == audio_digest(root / "b_eval.jsonl.gz", str(root)).digest
    assert labelled.n_trials == 12 and labelled.corpora == ("B",)
    assert (tmp_path / "run" / "keys" / "b_eval.txt").read_text().count("\n") == 12
