"""A real score-file submission from trial lists to a stored leaderboard row."""
from __future__ import annotations

import pytest

from lb_testutil import make_submission
from spoofbench.leaderboard.board import Leaderboard, init_leaderboard
from spoofbench.leaderboard.ingest import add_submission
from spoofbench.submission.check import check_submission
from spoofbench.submission.trials import read_trial_lists

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def board(lb_corpus, tmp_path):
    board = init_leaderboard(tmp_path / "board", lb_corpus["config"])
    yield board
    board.close()


def test_score_file_submission_from_check_to_row(board, scored_files, tmp_path):
    trials_dir = tmp_path / "trials"
    board.export_trials(trials_dir)
    lists = read_trial_lists(trials_dir)
    submission = make_submission(tmp_path / "sub", scored_files)
    checked = check_submission(submission, lists)
    assert sorted(checked.scores) == ["a_eval__g711_mulaw.txt", "a_eval__none.txt",
                                      "b_eval__g711_mulaw.txt", "b_eval__none.txt"]
    result = add_submission(board, submission)
    assert result.version == 1 and result.cells == 4
    rows = board.store.submissions()
    assert [r["system"] for r in rows] == ["tiny-cnn"]
    cells = {(c["test_set"], c["codec"]): c for c in board.store.cells(rows[0]["id"])}
    assert cells[("a_eval", "none")]["domain"] == "in-domain"
    assert cells[("b_eval", "none")]["domain"] == "ood"
    assert rows[0]["pooled_ood_ci_low"] <= rows[0]["pooled_ood_eer"] <= rows[0]["pooled_ood_ci_high"]
