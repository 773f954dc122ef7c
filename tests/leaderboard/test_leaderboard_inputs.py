"""Hostile or careless inputs get one-line errors: non-UTF-8 and alias-bomb YAML, Python-only number
syntax in score files, out-of-range published claims."""
from __future__ import annotations

import time

import pytest
from spoofbench.cli import main
from spoofbench.errors import ConfigError, ScoreFileError
from spoofbench.metrics.readers import read_scores
from spoofbench.reproduce.reproduce import parse_claim

BOMB = "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
               for p, n in zip(["", "a", "b", "c", "d", "e", "f", "g"], "abcdefgh"))


@pytest.mark.parametrize("command", [["leaderboard", "init", "{dir}/board", "--benchmark", "{file}"],
                                     ["submission", "check", "{dir}"]])
def test_non_utf8_yaml_is_one_line(tmp_path, capsys, command):
    target = tmp_path / ("submission.yaml" if command[0] == "submission" else "board.yaml")
    target.write_bytes(b"name: caf\xe9\nsystem: x\n")
    args = [a.format(dir=tmp_path, file=target) for a in command]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "not UTF-8 text (byte 0xe9)" in err and f"{target.name}:1" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, capsys):
    path = tmp_path / "submission.yaml"
    path.write_text(BOMB.replace("h:", "system:"))
    started = time.monotonic()
    assert main(["submission", "check", str(tmp_path)]) == 2
    assert time.monotonic() - started < 5
    assert "alias *a is not allowed" in capsys.readouterr().err


def test_python_only_number_syntax_is_not_a_score(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("a 1_0\nb 2.0\n")
    with pytest.raises(ScoreFileError, match="score '1_0' of 'a' is not a number"):
        read_scores(path)


@pytest.mark.parametrize("claim, words", [("eer=150%", "between 0 and 100%"), ("eer=-5%", "between 0 and 100%"),
                                          ("min_dcf=-0.1", ">= 0"), ("auc=1.5", "between 0 and 100%")])
def test_impossible_claims_are_refused(claim, words):
    with pytest.raises(ConfigError, match=words):
        parse_claim(claim)
    assert parse_claim("eer=2.19%")[1] == pytest.approx(0.0219)


@pytest.mark.parametrize("checkpoint", ["link.pt", "../outside.pt"])
def test_a_model_file_must_be_the_submitters_own(tmp_path, checkpoint):
    """A checkpoint or wheel is mounted into the sandbox: a link to, or a path reaching, an operator's file
    is refused before anything runs."""
    import os

    import yaml
    from spoofbench.errors import SubmissionError
    from spoofbench.submission.model import model_checkpoint
    from spoofbench.submission.spec import load_spec

    (tmp_path / "outside.pt").write_text("operator secret")
    folder = tmp_path / "sub"
    folder.mkdir()
    os.symlink(tmp_path / "outside.pt", folder / "link.pt")
    spec = {"system": "m", "authors": ["A"], "contact": "a@b.c", "training_data": ["x"], "parameters": 10,
            "description": "d", "licence": "MIT", "model": {"detector": "rawcnn_2m", "checkpoint": checkpoint}}
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(SubmissionError, match="symbolic link|outside the submission folder") as err:
        model_checkpoint(load_spec(folder), folder)
    assert "operator secret" not in str(err.value)
