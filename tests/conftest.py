"""Fixtures shared by every test folder (paths and guards live in ``testenv.py``: import them from there)."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from testenv import REPO, SHARED, ffmpeg_or_skip, shared_or_skip

__all__ = ["REPO", "SHARED"]


@pytest.fixture(scope="session")
def require_ffmpeg() -> None:
    """The one ffmpeg guard: skip without ffmpeg, fail under ``CI=true``."""
    ffmpeg_or_skip()


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared`` (resolved); skips when absent."""
    return shared_or_skip().resolve()


@pytest.fixture(scope="session")
def documented_workspace(tmp_path_factory):
    """``(work folder, quick demo outcome)`` for the tests that run the documented commands (README,
    ``--help`` examples): one smallest ``spoofbench demo --quick`` per session and one work folder, which
    both share (a README command that repeats an example finds its run finished: runs resume)."""
    from cli_examples import build_quick_demo, make_workdir

    base = tmp_path_factory.mktemp("documented")
    run, outcome = build_quick_demo(base)
    return make_workdir(base, "work", run), outcome


@pytest.fixture(autouse=True)
def _loggers_as_found():
    """Every test leaves the ``spoofbench`` and ``py.warnings`` loggers as it found them: a test that runs a
    command with ``-q`` sets the level to ERROR, and under pytest-randomly's order a later test's ``caplog``
    would then see no warnings."""
    loggers = [logging.getLogger(name) for name in ("spoofbench", "py.warnings")]
    saved = [(lg.level, list(lg.handlers), lg.propagate, lg.disabled) for lg in loggers]
    yield
    for lg, (level, handlers, propagate, disabled) in zip(loggers, saved):
        for handler in [h for h in lg.handlers if h not in handlers]:
            lg.removeHandler(handler)
            handler.close()
        for handler in [h for h in handlers if h not in lg.handlers]:
            lg.addHandler(handler)
        lg.setLevel(level)
        lg.propagate, lg.disabled = propagate, disabled


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module's small CPU forwards (more only contend on a shared machine); use it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
