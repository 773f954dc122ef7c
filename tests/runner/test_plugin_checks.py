"""Detector plugins (``module:factory``): overrides survive a checkpoint, and the check before training."""
from __future__ import annotations

import json
import re
import textwrap
import uuid
from pathlib import Path

import pytest

from spoofbench.models import build_detector
from spoofbench.models.base import save_checkpoint
from spoofbench.models.module_detector import PluginCheckError, check_plugin
from spoofbench.runner.celllog import CellLog, render_result

HEADER = '''
import torch
from torch import nn
from spoofbench.models import Detector, InputPolicy

class Tiny(Detector):
    input_policy = InputPolicy(mode="fixed", num_samples=800)

    def __init__(self, channels=4):
        super().__init__()
        self.conv = nn.Conv1d(1, channels, 9, stride=4)
        self.head = nn.Linear(channels, 2)

    def logits(self, waves, lengths):
        return self.head(self.conv(waves.unsqueeze(1)).mean(-1))
'''


def plugin(tmp_path: Path, monkeypatch, body: str) -> str:
    """Write a plugin module (unique name) on sys.path; its spec ``name:build``."""
    name = f"plugin_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(HEADER + textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}:build"


# The README's earlier factory signature: the factory loads the checkpoint itself.
LOADS_ITSELF = '''
def build(preset=None, checkpoint=None, **overrides):
    detector = Tiny(**overrides)
    if checkpoint is not None:
        detector.load_state_dict(torch.load(checkpoint, weights_only=True)["state_dict"])
    return detector
'''


def test_overrides_survive_a_factory_that_loads_its_checkpoint(tmp_path, monkeypatch):
    spec = plugin(tmp_path, monkeypatch, LOADS_ITSELF)
    trained = build_detector(spec, channels=32)
    path = tmp_path / "best.pt"
    save_checkpoint(trained, path)
    # scoring a trained run rebuilds from the checkpoint alone (no overrides given): channels=32 is kept
    again = build_detector(spec, checkpoint=path)
    assert again.conv.out_channels == 32 and again.config == {"channels": 32}
    assert check_plugin(spec, overrides={"channels": 32})["parameters"] == sum(p.numel() for p in trained.parameters())


@pytest.mark.parametrize("body,step", [
    ("def build(channels=4):\n    return Tiny(channels, bad=1)\n", "build"),
    ("class Flat(Tiny):\n    def logits(self, waves, lengths):\n        return super().logits(waves, lengths)[:, 1]\n"
     "def build(channels=4):\n    return Flat(channels)\n", "train mode"),
    ("class Detached(Tiny):\n    def logits(self, waves, lengths):\n"
     "        return super().logits(waves, lengths).detach() + torch.zeros(1, requires_grad=True)\n"
     "def build(channels=4):\n    return Detached(channels)\n", "train mode"),
    # ignores the checkpoint and its overrides: a fresh default model at scoring time
    ("def build(checkpoint=None, channels=4):\n    return Tiny(4)\n", "reload checkpoint"),
])
def test_a_broken_plugin_fails_its_check_in_one_line(tmp_path, monkeypatch, body, step):
    spec = plugin(tmp_path, monkeypatch, body)
    with pytest.raises(PluginCheckError) as caught:
        check_plugin(spec, overrides={"channels": 6})
    message = str(caught.value)
    assert "\n" not in message and spec in message and step in message, message


def test_a_broken_plugin_stops_the_run_before_training(tmp_path, monkeypatch):
    from runner_corpus import bench_config, make_corpus, write_config

    from spoofbench.runner.benchmark import run_benchmark

    spec = plugin(tmp_path, monkeypatch, "def build(channels=4):\n    return Tiny(channels, nope=True)\n")
    corpus = make_corpus(tmp_path / "corpus")
    config = bench_config(corpus, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"},
                                                              {"name": spec, "label": "mine"}])
    out = tmp_path / "run"
    with pytest.raises(PluginCheckError, match=re.escape(spec)):
        run_benchmark(write_config(corpus, "bench.yaml", config), out, progress=False, log=lambda _: None)
    assert not (out / "train").exists()  # nothing was trained, not even the working detector


def _cell(hash_, eer, **extra):
    return {"type": "cell", "detector": "mine", "seed": 0, "test_set": "t", "codec": "none", "hash": hash_,
            "score_file": f"scores/{hash_}.txt", "metrics": {"eer": eer}, **extra}


