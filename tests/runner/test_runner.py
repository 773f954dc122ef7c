"""``spoofbench run``: cells, result.json, resume without recomputation, failures, protocols."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from runner_corpus import SpyExecutor, bench_config, make_corpus, write_config

from spoofbench.errors import ConfigError, SpoofbenchError
from spoofbench.runner.celllog import read_records
from spoofbench.runner.config import BenchmarkConfig
from spoofbench.runner.benchmark import run_benchmark

@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("runner_corpus"))


_config = bench_config
_write = write_config


def test_run_resume_and_tables(corpus, tmp_path, require_ffmpeg):
    config_path = _write(corpus, "bench.yaml", _config(corpus))
    out = tmp_path / "run"
    result = run_benchmark(config_path, out, progress=False, log=lambda _: None)
    assert result["failed_cells"] == []
    assert len(result["cells"]) == 2 * 2 * 2  # detectors × test sets × codecs
    assert result["test_sets"]["a_eval"]["domain"] == "in-domain"
    assert result["test_sets"]["b_eval"]["domain"] == "ood"
    assert "corpus not in training: B" in result["test_sets"]["b_eval"]["reason"]
    cell = result["cells"][0]
    assert 0.0 <= cell["metrics"]["eer"] <= 1.0 and cell["metrics"]["n_bonafide"] == 4
    assert result["detectors"]["rawcnn_2m:tiny"]["parameters"] > 0
    on_disk = json.loads((out / "result.json").read_text())
    assert on_disk["cells"] == json.loads(json.dumps(result["cells"]))
    for name in ("cells.csv", "plots/eer_heatmap__b_eval.png", "plots/det__a_eval.png", "plots/params_vs_eer.png"):
        assert (out / name).stat().st_size > 0, name
    assert any(p.suffix == ".md" for p in (out / "tables").iterdir())

    # A second run (e.g. after an interruption) recomputes nothing: no training, no scoring.
    spy = SpyExecutor()
    again = run_benchmark(config_path, out, progress=False, log=lambda _: None, executor=spy)
    assert spy.jobs == []
    assert sorted(c["hash"] for c in again["cells"]) == sorted(c["hash"] for c in result["cells"])


def test_interrupted_run_computes_only_missing_cells(corpus, tmp_path, require_ffmpeg):
    config = _config(corpus, detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    config_path = _write(corpus, "bench_gmm.yaml", config)
    out = tmp_path / "run"
    first = run_benchmark(config_path, out, progress=False, tables=False, log=lambda _: None)
    # Lose one cell, as if the run had been killed before logging it (the cell log is the source of truth).
    log = out / "cells.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if json.loads(line)["type"] == "cell")
    lost = json.loads(lines[last])
    log.write_text("".join(lines[:last]) + '{"type": "cell", "hash": "cut sh')  # and a torn last line
    (out / "result.json").unlink()
    spy = SpyExecutor()
    second = run_benchmark(config_path, out, progress=False, tables=False, log=lambda _: None, executor=spy)
    assert spy.scored() == [(lost["test_set"], (lost["codec"],))]
    assert len(second["cells"]) == len(first["cells"])


def test_a_failing_detector_is_recorded_and_the_others_finish(corpus, tmp_path):
    (corpus / "not_weights.pth").write_text("these are not weights")
    config = _config(corpus, codecs=["none"],
                     detectors=[{"name": "lfcc_gmm", "preset": "tiny"},
                                {"name": "aasist", "label": "broken", "checkpoint": "not_weights.pth"}])
    result = run_benchmark(_write(corpus, "bench_fail.yaml", config), tmp_path / "run", progress=False,
                           log=lambda _: None)
    assert {c["detector"] for c in result["cells"]} == {"lfcc_gmm:tiny"}
    failed = result["failed_cells"]
    assert len(failed) == 2 and {f["detector"] for f in failed} == {"broken"}
    assert "not_weights.pth" in failed[0]["error"]


def test_protocol_config(corpus, tmp_path):
    protocol = {"name": "p", "train": {"manifest": "a_train"}, "dev": {"manifest": "a_dev"},
                "tests": {"a": {"manifest": "a_eval"}, "b": {"manifest": "b_eval"}}}
    (corpus / "protocol.yaml").write_text(yaml.safe_dump(protocol))
    config = _config(corpus, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"}],
                     protocol={"file": "protocol.yaml", "manifests": ".", "roots": {"A": ".", "B": "."}})
    del config["train"], config["dev"], config["test_sets"]
    result = run_benchmark(_write(corpus, "bench_protocol.yaml", config), tmp_path / "run", progress=False,
                           log=lambda _: None)
    assert result["failed_cells"] == []
    assert {c["test_set"]: c["domain"] for c in result["cells"]} == {"a": "in-domain", "b": "ood"}


@pytest.mark.parametrize("change,message", [
    ({"detectors": []}, "no detectors"),
    ({"test_sets": []}, "no test sets"),
    ({"seeds": []}, "no seeds"),
    ({"bootstrap": -1}, "must be >= 0"),
    ({"detectors": [{"name": "rawcnn_2m"}, {"name": "rawcnn_2m"}]}, "appear twice"),
    ({"colour": "red"}, "unknown key"),
])
def test_config_errors_name_the_field(corpus, change, message):
    path = _write(corpus, "bad.yaml", {**_config(corpus), **change})
    with pytest.raises(ConfigError, match=message) as err:
        BenchmarkConfig.from_yaml(path)
    assert "bad.yaml" in str(err.value)


def test_run_cli_exit_codes(corpus, tmp_path, capsys):
    from spoofbench.cli import main

    config = _config(corpus, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    path = _write(corpus, "bench_cli.yaml", config)
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "lfcc_gmm:tiny" in out and "result.json" in out
    assert main(["run", str(corpus / "missing.yaml")]) == 2


def test_shipped_example_benchmark_parses():
    from spoofbench.runner.orchestrator import expand_codecs

    path = Path(__file__).resolve().parents[2] / "data_manifests" / "benchmarks" / "demo_quick.yaml"
    config = BenchmarkConfig.from_yaml(path)
    assert [d.display for d in config.detectors] == ["rawcnn_2m", "lfcc_gmm"]
    assert config.train.root.endswith("runs/demo-quick/corpus")
    assert expand_codecs(config.codecs) == ["none", "g711_mulaw", "amr_nb_4k75"]


def test_ssl_pipeline_from_a_local_s3prl_checkpoint(corpus, tmp_path):
    """The demo's ``--ssl-checkpoint`` route: a WavLM checkpoint file trained and scored by the runner."""
    pytest.importorskip("s3prl")
    import torch
    from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

    from spoofbench.models.ssl import TINY_WAVLM

    with torch.random.fork_rng():
        torch.manual_seed(0)
        upstream = WavLM(WavLMConfig(dict(TINY_WAVLM)))
    checkpoint = tmp_path / "wavlm_tiny.pt"
    torch.save({"cfg": dict(TINY_WAVLM), "model": upstream.state_dict()}, checkpoint)
    config = _config(corpus, codecs=["none"],
                     detectors=[{"name": "wavlm_base_plus", "overrides": {"checkpoint_path": str(checkpoint)}}])
    result = run_benchmark(_write(corpus, "bench_ssl.yaml", config), tmp_path / "run", progress=False,
                           log=lambda _: None)
    assert result["failed_cells"] == []
    assert {c["test_set"] for c in result["cells"]} == {"a_eval", "b_eval"}
    assert result["detectors"]["wavlm_base_plus"]["parameters"] < 100_000  # the checkpoint's tiny architecture


