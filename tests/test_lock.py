"""The lock of the tested environment: it parses, this venv matches it, and a lock change is a named cause."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from spoofbench.errors import ConfigError
from spoofbench.lockfile import LOCK_NAME, canonical_name, drift, find_lock, lock_record, main, read_lock
from spoofbench.reproduce.compare import manifest_differences

ROOT = Path(__file__).resolve().parent.parent


def test_the_lock_is_found_beside_the_checkout_and_pins_the_torch_pair():
    lock = find_lock()
    assert lock == ROOT / LOCK_NAME
    pins = read_lock(lock)
    assert {"torch", "torchaudio", "numpy", "av", "threadpoolctl", "psutil"} <= set(pins)
    assert len(pins) > 50  # every distribution, not only the direct requirements


def test_this_environment_matches_the_lock():
    """Drift: an installed version that differs from the lock (or a package outside it) fails here."""
    found = drift(read_lock(ROOT / LOCK_NAME))
    assert found.clean, ("the virtual environment differs from requirements-tested.txt:\n  "
                         + "\n  ".join(found.lines())
                         + "\nre-install the locked set with ./setup.sh, or regenerate the lock with tools/lock.sh")


def test_drift_names_missing_different_and_extra_distributions():
    lock = {"numpy": "2.4.6", "torch": "2.14.1", "scipy": "1.16.0"}
    installed = {"numpy": "2.4.5", "torch": "2.14.1+cu130", "av": "18.1.1", "pip": "26.3", "spoofbench": "0.1.0"}
    found = drift(lock, installed)
    assert not found.clean
    assert found.missing == {"scipy": "1.16.0"}
    assert found.different == {"numpy": ("2.4.6", "2.4.5")}  # a local build tag still matches its pin
    assert found.extra == {"av": "18.1.1"}  # pip (the installer) and spoofbench (editable) are not locked
    assert found.lines() == ["scipy: locked 1.16.0, not installed", "numpy: locked 2.4.6, installed 2.4.5",
                             "av: installed 18.1.1, not in the lock"]


def test_a_lock_line_that_is_not_a_pin_is_refused_with_its_line(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("# header\nnumpy==2.4.6\n    # via scipy\nscipy>=1.10\n")
    with pytest.raises(ConfigError, match=r"lock\.txt:4: expected a pin 'name==version', got 'scipy>=1.10'"):
        read_lock(lock)
    lock.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="no pinned requirement"):
        read_lock(lock)


def test_names_are_compared_normalised(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("Scikit_Learn==1.7.2 ; python_version >= '3.10'\n    # via spoofbench\nruamel.yaml==0.18.6\n")
    assert read_lock(lock) == {"scikit-learn": "1.7.2", "ruamel-yaml": "0.18.6"}
    assert canonical_name("Ruamel.YAML") == "ruamel-yaml"


def test_vendored_copies_on_sys_path_are_not_installed_distributions(monkeypatch):
    """Importing setuptools puts its _vendor folder (jaraco, zipp, wheel ...) on sys.path: not installed."""
    import setuptools

    vendor = Path(setuptools.__file__).parent / "_vendor"
    monkeypatch.syspath_prepend(str(vendor))
    found = drift(read_lock(ROOT / LOCK_NAME))
    assert "autocommand" not in found.extra and found.clean, found.lines()


def test_the_manifest_records_the_lock_hash():
    record = lock_record()
    assert record["file"] == LOCK_NAME and len(record["sha256"]) == 64
    assert isinstance(record["matches"], bool)


def test_reproduce_names_a_lock_difference_as_a_cause():
    def manifest(sha: str) -> dict:
        return {"config": {}, "environment": {"lock": {"file": LOCK_NAME, "sha256": sha, "matches": True},
                                              "packages": {"pandas": "3.1"}}}
    old, new = manifest("a" * 64), manifest("b" * 64)
    new["environment"]["packages"]["pandas"] = "3.2"
    ranked = manifest_differences(old, new)
    assert ranked[0].key == "environment.lock.sha256"
    assert "another lock" in ranked[0].why and ranked[0].weight > ranked[1].weight


def test_the_check_command_reports_drift_and_says_how_to_fix(tmp_path, capsys):
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==0.0.1\n")
    assert main(["check", str(lock)]) == 1
    out = capsys.readouterr().out
    assert "numpy: locked 0.0.1, installed" in out and "./setup.sh" in out and "tools/lock.sh" in out
    lock.write_text("numpy==2.4.6\nbad line\n")
    failed = subprocess.run([sys.executable, "-m", "spoofbench.lockfile", "check", str(lock)],
                            capture_output=True, text=True)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert "lock.txt:2: expected a pin 'name==version', got 'bad line'" in failed.stderr
    lock.write_text("numpy==0.0.1\n")
    done = subprocess.run([sys.executable, "-m", "spoofbench.lockfile", "extras", str(lock)],
                          capture_output=True, text=True, check=True)
    assert "torch" in done.stdout.split()
