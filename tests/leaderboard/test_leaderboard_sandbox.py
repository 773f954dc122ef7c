"""``leaderboard add`` of a model submission scores it inside the sandbox, never in the operator's process."""
from __future__ import annotations

import importlib.util
import shutil
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from spoofbench.errors import SubmissionError
from spoofbench.leaderboard.board import init_leaderboard
from spoofbench.leaderboard.models import add_model_submission
from spoofbench.leaderboard.site import build_site
from spoofbench.submission.isolation import sandbox_status

USABLE, HOW = sandbox_status()
pytestmark = [pytest.mark.timeout(600), pytest.mark.slow,
              pytest.mark.skipif(not USABLE, reason=f"no sandbox on this machine: {HOW}")]
WHEELS = Path(__file__).resolve().parents[1] / "faults" / "sandbox_wheel.py"


@pytest.fixture(scope="module")
def sniffer(tmp_path_factory) -> dict:
    spec = importlib.util.spec_from_file_location("_sandbox_wheel_for_leaderboard", WHEELS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    base = tmp_path_factory.mktemp("sniffer")
    token = uuid.uuid4().hex[:8]
    paths = {"canary": str(base / "none"), "outside": str(base / "escaped.txt"), "outside_tmp": "/nonexistent",
             "sniffed": str(base / "sniffed.txt"), "marker": "1.5", "marker_session": "1.5",
             "unix": str(base / "none.sock"), "abstract": f"none-{token}", "tcp": 9}
    return {"wheel": module.build_wheel(base / "src", base / "dist", paths), "paths": paths}


def _submission(folder: Path, wheel: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copyfile(wheel, folder / wheel.name)
    spec = {"system": "sniffer", "authors": ["Hostile"], "contact": "h@example.org", "training_data": ["synth"],
            "parameters": 8002, "description": "behaves only when watched", "licence": "MIT",
            "model": {"detector": "sba_argv_sniffer", "wheel": wheel.name}}
    (folder / "submission.yaml").write_text(yaml.safe_dump(spec))
    return folder


def test_model_scoring_runs_in_the_sandbox(lb_corpus, sniffer, tmp_path, require_ffmpeg):
    board = init_leaderboard(tmp_path / "board", lb_corpus["config"])
    result = add_model_submission(board, _submission(tmp_path / "sub", sniffer["wheel"]))
    assert result.cells == 4
    assert "sbattack" not in sys.modules  # the submitted code never ran in this process
    assert not Path(sniffer["paths"]["sniffed"]).exists()  # nor anywhere it could write here
    sub = board.store.submissions()[0]
    assert sub["kind"] == "model" and sub["parameters"] == 8002 and sub["parameters_verified"] is False
    verified = sub["details"]["verified"]
    assert "bubblewrap" in verified["isolation"] and verified["unsafe_no_sandbox"] is False
    assert verified["parameters_source"] == "reported by the submission"
    assert sub["rtf"] > 0 and "sandboxed scoring run" in verified["rtf_source"]
    build_site(board, tmp_path / "site", det=False)
    page = next((tmp_path / "site" / "systems").glob("*.html")).read_text()
    assert "reported by the submission" in page and "bubblewrap" in page
    assert "8002†" in (tmp_path / "site" / "leaderboard.md").read_text()
    board.close()


def test_model_submissions_are_refused_without_a_sandbox(lb_corpus, sniffer, tmp_path, monkeypatch):
    from spoofbench.submission import verify as verify_module

    monkeypatch.setattr(verify_module, "sandbox_status", lambda: (False, "bwrap cannot create namespaces here"))
    board = init_leaderboard(tmp_path / "board", lb_corpus["config"])
    before = board.store.dump()
    with pytest.raises(SubmissionError, match="--unsafe-no-sandbox"):
        add_model_submission(board, _submission(tmp_path / "sub", sniffer["wheel"]))
    assert board.store.dump() == before
    board.close()
