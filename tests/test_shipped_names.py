"""Shipped protocols and benchmark configs are usable by name from any directory, through the CLI."""
from __future__ import annotations

from pathlib import Path

from spoofbench.cli import main
from spoofbench.runner.orchestrator import sha256_file


def test_run_dry_run_takes_a_shipped_config_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "seed_study", "--dry-run", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "rawcnn_2m" in out and "in_the_wild" in out


def test_corpora_split_names_the_shipped_protocols_when_a_name_is_unknown(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["corpora", "split", "no_such_protocol", "--manifests", ".", "--out", "o"]) == 2
    err = capsys.readouterr().err
    assert "asvspoof2019_la_to_wild" in err and "Traceback" not in err


def test_a_checkpoint_folder_has_a_content_digest(tmp_path):
    """Hugging Face detectors are model *directories*: the runner hashes their files, not the folder entry."""
    model = tmp_path / "hf_model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights-1")
    first = sha256_file(model)
    (model / "model.safetensors").write_bytes(b"weights-2")
    assert sha256_file(model) != first
    assert len(first) == 64 and Path(model).is_dir()
