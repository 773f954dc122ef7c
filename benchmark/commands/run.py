"""``spoofbench run``: a benchmark config → cells → result.json, tables and plots."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import command_parser


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers, "run", help="run (or resume) a benchmark config",
        description="Expand BENCHMARK.yaml into cells (detector × seed × test set × codec), train what "
                    "needs training, score, compute metrics and write result.json, cells.csv, tables/ "
                    "and plots/. Re-running only computes cells that are new or whose inputs changed.",
        example="spoofbench run data_manifests/benchmarks/demo_quick.yaml --out runs/bench-example")
    parser.add_argument("config", help="benchmark YAML")
    parser.add_argument("--out", help="run directory (default: runs/<config name>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runner.config import BenchmarkConfig
    from ..runner.report import print_summary
    from ..runner.runner import run_benchmark

    config = BenchmarkConfig.from_yaml(args.config)
    out = Path(args.out) if args.out else Path("runs") / config.name
    result = run_benchmark(config, out, progress=not args.no_progress)
    from ..reproduce.record import record_command
    record_command(out, None, config, config.seeds, {"out": str(out)}, command="run")
    print_summary(result, out)
    return 1 if result["failed_cells"] else 0
