"""A tiny synthetic two-corpus benchmark for runner tests: clips, manifests and configs."""
from __future__ import annotations

from pathlib import Path

import yaml

from spoofbench.runner.executor import LocalExecutor
from spoofbench.runner.jobs import ScoreJob
from tiny_corpus import RATE, clip, make_set  # noqa: F401 (re-exported for the runner tests)

def make_corpus(root: Path) -> Path:
    make_set(root, "a_train", "A", 24, 0, ("a1", "a2"))
    make_set(root, "a_dev", "A", 12, 1, ("a1", "a2"))
    make_set(root, "a_eval", "A", 12, 2, ("a1", "a2"))
    make_set(root, "b_eval", "B", 12, 3, ("b1",))
    return root


def bench_config(root: Path, **extra) -> dict:
    return {"name": "tiny",
            "train": {"manifest": "a_train.jsonl.gz", "root": "."},
            "dev": {"manifest": "a_dev.jsonl.gz", "root": "."},
            "test_sets": [{"name": "a_eval", "manifest": "a_eval.jsonl.gz", "root": "."},
                          {"name": "b_eval", "manifest": "b_eval.jsonl.gz", "root": "."}],
            "codecs": ["none", "g711_mulaw"],
            "training": {"epochs": 1, "batch_size": 8, "num_workers": 0, "device": "cpu"},
            "scoring": {"batch_size": 8, "num_workers": 0},
            "device": "cpu",
            "calibration": False,  # tested on its own (test_run_calibration.py); keeps the other runs short
            "detectors": [{"name": "rawcnn_2m", "preset": "tiny"}, {"name": "lfcc_gmm", "preset": "tiny"}],
            **extra}


def write_config(root: Path, name: str, config: dict) -> Path:
    path = root / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class SpyExecutor(LocalExecutor):
    """The local executor, remembering the jobs it was given."""

    def __init__(self):
        super().__init__(log=lambda _: None)
        self.jobs = []

    def run(self, jobs, on_result, on_start=None):
        self.jobs += list(jobs)
        super().run(jobs, on_result, on_start)

    def scored(self):
        return [(j.test_set.name, tuple(c.codec for c in j.cells)) for j in self.jobs if isinstance(j, ScoreJob)]
