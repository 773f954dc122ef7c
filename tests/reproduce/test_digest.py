"""Audio-content digests: per-trial hashes, the cached second pass, changed clips, missing files."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from spoofbench.corpora.manifest import Trial, write_manifest
from spoofbench.reproduce import digest as dg


def _corpus(root: Path, n: int = 6) -> Path:
    rng = np.random.default_rng(0)
    trials = []
    for i in range(n):
        path = f"clips/c{i}.wav"
        (root / "clips").mkdir(parents=True, exist_ok=True)
        sf.write(root / path, rng.normal(0, 0.1, 800).astype(np.float32), 16000)
        trials.append(Trial(id=f"c{i}", path=path, label="bonafide" if i % 2 else "spoof", corpus="X",
                            split="eval", speaker="s", attack="bonafide" if i % 2 else "a1"))
    manifest = root / "eval.jsonl.gz"
    write_manifest(manifest, trials)
    return manifest


def test_file_sha256_matches_hashlib(tmp_path):
    import hashlib
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc" * 1000)
    assert dg.file_sha256(path) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_second_pass_reads_nothing_and_a_changed_clip_is_named(tmp_path, monkeypatch):
    manifest = _corpus(tmp_path)
    cache_dir = tmp_path / "cache"
    first = dg.audio_digest(manifest, tmp_path, cache=cache_dir)
    assert first.n_files == 6 and first.n_missing == 0 and len(first.trials) == 6

    reads = []
    original = dg.file_sha256
    from spoofbench import digests  # where the digests live (spoofbench.reproduce.digest re-exports them)
    monkeypatch.setattr(digests, "file_sha256", lambda p, *a: reads.append(p) or original(p, *a))
    with dg.DigestCache(cache_dir) as cache:  # a new process: only the on-disk cache is shared
        again = dg.audio_digest(manifest, tmp_path, cache=cache)
        assert cache.hits == 6 and cache.misses == 0
    assert reads == [] and again == first

    # Same size, new content: the stat signature changes, the clip is re-read, the digest moves.
    data, rate = sf.read(tmp_path / "clips/c3.wav", dtype="float32")
    sf.write(tmp_path / "clips/c3.wav", data[::-1].copy(), rate)
    changed = dg.audio_digest(manifest, tmp_path, cache=cache_dir)
    assert reads == [str((tmp_path / "clips/c3.wav").resolve())]
    assert changed.digest != first.digest
    diff = dg.changed_trials(first, changed)
    assert diff.changed == ("c3",) and not diff.added and not diff.removed
    assert "1 changed: c3" in diff.describe()


def test_missing_file_and_root_mapping(tmp_path):
    manifest = _corpus(tmp_path)
    full = dg.audio_digest(manifest, {"X": tmp_path})
    os.unlink(tmp_path / "clips/c0.wav")
    partial = dg.audio_digest(manifest, {"X": tmp_path})
    assert partial.n_missing == 1 and partial.trials["c0"] == dg.MISSING
    assert partial.digest != full.digest
    unknown_corpus = dg.audio_digest(manifest, {"Y": tmp_path})
    assert unknown_corpus.n_missing == 6


def test_trial_hashes_round_trip_and_threads(tmp_path):
    manifest = _corpus(tmp_path, n=20)
    serial = dg.audio_digest(manifest, tmp_path)
    threaded = dg.audio_digest(manifest, tmp_path, workers=4)
    assert serial == threaded
    path = dg.write_trial_hashes(tmp_path / "h" / "eval.tsv.gz", serial)
    assert dg.read_trial_hashes(path) == dict(serial.trials)
    before = path.read_bytes()
    dg.write_trial_hashes(path, serial)
    assert path.read_bytes() == before  # byte-identical rewrite


def test_unusable_cache_dir_is_bypassed(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    manifest = _corpus(tmp_path)
    cache = dg.DigestCache(blocker / "sub")
    assert cache.note and "not usable" in cache.note
    assert dg.audio_digest(manifest, tmp_path, cache=cache).n_files == 6


def test_tree_digest_skips_temp_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.f32").write_bytes(b"1")
    (tmp_path / "a" / ".tmp-y.f32").write_bytes(b"2")
    tree = dg.tree_digest(tmp_path, suffix=".f32")
    assert list(tree.trials) == ["a/x.f32"]
