"""What the test environment has: the repository, ``../shared`` reference data, ffmpeg.

A plain module, imported as ``from testenv import SHARED`` (``tests/`` is on ``sys.path`` through the
root ``conftest.py``). ``from conftest import ...`` is ambiguous: every test folder's ``conftest.py`` is a
module named ``conftest``, and which one that name holds depends on the collection order.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: The checkout.
REPO = Path(__file__).resolve().parents[1]
#: ``../shared`` beside the checkout: reference data that a user's clone may not have.
SHARED = REPO.parent / "shared"


def ffmpeg_or_skip() -> None:
    """Skip without ffmpeg, except under ``CI=true`` where a missing ffmpeg fails the test."""
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ffmpeg is not installed (required under CI=true)")
        pytest.skip("ffmpeg not installed")


def shared_or_skip(*relative: str) -> Path:
    """``SHARED / relative`` (the folder itself without arguments); skip when it is absent."""
    path = SHARED.joinpath(*relative)
    if not path.exists():
        pytest.skip(f"{path} is absent (reference data beside the checkout)")
    return path
