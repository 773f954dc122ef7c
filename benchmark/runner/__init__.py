"""The benchmark runner: plan a config's cells, run them through an executor, write the results.

``from spoofbench.runner import run_benchmark, BenchmarkConfig`` (loaded on first use; no torch at import).
Modules: ``config`` (the typed config), ``plan`` (pure cell planning), ``jobs`` (the work of one job),
``executor`` (where jobs run), ``orchestrator`` (reuse, grouping, result.json), ``benchmark`` (run + tables and plots), ``celllog`` (the source of truth),
``lock`` (one process per run folder), ``result_model`` (the typed result.json), ``results`` / ``tables`` / ``plots`` / ``report`` (rendering).
"""
from __future__ import annotations

from typing import Any

_LAZY = {"run_benchmark": "benchmark", "BenchmarkRunner": "orchestrator", "write_reports": "benchmark",
         "BenchmarkConfig": "config", "DetectorSpec": "config", "plan_cells": "plan", "Executor": "executor",
         "LocalExecutor": "executor", "load_result": "results", "render_result": "celllog",
         "read_result": "results", "write_result": "results", "RunResult": "result_model"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
