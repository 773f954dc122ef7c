"""A board ranks every honest submission right: a defined rank key, partial coverage, missing trials,
unique pages, a fresh site, inert exports, checked corpus ids, duplicates, privacy, declared normalisation,
helpful errors, size limits, symlinks, and ``leaderboard audit``."""
from __future__ import annotations

import csv
import io
import json
import os
import sqlite3

import numpy as np
import pytest
import yaml
from spoofbench.cli import main
from spoofbench.errors import SubmissionError
from spoofbench.leaderboard.audit import audit_board
from spoofbench.leaderboard.board import init_leaderboard
from spoofbench.leaderboard.ingest import add_submission
from spoofbench.leaderboard.ranking import leaderboard_rows, render_csv, render_markdown
from spoofbench.leaderboard.site import build_site
from spoofbench.submission.check import check_submission, declare_files
from spoofbench.submission.trials import read_trial_lists

BOTH = ["synth", "synth_b"]  # every test set in-domain


def _board(lb_corpus, tmp_path, name="board", **options):
    config = yaml.safe_load(lb_corpus["config"].read_text())
    config.update(options, bootstrap=50)
    for test in config["test_sets"]:
        for key in ("manifest", "root"):
            test[key] = str((lb_corpus["config"].parent / test[key]).resolve())
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return init_leaderboard(tmp_path / name, path)


def _labels(lb_corpus) -> dict:
    from spoofbench.metrics import read_keys

    out = {}
    for test in ("a_eval", "b_eval"):
        keys = read_keys(lb_corpus["base"] / "manifests" / f"{test}.jsonl.gz")
        out.update(zip(keys.ids.tolist(), keys.labels.tolist()))
    return out


