"""``spoofbench run``: a benchmark config → cells → result.json, tables and plots."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..cli import command_parser, positive_int
from ..logs import context_logger

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "run", help="run (or resume) a benchmark config",
        description="Expand BENCHMARK.yaml into cells (detector × seed × test set × codec), train what "
                    "needs training, score, compute metrics and write result.json, cells.csv, tables/ "
                    "and plots/. Re-running only computes cells that are new, whose inputs changed or "
                    "that did not cover every trial. Exit status: 0 all cells complete; 1 a cell failed "
                    "or is incomplete (unless --allow-incomplete); 2 bad input or the run folder is in "
                    "use by another process.",
        example="spoofbench run data_manifests/benchmarks/demo_quick.yaml --out runs/bench-example")
    parser.add_argument("config", help="benchmark YAML, or the name of a shipped one (e.g. seed_study)")
    parser.add_argument("--out", help="run directory (default: runs/<config name>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the planned cells (and a compute estimate where measured) and exit")
    parser.add_argument("--rescore", action="extend", nargs="+", default=[], metavar="CELL",
                        help="score again from scratch: 'all', a cell hash prefix, or a "
                             "DETECTOR/SEED/TEST_SET/CODEC glob (repeatable)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where jobs run: this process (default) or Ray tasks (pip install 'spoofbench[ray]'); "
                             "with Ray every node must see the run folder and corpora at the same paths")
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="local executor: run N jobs at once, each in a worker process (default 1: one "
                             "after another in this process); floats match --jobs 1 when the config pins "
                             "training/scoring cpu_threads")
    parser.add_argument("--threads-per-job", type=positive_int, default=None, metavar="T",
                        help="torch/BLAS threads of each of the --jobs workers (default: usable cores / N, "
                             "at least 1)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster: 'auto' (the cluster this machine joined), 'ray://HOST:PORT', or "
                             "omitted for a local Ray instance")
    parser.add_argument("--job-cpus", type=float, default=1, help="CPUs one Ray task reserves (default 1)")
    parser.add_argument("--job-gpus", type=float, default=None,
                        help="GPUs one Ray task reserves (default: 1 when the cluster has GPUs, else 0)")
    parser.add_argument("--job-memory", type=float, default=None, metavar="GB",
                        help="memory one Ray task reserves, in GB (default: none reserved)")
    parser.add_argument("--allow-incomplete", action="store_true",
                        help="exit 0 even when a cell scored fewer trials than its test set holds")
    parser.add_argument("--shortcut-check", action="store_true",
                        help="also score every test set as is (none) and with leading/trailing silence trimmed "
                             "(vad_trim), adding those conditions to the config's codecs where missing, then print "
                             "each detector's EER change with its paired-bootstrap CI (as `spoofbench "
                             "shortcut-check --scores-from OUT`)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runner.config import BenchmarkConfig
    from ..runner.report import print_summary
    from ..runner.benchmark import run_benchmark
    from ..runner.result_model import as_result

    if args.dry_run:
        from ..runner.dryrun import describe_plan

        config = BenchmarkConfig.from_yaml(_config_path(args.config))
        config = with_shortcut_conditions(config) if args.shortcut_check else config
        out = Path(args.out) if args.out else Path("runs") / config.name
        print(describe_plan(config, out))
        return 0
    config = BenchmarkConfig.from_yaml(_config_path(args.config), check_files=True)
    if args.shortcut_check:
        config = with_shortcut_conditions(config)
    _require_codecs(config)
    out = Path(args.out) if args.out else Path("runs") / config.name
    executor = _executor(args)
    try:
        result = run_benchmark(config, out, progress=not args.no_progress, rescore=args.rescore,
                               executor=executor)
    finally:
        if hasattr(executor, "close"):
            executor.close()
    from ..reproduce.record import record_command
    record_command(out, None, config, config.seeds, {"out": str(out)}, command="run")
    run_result = as_result(result)
    print_summary(run_result, out)
    incomplete = [c for c in run_result.cells if not c.complete]
    for cell in incomplete:
        context_logger(__name__, detector=cell.detector, seed=cell.seed, testset=cell.test_set,
                       codec=cell.codec).warning(f"incomplete: scored {cell.n_scored} of "
                                                 f"{cell.n_expected} trials ({cell.failed_file})")
    if args.shortcut_check:
        _print_shortcut_check(out)
    if run_result.failed_cells:
        return 1
    if incomplete and not args.allow_incomplete:
        log.error(f"{len(incomplete)} cell(s) incomplete: their metrics cover part of the test set; run again to "
                  "retry the failed trials, or pass --allow-incomplete to accept them")
        return 1
    return 0


def with_shortcut_conditions(config, baseline: str = "none", condition: str = "vad_trim"):
    """``config`` with ``baseline`` and ``condition`` in its codecs (appended where missing): every test set
    is then scored as is and trimmed; cells already scored stay cached."""
    import dataclasses

    extra = tuple(c for c in (baseline, condition) if c not in config.codecs)
    return dataclasses.replace(config, codecs=tuple(config.codecs) + extra) if extra else config


def _print_shortcut_check(out: Path) -> None:
    from ..errors import SpoofbenchError
    from ..runner.shortcut import shortcut_check, shortcut_markdown

    try:
        print(shortcut_markdown(shortcut_check(out)), end="")
    except SpoofbenchError as err:  # e.g. every vad_trim cell failed: said; the run's own exit status stands
        log.warning(f"shortcut check not possible: {err}")


def _require_codecs(config) -> None:
    """Refuse a config naming a codec condition no engine can run here before any work starts (no run
    folder, no training): a :class:`~spoofbench.errors.CodecError`, one line naming what to install (exit 2)."""
    from ..codecs.availability import require_runnable
    from ..runner.plan import expand_codecs

    require_runnable(expand_codecs(config.codecs))


def _executor(args: argparse.Namespace):
    """None (the local executor), a local process pool (``--jobs N``) or a Ray executor built from the flags."""
    if args.executor != "ray":
        return _pool(args)
    if args.jobs != 1 or args.threads_per_job is not None:
        from ..errors import SpoofbenchError

        raise SpoofbenchError("--jobs and --threads-per-job set the local executor's worker processes; with "
                              "--executor ray, Ray schedules the jobs (size them with --job-cpus/--job-gpus)")
    from ..runner.ray_executor import RayExecutor, RayResources, import_ray

    ray = import_ray()
    gpus = args.job_gpus
    if gpus is None:
        if not ray.is_initialized():
            ray.init(address=None if args.address in (None, "local") else args.address,
                     include_dashboard=False)
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    memory = int(args.job_memory * 2**30) if args.job_memory else None
    resources = RayResources(num_cpus=args.job_cpus, num_gpus=gpus, memory=memory)
    return RayExecutor(args.address, train=resources, score=resources)


def _pool(args: argparse.Namespace):
    """The local executor's process pool for ``--jobs N`` (N > 1), else None (jobs run in this process)."""
    if args.jobs == 1:
        return None
    from ..engine.runtime import usable_cpus
    from ..runner.pool_executor import ProcessPoolJobExecutor

    threads = args.threads_per_job or max(1, usable_cpus() // args.jobs)
    return ProcessPoolJobExecutor(workers=args.jobs, threads=threads)


def _config_path(name_or_path: str) -> Path:
    """A benchmark YAML, or the name of a shipped one (e.g. ``seed_study``)."""
    from ..shipped import resolve_shipped

    return resolve_shipped(name_or_path, "benchmark")
