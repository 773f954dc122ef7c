"""A model submission (zoo preset + checkpoint) goes through verify and the operator's run into a row."""
from __future__ import annotations

import shutil

import pytest
import yaml

from spoofbench.cli import main
from spoofbench.errors import SubmissionError
from spoofbench.leaderboard.board import init_leaderboard
from spoofbench.leaderboard.models import add_model_submission
from spoofbench.leaderboard.site import build_site

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


def _model_submission(folder, run_dir, parameters: int):
    folder.mkdir(parents=True)
    shutil.copyfile(run_dir / "checkpoints" / "best.pt", folder / "model.pt")
    spec = {"system": "gmm-model", "authors": ["Model Author"], "contact": "m@example.org",
            "training_data": ["synth"], "parameters": parameters, "description": "LFCC-GMM checkpoint",
            "licence": "MIT", "model": {"detector": "lfcc_gmm", "preset": "tiny", "checkpoint": "model.pt"}}
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec))
    return folder


def test_model_submission_verified_benchmarked_and_stored(lb_corpus, trained_run, scored_files, tmp_path,
                                                          require_ffmpeg, capsys):
    from spoofbench.models import build_detector, count_parameters

    counted = count_parameters(build_detector("lfcc_gmm", "tiny", checkpoint=trained_run / "checkpoints" / "best.pt"))
    board = init_leaderboard(tmp_path / "board", lb_corpus["config"])
    wrong = _model_submission(tmp_path / "wrong", trained_run, counted * 2)
    before = board.store.dump()
    with pytest.raises(SubmissionError, match=rf"parameters: declared {counted * 2:,} but the model has {counted:,}"):
        add_model_submission(board, wrong)
    assert board.store.dump() == before
    good = _model_submission(tmp_path / "good", trained_run, counted)
    # the submitter's side: spoofbench verify and the declared parameter count, no keys
    assert main(["submission", "check", str(good)]) == 0
    assert f"passed verify: {counted:,} parameters" in capsys.readouterr().out
    assert main(["submission", "check", str(wrong)]) == 2
    assert "parameters: declared" in capsys.readouterr().err
    result = add_model_submission(board, good)
    sub = board.store.submissions()[0]
    assert sub["kind"] == "model" and sub["parameters"] == counted and sub["parameters_verified"] is True
    assert sub["rtf"] is not None and 0 < sub["rtf"] < 10
    assert result.cells == 4
    # the operator's run scores exactly what the submitter's own scoring gave
    stored = {f["name"]: f["sha256"] for f in board.store.files(sub["id"])}
    from spoofbench.submission.check import sha256_file
    assert stored == {p.name: sha256_file(p) for p in scored_files.glob("*__*.txt")}
    written = build_site(board, tmp_path / "site")
    assert any(p.name == "det__b_eval.svg" for p in written)
    board.close()
