"""Hostile model submissions against ``spoofbench verify``: each attack is rejected or contained.

The wheel (tests/faults/sandbox_wheel.py) holds one detector per attack. Where this machine cannot
create user namespaces the tests skip with the reason; on the project's machines they run.
"""
from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

import pytest
from sandbox_wheel import build_wheel
from spoofbench.submission.isolation import sandbox_status
from spoofbench.submission.verify import verify_submission

USABLE, HOW = sandbox_status()
pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(not USABLE, reason=f"no sandbox on this machine: {HOW}")]


@pytest.fixture(scope="module")
def attack(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("attack")
    token = uuid.uuid4().hex[:10]
    canary = base / "canary.txt"
    canary.write_text(f"CANARY-{token}")
    digits = str(int(token, 16) % 90000 + 10000)
    paths = {"canary": str(canary), "outside": str(base / "escaped.txt"),
             "outside_tmp": f"/tmp/spoofbench-escaped-{token}", "sniffed": str(base / "sniffed.txt"),
             "marker": f"{digits}.125", "marker_session": f"{digits}.375",
             "unix": str(base / "host.sock"), "abstract": f"spoofbench-{token}", "tcp": 0}
    servers = []
    for family, address in ((socket.AF_UNIX, paths["unix"]), (socket.AF_UNIX, "\0" + paths["abstract"]),
                            (socket.AF_INET, ("127.0.0.1", 0))):
        server = socket.socket(family, socket.SOCK_STREAM)
        server.bind(address)
        server.listen(8)
        server.setblocking(False)
        servers.append(server)
    paths["tcp"] = servers[2].getsockname()[1]
    wheel = build_wheel(base / "src", base / "dist", paths)
    yield {"wheel": wheel, "paths": paths, "token": token, "servers": servers, "base": base}
    for server in servers:
        server.close()


def _verify(attack: dict, name: str, tmp_path: Path, **kw):
    return verify_submission(attack["wheel"], detector=f"sba_{name}", out_dir=tmp_path, timeout_s=120, **kw)


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and "pytest" not in cmdline:
            found.append(int(entry.name))
    return found


def test_the_good_detector_passes_with_a_reported_parameter_count(attack, tmp_path):
    report = _verify(attack, "good", tmp_path)
    assert report.passed, report.reason
    cost = report.checks["cost"]
    assert cost["parameters"] == 4000 * 2 + 2
    assert cost["parameters_verified"] is False and cost["parameters_source"] == "reported by the submission"
    assert "bubblewrap" in report.sandbox["isolation"] and report.sandbox["unsafe_no_sandbox"] is False


def test_an_early_exit_with_status_zero_is_rejected(attack, tmp_path):
    report = _verify(attack, "exit_zero", tmp_path)
    assert not report.passed
    assert report.failed_check == "build" and "exited with 0" in report.reason and "early exit" in report.reason


def test_a_forged_result_file_is_never_read(attack, tmp_path):
    report = _verify(attack, "forge", tmp_path)
    assert not report.passed and "early exit" in report.reason
    assert "cost" not in report.checks or report.checks["cost"].get("parameters") != 123


def test_a_forged_message_cannot_make_a_count_verified(attack, tmp_path):
    report = _verify(attack, "forge_channel", tmp_path)
    # the forged 'built' came first; whatever it claimed, a wheel's count is only ever 'reported'
    assert report.checks.get("cost", {}).get("parameters_verified") is not True
    if report.passed:
        assert report.checks["cost"]["parameters_source"] == "reported by the submission"


def test_replacing_torch_equal_does_not_pass_determinism(attack, tmp_path):
    report = _verify(attack, "equal_patch", tmp_path)
    assert not report.passed and report.failed_check == "determinism", report.reason
    assert "compared by the operator" in report.reason


def test_a_canary_file_outside_the_sandbox_cannot_be_read(attack, tmp_path):
    report = _verify(attack, "canary", tmp_path)
    text = json.dumps(report.to_dict())
    assert attack["token"] not in text and "LEAKED" not in text
    assert report.passed, report.reason  # it went on as a good detector: every read failed


def test_nothing_is_written_outside(attack, tmp_path):
    report = _verify(attack, "write_outside", tmp_path)
    assert report.passed, report.reason
    assert not Path(attack["paths"]["outside"]).exists()
    assert not Path(attack["paths"]["outside_tmp"]).exists()


def test_no_process_outlives_verify(attack, tmp_path):
    report = _verify(attack, "orphans", tmp_path)
    assert report.passed, report.reason
    time.sleep(0.5)
    assert _processes_with(attack["paths"]["marker"]) == []
    assert _processes_with(attack["paths"]["marker_session"]) == []  # start_new_session / setsid too


def test_no_socket_outside_is_reached(attack, tmp_path):
    report = _verify(attack, "sockets", tmp_path)
    assert report.passed, report.reason
    for server in attack["servers"]:
        with pytest.raises(BlockingIOError):
            server.accept()


def test_without_a_sandbox_model_code_is_refused_unless_unsafe(attack, tmp_path, monkeypatch):
    from spoofbench.submission import verify as verify_module

    monkeypatch.setattr(verify_module, "sandbox_status", lambda: (False, "bwrap cannot create namespaces here"))
    refused = _verify(attack, "good", tmp_path)
    assert not refused.passed and refused.failed_check == "sandbox"
    assert "--unsafe-no-sandbox" in refused.reason and "cannot create namespaces" in refused.reason
    unsafe = _verify(attack, "good", tmp_path, unsafe_no_sandbox=True)
    assert unsafe.passed, unsafe.reason
    assert unsafe.sandbox["unsafe_no_sandbox"] is True and unsafe.sandbox["isolation"].startswith("UNSAFE")
    saved = json.loads((tmp_path / "verification.json").read_text())
    assert saved["sandbox"]["unsafe_no_sandbox"] is True


def test_the_memory_limit_is_named_as_such(attack, tmp_path):
    """A limit too small for torch itself fails at start-up with a message that says what to raise."""
    report = _verify(attack, "good", tmp_path, memory_mb=300)
    assert not report.passed
    assert "memory limit (--memory-mb 300" in report.reason and "raise --memory-mb" in report.reason, report.reason
    assert "exited with 1" not in report.reason


def test_no_leftover_processes_or_folders_of_the_sandbox():
    assert _processes_with("spoofbench.submission.sandbox") == []
