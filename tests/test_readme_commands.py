"""Every command in README.md's fenced ``bash``/``sh`` blocks runs, and its ``from spoofbench... import``
lines import.

The commands are extracted from README.md at collection time (nothing is copied here), and run in
README order from one temporary folder laid out like a checkout: ``data_manifests``, ``../shared`` (when
present) and the session's quick demo run at ``runs/demo-quick``. Skipped, with the reason shown:
``./setup.sh`` (it installs system packages), ``python -m pytest`` (this suite), and commands naming data
that is absent here (``/data/...``, ``../shared`` without ../shared). The full ``spoofbench demo`` takes
12 minutes: it is checked as ``spoofbench demo --quick`` (the session's smallest quick demo) instead.
"""
from __future__ import annotations

import importlib

import pytest

from cli_examples import Command, Outcome, readme_commands, readme_imports, run_all

pytestmark = pytest.mark.slow

COMMANDS = readme_commands()
IMPORTS = readme_imports()


def _special(command: Command, demo_outcome: Outcome) -> Outcome | None:
    words = command.line.split()
    if words[0] in ("./setup.sh", "setup.sh", "bash"):
        return Outcome("skipped", "setup.sh installs system packages and the venv (CI's set-up step runs it)")
    if command.argv is None and "pytest" in words:
        return Outcome("skipped", "the test suite itself")
    if command.argv and command.argv[0] == "demo" and "--quick" not in command.argv:
        if demo_outcome.status != "passed":
            return demo_outcome
        return Outcome("passed", "run as `spoofbench demo --quick` (the full demo takes 12 minutes)")
    return None


@pytest.fixture(scope="session")
def readme_outcomes(documented_workspace) -> dict[str, Outcome]:
    work, demo_outcome = documented_workspace
    return run_all(COMMANDS, work, lambda command: _special(command, demo_outcome))


def test_readme_has_commands():
    assert sum(c.argv is not None for c in COMMANDS) >= 5, "no spoofbench commands found in README.md"


@pytest.mark.parametrize("command", COMMANDS, ids=[c.id for c in COMMANDS])
def test_readme_command_runs(command: Command, readme_outcomes):
    outcome = readme_outcomes[command.id]
    if outcome.status == "skipped":
        pytest.skip(outcome.detail)
    assert outcome.status == "passed", outcome.detail


@pytest.mark.parametrize("line", IMPORTS or [pytest.param(None, marks=pytest.mark.skip("no imports in README"))])
def test_readme_import_works(line: str):
    namespace: dict = {}
    exec(compile(line, "README.md", "exec"), namespace)  # noqa: S102 - the README's own import line


def test_api_names_in_prose_import():
    """The README's "Everything the CLI does is a Python function" names (``spoofbench.x.y``) resolve."""
    import re

    from testenv import REPO

    text = (REPO / "README.md").read_text(encoding="utf-8")
    names = set(re.findall(r"`(spoofbench(?:\.\w+)+)`", text))
    assert names, "no spoofbench.* API names in README.md"
    for name in sorted(names):
        module, _, attr = name.rpartition(".")
        try:
            obj = importlib.import_module(name)
        except ModuleNotFoundError:
            obj = getattr(importlib.import_module(module), attr, None)
        assert obj is not None, f"README names {name}, which does not exist"
