"""The Ray executor against a real local Ray instance: same cells and score files as the local executor,
a killed worker's task rerun, and a clear message without Ray."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from spoofbench.errors import SpoofbenchError
from spoofbench.runner import ray_executor
from spoofbench.runner.benchmark import run_benchmark

from runner_corpus import bench_config, cell_eers, kill_worker_once, make_corpus, score_files, write_config

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'spoofbench[ray]')")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_local():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("ray_corpus"))


def test_ray_and_local_runs_give_identical_cells_and_score_files(corpus, tmp_path, ray_local, require_ffmpeg):
    config = write_config(corpus, "ray.yaml", bench_config(corpus))
    local = run_benchmark(config, tmp_path / "local", progress=False, tables=False,
                          executor=None)
    threads = __import__("torch").get_num_threads()
    resources = ray_executor.RayResources(num_cpus=1, torch_threads=threads)
    remote = run_benchmark(config, tmp_path / "ray", progress=False, tables=False,
                           executor=ray_executor.RayExecutor(train=resources, score=resources))
    assert not local["failed_cells"] and not remote["failed_cells"]
    assert len(cell_eers(local)) == 2 * 2 * 2  # detectors × test sets × codecs, one seed
    assert cell_eers(remote) == cell_eers(local)
    assert score_files(tmp_path / "ray") == score_files(tmp_path / "local")
    # A finished run is skipped by its content hash: nothing is re-scored through Ray either.
    again = run_benchmark(config, tmp_path / "ray", progress=False, tables=False,
                          executor=ray_executor.RayExecutor(train=resources, score=resources))
    assert cell_eers(again) == cell_eers(local)


@pytest.fixture
def by_value():
    """Ray workers cannot import the tests' helper module: ship its functions by value."""
    from ray import cloudpickle

    import runner_corpus

    cloudpickle.register_pickle_by_value(runner_corpus)
    yield
    cloudpickle.unregister_pickle_by_value(runner_corpus)


def test_a_killed_workers_task_is_rerun(corpus, tmp_path, ray_local, by_value):
    cfg = bench_config(corpus, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    config = write_config(corpus, "ray_kill.yaml", cfg)
    executor = ray_executor.RayExecutor(job_function=kill_worker_once)
    result = run_benchmark(config, tmp_path / "run", progress=False, tables=False, executor=executor)
    assert not result["failed_cells"]
    assert len(result["cells"]) == 2
    killed = list((tmp_path / "run").rglob(".killed-*"))
    assert killed, "the fault was never injected"


def test_a_task_lost_more_often_than_retried_is_a_failed_cell(corpus, tmp_path, ray_local, by_value):
    cfg = bench_config(corpus, codecs=["none"], detectors=[{"name": "lfcc_gmm", "preset": "tiny"}])
    config = write_config(corpus, "ray_lost.yaml", cfg)
    executor = ray_executor.RayExecutor(job_function=kill_worker_once, max_retries=0)
    result = run_benchmark(config, tmp_path / "run", progress=False, tables=False, executor=executor)
    assert result["failed_cells"]
    assert all(f["stage"] == "infrastructure" or "infrastructure" in json.dumps(f)
               for f in result["failed_cells"])


def test_without_ray_the_cli_says_how_to_install_it(corpus, tmp_path):
    config = write_config(corpus, "ray_missing.yaml", bench_config(corpus, codecs=["none"]))
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "ray.py").write_text("raise ImportError('No module named ray (hidden by the test)')\n")
    env = {**os.environ, "PYTHONPATH": str(hide)}
    proc = subprocess.run([sys.executable, "-m", "spoofbench", "run", str(config), "--out", str(tmp_path / "o"),
                           "--executor", "ray", "--no-progress"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'spoofbench[ray]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_import_ray_error_is_a_spoofbench_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(SpoofbenchError, match=r"spoofbench\[ray\]"):
        ray_executor.import_ray()
