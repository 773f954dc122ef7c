"""Global -v/-q/--log-file on every command, attributed log lines, warnings to stderr, progress lines."""
from __future__ import annotations

import argparse
import logging
import warnings

import numpy as np
import pytest

from spoofbench.cli import build_parser, main
from spoofbench.logs import context_logger, progress, progress_line, setup_logging


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    setup_logging()  # back to the default console handler for the next test


def _parsers(parser: argparse.ArgumentParser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield path + (name,), sub
                yield from _parsers(sub, path + (name,))


def test_every_command_takes_the_global_flags_after_its_name():
    parser = build_parser()
    missing = [" ".join(path) for path, sub in _parsers(parser)
               if not {"-v", "-q", "--log-file"} <= set(sub._option_string_actions)]
    assert not missing, f"sub-commands without -v/-q/--log-file: {missing}"
    before = parser.parse_args(["-v", "--log-file", "x.log", "models", "list"])
    after = parser.parse_args(["models", "list", "-q", "--log-file", "y.log"])
    assert (before.verbose, before.quiet, before.log_file) == (1, False, "x.log")
    assert (after.verbose, after.quiet, after.log_file) == (0, True, "y.log")


@pytest.fixture
def scored(tmp_path):
    import soundfile as sf

    from spoofbench.models import build_detector
    from spoofbench.models.base import save_checkpoint

    save_checkpoint(build_detector("rawcnn_2m", preset="tiny"), tmp_path / "tiny.pt")
    sf.write(tmp_path / "a.wav", 0.1 * np.random.default_rng(0).standard_normal(8000), 8000)
    return ["models", "score", "rawcnn_2m", "--checkpoint", str(tmp_path / "tiny.pt"), str(tmp_path / "a.wav")]


def test_quiet_prints_results_only(scored, capfd):
    assert main(scored + ["-q"]) == 0
    out, err = capfd.readouterr()
    assert len(out.strip().splitlines()) == 1 and out.strip().endswith(tuple("0123456789"))
    assert err == ""


def test_default_logs_attributed_notes_to_stderr_and_results_to_stdout(scored, capfd, tmp_path):
    log_file = tmp_path / "logs" / "run.log"
    assert main(["--log-file", str(log_file)] + scored) == 0
    out, err = capfd.readouterr()
    assert len(out.strip().splitlines()) == 1
    assert "[rawcnn_2m] " in err and "resampled 8000 Hz -> 16000 Hz" in err
    text = log_file.read_text()
    assert "INFO spoofbench.models.score: [rawcnn_2m] rawcnn_2m preset tiny" in text
    assert text[:4].isdigit()  # timestamped


def test_context_fields_and_warnings_go_through_logging(capfd):
    setup_logging()
    context_logger("spoofbench.test", detector="lfcc_gmm:tiny", seed=1, testset="b_eval",
                   codec="mp3_32k").info("scored %d clips", 12)
    with warnings.catch_warnings():  # pytest records warnings itself: route them as the CLI does
        warnings.simplefilter("default")
        logging.captureWarnings(False)
        setup_logging()
        warnings.warn("a user-facing warning", UserWarning)
        logging.captureWarnings(False)
    err = capfd.readouterr().err
    assert "[lfcc_gmm:tiny seed=1 testset=b_eval codec=mp3_32k] scored 12 clips" in err
    assert "a user-facing warning" in err
    with pytest.raises(ValueError, match="expected"):
        context_logger("x", colour="red")


def test_progress_degrades_to_periodic_lines_with_total_and_eta(capfd):
    setup_logging()
    items = list(progress(range(5), desc="scoring b_eval", every_s=0.0, tty=False))
    assert items == list(range(5))
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("scoring b_eval")]
    assert len(lines) == 6 and "1/5 (20%)" in lines[0] and "ETA" in lines[0] and "5/5 (100%)" in lines[-1]
    assert progress_line("x", 3, None, 1.0) == "x: 3 done 3.0/s"
    setup_logging(quiet=True)
    list(progress(range(3), desc="silent", every_s=0.0, tty=False))
    assert "silent" not in capfd.readouterr().err
    assert logging.getLogger("spoofbench").level == logging.ERROR