def test_sigkilled_run_resumes_without_recomputing_finished_cells(corpus, tmp_path):
    """A real ``spoofbench run`` killed with SIGKILL mid-run; the re-run keeps every finished cell."""
    import os
    import signal
    import subprocess
    import sys
    import time

    config = _config(corpus, codecs=["none", "g711_alaw", "g722"],
                     detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    path = _write(corpus, "bench_kill.yaml", config)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "spoofbench", "run", str(path), "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    finished: list = []
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            finished = [r for r in read_records(out / "cells.jsonl") if r["type"] == "cell"]
        except SpoofbenchError:
            finished = []
        if finished:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = [r for r in read_records(out / "cells.jsonl") if r["type"] == "cell"]  # fsync'd whole lines
    assert 1 <= len(kept) < 6
    mtimes = {c["hash"]: (out / c["score_file"]).stat().st_mtime_ns for c in kept}
    result = run_benchmark(path, out, progress=False, tables=False, log=lambda _: None)
    assert len(result["cells"]) == 6 and result["failed_cells"] == []
    for cell in result["cells"]:
        if cell["hash"] in mtimes:  # finished before the kill: reused, its score file untouched
            assert (out / cell["score_file"]).stat().st_mtime_ns == mtimes[cell["hash"]]


def test_a_changed_score_file_is_recomputed(corpus, tmp_path):
    config = _config(corpus, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    path = _write(corpus, "bench_tamper.yaml", config)
    out = tmp_path / "run"
    first = run_benchmark(path, out, progress=False, tables=False, log=lambda _: None)
    victim = out / first["cells"][0]["score_file"]
    victim.write_text(victim.read_text().replace(" ", "  ", 1))  # same scores, different bytes
    second = run_benchmark(path, out, progress=False, tables=False, log=lambda _: None)
    assert len(second["cells"]) == len(first["cells"])
    redone = {c["hash"]: c for c in second["cells"]}[first["cells"][0]["hash"]]
    assert "  " not in victim.read_text()  # rescored from scratch, not resumed from the changed file
    assert redone["score_sha256"] == first["cells"][0]["score_sha256"]  # scoring is deterministic
