"""`validate` finds every kind of defect, reports all of them and writes a clean manifest."""
from __future__ import annotations

import gzip
import json

import numpy as np

from spoofbench import cli
from spoofbench.corpora.manifest import Trial, read_manifest, write_manifest
from spoofbench.corpora.validate import ValidationConfig, validate_manifest

from corpora_testutil import write_audio


def _defective_corpus(root):
    """One trial per defect, plus good ones (one with a non-ASCII name)."""
    write_audio(root / "good.flac", seed=1)
    write_audio(root / "ünïcödé spëech.wav", seed=2)
    write_audio(root / "empty.wav").write_bytes(b"")
    (root / "garbage.wav").write_bytes(b"RIFF....this is not audio at all" * 10)
    flac = write_audio(root / "truncated.flac", seconds=1.0, seed=3).read_bytes()
    (root / "truncated.flac").write_bytes(flac[: len(flac) // 2])
    wav = write_audio(root / "truncated.wav", seconds=0.5, seed=4).read_bytes()
    (root / "truncated.wav").write_bytes(wav[: len(wav) // 2])
    write_audio(root / "no_samples.wav", signal=np.zeros(0, dtype=np.float32))
    write_audio(root / "narrowband.wav", rate=8000, seed=5)
    square = np.where(np.arange(1600) % 200 < 100, 1.0, -1.0).astype(np.float32)
    write_audio(root / "clipped.wav", signal=square)
    write_audio(root / "silent.wav", signal=np.zeros(1600, dtype=np.float32))
    names = ["good.flac", "ünïcödé spëech.wav", "missing.wav", "empty.wav", "garbage.wav",
             "truncated.flac", "truncated.wav", "no_samples.wav", "narrowband.wav", "clipped.wav",
             "silent.wav"]
    trials = [Trial(f"t{i}", name, "spoof" if i % 2 else "bonafide", "test", "eval",
                    attack="A01" if i % 2 else "bonafide") for i, name in enumerate(names)]
    trials.append(Trial("t0", "good.flac", "bonafide", "test", "eval"))  # duplicate id
    manifest = root / "m.jsonl.gz"
    write_manifest(manifest, trials)
    with gzip.open(manifest, "at", encoding="utf-8") as handle:  # a row with a bad label
        handle.write(json.dumps({"id": "t99", "path": "good.flac", "label": "fake",
                                 "corpus": "test", "split": "eval"}) + "\n")
    return manifest


def test_validate_finds_every_defect(tmp_path):
    manifest = _defective_corpus(tmp_path)
    clean = tmp_path / "clean" / "m.jsonl.gz"
    report = validate_manifest(manifest, tmp_path, config=ValidationConfig(expect_sr=16000),
                               write_clean=clean, progress=False)
    found = {(p.kind, p.path) for p in report.problems}
    expected = {("missing", "missing.wav"), ("empty", "empty.wav"),
                ("unreadable", "garbage.wav"), ("truncated", "truncated.flac"),
                ("truncated", "truncated.wav"), ("no_samples", "no_samples.wav"),
                ("wrong_sample_rate", "narrowband.wav"), ("clipped", "clipped.wav"),
                ("silent", "silent.wav"), ("duplicate_id", "good.flac"),
                ("bad_row", "good.flac")}
    assert expected <= found
    assert not any("ünïcödé" in p.path for p in report.problems)
    assert not report.ok and report.checked == 12
    bad_row = next(p for p in report.problems if p.kind == "bad_row")
    assert bad_row.line == 13 and "label" in bad_row.detail and "fake" in bad_row.detail
    kept = list(read_manifest(clean))
    assert [t.path for t in kept] == ["good.flac", "ünïcödé spëech.wav"] and report.kept == 2
    rejects = [json.loads(l) for l in (tmp_path / "clean" / "m.rejects.jsonl").read_text(
        encoding="utf-8").splitlines()]
    assert {r["path"] for r in rejects} >= {"missing.wav", "clipped.wav", "garbage.wav"}
    assert all(r["problems"] and r["problems"][0]["detail"] for r in rejects)


def test_validate_cli_exit_codes(tmp_path, capsys):
    manifest = _defective_corpus(tmp_path)
    code = cli.main(["validate", str(manifest), "--root", str(tmp_path), "--expect-sr", "16000",
                     "--write-clean", str(tmp_path / "c.jsonl.gz")])
    out = capsys.readouterr().out
    assert code == 1
    for name in ("missing.wav", "truncated.flac", "clipped.wav", "silent.wav", "narrowband.wav"):
        assert name in out
    assert cli.main(["validate", str(tmp_path / "c.jsonl.gz"), "--root", str(tmp_path),
                     "--expect-sr", "16000"]) == 0
    assert "0 with problems" in capsys.readouterr().out
