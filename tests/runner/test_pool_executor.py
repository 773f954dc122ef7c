"""The process-pool executor (``spoofbench run --jobs N``): same cells and score files as the local
executor, a killed worker's job rerun once, dependencies honoured, one executor shared by two runs."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from spoofbench.runner import pool_executor
from spoofbench.runner.benchmark import run_benchmark

from runner_corpus import bench_config, cell_eers, kill_worker_once, make_corpus, score_files, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("pool_corpus"))


def _pinned(corpus: Path, **extra) -> dict:
    """The tiny config with one torch thread for training and scoring (so any executor gives the same floats)."""
    config = bench_config(corpus, **extra)
    config["training"] = {**config["training"], "cpu_threads": 1}
    config["scoring"] = {**config["scoring"], "cpu_threads": 1}
    return config


def test_pool_and_local_runs_give_identical_cells_and_score_files(corpus, tmp_path, require_ffmpeg):
    config = write_config(corpus, "pool.yaml", _pinned(corpus, seeds=[0, 1]))
    local = run_benchmark(config, tmp_path / "local", progress=False, tables=False)
    with pool_executor.ProcessPoolJobExecutor(workers=2, threads=1) as executor:
        pooled = run_benchmark(config, tmp_path / "pool", progress=False, tables=False, executor=executor)
    assert not local["failed_cells"] and not pooled["failed_cells"]
    assert len(cell_eers(local)) == 2 * 2 * 2 * 2  # detectors × seeds × test sets × codecs
    assert cell_eers(pooled) == cell_eers(local)
    assert score_files(tmp_path / "pool") == score_files(tmp_path / "local")


def _gmm_only(corpus: Path, name: str) -> Path:
    cfg = bench_config(corpus, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    return write_config(corpus, name, cfg)


def test_a_killed_workers_job_is_run_again(corpus, tmp_path):
    config = _gmm_only(corpus, "pool_kill.yaml")
    with pool_executor.ProcessPoolJobExecutor(workers=2, job_function=kill_worker_once) as executor:
        result = run_benchmark(config, tmp_path / "run", progress=False, tables=False, executor=executor)
    assert not result["failed_cells"]
    assert len(result["cells"]) == 2
    assert list((tmp_path / "run").rglob(".killed-*")), "the fault was never injected"


def test_a_job_lost_more_often_than_retried_is_a_failed_cell_of_stage_infrastructure(corpus, tmp_path):
    config = _gmm_only(corpus, "pool_lost.yaml")
    with pool_executor.ProcessPoolJobExecutor(workers=1, job_function=kill_worker_once, max_retries=0) as executor:
        result = run_benchmark(config, tmp_path / "run", progress=False, tables=False, executor=executor)
    assert not result["cells"]
    assert result["failed_cells"]
    assert {f["stage"] for f in result["failed_cells"]} == {"infrastructure"}
    assert all("died (exit code -9)" in f["error"] for f in result["failed_cells"])


def test_one_executor_serves_two_runs_at_once(corpus, tmp_path):
    config = _gmm_only(corpus, "pool_two.yaml")
    results = {}

    def run(name):
        results[name] = run_benchmark(config, tmp_path / name, progress=False, tables=False, executor=executor)

    with pool_executor.ProcessPoolJobExecutor(workers=2) as executor:
        threads = [threading.Thread(target=run, args=(name,)) for name in ("one", "two")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert set(results) == {"one", "two"}
    assert cell_eers(results["one"]) == cell_eers(results["two"])
    assert score_files(tmp_path / "one") == score_files(tmp_path / "two")


def report_threads(job):
    """A job function that reports its worker's thread pools instead of running the job."""
    from threadpoolctl import threadpool_info

    return {"kind": "train", "key": job.key, "ok": True, "torch": torch.get_num_threads(),
            "blas": [lib["num_threads"] for lib in threadpool_info()]}


