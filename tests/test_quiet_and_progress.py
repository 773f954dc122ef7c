"""``-q`` prints results only; progress lines (not a terminal) carry a total and an ETA; one progress library.

A tiny benchmark (lfcc_gmm tiny, codec none, one 12-trial test set) is run once with ``-q`` in a
subprocess (stderr a pipe, as in a batch job's log); its run folder then feeds ``score`` and
``metrics`` in-process.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spoofbench.cli import main
from spoofbench.logs import ProgressCounter, progress, setup_logging

sys.path.insert(0, str(Path(__file__).parent / "runner"))
from runner_corpus import bench_config, make_set, write_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# a progress line of spoofbench.logs when stderr is not a terminal: "desc: 12/12 (100%) 3.1/s ETA 0s"
WITH_TOTAL = r"(\d+)/\1 \(100%\) [\d.]+/s ETA \S+ in \S+"
# what a note or progress line looks like: "[detector seed=0 ...] ...", "12/12 (100%) ... ETA", "training (new run)"
LOG_LINE = re.compile(r"^\[|\d+/\d+ \(\d+%\)|ETA \S|training \((new run|resuming)\)|^warning|scoring \d+ codec")


@pytest.fixture(autouse=True)
def _restore_logging():
    yield
    setup_logging()


# Runs the CLI counting the rich and tqdm progress bars created (third-party libraries such as scikit-learn
# import rich.progress themselves, so what is imported proves nothing; what runs does).
COUNT_BARS = """
import json, sys
import rich.progress, tqdm.std
bars = {"rich": 0, "tqdm": 0}
def counting(cls, kind):
    init = cls.__init__
    def counted(self, *args, **kwargs):
        bars[kind] += 1
        init(self, *args, **kwargs)
    cls.__init__ = counted
