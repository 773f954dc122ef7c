"""A tiny two-corpus benchmark run through ``spoofbench run`` (the pattern of tests/runner/test_runner.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from spoofbench.cli import main
from spoofbench.corpora.manifest import Trial, write_manifest

RATE = 16000


def _clip(rng: np.random.Generator, spoof: bool) -> np.ndarray:
    """Bona fide: a harmonic tone in light noise; spoof: the same buzzier and noisier."""
    t = np.arange(int(RATE * rng.uniform(0.5, 0.8))) / RATE
    f0 = rng.uniform(100, 200)
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / (k if not spoof else 1.0) for k in range(1, 8))
    wave = wave + rng.normal(0, 0.3 if spoof else 0.05, t.size)
    return (0.2 * wave / np.abs(wave).max()).astype(np.float32)


def make_set(root: Path, name: str, corpus: str, n: int, seed: int) -> str:
    """Write ``n`` clips (one in three bona fide) and their manifest; returns the manifest's file name."""
    rng = np.random.default_rng(seed)
    trials = []
    (root / name).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        spoof = i % 3 != 0
        path = f"{name}/{name}_{i:03d}.wav"
        sf.write(root / path, _clip(rng, spoof), RATE)
        trials.append(Trial(id=f"{name}_{i:03d}", path=path, label="spoof" if spoof else "bonafide",
                            corpus=corpus, split=name.split("_")[-1], speaker=f"{name}_spk{i % 4}",
                            attack="a1" if spoof else "bonafide"))
    write_manifest(root / f"{name}.jsonl.gz", trials)
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
