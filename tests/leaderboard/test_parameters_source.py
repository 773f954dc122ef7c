"""How the board names who counted a submission's parameters (page, CSV): a wheel whose report matched its
weight files says so; a report that disagrees with them keeps † and shows what the files hold."""
from __future__ import annotations

from spoofbench.leaderboard.ranking import parameters_source


def _sub(verified: bool, source: str, kind: str = "model", unsafe: bool = False) -> dict:
    return {"kind": kind, "parameters": 8002, "parameters_verified": verified,
            "details": {"verified": {"parameters_source": source, "unsafe_no_sandbox": unsafe}}}


def test_a_count_matched_by_the_weight_files_is_verified_and_says_how():
    sub = _sub(True, "matched the wheel's weight files (pkg/weights.safetensors)")
    assert parameters_source(sub) == "verified: matched the wheel's weight files (pkg/weights.safetensors)"
    assert parameters_source(_sub(True, "counted by the operator (zoo detector, weights-only checkpoint)")) == "verified"


def test_a_count_the_weight_files_contradict_keeps_the_mark_and_shows_both():
    sub = _sub(False, "reported by the submission; its weight files hold 8,002 or 16")
    assert parameters_source(sub) == "reported by the submission †; its weight files hold 8,002 or 16"
    unsafe = parameters_source(_sub(False, "reported by the submission; its weight files hold 8,002", unsafe=True))
    assert unsafe.endswith("(--unsafe-no-sandbox); its weight files hold 8,002") and "†" in unsafe
    assert parameters_source(_sub(False, "reported by the submission")) == "reported by the submission †"
    assert parameters_source({"kind": "scores", "parameters": 5, "parameters_verified": False, "details": {}}) \
        == "declared by the submission †"
