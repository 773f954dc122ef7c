"""A small real-layout corpus for the engine tests: synthetic 16 kHz clips, manifests, a protocol.

Bona fide clips are harmonic "voices"; spoof clips add a narrow high band buzz, so a tiny detector
can learn the difference in a few epochs. The eval set also holds an empty wav, a truncated FLAC,
a missing file and a non-ASCII file name.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spoofbench.corpora.manifest import Trial, write_manifest

SR = 16000


def _clip(rng: np.random.Generator, spoof: bool) -> np.ndarray:
    n = int(rng.uniform(0.35, 0.9) * SR)
    t = np.arange(n) / SR
    f0 = rng.uniform(100, 220)
    x = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.28)) for k in range(1, 8))
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t)) + 0.01 * rng.standard_normal(n)
    if spoof:
        x = x + 0.3 * np.sin(2 * np.pi * rng.uniform(5500, 6500) * t) * np.sign(np.sin(2 * np.pi * 40 * t))
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def make_corpus(base: Path, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    root = base / "corpus"
    manifests = base / "manifests"
    manifests.mkdir(parents=True)
    sets = {"train": (6, 30), "dev": (6, 10), "eval": (6, 10)}
    out: dict = {"root": root, "manifests": manifests}
    for split, (n_bona, n_spoof) in sets.items():
        (root / split).mkdir(parents=True)
        trials = []
        for i in range(n_bona + n_spoof):
            spoof = i >= n_bona
            utt = f"{split}_{i:03d}"
            rel = f"{split}/{utt}.wav"
            wave = _clip(rng, spoof)
            sf.write(root / rel, wave, SR, subtype="PCM_16")
            trials.append(Trial(id=utt, path=rel, label="spoof" if spoof else "bonafide", corpus="synth",
                                split=split, speaker=f"spk{i % 4}", attack="A01" if spoof else "bonafide",
                                sampling_rate=SR, num_samples=wave.size, duration=wave.size / SR))
        if split == "eval":
            (root / "eval" / "empty.wav").write_bytes(b"")
            sf.write(root / "eval" / "empty.wav", np.zeros(0, np.float32), SR)
            sf.write(root / "eval" / "trunc.flac", _clip(rng, False), SR)
            data = (root / "eval" / "trunc.flac").read_bytes()
            (root / "eval" / "trunc.flac").write_bytes(data[: len(data) // 3])
            sf.write(root / "eval" / "sprécheür_ü.wav", _clip(rng, True), SR)
            trials += [Trial(id="eval_empty", path="eval/empty.wav", label="bonafide", corpus="synth", split="eval"),
                       Trial(id="eval_trunc", path="eval/trunc.flac", label="bonafide", corpus="synth", split="eval"),
                       Trial(id="eval_missing", path="eval/missing.wav", label="spoof", corpus="synth", split="eval"),
                       Trial(id="eval_unicode", path="eval/sprécheür_ü.wav", label="spoof", corpus="synth",
                             split="eval")]
        write_manifest(manifests / f"{split}.jsonl.gz", trials)
        out[split] = trials
    (base / "protocol.yaml").write_text(
        "name: synth\ntrain: {manifest: train}\ndev: {manifest: dev}\ntests:\n  eval: {manifest: eval}\n")
    out["protocol"] = base / "protocol.yaml"
    return out


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return make_corpus(tmp_path_factory.mktemp("engine_corpus"))


