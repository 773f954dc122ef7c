"""The seed's study config ships, parses, and (once the runner has it) passes ``run --dry-run``."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from spoofbench.runner.config import BenchmarkConfig

STUDY = Path(__file__).resolve().parents[2] / "data_manifests" / "benchmarks" / "seed_study.yaml"


def test_seed_study_config():
    config = BenchmarkConfig.from_yaml(STUDY)
    names = [d.name for d in config.detectors]
    assert names[:3] == ["rawcnn_2m", "aasist", "lfcc_lcnn"] and names[3].startswith("wavlm_large")
    assert config.seeds == (0, 1, 2) and config.codecs == ("matrix:default",)
    assert config.train.manifest.endswith("asvspoof2019_la_train.jsonl.gz")
    assert [t.name for t in config.test_sets] == ["la19_eval", "in_the_wild", "fakeorreal", "wavefake", "mlaad"]
    assert all(t.domain == "ood" for t in config.test_sets[1:])


def _has_dry_run() -> bool:
    from spoofbench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return any("--dry-run" in action.option_strings for action in sub.choices["run"]._actions)


def test_seed_study_dry_run(capsys):
    try:
        present = _has_dry_run()
    except (ImportError, StopIteration, KeyError, AttributeError):
        present = False
    if not present:
        pytest.skip("spoofbench run has no --dry-run yet")
    from spoofbench.cli import main

    assert main(["run", str(STUDY), "--dry-run"]) == 0
    from spoofbench.codecs import get_matrix

    out = capsys.readouterr().out
    cells = 4 * 3 * 5 * len(get_matrix("default"))  # detectors × seeds × test sets × conditions
    assert f"{cells} score cell" in out
