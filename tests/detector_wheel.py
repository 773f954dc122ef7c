"""Build a small wheel of detectors registered through the ``spoofbench.detectors`` entry point (the form a
model submission takes), for the verify, sandbox and leaderboard tests."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def build_detector_wheel(src: Path, dist: Path, *, name: str, package: str, source: str,
                         entry_points: dict[str, str], package_data: tuple[str, ...] = ()) -> Path:
    """Write ``src/<package>/__init__.py`` (``source``) and a setuptools ``pyproject.toml`` registering
    ``entry_points`` (entry name → ``package:attribute``), then ``pip wheel`` it (no deps, no build isolation,
    offline) into ``dist``. Files the package ships (``package_data`` globs) must already be in
    ``src/<package>/``. Returns the wheel."""
    (src / package).mkdir(parents=True, exist_ok=True)
    (src / package / "__init__.py").write_text(source)
    lines = ["[build-system]", 'requires = ["setuptools"]', 'build-backend = "setuptools.build_meta"',
             "[project]", f'name = "{name}"', 'version = "0.1"', '[project.entry-points."spoofbench.detectors"]',
             *(f'{entry} = "{target}"' for entry, target in entry_points.items()),
             "[tool.setuptools]", f'packages = ["{package}"]']
    if package_data:
        lines += ["[tool.setuptools.package-data]", f"{package} = {list(package_data)!r}".replace("'", '"')]
    (src / "pyproject.toml").write_text("\n".join(lines) + "\n")
    dist.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(dist), str(src)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return next(dist.glob("*.whl"))
