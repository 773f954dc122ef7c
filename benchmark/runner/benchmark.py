"""Run a benchmark end to end: the runner (:mod:`.orchestrator`) and then the tables and plots of its result.

The report layer's entry point: the bench layer below it runs cells and writes ``result.json``; this module
adds the rendered outputs. ``from spoofbench.runner import run_benchmark`` is the public name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .config import BenchmarkConfig
from .executor import Executor
from .jobs import as_note
from .lock import run_lock
from .orchestrator import BenchmarkRunner, Log, prepare_run_folder, require_codecs, writing
from .results import write_tidy

__all__ = ["run_benchmark", "write_reports", "plot_det_curves"]


def run_benchmark(config: BenchmarkConfig | str | Path, out_dir: str | Path, *, progress: bool = True,
                  log: Log | None = None, tables: bool = True, executor: Executor | None = None,
                  rescore: Sequence[str] = ()) -> dict:
    """Run (or resume) a benchmark; write result.json, cells.csv, tables and plots into ``out_dir``."""
    if not isinstance(config, BenchmarkConfig):
        config = BenchmarkConfig.from_yaml(config, check_files=True)
    else:
        config.check_files()
    out = Path(out_dir)
    require_codecs(config)
    prepare_run_folder(out)
    with run_lock(out, as_note(log, __name__)):
        result = BenchmarkRunner(config, out, progress=progress, log=log, executor=executor,
                                 rescore=rescore).run()
        if tables and result["cells"]:
            with writing(out):
                write_reports(result, out)
    return result


def write_reports(result: dict, out_dir: str | Path) -> dict[str, list[Path]]:
    """Tables (Markdown, CSV, LaTeX, HTML), the tidy cells CSV and the plots of a result, under ``out_dir``."""
    from .plots import plot_eer_heatmaps, plot_params_vs_ood
    from .tables import write_tables

    out = Path(out_dir)
    written: dict[str, list[Path]] = {"tables": write_tables(result, out / "tables"), "plots": []}
    written["tables"] += write_tidy(result, out)
    written["plots"] += plot_eer_heatmaps(result, out / "plots", formats=("png", "svg"))
    written["plots"] += plot_params_vs_ood(result, out / "plots", formats=("png", "svg"))
    written["plots"] += plot_det_curves(result, out)
    return written


def plot_det_curves(result: dict, out_dir: str | Path) -> list[Path]:
    """DET curves per test set (uncoded, each detector's first seed): :func:`spoofbench.runner.plots.plot_det_curves`."""
    from .plots import plot_det_curves as plot

    return plot(result, out_dir)
