"""Packed waveform shards: packing, resuming, invalidation, bad files, and pack-fed = file-fed."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spoofbench.cli import main
from spoofbench.engine import ScoreConfig, TrainConfig, load_run_detector, score, train
from spoofbench.engine.audio import AudioReadError, read_audio
from spoofbench.engine.data import PackedRoot, read_clip, with_pack
from spoofbench.engine.pack import (DEFAULT_DIR, ROW, Pack, PackError, PackIndex, decode, encode, key_hash,
                                    pack_manifests)
from spoofbench.errors import ConfigError

pytestmark = pytest.mark.timeout(120)
BAD = {"eval/empty.wav", "eval/trunc.flac", "eval/missing.wav"}


@pytest.fixture()
def copy(corpus, tmp_path) -> dict:
    """The engine corpus copied (a pack is written under its root; the shared one stays untouched)."""
    root = tmp_path / "corpus"
    shutil.copytree(corpus["root"], root)
    manifests = [corpus["manifests"] / f"{s}.jsonl.gz" for s in ("train", "dev", "eval")]
    return {**corpus, "root": root, "manifest_files": manifests, "pack": root / DEFAULT_DIR}


def _all(corpus) -> list:
    return corpus["train"] + corpus["dev"] + corpus["eval"]


def test_pack_reads_back_bit_identical_and_skips_bad_files(copy):
    result = pack_manifests(copy["manifest_files"], root=copy["root"], out=copy["pack"], progress=False)
    trials = _all(copy)
    assert result.trials == len(trials)
    assert result.packed == len(trials) - len(BAD)
    assert {path for _, path, _ in result.failed} == BAD
    failed = (copy["pack"] / "failed.tsv").read_text(encoding="utf-8").splitlines()
    assert {line.split("\t")[1] for line in failed} == BAD
    reasons = {line.split("\t")[1]: line.split("\t")[2] for line in failed}
    assert reasons["eval/trunc.flac"].startswith("unreadable") and reasons["eval/missing.wav"].startswith("missing")
    assert reasons["eval/empty.wav"].startswith("no samples")
    packed = with_pack(copy["root"], 16000)
    assert isinstance(packed, PackedRoot)
    for trial in trials:
        if trial.path in BAD:
            continue
        wave, info = read_clip(trial, packed, 16000)
        assert info.source == "pack", trial.path
        assert info.decoder == "libsndfile"
        direct = read_audio(trial.audio_path(copy["root"]), 16000)
        assert wave.dtype == np.float32 and np.array_equal(wave, direct), trial.path   # bit for bit
    # a bad file is still read (and fails) through its file
    with pytest.raises(AudioReadError, match="unreadable"):
        read_clip(next(t for t in trials if t.path == "eval/trunc.flac"), packed, 16000)


def test_resume_after_an_interrupted_pack(copy):
    calls = []

    def stop(shards: int) -> None:
        calls.append(shards)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pack_manifests(copy["manifest_files"], root=copy["root"], out=copy["pack"], shard_clips=10,
                       progress=False, on_shard=stop)
    assert calls == [1]
    first = PackIndex.load(copy["pack"])
    assert len(first) == 10 and first.shards == (0,)
    # a shard whose bytes were written but whose index was not (killed in between) is not trusted
    stray = copy["pack"] / "shards" / "00099.bin"
    stray.write_bytes(b"\1" * 1000)
    again = pack_manifests(copy["manifest_files"], root=copy["root"], out=copy["pack"], shard_clips=10,
                           progress=False)
    assert not stray.exists()
    assert again.unchanged == 10
    assert again.packed == len(_all(copy)) - len(BAD) - 10
    assert len(PackIndex.load(copy["pack"])) == len(_all(copy)) - len(BAD)


def test_a_changed_clip_invalidates_its_entry(copy):
    pack_manifests(copy["manifest_files"][:1], root=copy["root"], out=copy["pack"], progress=False)
    trial = copy["train"][0]
    file = trial.audio_path(copy["root"])
    old = read_audio(file, 16000)
    sf.write(file, np.clip(old[::-1] * 1.5, -1, 1), 16000, subtype="PCM_16")   # new content
    new = read_audio(file, 16000)
    wave, info = read_clip(trial, with_pack(copy["root"], 16000), 16000)
    assert info.source == "file" and np.array_equal(wave, new)        # the stale entry is not used
    again = pack_manifests(copy["manifest_files"][:1], root=copy["root"], out=copy["pack"], progress=False)
    assert (again.packed, again.refreshed) == (1, 0)
    wave, info = read_clip(trial, with_pack(copy["root"], 16000), 16000)
    assert info.source == "pack" and np.array_equal(wave, new)
    # touched but the same bytes: the entry is kept (re-hashed, not decoded)
    st = os.stat(file)
    os.utime(file, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
    touched = pack_manifests(copy["manifest_files"][:1], root=copy["root"], out=copy["pack"], progress=False)
    assert (touched.packed, touched.refreshed, touched.shards) == (0, 1, 1)
    wave, info = read_clip(trial, with_pack(copy["root"], 16000), 16000)
    assert info.source == "pack" and np.array_equal(wave, new)


def test_index_is_numpy_structured_arrays(copy):
    pack_manifests(copy["manifest_files"][:2], root=copy["root"], out=copy["pack"], progress=False)
    index = PackIndex.load(copy["pack"])
    n = len(copy["train"]) + len(copy["dev"])
    assert index.rows.dtype == ROW and len(index) == n
    assert index.ids.dtype.kind == "S" and index.keys.dtype.kind == "S"
    assert np.all(np.diff(index.rows["key"].astype(np.float64)) >= 0)   # sorted: binary-search lookups
    assert index.nbytes() < 200 * n
    pack = Pack(copy["pack"])
    rows = pack.rows_of(copy["train"] + copy["eval"][:2])
    assert np.all(rows[:len(copy["train"])] >= 0) and np.all(rows[len(copy["train"]):] == -1)
    assert set(index.ids.astype(str)) == {t.id for t in copy["train"] + copy["dev"]}
    assert index.find(key_hash(["synth\0nowhere.wav"]))[0] == -1


def test_quantising_dtypes_stay_within_tolerance():
    rng = np.random.default_rng(0)
    wave = (0.5 * rng.standard_normal(4000)).clip(-1, 1).astype(np.float32)
    code, stored = encode(wave, "auto")
    assert stored.dtype == np.float32 and np.array_equal(decode(code, stored), wave)  # not 16-bit: kept float
    pcm = (np.round(wave * 32768).clip(-32768, 32767) / 32768).astype(np.float32)
    code, stored = encode(pcm, "auto")
    assert stored.dtype == np.int16 and np.array_equal(decode(code, stored), pcm)
    for dtype, tol in (("int16", 1 / 32768 + 1e-9), ("float16", 1e-3)):   # int16: +1.0 stores as 32767
        code, stored = encode(wave, dtype)
        assert np.max(np.abs(decode(code, stored) - wave)) <= tol


def test_pack_switch_on_and_off(copy, tmp_path):
    with pytest.raises(ConfigError, match="no pack"):
        with_pack(copy["root"], 16000, TrainConfig(detector="x", data={"pack": "on"}).data)
    pack_manifests(copy["manifest_files"][:1], root=copy["root"], out=tmp_path / "elsewhere", sample_rate=8000,
                   progress=False)
    cfg = TrainConfig(detector="x", data={"pack": "on", "pack_dir": str(tmp_path / "elsewhere")}).data
    with pytest.raises(ConfigError, match="8000 Hz"):
        with_pack(copy["root"], 16000, cfg)
    assert isinstance(with_pack(copy["root"], 8000, cfg), PackedRoot)
    assert with_pack(copy["root"], 16000, TrainConfig(detector="x", data={"pack": "auto",
                     "pack_dir": str(tmp_path / "elsewhere")}).data) == copy["root"]   # auto: other rate, files
    with pytest.raises(PackError, match="8000 Hz"):
        pack_manifests(copy["manifest_files"][:1], root=copy["root"], out=tmp_path / "elsewhere", progress=False)


def test_pack_fed_training_and_scoring_equal_file_fed(copy, tmp_path):
    pack_manifests(copy["manifest_files"], root=copy["root"], out=copy["pack"], progress=False)
    results, scores = {}, {}
    for mode in ("off", "on"):
        cfg = TrainConfig.from_dict(dict(detector="rawcnn_2m", preset="tiny", epochs=2, batch_size=8,
                                         eval_batch_size=16, num_workers=0, seed=5, cpu_threads=1,
                                         augment={"gain_probability": 0.5, "rawboost": {"impulsive": 0.5}},
                                         data={"pack": mode}))
        results[mode] = train(cfg, copy["train"], copy["dev"], root=copy["root"], out_dir=tmp_path / mode,
                              progress=False)
        detector = load_run_detector(tmp_path / mode)
        out = score(detector, copy["manifest_files"][2], root=copy["root"], out_dir=tmp_path / f"s_{mode}",
                    config=ScoreConfig(batch_size=4, num_workers=0, cpu_threads=1, data={"pack": mode}),
                    progress=False)
        scores[mode] = out.files[0]
    assert results["on"].weights_sha256 == results["off"].weights_sha256     # identical weights
    assert results["on"].history[-1]["dev_eer"] == results["off"].history[-1]["dev_eer"]
    assert scores["on"].scores.read_bytes() == scores["off"].scores.read_bytes()  # identical score files
    assert scores["on"].failed.read_bytes() == scores["off"].failed.read_bytes()
    assert scores["on"].n_scored == len(copy["eval"]) - len(BAD)
    sources = {mode: json.loads(scores[mode].summary.read_text())["clip_sources"] for mode in scores}
    assert sources == {"on": {"pack": scores["on"].n_scored}, "off": {"file": scores["off"].n_scored}}


def test_cli_pack_reports_bad_files(copy, capsys):
    code = main(["pack", *map(str, copy["manifest_files"]), "--root", str(copy["root"]), "--workers", "0",
                 "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{len(_all(copy))} clips: {len(_all(copy)) - len(BAD)} packed" in out
    assert "failed: synth/eval/trunc.flac: unreadable" in out
    assert (Path(copy["root"]) / DEFAULT_DIR / "pack.json").is_file()
    assert main(["pack", str(copy["manifest_files"][0]), "--root", str(copy["root"]), "--workers", "0",
                 "--no-progress"]) == 0
