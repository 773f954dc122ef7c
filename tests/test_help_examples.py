"""Every command of every sub-command's ``--help`` example runs, from a temporary folder, on the quick
demo corpus or ../shared data (skipped only when it names data that is absent here).

The commands are read from the parsers at collection time, so a changed example is what gets run. They
run in ``--help`` order in one folder: an example may use what an earlier one wrote (``score --run
runs/rawcnn_demo`` after ``train ... --out runs/rawcnn_demo``). ``spoofbench demo --quick --out
runs/demo-quick`` is the session's quick demo (tests/conftest.py), run with the smallest settings.
"""
from __future__ import annotations

import pytest

from cli_examples import QUICK_DEMO, Command, Outcome, help_commands, logical_lines, run_all

pytestmark = pytest.mark.slow

COMMANDS = help_commands()


def _special(command: Command, demo_outcome: Outcome) -> Outcome | None:
    if command.argv is None and command.line.startswith("torchrun"):
        return Outcome("skipped", "multi-process DDP training: tests/engine/test_ddp.py runs it on gloo")
    if command.argv is not None and command.argv[:len(QUICK_DEMO)] == QUICK_DEMO and len(command.argv) == 4:
        return demo_outcome  # the session's quick demo, built by the documented_workspace fixture
    return None


@pytest.fixture(scope="session")
def help_outcomes(documented_workspace) -> dict[str, Outcome]:
    work, demo_outcome = documented_workspace
    return run_all(COMMANDS, work, lambda command: _special(command, demo_outcome))


def test_examples_are_found():
    commands = {c.argv[0] for c in COMMANDS if c.argv}
    assert {"metrics", "codecs", "models", "train", "score", "run", "demo"} <= commands


@pytest.mark.parametrize("command", COMMANDS, ids=[c.id for c in COMMANDS])
def test_help_example_runs(command: Command, help_outcomes):
    outcome = help_outcomes[command.id]
    if outcome.status == "skipped":
        pytest.skip(outcome.detail)
    assert outcome.status == "passed", outcome.detail


def test_logical_lines_join_continuations_and_drop_comments():
    text = "# a comment\n  spoofbench x --a 1 \\\n      --b 2\nspoofbench y  # trailing\n"
    assert logical_lines(text) == ["spoofbench x --a 1 --b 2", "spoofbench y  # trailing"]


def test_a_failing_command_reports_its_output_and_absent_data_skips(tmp_path):
    from cli_examples import missing_inputs, run_command

    failed = run_command(Command("t", "spoofbench metrics --scores nope.txt --keys nope.txt",
                                 ("metrics", "--scores", "nope.txt", "--keys", "nope.txt")), tmp_path)
    assert failed.status == "failed" and "exited 2" in failed.detail and "nope.txt" in failed.detail
    argv = ("prepare", "x", "--root", "/no_such_top_dir/LA", "--out", "new/folder", "in.wav")
    assert missing_inputs(argv, tmp_path) == ["/no_such_top_dir/LA"]  # outputs and bare files are no excuse
