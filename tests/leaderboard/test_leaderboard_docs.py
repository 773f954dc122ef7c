"""The documented ``id_map`` examples (docs/leaderboard.md) turn each score-file id into the trial id the
project's own keys give: ASVspoof 2019 LA, In-the-Wild from its labels.txt key file, In-the-Wild from the
``in_the_wild`` recipe."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from spoofbench.metrics import read_keys
from spoofbench.metrics.readers import ScoreNormalization, read_scores

DOC = Path(__file__).resolve().parents[2] / "docs" / "leaderboard.md"
ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \(([^)]*)\) \| `'([^`]+)'` \|$", re.MULTILINE)


def _examples() -> list[tuple[str, str, str, str]]:
    found = ROW.findall(DOC.read_text(encoding="utf-8"))
    assert len(found) == 3, found
    return found


def _project_id(trial_id: str, source: str, tmp_path: Path) -> str:
    """The id the project's own reader gives the trial ``trial_id`` names, for the documented source."""
    if "labels.txt" in source:
        keys = tmp_path / "labels.txt"
        keys.write_text(f"{trial_id} bona-fide\n0.wav spoof\n")
        return str(read_keys(keys).ids[0])
    if "recipe" in source:
        from spoofbench.corpora.in_the_wild import _trial
        return _trial(f"{trial_id}.wav", "-", "bonafide", "", "eval").id
    keys = tmp_path / "la.txt"
    keys.write_text(f"LA_0039 {trial_id} - - bonafide\nLA_0040 LA_E_2 - A07 spoof\n")
    return str(read_keys(keys).ids[0])


@pytest.mark.parametrize("index", range(3))
def test_the_documented_id_map_gives_the_projects_own_id(index, tmp_path):
    raw, trial_id, source, pattern = _examples()[index]
    pattern = pattern.replace("\\\\", "\\")
    assert _project_id(trial_id, source, tmp_path) == trial_id
    scores = tmp_path / "scores.txt"
    scores.write_text(f"{raw} 1.5\nother/{raw.rsplit('/', 1)[-1].replace('1', '3')} -0.5\n")
    table = read_scores(scores, ScoreNormalization(id_map=pattern))
    assert table.ids[0] == trial_id
