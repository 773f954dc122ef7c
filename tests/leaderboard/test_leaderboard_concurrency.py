"""Two ``spoofbench leaderboard add`` processes at once both land, as separate versions, complete."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from lb_testutil import make_submission
from spoofbench.leaderboard.board import Leaderboard, init_leaderboard

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def _add(board_dir, folder) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "spoofbench", "leaderboard", "add", str(board_dir), str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_concurrent_adds_both_land(lb_corpus, scored_files, tmp_path):
    board = init_leaderboard(tmp_path / "board", lb_corpus["config"])
    board.close()
    first = make_submission(tmp_path / "first", scored_files, system="same-system")
    second = make_submission(tmp_path / "second", scored_files, system="same-system", description="second try")
    # a third process holds the write lock while both adds start, so both must wait for it and for each other
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path / "board" / "leaderboard.sqlite"), "4"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    procs = [_add(tmp_path / "board", first), _add(tmp_path / "board", second)]
    outputs = [p.communicate(timeout=240) for p in procs]
    holder.wait(timeout=30)
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert "accepted same-system" in out
    assert time.monotonic() - started >= 3.0  # they really waited for the lock holder
    board = Leaderboard.open(tmp_path / "board")
    subs = board.store.submissions()
    assert sorted(s["version"] for s in subs) == [1, 2]
    assert {s["description"] for s in subs} == {"tiny detector trained in the tests", "second try"}
    for sub in subs:
        assert len(board.store.cells(sub["id"])) == 4 and len(board.store.files(sub["id"])) == 4
        assert [h["status"] for h in board.store.history(sub["id"])] == ["accepted"]
    board.close()
