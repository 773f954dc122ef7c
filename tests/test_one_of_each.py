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
