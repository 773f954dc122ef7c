"""Pool workers do not outlive their parent: killed with SIGKILL (the watchdog) or stopped with SIGTERM
(the CLI turns it into SystemExit, so the pool is closed)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PARENT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from spoofbench.runner.pool_executor import ProcessPoolJobExecutor

    def busy(path):
        Path(path).write_text(str(os.getpid()))
        time.sleep(600)
        return {}

    if __name__ == "__main__":
        import __main__
        from spoofbench.cli import _terminate_as_exit
        _terminate_as_exit()  # what `spoofbench ...` does around every command
        executor = ProcessPoolJobExecutor(workers=1, threads=1)
        executor.start()
        try:
            executor.call(__main__.busy, sys.argv[1])
            time.sleep(600)
        finally:
            executor.close()
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _worker_pid(marker: Path, parent: subprocess.Popen) -> int:
    deadline = time.monotonic() + 120
    while not marker.is_file() or not marker.read_text():
        assert parent.poll() is None, parent.communicate()
        assert time.monotonic() < deadline, "the worker never started its job"
        time.sleep(0.2)
    return int(marker.read_text())


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_busy_worker_ends_with_its_parent(tmp_path, how):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    marker = tmp_path / "worker.pid"
    parent = subprocess.Popen([sys.executable, str(script), str(marker)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    worker = _worker_pid(marker, parent)
    try:
        sent = time.monotonic()
        parent.send_signal(how)
        # SIGTERM: SystemExit(143), the pool closed in `finally` (the busy worker terminated at once, not after
        # a grace period); SIGKILL: the worker's watchdog ends it
        assert parent.wait(timeout=30) == (143 if how == signal.SIGTERM else -signal.SIGKILL)
        assert time.monotonic() - sent < 8
        assert _gone_within(worker, 15), f"worker {worker} outlived its parent ({how.name})"
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)
