import os
import shutil

import pytest


@pytest.fixture(scope="session", autouse=True)
def _require_ffmpeg():
    """The ffmpeg binary is a hard requirement under CI=true; elsewhere its tests skip."""
    if shutil.which("ffmpeg") is None and os.environ.get("CI") == "true":
        pytest.fail("ffmpeg is not installed but CI=true: the codec tests need it")