counting(rich.progress.Progress, "rich")
counting(tqdm.std.tqdm, "tqdm")
from spoofbench.cli import main
rc = main(sys.argv[2:])
open(sys.argv[1], "w").write(json.dumps({**bars, "modules": sorted(sys.modules)}))
sys.exit(rc)
"""


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory):
    """The corpus, config and run folder of one ``spoofbench run -q``, with what it printed."""
    root = tmp_path_factory.mktemp("quiet")
    make_set(root, "a_train", "A", 24, 0, ("a1", "a2"))
    make_set(root, "a_dev", "A", 12, 1, ("a1", "a2"))
    make_set(root, "a_eval", "A", 12, 2, ("a1", "a2"))
    config = bench_config(root, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    config["test_sets"] = config["test_sets"][:1]
    config_path = write_config(root, "quiet.yaml", config)
    bars = root / "bars.json"
    proc = subprocess.run([sys.executable, "-c", COUNT_BARS, str(bars), "run", str(config_path),
                           "--out", str(root / "run"), "-q"], capture_output=True, text=True, cwd=root,
                          timeout=300)
    return {"root": root, "config": config_path, "run": root / "run", "proc": proc,
            "bars": json.loads(bars.read_text()) if bars.is_file() else None}


def _no_log_lines(out: str) -> None:
    noisy = [line for line in out.splitlines() if LOG_LINE.search(line)]
    assert not noisy, f"log lines on stdout: {noisy}"


def test_quiet_run_prints_only_results_and_runs_no_progress_bar(quiet_run):
    proc = quiet_run["proc"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == ""
    assert "| none " in proc.stdout and f"results: {quiet_run['run'] / 'result.json'}" in proc.stdout
    _no_log_lines(proc.stdout)
    assert (quiet_run["bars"]["rich"], quiet_run["bars"]["tqdm"]) == (0, 0)
    assert "spoofbench.engine.scoring" in quiet_run["bars"]["modules"]  # the run went through the engine


def test_quiet_score_and_metrics_print_only_results(quiet_run, capfd, tmp_path):
    train_dir = next(p for p in (quiet_run["run"] / "train").iterdir() if p.is_dir())
    assert main(["score", "--run", str(train_dir), "--manifest", str(quiet_run["root"] / "a_eval.jsonl.gz"),
                 "--root", str(quiet_run["root"]), "--out", str(tmp_path), "--workers", "0", "-q"]) == 0
    out, err = capfd.readouterr()
    assert err == ""
    # results only: the score file, then its metrics (the manifest carries labels)
    written, metrics = out.splitlines()
    assert written.startswith(str(tmp_path / "a_eval__none.txt")) and "12 of 12 scored" in written
    assert metrics.startswith("a_eval__none.txt: EER ") and "(4 bona fide + 8 spoof scored trials)" in metrics
    keys = quiet_run["run"] / "keys" / "a_eval.txt"
    assert main(["metrics", "--scores", str(tmp_path / "a_eval__none.txt"), "--keys", str(keys),
                 "--bootstrap", "50", "--json", "-q"]) == 0
    out, err = capfd.readouterr()
    assert err == ""
    assert 0.0 <= json.loads(out)["eer"] <= 1.0


def test_without_quiet_progress_lines_have_a_total_and_name_the_cell(quiet_run, capfd):
    """Rescoring the run (stderr is not a terminal here): cell and scoring progress with totals and ETA."""
    assert main(["run", str(quiet_run["config"]), "--out", str(quiet_run["run"]), "--rescore", "all"]) == 0
    out, err = capfd.readouterr()
    assert re.search(r"^cells: " + WITH_TOTAL, err, re.M), err
    assert re.search(r"^\[lfcc_gmm:tiny seed=0 testset=a_eval codec=none\] scoring a_eval × none: " + WITH_TOTAL,
                     err, re.M), err
    assert "\r" not in err and "\x1b[" not in err  # no terminal bar redrawn into a log
    _no_log_lines(out)


def test_epoch_lines_name_the_detector_and_seed(tmp_path, capfd):
    make_set(tmp_path, "a_train", "A", 16, 0, ("a1",))
    make_set(tmp_path, "a_dev", "A", 6, 1, ("a1",))
    assert main(["train", "--detector", "rawcnn_2m", "--preset", "tiny", "--root", str(tmp_path),
                 "--train-manifest", str(tmp_path / "a_train.jsonl.gz"), "--dev-manifest",
                 str(tmp_path / "a_dev.jsonl.gz"), "--out", str(tmp_path / "run"), "--epochs", "1",
                 "--batch-size", "8", "--workers", "0", "--threads", "1", "--device", "cpu"]) == 0
    out, err = capfd.readouterr()
    assert re.search(r"^\[rawcnn_2m:tiny seed=0\] epoch 1/1 batches: " + WITH_TOTAL, err, re.M), err
    assert re.search(r"^\[rawcnn_2m:tiny seed=0\] epoch 1/1: loss [\d.]+ +dev EER", err, re.M), err
    assert out.startswith("best dev EER") and len(out.splitlines()) == 1


def test_progress_counter_logs_totals_and_is_silent_when_quiet(capfd):
    setup_logging()
    counter = ProgressCounter(4, "cells", every_s=0.0, tty=False)
    for _ in range(4):
        counter.update(1)
    counter.describe("rawcnn_2m seed 0: scoring b_eval")
    counter.close()
    lines = capfd.readouterr().err.splitlines()
    assert lines[0].startswith("cells: 1/4 (25%)") and "ETA" in lines[0]
    assert re.fullmatch(r"cells: " + WITH_TOTAL, lines[-1])
    setup_logging(quiet=True)
    counter = ProgressCounter(4, "cells", every_s=0.0, tty=False)
    counter.update(4)
    counter.close()
    assert list(progress(range(3), desc="x", every_s=0.0, tty=False)) == [0, 1, 2]
    assert capfd.readouterr().err == ""


def test_progress_counter_uses_tqdm_on_a_terminal(capfd):
    setup_logging()
    counter = ProgressCounter(3, "cells", tty=True)
    counter.update(3)
    counter.close()
    err = capfd.readouterr().err
    assert "cells:   0%|" in err and "0/3 [" in err and "ETA" not in err  # tqdm's bar, not a log line


# Modules on the run path: their progress goes through spoofbench.logs, never rich or tqdm directly.
ONE_PROGRESS_LIBRARY = ("runner/orchestrator.py", "runner/jobs.py", "runner/data.py", "runner/executor.py",
                        "runner/ray_executor.py", "engine/trainer.py", "engine/scoring.py", "corpora/recipe.py",
                        "corpora/validate.py", "metrics/bootstrap.py", "reproduce/digest.py")


@pytest.mark.parametrize("module", ONE_PROGRESS_LIBRARY)
def test_run_path_modules_use_the_one_progress_helper(module):
    text = (REPO / "benchmark" / module).read_text(encoding="utf-8")
    assert "rich.progress" not in text and "tqdm" not in text
    assert not re.search(r"print\([^)]*file=sys\.stderr", text)


def test_plain_progress_prints_lines_even_on_a_terminal(monkeypatch, caplog):
    """Worker processes share the parent's terminal: their progress is plain log lines, not tqdm bars."""
    import logging

    from spoofbench import logs

    monkeypatch.setattr(logs.sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(logs, "_PLAIN_PROGRESS", False)
    assert logs._tty(None) is True
    logs.plain_progress()
    assert logs._tty(None) is False
    with caplog.at_level(logging.INFO, logger="spoofbench.progress"):
        assert list(logs.progress(range(3), desc="scoring x")) == [0, 1, 2]
    assert "scoring x: 3/3 (100%)" in caplog.text
    logs.plain_progress(False)


def test_logging_settings_are_those_of_the_last_setup(tmp_path):
    from spoofbench import logs

    logs.setup_logging(verbose=1, log_file=tmp_path / "log.txt")
    assert logs.logging_settings() == {"verbose": 1, "quiet": False, "log_file": str(tmp_path / "log.txt")}
    logs.setup_logging()
    assert logs.logging_settings() == {"verbose": 0, "quiet": False, "log_file": None}
