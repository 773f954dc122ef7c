"""``models list``: counts from meta-device builds equal the real modules'; fitted models; the row cache."""
from __future__ import annotations

import json
import sys

import pytest

from spoofbench.cli import main
from spoofbench.models import build_detector, count_parameters
from spoofbench.models.zoo_cache import zoo_rows


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo")


@pytest.fixture(scope="module")
def rows(cache_dir):
    return zoo_rows(cache_dir)  # the shipped zoo_counts.json (test_zoo_counts checks it is current)


def test_meta_counts_equal_the_built_models(rows):
    small = [r for r in rows if r["preset"] == "tiny" or r["name"] in ("aasist", "aasist_l", "lfcc_lcnn")]
    assert len(small) >= 15
    for row in small:
        built = build_detector(row["name"], row["preset"])
        assert row["parameters"] == count_parameters(built), (row["name"], row["preset"])


def test_fitted_gmm_counts_its_mixtures(rows):
    by_key = {(r["name"], r["preset"]): r for r in rows}
    k, d = 512, 60  # components, LFCC + deltas
    assert by_key[("lfcc_gmm", "default")]["parameters"] == 2 * (k + 2 * k * d)
    assert by_key[("lfcc_gmm", "tiny")]["parameters"] == 2 * (4 + 2 * 4 * d)
    assert by_key[("hf_audio_classification", "default")]["parameters"] is None  # depends on the weights


def test_cached_rows_are_served_without_torch(tmp_path):
    import subprocess

    names = ["aasist", "lfcc_gmm"]
    built = zoo_rows(tmp_path, names, shipped=False)  # meta builds, written to the user's cache
    code = ("import json, sys; from spoofbench.models.zoo_cache import zoo_rows; "
            f"rows = zoo_rows({str(tmp_path)!r}, {names!r}, shipped=False); "
            "print(json.dumps([rows, 'torch' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [built, False]


def test_cli_filters_cached_rows(rows, cache_dir, capsys):
    assert main(["models", "list", "--json", "--cache-dir", str(cache_dir), "--no-tiny", "lfcc_gmm"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["preset"]) for r in listed] == [("lfcc_gmm", "default")]
    assert main(["models", "list", "--cache-dir", str(cache_dir), "hf_audio_classification"]) == 0
    assert "from weights" in capsys.readouterr().out
