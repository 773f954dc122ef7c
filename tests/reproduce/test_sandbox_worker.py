"""The verification worker run as ``python -m spoofbench.reproduce.sandbox``: a submission that raises is
reported in error.json as an ordinary error (exit 5), not a crash of the worker itself."""
from __future__ import annotations

import json
import subprocess
import sys


def test_a_failing_build_is_reported_by_the_worker(tmp_path):
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"detector": "no_such_detector", "probe": [], "seed": 0}))
    done = subprocess.run([sys.executable, "-m", "spoofbench.reproduce.sandbox", str(request)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 5, done.stderr[-2000:]
    error = json.loads((tmp_path / "error.json").read_text())
    assert error["kind"] == "error" and "no_such_detector" in error["reason"]
    assert json.loads((tmp_path / "progress.json").read_text()) == {"stage": "build"}
    assert json.loads((tmp_path / "result.json").read_text()) == {"checks": {}, "failed": None}
