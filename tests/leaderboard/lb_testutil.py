"""Helpers of the leaderboard tests (imported by the test modules of this folder)."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml


def make_submission(folder: Path, scores_dir: Path, *, system: str = "tiny-cnn", **spec) -> Path:
    """A submission folder: the score files of ``scores_dir`` and a submission.yaml declaring them."""
    from spoofbench.submission.check import declare_files

    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(scores_dir.glob("*__*.txt")):
        shutil.copyfile(path, folder / path.name)
    data = {"system": system, "authors": ["Test Author"], "contact": "test@example.org",
            "training_data": ["synth"], "parameters": 1000, "description": "tiny detector trained in the tests",
            "licence": "CC-BY-4.0", **spec}
    data.setdefault("files", declare_files(folder))
    (folder / "submission.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder
