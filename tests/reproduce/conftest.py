"""A tiny two-corpus benchmark (the runner tests' smallest config) run once per session."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tiny_corpus import make_set


def tiny_config(**extra) -> dict:
    return {"name": "tiny",
            "train": {"manifest": "a_train.jsonl.gz", "root": "."},
            "dev": {"manifest": "a_dev.jsonl.gz", "root": "."},
            "test_sets": [{"name": "a_eval", "manifest": "a_eval.jsonl.gz", "root": "."},
                          {"name": "b_eval", "manifest": "b_eval.jsonl.gz", "root": "."}],
            "codecs": ["none", "g711_mulaw"],
            "training": {"epochs": 1, "batch_size": 8, "num_workers": 0, "device": "cpu"},
            "scoring": {"batch_size": 8, "num_workers": 0},
            "device": "cpu", "bootstrap": 50, "codec_cache": "codec_cache",
            "detectors": [{"name": "rawcnn_2m", "preset": "tiny"}],
            **extra}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished ``spoofbench run`` of the tiny config, through the CLI (so it writes manifest.json)."""
    from spoofbench.cli import main

    base = tmp_path_factory.mktemp("reproduce_tiny")
    root = base / "corpus"
    make_set(root, "a_train", "A", 24, 0, ("a1", "a2"))
    make_set(root, "a_dev", "A", 12, 1, ("a1", "a2"))
    make_set(root, "a_eval", "A", 12, 2, ("a1", "a2"))
    make_set(root, "b_eval", "B", 12, 3, ("b1",))
    (root / "bench.yaml").write_text(yaml.safe_dump(tiny_config()))
    out = base / "run"
    assert main(["run", str(root / "bench.yaml"), "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the tiny run (its corpus and cache stay shared: copy those when a test edits them)."""
    target = tmp_path / "run"
    shutil.copytree(tiny_run, target)
    return target
