"""Score files in the ASVspoof 5 / 2019 / 2021 layouts read back to the same scores."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from spoofbench.errors import ConfigError, ScoreFileError
from spoofbench.metrics import read_scores
from spoofbench.metrics.readers import ScoreNormalization
from spoofbench.metrics.score_formats import convert_score_file


@pytest.fixture
def native(tmp_path):
    path = tmp_path / "eval__none.txt"
    path.write_text("LA_E_1 1.5\nLA_E_2 -0.25\nLA_E_3 3e-05\n")
    return path


TRIALS = [SimpleNamespace(id="LA_E_1", label="bonafide", attack="bonafide"),
          SimpleNamespace(id="LA_E_2", label="spoof", attack="A07"),
          SimpleNamespace(id="LA_E_3", label="spoof", attack="A19")]


def test_asvspoof5_tsv_has_the_header_and_reads_back(native):
    out = convert_score_file(native, "asvspoof5")
    assert out.name == "eval__none.asvspoof5.tsv"
    lines = out.read_text().splitlines()
    assert lines[0] == "filename\tcm-score" and lines[1] == "LA_E_1\t1.5"
    assert dict(read_scores(out)) == dict(read_scores(native))


def test_asvspoof2019_layout_carries_attack_and_key(native):
    out = convert_score_file(native, "asvspoof2019", trials=TRIALS)
    assert out.read_text().splitlines() == ["LA_E_1 - bonafide 1.5", "LA_E_2 A07 spoof -0.25", "LA_E_3 A19 spoof 3e-05"]
    back = read_scores(out, ScoreNormalization(score_col=4))
    np.testing.assert_array_equal(back.scores, read_scores(native).scores)


def test_asvspoof2021_layout_and_bad_requests(native):
    assert dict(read_scores(convert_score_file(native, "asvspoof2021"))) == dict(read_scores(native))
    with pytest.raises(ConfigError, match="needs the trials' labels"):
        convert_score_file(native, "asvspoof2019")
    with pytest.raises(ScoreFileError, match="not in the manifest"):
        convert_score_file(native, "asvspoof2019", trials=TRIALS[:1])
    with pytest.raises(ConfigError, match="unknown score format"):
        convert_score_file(native, "csv")