def _variant(scored_files, folder, *, noise=1.0, seed=0, drop_tests=(), drop_ids=0, transform=None):
    """Score files of an honest system: bona fide trials score 1 higher than spoofed ones, plus seeded
    Gaussian noise of scale ``noise`` (more noise, higher EER); the ids are the real trial lists'."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for path in sorted(scored_files.glob("*__*.txt")):
        if path.name.split("__")[0] in drop_tests:
            continue
        ids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
        ids = ids[drop_ids:] if path.name == "b_eval__none.txt" else ids
        text = "".join((transform or (lambda u, s: f"{u} {s!r}"))(utt, LABELS[utt] + noise * rng.normal()) + "\n"
                       for utt in ids)
        (folder / path.name).write_text(text)
    return folder


LABELS: dict = {}


@pytest.fixture(autouse=True)
def _known_labels(lb_corpus):
    if not LABELS:
        LABELS.update(_labels(lb_corpus))


def _submit(folder, system, **spec):
    data = {"system": system, "authors": ["A"], "contact": "secret-contact@example.org", "training_data": BOTH,
            "parameters": 1000, "description": "d", "licence": "MIT", **spec}
    data.setdefault("files", declare_files(folder))
    (folder / "submission.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def test_an_all_in_domain_board_ranks_by_the_pooled_eer_of_each_system(lb_corpus, scored_files, tmp_path):
    board = _board(lb_corpus, tmp_path)
    for i, noise in enumerate((3.0, 0.3, 1.5)):
        add_submission(board, _submit(_variant(scored_files, tmp_path / f"s{i}", noise=noise, seed=i), f"sys-{i}"))
    rows = leaderboard_rows(board)
    assert all(r.pooled.value is None and r.key_name == "pooled EER (no OOD cells)" for r in rows)
    keys = [r.key for r in rows]
    assert keys == sorted(keys) and rows[0].system == "sys-1"  # not submission order
    site = tmp_path / "site"
    build_site(board, site, det=False)
    page = (site / "systems" / f"{rows[0].slug}.html").read_text()
    assert "–%" not in page and "n/a</b> (no OOD cells)" in page
    assert "(rank 1 of the board, by pooled EER (no OOD cells))" in page
    assert "pooled EER of all its cells" in (site / "index.html").read_text() or "pooled over all its cells" in \
        (site / "index.html").read_text()


@pytest.mark.parametrize("rank_by", ["pooled_eer", "min_dcf", "b_eval"])
def test_the_rank_key_is_the_one_the_yaml_names(lb_corpus, scored_files, tmp_path, rank_by):
    board = _board(lb_corpus, tmp_path, rank_by=rank_by)
    for i, noise in enumerate((2.0, 0.3)):
        add_submission(board, _submit(_variant(scored_files, tmp_path / f"s{i}", noise=noise, seed=i), f"sys-{i}"))
    rows = leaderboard_rows(board)
    for row in rows:
        cells = {(c["test_set"], c["codec"]): c for c in board.store.cells(row.submission["id"])}
        expected = (cells[("b_eval", "none")]["eer"] if rank_by == "b_eval"
                    else row.submission["details"]["rank_values"][rank_by])
        assert row.key == expected
    assert [r.key for r in rows] == sorted(r.key for r in rows)


def test_partial_coverage_is_accepted_shown_and_tiered(lb_corpus, scored_files, tmp_path):
    board = _board(lb_corpus, tmp_path)
    partial = add_submission(board, _submit(_variant(scored_files, tmp_path / "p", noise=0.3, drop_tests=("b_eval",)),
                                            "a-only"))
    assert partial.coverage == (1, 2) and partial.cells == 2
    add_submission(board, _submit(_variant(scored_files, tmp_path / "f", noise=2.0, seed=3), "full-but-worse"))
    rows = leaderboard_rows(board)
    assert [r.system for r in rows] == ["full-but-worse", "a-only"]  # every test set covered ranks first
    assert rows[0].key > rows[1].key
    assert {c["test_set"] for c in board.store.cells(rows[1].submission["id"])} == {"a_eval"}  # nothing pooled in
    assert "1 of 2" in render_markdown(board, rows)
    records = list(csv.DictReader(io.StringIO(render_csv(board, rows))))
    assert [(r["coverage"], r["n_test_sets"]) for r in records] == [("2", "2"), ("1", "2")]
    penalised = _board(lb_corpus, tmp_path, name="penalty", coverage="penalty", coverage_penalty=1.0)
    add_submission(penalised, _submit(_variant(scored_files, tmp_path / "p2", noise=0.3, drop_tests=("b_eval",)),
                                      "a-only"))
    add_submission(penalised, _submit(_variant(scored_files, tmp_path / "f2", noise=2.0, seed=3), "full"))
    assert [r.system for r in leaderboard_rows(penalised)] == ["full", "a-only"]
    with pytest.raises(SubmissionError, match="a covered test set needs every condition"):
        folder = _variant(scored_files, tmp_path / "half")
        (folder / "b_eval__g711_mulaw.txt").unlink()  # one condition of a covered test set missing
        add_submission(board, _submit(folder, "half"))


def test_one_missing_trial_is_rejected_or_scored_worst_as_the_yaml_says(lb_corpus, scored_files, tmp_path):
    strict = _board(lb_corpus, tmp_path, name="strict")
    with pytest.raises(SubmissionError, match=r"1 of \d+ trial\(s\) of 'b_eval' have no score"):
        add_submission(strict, _submit(_variant(scored_files, tmp_path / "m", drop_ids=1), "one-missing"))
    lenient = _board(lb_corpus, tmp_path, name="lenient", missing_trials="worst_score")
    result = add_submission(lenient, _submit(_variant(scored_files, tmp_path / "m2", drop_ids=1), "one-missing"))
    assert result.filled == 1
    cells = {(c["test_set"], c["codec"]): c["n_missing"] for c in lenient.store.cells(result.id)}
    assert cells[("b_eval", "none")] == 1 and cells[("a_eval", "none")] == 0
    rows = leaderboard_rows(lenient)
    assert rows[0].n_missing == 1 and "1 missing trial(s) scored worst" in render_markdown(lenient, rows)
    build_site(lenient, tmp_path / "site", det=False)
    page = (tmp_path / "site" / "systems" / f"{rows[0].slug}.html").read_text()
    assert "missing trials (scored worst)" in page
    assert audit_board(lenient).ok


def test_pages_are_unique_per_submission_and_withdrawn_pages_leave_the_site(lb_corpus, scored_files, tmp_path):
    board = _board(lb_corpus, tmp_path)
    add_submission(board, _submit(_variant(scored_files, tmp_path / "a", noise=0.5, seed=1), "SCL conf-3"))
    add_submission(board, _submit(_variant(scored_files, tmp_path / "b", noise=1.0, seed=2), "SCL_conf-3"))
    site = tmp_path / "site"
    (site / "systems").mkdir(parents=True)
    (site / "systems" / "stale.html").write_text("old")
    (site / "index.html").write_text("old")
    build_site(board, site, det=False)
    rows = leaderboard_rows(board)
    assert len({r.slug for r in rows}) == 2 and not (site / "systems" / "stale.html").exists()
    for row in rows:
        page = (site / "systems" / f"{row.slug}.html").read_text()
        assert f"{row.system} v1" in page
    board.store.set_status("SCL conf-3", None, "withdrawn", "test")
    build_site(board, site, det=False)
    pages = sorted(p.name for p in (site / "systems").glob("*.html"))
    assert pages == [f"{rows[0].slug}.html" if rows[0].system == "SCL_conf-3" else f"{rows[1].slug}.html"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.")]  # no temporary folders left
    other = tmp_path / "not_a_site"
    other.mkdir()
    (other / "precious.txt").write_text("keep")
    with pytest.raises(Exception, match="not a leaderboard site"):
        build_site(board, other, det=False)
    assert (other / "precious.txt").read_text() == "keep"


def test_exports_are_inert_and_contacts_and_paths_private(lb_corpus, scored_files, tmp_path):
    board = _board(lb_corpus, tmp_path)
    hostile = "=HYPERLINK(\"x\",\"y\") <img src=x onerror=alert(1)>"
    add_submission(board, _submit(_variant(scored_files, tmp_path / "h"), hostile))
    rows = leaderboard_rows(board)
    markdown = render_markdown(board, rows)
    assert "<img" not in markdown and "&#60;img" in markdown
    records = list(csv.reader(io.StringIO(render_csv(board, rows))))
    system = records[1][records[0].index("system")]
    assert system.startswith("'=HYPERLINK")
    assert float(records[1][records[0].index("rank_value")]) > 0  # numbers stay numbers
    build_site(board, tmp_path / "site", det=False)
    everything = "".join(p.read_text() for p in (tmp_path / "site").rglob("*") if p.is_file())
    assert "secret-contact@example.org" not in everything
    assert str(tmp_path) not in everything
    history = board.store.history(rows[0].submission["id"])
    assert history[0]["reason"] == "scores submission accepted"


def test_a_typo_in_the_training_data_is_refused_with_the_id_it_resembles(lb_corpus, scored_files, tmp_path):
    board = _board(lb_corpus, tmp_path)
    folder = _submit(_variant(scored_files, tmp_path / "t"), "typo", training_data=["Synth-B", "synth"])
    with pytest.raises(SubmissionError, match=r"training_data\[0\]: 'Synth-B' is not a known corpus id; did you "
                                              r"mean 'synth_b'\?.*asvspoof2019_la"):
        add_submission(board, folder)
    board.export_trials(tmp_path / "trials")
    index = json.loads((tmp_path / "trials" / "leaderboard.json").read_text())
    assert {"synth", "synth_b", "asvspoof2019_la", "in_the_wild"} <= set(index["corpus_ids"])
    assert main(["submission", "check", str(folder), "--trials", str(tmp_path / "trials")]) == 2


def test_byte_identical_score_files_are_flagged(lb_corpus, scored_files, tmp_path, capsys):
    board = _board(lb_corpus, tmp_path)
    first = add_submission(board, _submit(_variant(scored_files, tmp_path / "o"), "original"))
    assert first.duplicates == ()
    copy = add_submission(board, _submit(_variant(scored_files, tmp_path / "c"), "copycat"))
    assert len(copy.duplicates) == 4 and "same sha256 as original v1" in copy.duplicates[0]
    assert board.store.submissions()[1]["details"]["duplicates"] == list(copy.duplicates)
    assert main(["leaderboard", "add", str(board.directory), str(_submit(_variant(scored_files, tmp_path / "c2"),
                                                                         "copycat"))]) == 0
    assert "warning: a_eval__g711_mulaw.txt: same sha256 as original v1" in capsys.readouterr().out


def test_the_submission_declares_its_normalisation(lb_corpus, scored_files, tmp_path):
    board = _board(lb_corpus, tmp_path)
    three = _variant(scored_files, tmp_path / "three", transform=lambda u, s: f"{u} - {s!r}")
    with pytest.raises(SubmissionError, match=r"declare normalise: \{score_col: N\}"):
        add_submission(board, _submit(three, "three-cols"))
    add_submission(board, _submit(three, "three-cols", normalise={"score_col": 3}))
    shaped = _variant(scored_files, tmp_path / "shaped", transform=lambda u, s: f"wav/{u}.wav {s!r}")
    with pytest.raises(SubmissionError) as err:
        add_submission(board, _submit(shaped, "shaped"))
    message = str(err.value)
    assert "none of its" in message and "wav/" in message and "id_map" in message
    per_test = {"a_eval": r"wav/(.+)\.wav$", "b_eval": r"^wav/(.+)\.wav"}
    result = add_submission(board, _submit(shaped, "shaped", normalise={"id_map": per_test}))
    stored = board.store.submissions()[-1]
    assert stored["normalization"]["id_map_by_test_set"] == per_test and result.cells == 4
    assert audit_board(board).ok


def test_oversize_and_symlinked_score_files_are_refused_without_reading_them(lb_corpus, scored_files, tmp_path):
    board = _board(lb_corpus, tmp_path, max_score_file_mb=1)
    big = _variant(scored_files, tmp_path / "big")
    with open(big / "a_eval__none.txt", "a") as handle:
        handle.write("# padding\n" * 120_000)
    with pytest.raises(SubmissionError, match="over this leaderboard's limit of 1 MB"):
        add_submission(board, _submit(big, "big"))
    board.export_trials(tmp_path / "trials")  # the submitter's check applies the same limit
    with pytest.raises(SubmissionError, match="over this leaderboard's limit of 1 MB"):
        check_submission(big, read_trial_lists(tmp_path / "trials"))
    secret = tmp_path / "operator_secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    linked = _variant(scored_files, tmp_path / "linked")
    (linked / "a_eval__none.txt").unlink()
    os.symlink(secret, linked / "a_eval__none.txt")
    with pytest.raises(SubmissionError) as err:
        add_submission(board, _submit(linked, "linked"))
    assert "symbolic link" in str(err.value) and "root:x" not in str(err.value)


def test_audit_passes_on_an_intact_board_and_fails_on_a_tampered_one(lb_corpus, scored_files, tmp_path, capsys):
    board = _board(lb_corpus, tmp_path)
    add_submission(board, _submit(_variant(scored_files, tmp_path / "a", noise=0.5, seed=1), "sys-a"))
    add_submission(board, _submit(_variant(scored_files, tmp_path / "b", drop_tests=("a_eval",)), "sys-b"))
    directory = board.directory
    board.close()
    assert main(["leaderboard", "audit", str(directory)]) == 0
    assert "2 submission(s), 6 score file(s): no drift" in capsys.readouterr().out
    db = sqlite3.connect(directory / "leaderboard.sqlite")
    db.execute("UPDATE cells SET eer = eer + 0.01 WHERE id = 1")
    db.commit()
    db.close()
    assert main(["leaderboard", "audit", str(directory)]) == 1
    assert "DRIFT: sys-a v1 (id 1): cell a_eval × " in capsys.readouterr().out
    stored = min((directory / "files").glob("*.txt"))
    stored.write_text(stored.read_text().replace(" ", "  ", 1))
    assert main(["leaderboard", "audit", str(directory)]) == 1
    assert "the file changed" in capsys.readouterr().out


def test_an_honest_board_of_in_domain_partial_and_incomplete_systems_ranks_by_the_stated_key(
        lb_corpus, scored_files, tmp_path):
    """The issue's board: every system in-domain everywhere, one covering one test set only, one missing a
    trial (missing_trials: worst_score): ranked in coverage tiers by the pooled EER, said on the page."""
    board = _board(lb_corpus, tmp_path, missing_trials="worst_score")
    systems = {"good": dict(noise=0.3, seed=1), "worse": dict(noise=1.5, seed=2),
               "a-only": dict(noise=0.1, seed=3, drop_tests=("b_eval",)), "one-missing": dict(noise=0.6, seed=4,
                                                                                              drop_ids=1)}
    for name, options in systems.items():
        add_submission(board, _submit(_variant(scored_files, tmp_path / name, **options), name))
    rows = leaderboard_rows(board)
    assert {r.key_name for r in rows} == {"pooled EER (no OOD cells)"}
    full = [r for r in rows if r.coverage == (2, 2)]
    assert [r.system for r in rows] == [r.system for r in sorted(full, key=lambda r: r.key)] + ["a-only"]
    assert next(r for r in rows if r.system == "one-missing").n_missing == 1
    build_site(board, tmp_path / "site", det=False)
    index = (tmp_path / "site" / "index.html").read_text()
    assert "coverage tiers" in index and "1 of 2" in index and "1 missing trial(s) scored worst" in index
    assert audit_board(board).ok
