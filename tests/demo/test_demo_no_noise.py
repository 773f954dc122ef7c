"""Third-party deprecation noise is silenced at the source: probing the WORLD vocoder imports pyworld
(which imports the deprecated pkg_resources) without a warning reaching the user."""
from __future__ import annotations

import subprocess
import sys

import pytest


def test_probing_pyworld_prints_no_pkg_resources_warning():
    pytest.importorskip("pyworld", reason="pyworld not installed")
    code = ("from spoofbench.demo.generators import ATTACKS, probe_attack\n"
            "print([probe_attack(a) for a in ATTACKS if a.tool == 'pyworld'])\n")
    proc = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "None" in proc.stdout and "cannot be imported" not in proc.stdout
    assert "pkg_resources" not in proc.stderr
