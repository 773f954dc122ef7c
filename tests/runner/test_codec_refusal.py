"""A config naming a codec condition no engine can run here is refused before any work, through every door:
the Python API (run_benchmark, BenchmarkRunner.run) and the CLI (one line, exit 2); --dry-run still plans."""
from __future__ import annotations

import pytest
from tiny_corpus import write_tiny_bench

import spoofbench.codecs.availability as availability
from spoofbench.cli import main
from spoofbench.errors import CodecError
from spoofbench.runner.config import BenchmarkConfig
from spoofbench.runner.benchmark import run_benchmark
from spoofbench.runner.orchestrator import BenchmarkRunner


@pytest.fixture
def g711_missing(monkeypatch):
    """This machine as if no engine could code g711_mulaw (every other condition as it really is)."""
    real = availability.condition_provenance

    def provenance(condition):
        if condition.id == "g711_mulaw":
            return {"available": False, "reason": "no engine codes G.711 here (test)"}
        return real(condition)

    monkeypatch.setattr(availability, "condition_provenance", provenance)


@pytest.fixture
def config_path(tmp_path):
    return write_tiny_bench(tmp_path, ["none", "g711_mulaw"])


def test_the_api_refuses_before_the_run_folder_exists(g711_missing, config_path, tmp_path):
    config = BenchmarkConfig.from_yaml(config_path, check_files=True)
    for start in (lambda out: run_benchmark(config, out, progress=False),
                  lambda out: BenchmarkRunner(config, out, progress=False).run()):
        out = tmp_path / "run"
        with pytest.raises(CodecError, match=r"g711_mulaw \(no engine codes G.711 here \(test\)\)"):
            start(out)
        assert not out.exists()


def test_the_cli_says_one_line_and_exits_2_but_dry_run_plans(g711_missing, config_path, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(config_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot run on this machine: g711_mulaw" in err and not out.exists()
    assert main(["run", str(config_path), "--out", str(out), "--dry-run"]) == 0
    assert "g711_mulaw" in capsys.readouterr().out


def test_a_reused_cell_does_not_repeat_its_warnings(config_path, tmp_path):
    """The polarity warning is said when a cell is scored, not again on every resume that reuses it."""
    from spoofbench.logs import ProgressCounter
    from spoofbench.metrics.summary import polarity_message

    runner = BenchmarkRunner(BenchmarkConfig.from_yaml(config_path), tmp_path / "run", progress=False)
    said = []
    runner.log = lambda message, warning=False, **where: said.append(message)
    runner._bar = ProgressCounter(2, "cells", enabled=False)
    message = polarity_message(0.62, "t")
    cell = {"detector": "d", "seed": 0, "test_set": "t", "codec": "none", "metrics": {"warnings": [message]}}
    runner._record_cell(cell, log=False, reused=True)
    assert said == []
    runner._record_cell(cell, log=False)
    assert said == [message] and "worse than chance: inverted labels" in message
    assert "a detector that does not work" in message


def test_the_demo_refuses_before_building_its_corpus(g711_missing, tmp_path):
    from spoofbench.demo.runs import DemoSettings, run_demo

    out = tmp_path / "demo"
    with pytest.raises(CodecError, match="g711_mulaw"):
        run_demo(out, DemoSettings(quick=True, codecs=("none", "g711_mulaw")), progress=False)
    assert not out.exists()
