"""Fault injection for ``spoofbench run``: a file as --out, a full disk, two runs on one folder, a killed
holder, unreadable clips (incomplete cells), a replaced clip, inverted scores. One line, never a traceback."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runner"))
from runner_corpus import SpyExecutor, bench_config, make_corpus, make_set, write_config  # noqa: E402

from spoofbench.cli import main  # noqa: E402
from spoofbench.runner import results as runner_module  # noqa: E402  (result.json is written there)
from spoofbench.runner.lock import HOLDER_NAME, RunLockedError, run_lock  # noqa: E402
from spoofbench.runner.benchmark import run_benchmark  # noqa: E402

QUIET = {"progress": False, "tables": False, "log": lambda _: None}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("faults_corpus"))


def _gmm(corpus: Path, name: str = "bench.yaml", **extra) -> Path:
    config = bench_config(corpus, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"}], **extra)
    return write_config(corpus, name, config)


def test_out_that_is_a_file_is_one_line(corpus, tmp_path, capsys):
    target = tmp_path / "taken.txt"
    target.write_text("not a folder")
    assert main(["run", str(_gmm(corpus)), "--out", str(target), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is a file; expected a folder for the run" in err and "Traceback" not in err
    assert target.read_text() == "not a folder"


def test_full_disk_on_result_json_is_one_line(corpus, tmp_path, capsys, monkeypatch):
    real = runner_module.write_json_atomic

    def full_disk(path, data, *args, **kwargs):
        if Path(path).name == "result.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data, *args, **kwargs)

    monkeypatch.setattr(runner_module, "write_json_atomic", full_disk)
    assert main(["run", str(_gmm(corpus)), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("spoofbench run: error: ") and "result.json: cannot write: No space left on device" in last


_HOLDER = """
import sys, time
from spoofbench.runner.lock import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_live_holder_blocks_and_a_killed_holder_is_taken_over(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        started = time.monotonic()
        assert main(["run", str(_gmm(corpus)), "--out", str(out), "--no-progress"]) == 2
        assert time.monotonic() - started < 10  # at once, no waiting
        err = capsys.readouterr().err
        assert f"in use by pid {proc.pid} on " in err and "Traceback" not in err
        assert not (out / "result.json").exists()  # the second run did no work
        with pytest.raises(RunLockedError, match=f"pid {proc.pid} on "):
            with run_lock(out):
                pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (out / HOLDER_NAME).exists()  # the dead holder's record is left behind ...
    notes = []
    with run_lock(out, notes.append):  # ... and its lock is taken over
        assert json.loads((out / HOLDER_NAME).read_text())["pid"] == os.getpid()
    assert notes and f"pid {proc.pid}" in notes[0] and "no longer running" in notes[0]


def _break_clip(root: Path, name: str) -> bytes:
    path = root / name
    original = path.read_bytes()
    path.write_bytes(b"this is not audio")
    return original


def test_incomplete_cell_is_marked_fails_the_exit_status_and_is_reattempted(tmp_path, capsys):
    corpus = make_corpus(tmp_path / "corpus")
    config = _gmm(corpus)
    out = tmp_path / "run"
    original = _break_clip(corpus, "b_eval/b_eval_004.wav")
    assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert ("warning: [lfcc_gmm:tiny seed=0 testset=b_eval codec=none] incomplete: scored 11 of 12 trials"
            in err), err
    cells = {c["test_set"]: c for c in json.loads((out / "result.json").read_text())["cells"]}
    assert cells["b_eval"]["complete"] is False and cells["b_eval"]["n_failed"] == 1
    assert cells["b_eval"]["coverage"] == pytest.approx(11 / 12)
    assert cells["a_eval"]["complete"] is True and cells["a_eval"]["coverage"] == 1.0
    assert main(["run", str(config), "--out", str(out), "--no-progress", "--allow-incomplete"]) == 0
    (corpus / "b_eval/b_eval_004.wav").write_bytes(original)  # the clip is back: a resume retries it
    spy = SpyExecutor()
    result = run_benchmark(config, out, executor=spy, **QUIET)
    assert spy.scored() == [("b_eval", ("none",))]
    cell = next(c for c in result["cells"] if c["test_set"] == "b_eval")  # the engine retried the failed trial
    assert cell["complete"] is True and cell["n_scored"] == 12 and cell["coverage"] == 1.0


def test_replaced_clip_makes_exactly_its_cells_stale(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    config = _gmm(corpus)
    out = tmp_path / "run"
    first = run_benchmark(config, out, **QUIET)
    rng = np.random.default_rng(7)
    sf.write(corpus / "a_eval" / "a_eval_005.wav", rng.normal(0, 0.1, 9000).astype(np.float32), 16000)
    spy = SpyExecutor()
    second = run_benchmark(config, out, executor=spy, **QUIET)
    assert spy.scored() == [("a_eval", ("none",))]
    old = {c["test_set"]: c["hash"] for c in first["cells"]}
    new = {c["test_set"]: c["hash"] for c in second["cells"]}
    assert new["b_eval"] == old["b_eval"] and new["a_eval"] != old["a_eval"]


def test_rescore_selected_cells(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    config = _gmm(corpus)
    out = tmp_path / "run"
    run_benchmark(config, out, **QUIET)
    spy = SpyExecutor()
    run_benchmark(config, out, executor=spy, rescore=["lfcc_gmm:tiny/0/b_eval/*"], **QUIET)
    assert spy.scored() == [("b_eval", ("none",))]
    spy = SpyExecutor()
    run_benchmark(config, out, executor=spy, rescore=["all"], **QUIET)
    assert sorted(spy.scored()) == [("a_eval", ("none",)), ("b_eval", ("none",))]


def test_inverted_scores_warn_on_the_terminal(tmp_path, capsys):
    corpus = make_corpus(tmp_path / "corpus")
    make_set(corpus, "b_eval", "B", 12, 3, ("b1",), flip_labels=True)  # labels swapped: EER > 50%
    out = tmp_path / "run"
    assert main(["run", str(_gmm(corpus)), "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning: [lfcc_gmm:tiny seed=0 testset=b_eval codec=none]" in err and "50%" in err, err
