"""Tiny synthetic clips and manifests shared by the runner, reproduce and models tests.

Bona fide: a voiced harmonic tone in light noise; spoof: the same buzzier and noisier. Import with
``from tiny_corpus import make_set`` (``tests/`` is on the import path, like ``testenv``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from spoofbench.corpora.manifest import Trial, write_manifest

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


def write_tiny_bench(root: Path, codecs: list[str], *, n: int = 3, test: tuple[str, str, int] = ("a_eval", "A", 3),
                     **extra) -> Path:
    """``root/bench.yaml``: lfcc_gmm (tiny) trained on ``a_train`` (n clips), selected on ``a_dev`` (n) and
    tested on ``test`` = (name, corpus, clips), all made here, through ``codecs``; ``extra`` keys override."""
    import yaml

    make_set(root, "a_train", "A", n, 0, ("a1",))
    make_set(root, "a_dev", "A", n, 1, ("a1",))
    name, corpus, clips = test
    make_set(root, name, corpus, clips, 2, ("a1",) if corpus == "A" else ("b1",))
    config = {"name": "tiny", "train": {"manifest": "a_train.jsonl.gz", "root": "."},
              "dev": {"manifest": "a_dev.jsonl.gz", "root": "."},
              "test_sets": [{"name": name, "manifest": f"{name}.jsonl.gz", "root": "."}],
              "codecs": list(codecs), "detectors": [{"name": "lfcc_gmm", "preset": "tiny"}], **extra}
    path = root / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