def test_a_failed_rerun_keeps_the_earlier_results_marked_stale(tmp_path):
    log = CellLog(tmp_path / "cells.jsonl")
    header = {"type": "run", "schema": 1, "run_id": "r", "config": {}, "environment": {}, "detectors": {"mine": {}},
              "codecs": {}, "test_sets": {}}
    log.append({**header, "planned": ["old"]}, _cell("old", 0.1))
    log.append({**header, "planned": ["new"]},
               {"type": "failed", "hash": "new", "detector": "mine", "seed": 0, "test_set": "t", "codec": "none",
                "stage": "score", "error": "CheckpointError: size mismatch"})
    result = render_result(tmp_path / "cells.jsonl")
    assert [c["hash"] for c in result["cells"]] == ["old"]
    assert result["cells"][0]["stale"]["failed_hash"] == "new"
    assert "size mismatch" in result["cells"][0]["stale"]["reason"]
    assert [f["hash"] for f in result["failed_cells"]] == ["new"]
    # once the new configuration succeeds, the earlier result is gone from the tables
    log.append({**header, "planned": ["new"]}, _cell("new", 0.2))
    assert [c["hash"] for c in render_result(tmp_path / "cells.jsonl")["cells"]] == ["new"]
    json.dumps(result)


def test_specs_resolve_beside_the_yaml_and_dry_run_fails_on_a_misspelled_one(tmp_path, monkeypatch, capsys):
    """A ``module:factory`` resolves relative to the YAML first (like manifests), whatever the cwd; the dry
    run imports every spec and a misspelled factory exits non-zero with a did-you-mean."""
    from runner_corpus import bench_config, make_corpus, write_config

    from spoofbench.cli import main

    corpus = make_corpus(tmp_path / "corpus")
    name = f"beside_{uuid.uuid4().hex[:8]}"
    (corpus / f"{name}.py").write_text(HEADER + "def build(channels=4):\n    return Tiny(channels)\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    monkeypatch.setenv("PYTHONPATH", "")
    good = write_config(corpus, "good.yaml", bench_config(corpus, codecs=["none"],
                                                          detectors=[{"name": f"{name}:build"}]))
    assert main(["run", str(good), "--dry-run", "--out", str(tmp_path / "run")]) == 0
    assert f"{name}:build/0/a_eval/*  (1 cells: 1 to run)" in capsys.readouterr().out
    bad = write_config(corpus, "bad.yaml", bench_config(corpus, codecs=["none"],
                                                        detectors=[{"name": "lfcc_gmm", "preset": "tiny"},
                                                                   {"name": f"{name}:biuld"}]))
    assert main(["run", str(bad), "--dry-run", "--out", str(tmp_path / "run")]) != 0
    err = capsys.readouterr().err
    assert "detectors[1].name" in err and f"did you mean {name}:build?" in err, err
    assert main(["run", str(bad), "--out", str(tmp_path / "run"), "--no-progress"]) != 0
    assert not (tmp_path / "run" / "train").exists()  # failed before training lfcc_gmm


def test_dry_run_lists_cached_cells_and_estimates_only_the_rest(tmp_path, capsys):
    from runner_corpus import bench_config, make_corpus, write_config

    from spoofbench.cli import main
    from spoofbench.runner.benchmark import run_benchmark

    corpus = make_corpus(tmp_path / "corpus")
    config = bench_config(corpus, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    out = tmp_path / "run"
    run_benchmark(write_config(corpus, "one.yaml", config), out, progress=False, tables=False, log=lambda _: None)
    config["test_sets"] = config["test_sets"] + [{"name": "a_dev_as_test", "manifest": "a_dev.jsonl.gz", "root": "."}]
    assert main(["run", str(write_config(corpus, "two.yaml", config)), "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "lfcc_gmm:tiny/0/a_eval/*  (1 cells: 1 cached, 0 to run)" in text
    assert "lfcc_gmm:tiny/0/a_dev_as_test/*  (1 cells: 0 cached, 1 to run)" in text
    assert "cached (finished in" in text and "reused): 2 cell(s); to run: 1" in text
    assert "(12 clips in the cells to run)" in text  # a_dev holds 12 trials; the cached 24 are not counted
