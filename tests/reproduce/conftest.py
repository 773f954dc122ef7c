"""A tiny two-corpus benchmark (the runner tests' smallest config) run once per session."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from spoofbench.corpora.manifest import Trial, write_manifest

RATE = 16000


def _clip(rng: np.random.Generator, spoof: bool) -> np.ndarray:
    t = np.arange(int(RATE * rng.uniform(0.5, 0.8))) / RATE
    f0 = rng.uniform(100, 200)
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / (k if not spoof else 1.0) for k in range(1, 8))
    wave = wave + rng.normal(0, 0.3 if spoof else 0.05, t.size)
    return (0.2 * wave / np.abs(wave).max()).astype(np.float32)


def make_set(root: Path, name: str, corpus: str, n: int, seed: int, attacks: tuple[str, ...]) -> Path:
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        spoof = i % 3 != 0
        path = f"{name}/{name}_{i:03d}.wav"
        (root / name).mkdir(parents=True, exist_ok=True)
        sf.write(root / path, _clip(rng, spoof), RATE)
        trials.append(Trial(id=f"{name}_{i:03d}", path=path, label="spoof" if spoof else "bonafide",
                            corpus=corpus, split=name.split("_")[-1], speaker=f"{name}_spk{i % 4}",
                            attack=attacks[i % len(attacks)] if spoof else "bonafide"))
    manifest = root / f"{name}.jsonl.gz"
    write_manifest(manifest, trials)
    return manifest


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
