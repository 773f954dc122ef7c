"""What a finished run prints: the EER table, failed cells with reasons, and where the files are."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ..errors import SpoofbenchError
from .tables import domain_gap_table, pivot_table, render


def summary_text(result: dict) -> str:
    """The Markdown EER table and the in-domain → OOD gap of ``result`` (as printed)."""
    if not result["cells"]:
        return "no finished cells\n"
    # codecs as rows: a full matrix has ~20 conditions, too many for columns a person can read
    parts = [render(pivot_table(result, "eer", ("codec",), ("test_set", "detector")), "md")]
    try:
        parts.append(render(domain_gap_table(result, "eer"), "md"))
    except SpoofbenchError:
        pass
    return "\n".join(parts)


def print_summary(result: dict, out_dir: str | Path, console: Console | None = None) -> None:
    console = console or Console(soft_wrap=True)
    out = Path(out_dir)
    console.print(summary_text(result), markup=False, highlight=False)
    failed = result["failed_cells"]
    if failed:
        console.print(f"[bold red]{len(failed)} cell(s) failed[/]:")
        seen = set()
        for cell in failed:
            line = f"  {cell['detector']} seed {cell['seed']} {cell['test_set']} {cell['codec']} " \
                   f"[{cell['stage']}]: {cell['error']}"
            if (cell["detector"], cell["stage"], cell["error"]) in seen and cell["stage"] != "score":
                continue
            seen.add((cell["detector"], cell["stage"], cell["error"]))
            console.print(line, markup=False)
    console.print(f"results: {out / 'result.json'}  ·  cells: {out / 'cells.csv'}  ·  "
                  f"tables: {out / 'tables'}  ·  plots: {out / 'plots'}", markup=False)
