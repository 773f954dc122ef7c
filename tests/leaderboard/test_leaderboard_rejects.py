"""Every bad submission is rejected with its reason (file, line, id, what was expected), and the store,
its score-file folder included, is left exactly as it was."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from lb_testutil import make_submission
from spoofbench.cli import main
from spoofbench.errors import SubmissionError
from spoofbench.leaderboard.board import init_leaderboard
from spoofbench.leaderboard.ingest import add_submission
from spoofbench.submission.check import declare_files

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def board(lb_corpus, scored_files, tmp_path_factory):
    base = tmp_path_factory.mktemp("reject_board")
    board = init_leaderboard(base / "board", lb_corpus["config"])
    add_submission(board, make_submission(base / "accepted", scored_files))
    yield board
    board.close()


def _redeclare(folder):
    spec = yaml.safe_load((folder / "submission.yaml").read_text())
    spec["files"] = declare_files(folder)
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec))


def _rewrite(folder, name, transform, redeclare=True):
    path = folder / name
    lines = path.read_text().splitlines()
    path.write_text("".join(f"{line}\n" for line in transform(lines)))
    if redeclare:
        _redeclare(folder)


def _truncate(folder):
    path = folder / "b_eval__none.txt"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 - 3])
    _redeclare(folder)


def _wrong_ids(folder):
    _rewrite(folder, "a_eval__none.txt", lambda lines: [f"x{line}" if i == 2 else line for i, line in enumerate(lines)])


def _nan(folder):
    _rewrite(folder, "a_eval__g711_mulaw.txt",
             lambda lines: [f"{line.split()[0]} nan" if i == 4 else line for i, line in enumerate(lines)])


def _duplicate(folder):
    _rewrite(folder, "b_eval__g711_mulaw.txt", lambda lines: lines + [lines[0].split()[0] + " 0.5"])


def _extra_condition(folder):
    shutil.copyfile(folder / "a_eval__none.txt", folder / "a_eval__mp3_32k.txt")
    _rewrite(folder, "a_eval__mp3_32k.txt", lambda lines: [f"{l.split()[0]} {float(l.split()[1]) + 1}" for l in lines])


def _missing_field(folder):
    spec = yaml.safe_load((folder / "submission.yaml").read_text())
    del spec["contact"], spec["licence"]
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec))


def _inverted(folder):
    for name in declare_files(folder):
        _rewrite(folder, name, lambda lines: [f"{l.split()[0]} {-float(l.split()[1])!r}" for l in lines], False)
    _redeclare(folder)


def _sha_mismatch(folder):
    _rewrite(folder, "b_eval__none.txt", lambda lines: [f"{lines[0].split()[0]} 123.0"] + lines[1:], redeclare=False)


def _constant(folder):
    _rewrite(folder, "a_eval__none.txt", lambda lines: [f"{l.split()[0]} 0.25" for l in lines])


def _identical(folder):
    shutil.copyfile(folder / "b_eval__none.txt", folder / "b_eval__g711_mulaw.txt")
    _redeclare(folder)


CASES = {
    "truncated": (_truncate, r"b_eval__none.txt(:\d+: expected 2 columns|: utt_id: \d+ of \d+ trial\(s\) of 'b_eval' have no score)"),
    "wrong_ids": (_wrong_ids, r"a_eval__none.txt: utt_id: 1 id\(s\) not in the trial list of 'a_eval': xeval_\d+.*"),
    "nan": (_nan, r"a_eval__g711_mulaw.txt:5: score: score 'nan' of 'eval_\d+' is not finite"),
    "duplicate": (_duplicate, r"b_eval__g711_mulaw.txt:\d+: utt_id: duplicate utt_id 'eval_\d+' \(first on line 1\)"),
    "extra_condition": (_extra_condition, r"a_eval__mp3_32k.txt: unexpected file: not a test set × condition"),
    "missing_field": (_missing_field, r"submission.yaml: contact: required field missing\n.*submission.yaml: licence: "
                                      r"required field missing"),
    "inverted": (_inverted, r"inverted polarity: the EER averaged over its 4 file\(s\) is \d+\.\d+%, above 50%.*"
                            r"with --flip it would be \d+\.\d+%"),
    "sha256": (_sha_mismatch, r"b_eval__none.txt: sha256 [0-9a-f]{64} does not match the declared [0-9a-f]{64}"),
    "constant": (_constant, r"a_eval__none.txt: score: every score is 0.25; a constant file"),
    "identical": (_identical, r"files b_eval__g711_mulaw.txt, b_eval__none.txt hold identical scores"),
}


def _snapshot(board) -> tuple:
    return board.store.dump(), sorted(p.name for p in (board.directory / "files").iterdir())


@pytest.mark.parametrize("kind", sorted(CASES))
def test_bad_submission_rejected_store_unchanged(board, scored_files, tmp_path, kind, capsys):
    spoil, reason = CASES[kind]
    folder = make_submission(tmp_path / kind, scored_files, system=f"bad-{kind}")
    spoil(folder)
    before = _snapshot(board)
    with pytest.raises(SubmissionError, match=reason):
        add_submission(board, folder)
    assert _snapshot(board) == before
    # the CLI: non-zero exit, the reason on stderr, still nothing stored
    assert main(["leaderboard", "add", str(board.directory), str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spoofbench leaderboard: error:") and "Traceback" not in err
    assert _snapshot(board) == before


def test_every_problem_is_listed_once(board, scored_files, tmp_path):
    folder = make_submission(tmp_path / "many", scored_files, system="many-problems")
    _nan(folder)
    _wrong_ids(folder)
    _extra_condition(folder)
    with pytest.raises(SubmissionError) as caught:
        add_submission(board, folder)
    message = str(caught.value)
    # a renamed id is an id outside the trial list and a trial without a score: two problems
    assert message.startswith("4 problem(s) in submission")
    assert message.count("\n  - ") == 4
    for expected in ("is not finite", "not in the trial list", "have no score", "unexpected file"):
        assert message.count(expected) == 1, expected


def test_inverted_submission_is_accepted_with_flip_recorded(board, scored_files, tmp_path):
    from spoofbench.metrics.readers import ScoreNormalization

    folder = make_submission(tmp_path / "flipped", scored_files, system="flipped")
    _inverted(folder)
    result = add_submission(board, folder, ScoreNormalization(flip=True))
    sub = next(s for s in board.store.submissions() if s["id"] == result.id)
    assert sub["normalization"]["flip"] is True
    accepted = next(s for s in board.store.submissions() if s["system"] == "tiny-cnn")
    assert sub["pooled_ood_eer"] == pytest.approx(accepted["pooled_ood_eer"])
    board.store.set_status("flipped", None, "withdrawn", "test cleanup")


def test_on_missing_drop_is_refused_for_submissions(board, scored_files, tmp_path):
    from spoofbench.metrics.readers import ScoreNormalization

    folder = make_submission(tmp_path / "drop", scored_files, system="drop")
    with pytest.raises(SubmissionError, match="--on-missing drop is not accepted"):
        add_submission(board, folder, ScoreNormalization(on_missing="drop"))


def test_messy_files_accepted_through_recorded_normalisation(board, scored_files, tmp_path):
    from spoofbench.metrics.readers import ScoreNormalization

    folder = make_submission(tmp_path / "messy", scored_files, system="messy")
    for name in declare_files(folder):
        _rewrite(folder, name, lambda lines: [f"wav/{l.split()[0]}.wav {l.split()[1]} label" for l in lines]
                 + ["wav/not_a_trial.wav 0.0 label"], False)
    _redeclare(folder)
    with pytest.raises(SubmissionError, match="expected 2 columns"):
        add_submission(board, folder)
    norm = ScoreNormalization(score_col=2, id_map=r"([^/]+)\.wav$", on_extra="drop")
    result = add_submission(board, folder, norm)
    sub = next(s for s in board.store.submissions() if s["id"] == result.id)
    assert sub["normalization"]["score_col"] == 2 and sub["normalization"]["id_map"] == r"([^/]+)\.wav$"
    assert sub["normalization"]["dropped"]["a_eval__none.txt"] == {"count": 1, "ids": ["not_a_trial"]}
    accepted = next(s for s in board.store.submissions() if s["system"] == "tiny-cnn")
    assert np.isclose(sub["pooled_ood_eer"], accepted["pooled_ood_eer"])
    board.store.set_status("messy", None, "withdrawn", "test cleanup")
