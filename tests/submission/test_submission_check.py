"""The submitter's side without keys: submission.yaml, trial lists and `spoofbench submission check`."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from spoofbench.cli import main
from spoofbench.errors import SubmissionError
from spoofbench.submission.check import check_submission, declare_files
from spoofbench.submission.spec import load_spec
from spoofbench.submission.trials import read_trial_lists, write_trial_lists

IDS = {"t1": [f"u{i}" for i in range(20)], "t2": [f"v{i}" for i in range(10)]}


def _spec(**extra) -> dict:
    return {"system": "s", "authors": ["A"], "contact": "a@b", "training_data": ["c"], "parameters": 5,
            "description": "d", "licence": "MIT", **extra}


@pytest.fixture
def trials_dir(tmp_path):
    write_trial_lists(tmp_path / "trials", "board", IDS, ["none", "mp3_32k"], seed=3)
    return tmp_path / "trials"


@pytest.fixture
def submission(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for test, ids in IDS.items():
        for codec in ("none", "mp3_32k"):
            order = rng.permutation(len(ids))
            (folder / f"{test}__{codec}.txt").write_text("".join(f"{ids[i]} {rng.normal()!r}\n" for i in order))
    (folder / "README.md").write_text("how we trained\n")
    (folder / "submission.yaml").write_text(yaml.safe_dump(_spec(files=declare_files(folder))))
    return folder


def test_trial_lists_are_shuffled_ids_only_and_seeded(tmp_path, trials_dir):
    lists = read_trial_lists(trials_dir)
    assert lists.name == "board" and lists.codecs == ("none", "mp3_32k")
    assert sorted(lists.ids["t1"]) == sorted(IDS["t1"]) and list(lists.ids["t1"]) != IDS["t1"]
    write_trial_lists(tmp_path / "again", "board", IDS, ["none", "mp3_32k"], seed=3)
    assert (tmp_path / "again" / "t1.txt").read_text() == (trials_dir / "t1.txt").read_text()
    assert list(lists.expected_files()) == ["t1__none.txt", "t1__mp3_32k.txt", "t2__none.txt", "t2__mp3_32k.txt"]
    with pytest.raises(SubmissionError, match="leaderboard.json: missing"):
        read_trial_lists(tmp_path)


def test_a_good_submission_passes(submission, trials_dir, capsys):
    checked = check_submission(submission, read_trial_lists(trials_dir))
    assert len(checked.scores) == 4 and checked.spec.system == "s"
    assert main(["submission", "check", str(submission), "--trials", str(trials_dir)]) == 0
    assert "OK: s, 4 score file(s)" in capsys.readouterr().out
    assert main(["submission", "check", str(submission)]) == 2
    assert "checked against trial lists: give --trials" in capsys.readouterr().err
    assert main(["submission", "check", str(submission), "--trials", str(trials_dir), "--print-sha256"]) == 0
    printed = capsys.readouterr().out
    assert all(f"  {name}: {digest}" in printed for name, digest in declare_files(submission).items())


@pytest.mark.parametrize("change, message", [
    ({"parameters": 0}, r"parameters: value 0 must be > 0"),
    ({"files": {"t1__none.txt": "abc"}}, r"files.t1__none.txt: sha256 'abc' is not 64 lowercase hex digits"),
    ({"files": None}, r"files: a score-file submission lists its files"),
    ({"model": {"detector": "rawcnn_2m"}}, r"give either 'files' .* or 'model', not both"),
    ({"authros": ["x"]}, r"authros: unknown key, did you mean authors"),
])
def test_spec_errors_name_the_field(submission, change, message):
    spec = yaml.safe_load((submission / "submission.yaml").read_text())
    spec.update(change)
    (submission / "submission.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(SubmissionError, match=message):
        load_spec(submission)


def test_problems_are_all_reported_with_file_line_and_id(submission, trials_dir, capsys):
    (submission / "t2__none.txt").write_text((submission / "t2__none.txt").read_text() + "v3 1.0\n")
    (submission / "t1__mp3_32k.txt").unlink()
    (submission / "t9__none.txt").write_text("a 1\n")
    assert main(["submission", "check", str(submission), "--trials", str(trials_dir)]) == 2
    err = capsys.readouterr().err
    assert "4 problem(s) in submission" in err
    assert "t1__mp3_32k.txt: missing score file for test set 't1' × condition 'mp3_32k'" in err
    assert "files.t1__mp3_32k.txt: declared but not in the folder" in err
    assert "t9__none.txt: unexpected file" in err
    assert "t2__none.txt: sha256" in err and "does not match the declared" in err
    spec = yaml.safe_load((submission / "submission.yaml").read_text())
    spec["files"] = declare_files(submission)
    (submission / "submission.yaml").write_text(yaml.safe_dump(spec))
    assert main(["submission", "check", str(submission), "--trials", str(trials_dir)]) == 2
    err = capsys.readouterr().err
    assert "t2__none.txt:11: utt_id: duplicate utt_id 'v3' (first on line" in err
    assert "declared but not in the folder" not in err and "missing score file" in err
