"""A tiny synthetic two-corpus benchmark for runner tests: clips, manifests and configs."""
from __future__ import annotations

import os
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


def score_files(out: Path) -> dict[str, bytes]:
    """Every score file of a run folder, by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "scores").rglob("*.txt"))}


def cell_eers(result: dict) -> list[tuple]:
    """(detector, seed, test set, codec, EER) of every cell, sorted."""
    return sorted((c["detector"], c["seed"], c["test_set"], c["codec"], c["metrics"]["eer"]) for c in result["cells"])


def kill_worker_once(job):
    """Kill this worker process the first time each job runs (a lost worker or node), then run the job."""
    from spoofbench.runner.jobs import run_job

    marker = Path(job.run_dir if job.run_dir else job.out_dir) / f".killed-{job.key[:12]}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), 9)
    return run_job(job, None)


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
