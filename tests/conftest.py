"""Fixtures shared by every test folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: ``../shared`` beside the checkout: reference data that a user's clone may not have.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def require_ffmpeg() -> None:
    """Skip without ffmpeg, except under ``CI=true`` where a missing ffmpeg fails the test."""
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ffmpeg is not installed (required under CI=true)")
        pytest.skip("ffmpeg not installed")
