"""The sandbox worker (``python -m spoofbench.submission.sandbox``) reports a failing build as one error
message on its data channel and exits 5; it writes no file for the parent to read."""
from __future__ import annotations

import json
import os
import subprocess
import sys


def test_a_failing_build_is_reported_on_the_channel(tmp_path):
    read_end, write_end = os.pipe()
    request = json.dumps({"detector": "no_such_detector", "seed": 0}) + "\n"
    proc = subprocess.Popen([sys.executable, "-m", "spoofbench.submission.sandbox", "verify", "--channel",
                             str(write_end)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            pass_fds=(write_end,), cwd=tmp_path)
    os.close(write_end)
    out, err = proc.communicate(request.encode(), timeout=120)
    with os.fdopen(read_end) as channel:
        messages = [json.loads(line) for line in channel.read().splitlines()]
    assert proc.returncode == 5, err[-2000:]
    assert [m["type"] for m in messages] == ["stage", "error"]
    assert messages[0]["stage"] == "build"
    assert messages[1]["kind"] == "error" and "no_such_detector" in messages[1]["reason"]
    assert out == b"" and list(tmp_path.iterdir()) == []
