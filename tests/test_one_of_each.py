"""One sha256-of-a-file and one atomic writer serve the whole package."""
from __future__ import annotations

import hashlib

import pytest
import torch

from spoofbench.hashing import sha256_file


def test_sha256_file_reads_in_chunks_and_every_caller_uses_it(tmp_path):
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 5000  # > one chunk of 1 MiB
    path.write_bytes(data)
    assert sha256_file(path, chunk=4096) == sha256_file(path) == hashlib.sha256(data).hexdigest()
    from spoofbench.reproduce import digest
    from spoofbench.submission import check
    assert digest.file_sha256 is sha256_file and check.sha256_file is sha256_file


def test_a_failed_checkpoint_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    from spoofbench.models import build_detector
    from spoofbench.models.base import save_checkpoint

    detector = build_detector("rawcnn_2m", "tiny")
    save_checkpoint(detector, tmp_path / "best.pt")
    before = (tmp_path / "best.pt").read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        open(f, "wb").write(b"half")
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(detector, tmp_path / "best.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]
    assert (tmp_path / "best.pt").read_bytes() == before  # the earlier checkpoint is intact


def test_an_atomic_write_that_cannot_start_or_finish_names_the_target(tmp_path, monkeypatch):
    import errno
    import os

    from spoofbench.atomic import write_text_atomic

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(OSError) as err:
        write_text_atomic(blocker / "out.csv", "data")  # its folder is a file
    assert err.value.filename == str(blocker / "out.csv")

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError) as err:
        write_text_atomic(tmp_path / "out.csv", "data")
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(tmp_path / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # no temp file left


def test_the_cli_reports_a_file_problem_in_one_line(tmp_path, monkeypatch, capsys):
    from spoofbench.atomic import write_text_atomic
    from spoofbench.cli import main
    from spoofbench.runner import leaderboard_export

    target = tmp_path / "a_file" / "df.csv"
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setattr(leaderboard_export, "export_leaderboard",
                        lambda *a, **k: write_text_atomic(target, "Model\n"))
    assert main(["export", "leaderboard", str(tmp_path), "--format", "df-arena", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"spoofbench export: error: {target}: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1

    def bug(*a, **k):
        raise OSError("not about a file")
    monkeypatch.setattr(leaderboard_export, "export_leaderboard", bug)
    with pytest.raises(OSError, match="not about a file"):  # a bug keeps its traceback
        main(["export", "leaderboard", str(tmp_path), "--format", "df-arena", "--out", str(target)])


def test_one_canonical_json_and_the_cache_keys_it_makes_are_pinned():
    """Cell cache keys and manifest seals hash the same canonical JSON; changing it would change every
    cached cell's key, so the keys are pinned here (values computed before the two copies became one)."""
    from spoofbench.hashing import canonical_json, sha256_json
    from spoofbench.reproduce import manifest
    from spoofbench.runner.plan import content_hash

    parts = ("score", {"detector": "rawcnn_2m", "label": "é ü", "seed": 0, "x": [1.5, None, True]}, 2)
    assert content_hash(*parts) == "9a697878193ba3f4a888815ea92e815d306e851d12ad6923c7c67e510d139848"
    assert content_hash(*parts) == sha256_json(list(parts))
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"\\u00e9","b":1}'
    assert manifest.sha256_json is sha256_json and manifest.canonical_json is canonical_json


def test_a_schema_1_manifest_keeps_its_seals(tmp_path):
    """Schema 1 sealed with non-ASCII kept; its seals are still checked as written (a read-only migration)."""
    import hashlib
    import json

    from spoofbench.reproduce.manifest import SEALED, edited_sections

    def seal(obj):
        text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    old = {"schema": 1, "config": {"name": "démo"}, "command": "run"}
    old["config_sha256"] = seal(old["config"])
    old["seals"] = {key: seal(old.get(key)) for key in SEALED}
    assert edited_sections(old) == []
    old["config"]["name"] = "demo"
    assert edited_sections(old) == ["config"]
