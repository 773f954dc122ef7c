"""A real score-file submission from the submitter's check to a ranked, stored leaderboard row (CLI and API)."""
from __future__ import annotations

import csv
import io

import pytest
import yaml

from lb_testutil import make_submission
from spoofbench.cli import main
from spoofbench.leaderboard.board import init_leaderboard
from spoofbench.leaderboard.ingest import add_submission
from spoofbench.metrics import read_keys
from spoofbench.leaderboard.ranking import leaderboard_rows, render_csv, render_markdown
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
    keys = board.keys("a_eval")
    assert sorted(lists.ids["a_eval"]) == sorted(keys.ids) and list(lists.ids["a_eval"]) != list(keys.ids)
    assert "bonafide" not in (trials_dir / "a_eval.txt").read_text()  # ids only
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
    # the engine corpus' eval speakers (spk0..3) are also its training speakers: flagged
    assert cells[("a_eval", "none")]["overlap"]["flagged"] == ["synth"]
    assert cells[("a_eval", "none")]["overlap"]["by_corpus"]["synth"]["speakers"] == 4
    low, high = rows[0]["pooled_ood_ci_low"], rows[0]["pooled_ood_ci_high"]
    assert low <= rows[0]["pooled_ood_eer"] <= high
    assert rows[0]["in_domain_eer"] is not None and rows[0]["parameters_verified"] is False
    # re-submitting the same system makes version 2, never overwriting version 1
    again = add_submission(board, submission)
    assert again.version == 2 and len(board.store.submissions()) == 2
    assert board.store.cells(rows[0]["id"]) == list(cells.values())


def test_unknown_training_corpus_gives_ood_everywhere_and_unknown_overlap(board, scored_files, tmp_path):
    submission = make_submission(tmp_path / "sub", scored_files, system="other-data",
                                 training_data=["some_private_corpus"])
    add_submission(board, submission)
    sub = board.store.submissions()[0]
    cells = board.store.cells(sub["id"])
    assert {c["domain"] for c in cells} == {"ood"} and sub["in_domain_eer"] is None
    assert cells[0]["overlap"] == {"flagged": [], "by_corpus": {"some_private_corpus": "unknown"}}


def test_cli_operator_and_submitter_commands(lb_corpus, scored_files, tmp_path, capsys):
    board_dir, trials_dir, site = tmp_path / "board", tmp_path / "trials", tmp_path / "site"
    assert main(["leaderboard", "init", str(board_dir), "--benchmark", str(lb_corpus["config"])]) == 0
    assert main(["leaderboard", "trials", str(board_dir), "--out", str(trials_dir)]) == 0
    submission = make_submission(tmp_path / "sub", scored_files)
    assert main(["submission", "check", str(submission), "--trials", str(trials_dir)]) == 0
    assert "OK: tiny-cnn, 4 score file(s)" in capsys.readouterr().out
    assert main(["leaderboard", "add", str(board_dir), str(submission)]) == 0
    assert "accepted tiny-cnn v1" in capsys.readouterr().out
    second = make_submission(tmp_path / "sub2", scored_files, system="tiny-cnn-b", training_data=["synth_b"])
    assert main(["leaderboard", "add", str(board_dir), str(second)]) == 0
    assert main(["leaderboard", "list", str(board_dir)]) == 0
    listing = capsys.readouterr().out
    assert "tiny-cnn" in listing and "tiny-cnn-b" in listing
    assert main(["leaderboard", "withdraw", str(board_dir), "tiny-cnn-b", "--reason", "test withdrawal"]) == 0
    assert main(["leaderboard", "list", str(board_dir), "--all"]) == 0
    assert "tiny-cnn-b v1: withdrawn (test withdrawal)" in capsys.readouterr().out
    assert main(["leaderboard", "build", str(board_dir), "--out", str(site), "--no-det"]) == 0
    assert (site / "index.html").is_file() and (site / "leaderboard.csv").is_file()
    assert "tiny-cnn-b" not in (site / "index.html").read_text()
    assert main(["leaderboard", "add", str(board_dir), str(tmp_path / "nope")]) == 2
    assert "submission.yaml: missing" in capsys.readouterr().err


def test_markdown_and_csv_exports_equal_the_store(board, scored_files, tmp_path):
    add_submission(board, make_submission(tmp_path / "s1", scored_files))
    add_submission(board, make_submission(tmp_path / "s2", scored_files, system="b-trained",
                                          training_data=["synth_b"]))
    rows = leaderboard_rows(board)
    records = list(csv.DictReader(io.StringIO(render_csv(board, rows))))
    store = {s["id"]: s for s in board.store.submissions()}
    assert [int(r["rank"]) for r in records] == [1, 2]
    for record in records:
        sub = store[int(record["submission_id"])]
        assert float(record["pooled_ood_eer"]) == sub["pooled_ood_eer"]
        assert float(record["pooled_ood_ci_high"]) == sub["pooled_ood_ci_high"]
        cells = {(c["test_set"], c["codec"]): c for c in board.store.cells(sub["id"])}
        assert float(record["eer__b_eval__none"]) == cells[("b_eval", "none")]["eer"]
        assert record["domain__a_eval"] == cells[("a_eval", "none")]["domain"]
    assert float(records[0]["pooled_ood_eer"]) <= float(records[1]["pooled_ood_eer"])
    markdown = render_markdown(board, rows)
    first = store[int(records[0]["submission_id"])]
    assert f"| 1 | {first['system']} | 1 | {first['pooled_ood_eer'] * 100:.2f} |" in markdown
    b_row = next(line for line in markdown.splitlines() if "| b-trained |" in line)
    assert b_row.count("*") == 1  # b_eval is in-domain for the system trained on synth_b


def test_key_files_instead_of_manifests_give_the_same_cells(lb_corpus, scored_files, tmp_path):
    """An operator with ASVspoof-style protocol files (no manifests) scores submissions identically."""
    config = yaml.safe_load(lb_corpus["config"].read_text())
    base = lb_corpus["base"]
    for test in config["test_sets"]:
        keys = read_keys(base / test["manifest"])
        lines = [f"{spk} {utt} - {'-' if lab == 1 else att} {'bonafide' if lab == 1 else 'spoof'}\n"
                 for spk, utt, att, lab in zip(keys.column("speaker"), keys.ids, keys.column("attack"), keys.labels)]
        (tmp_path / f"{test['name']}.txt").write_text("".join(lines))
        corpus = "synth" if test["name"] == "a_eval" else "synth_b"
        test.update(keys=str(tmp_path / f"{test['name']}.txt"), corpus=corpus)
        del test["manifest"], test["root"]
    (tmp_path / "keys_board.yaml").write_text(yaml.safe_dump(config))
    with_keys = init_leaderboard(tmp_path / "kb", tmp_path / "keys_board.yaml")
    with_manifests = init_leaderboard(tmp_path / "mb", lb_corpus["config"])
    for board in (with_keys, with_manifests):
        add_submission(board, make_submission(tmp_path / f"sub_{board.directory.name}", scored_files))
    strip = ("id", "submission_id", "overlap")
    cells = [[{k: v for k, v in c.items() if k not in strip} for c in b.store.cells(1)]
             for b in (with_keys, with_manifests)]
    assert cells[0] == cells[1]
    assert with_keys.store.cells(1)[0]["overlap"]["by_corpus"] == {"synth": "unknown"}
    for board in (with_keys, with_manifests):
        board.close()
