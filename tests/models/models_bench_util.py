"""A tiny two-corpus benchmark run through ``spoofbench run`` (the pattern of tests/runner/test_runner.py)."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

import tiny_corpus
from spoofbench.cli import main


def make_set(root: Path, name: str, corpus: str, n: int, seed: int) -> str:
    """Write ``n`` clips (one in three bona fide) and their manifest; returns the manifest's file name."""
    tiny_corpus.make_set(root, name, corpus, n, seed, ("a1",))
    return f"{name}.jsonl.gz"


def make_corpus(root: Path) -> Path:
    make_set(root, "a_train", "A", 12, 0)
    make_set(root, "a_dev", "A", 6, 1)
    make_set(root, "b_eval", "B", 6, 3)
    return root


def run_tiny_benchmark(root: Path, out: Path, detectors: list[dict], name: str = "tiny") -> dict:
    """``spoofbench run`` on the corpus of ``make_corpus(root)``: 1 epoch, codec ``none``; result.json."""
    config = {"name": name,
              "train": {"manifest": "a_train.jsonl.gz", "root": "."},
              "dev": {"manifest": "a_dev.jsonl.gz", "root": "."},
              "test_sets": [{"name": "b_eval", "manifest": "b_eval.jsonl.gz", "root": "."}],
              "codecs": ["none"],
              "training": {"epochs": 1, "batch_size": 4, "num_workers": 0, "device": "cpu"},
              "scoring": {"batch_size": 4, "num_workers": 0},
              "device": "cpu", "detectors": detectors}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    code = main(["run", str(path), "--out", str(out), "--no-progress"])
    result = json.loads((out / "result.json").read_text())
    assert code == 0, result.get("failed_cells")
    return result
