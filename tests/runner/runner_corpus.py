"""A tiny synthetic two-corpus benchmark for runner tests: clips, manifests and configs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from spoofbench.corpora.manifest import Trial, write_manifest
from spoofbench.runner.executor import LocalExecutor
from spoofbench.runner.jobs import ScoreJob

RATE = 16000


def clip(rng: np.random.Generator, spoof: bool, spoof_noise: float = 0.3, buzz: bool = True) -> np.ndarray:
    """Bona fide: a voiced harmonic tone in noise; spoof: the same noisier (and, with ``buzz``, brighter)."""
    t = np.arange(int(RATE * rng.uniform(0.5, 0.8))) / RATE
    f0 = rng.uniform(100, 200)
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / (k if not (spoof and buzz) else 1.0) for k in range(1, 8))
    wave = wave + rng.normal(0, spoof_noise if spoof else 0.05, t.size)
    return (0.2 * wave / np.abs(wave).max()).astype(np.float32)


def make_set(root: Path, name: str, corpus: str, n: int, seed: int, attacks: tuple[str, ...],
             flip_labels: bool = False, **style) -> Path:
    """``n`` clips under ``root/name`` and ``root/name.jsonl.gz``; ``flip_labels`` swaps the labels;
    ``style``: :func:`clip`'s ``spoof_noise`` and ``buzz`` (how hard the classes are to tell apart)."""
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        spoof = i % 3 != 0
        path = f"{name}/{name}_{i:03d}.wav"
        (root / name).mkdir(parents=True, exist_ok=True)
        sf.write(root / path, clip(rng, spoof, **style), RATE)
        label_spoof = spoof != flip_labels
        trials.append(Trial(id=f"{name}_{i:03d}", path=path, label="spoof" if label_spoof else "bonafide",
                            corpus=corpus, split=name.split("_")[-1], speaker=f"{name}_spk{i % 4}",
                            attack=attacks[i % len(attacks)] if label_spoof else "bonafide"))
    manifest = root / f"{name}.jsonl.gz"
    write_manifest(manifest, trials)
    return manifest


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