def test_workers_run_with_the_requested_threads(corpus, tmp_path):
    from spoofbench.runner.config import DetectorSpec
    from spoofbench.runner.jobs import TrainJob
    from spoofbench.runner.plan import TrainCell

    cell = TrainCell(detector="lfcc_gmm", spec=DetectorSpec(name="lfcc_gmm"), seed=0, key="0" * 64)
    job = TrainJob(cell=cell, run_dir=str(tmp_path), train_config=None, train_manifest=None, dev_manifest=None,
                   train_root=None, dev_root=None)
    results = []
    with pool_executor.ProcessPoolJobExecutor(workers=1, threads=1, job_function=report_threads) as executor:
        executor.run([job], lambda _job, result: results.append(result))
    assert results[0]["torch"] == 1
    assert results[0]["blas"] and set(results[0]["blas"]) == {1}


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="workers and threads must be >= 1"):
        pool_executor.ProcessPoolJobExecutor(workers=0)


def test_the_cli_runs_jobs_in_parallel_with_the_samecell_eers(corpus, tmp_path, require_ffmpeg):
    config = write_config(corpus, "pool_cli.yaml", _pinned(corpus, codecs=["none"]))
    local = run_benchmark(config, tmp_path / "local", progress=False, tables=False)
    proc = subprocess.run([sys.executable, "-m", "spoofbench", "run", str(config), "--out", str(tmp_path / "cli"),
                           "--jobs", "2", "--no-progress"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not local["failed_cells"] and local["cells"]
    assert score_files(tmp_path / "cli") == score_files(tmp_path / "local")


def test_run_jobs_below_one_is_refused_and_one_means_in_process(capsys):
    from spoofbench.cli import build_parser
    from spoofbench.commands.run import _executor

    parser = build_parser()
    for option in ("--jobs", "--threads-per-job"):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(["run", "b.yaml", option, "0"])
        assert exit_info.value.code == 2
        assert f"argument {option}: expected a whole number >= 1, got 0" in capsys.readouterr().err
    assert _executor(parser.parse_args(["run", "b.yaml"])) is None
    pooled = _executor(parser.parse_args(["run", "b.yaml", "--jobs", "2", "--threads-per-job", "3"]))
    assert (pooled.workers, pooled.threads) == (2, 3)
    pooled.close()
    from spoofbench.errors import SpoofbenchError
    with pytest.raises(SpoofbenchError, match="with --executor ray, Ray schedules the jobs"):
        _executor(parser.parse_args(["run", "b.yaml", "--executor", "ray", "--jobs", "2"]))


def test_jobs_start_in_the_order_they_became_ready_across_runs(monkeypatch):
    """A run sharing the executor cannot overtake a job another run queued earlier."""
    class FakeWorker:
        def __init__(self, *args):
            pass

    monkeypatch.setattr(pool_executor, "_Worker", FakeWorker)
    executor = pool_executor.ProcessPoolJobExecutor(workers=2)
    older, _ = executor._ticket(None)
    newer, _ = executor._ticket(None)
    assert executor._checkout(newer) is None          # the older job (another run's) goes first
    first = executor._checkout(older)
    assert isinstance(first, FakeWorker)
    assert isinstance(executor._checkout(newer), FakeWorker)
    third, _ = executor._ticket(None)
    assert executor._checkout(third) is None          # both workers busy
    executor._checkin(first)
    assert executor._checkout(third) is first         # an idle worker is reused, not a new one started


def fail_loudly(_argument):
    raise ValueError("drawing went wrong")


def test_call_reports_an_exception_and_workers_ignore_ctrl_c(corpus, tmp_path):
    import signal
    import time

    with pool_executor.ProcessPoolJobExecutor(workers=1) as executor:
        executor.start()
        worker = executor._idle[0]
        failed = executor.call(fail_loudly, None).result()
        assert not failed["ok"] and failed["error"] == "ValueError: drawing went wrong"
        assert "Traceback" in failed["traceback"]
        os.kill(worker.process.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        time.sleep(0.5)
        assert worker.process.is_alive()
        assert executor.call(fail_loudly, None).result()["ok"] is False  # the same worker still answers
        assert executor._idle == [worker]
    assert not worker.process.is_alive()
