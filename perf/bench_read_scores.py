"""Score-file parsing: the line-by-line reference parser vs the vectorised ``read_scores``, one process.

    .venv/bin/python perf/bench_read_scores.py [--lines 1000000] [--repeats 3]

Writes a synthetic ``utt_id score`` file (ASVspoof-style ids, repr floats) into a temp folder,
times both readers alternately (best of ``--repeats`` each), checks they return the same ids and scores, and prints
the ratio. Also times ``read_scores`` + ``align`` against keys of the same trials (what
``spoofbench metrics`` does) next to the reference parser + a dict-based alignment.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from spoofbench.metrics.readers import ScoreNormalization, _parse_python, align, read_keys, read_scores


def read_scores_python(path: Path) -> dict[str, float]:
    """The baseline: the line-by-line parser read_scores used before it was vectorised (now its fallback)."""
    ids, values = _parse_python(Path(path), ScoreNormalization())
    return dict(zip(ids, values))


def _best_pair(old, new, repeats: int) -> tuple[float, float, object, object]:
    """Best-of-``repeats`` times of two functions, run alternately (a shared machine's load hits both)."""
    times = {"old": float("inf"), "new": float("inf")}
    outputs = {}
    for _ in range(repeats):
        for name, fn in (("old", old), ("new", new)):
            start = time.perf_counter()
            outputs[name] = fn()
            times[name] = min(times[name], time.perf_counter() - start)
    return times["old"], times["new"], outputs["old"], outputs["new"]


def _write_files(folder: Path, n: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    ids = [f"LA_E_{i:07d}" for i in range(n)]
    scores = folder / "scores.txt"
    scores.write_text("".join(f"{u} {v!r}\n" for u, v in zip(ids, rng.normal(size=n).tolist())))
    keys = folder / "keys.txt"
    keys.write_text("".join(f"{u} {'bonafide' if i % 10 == 0 else 'spoof'}\n" for i, u in enumerate(ids)))
    return scores, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scores_path, keys_path = _write_files(Path(tmp), args.lines)
        old_s, new_s, old, new = _best_pair(lambda: read_scores_python(scores_path),
                                            lambda: read_scores(scores_path), args.repeats)
        if list(new.ids) != list(old) or new.scores.tolist() != list(old.values()):
            raise SystemExit("the two readers disagree")
        keys = read_keys(keys_path)

        def old_align():
            table = read_scores_python(scores_path)
            return np.fromiter((table[u] for u in keys.ids.tolist()), np.float64, len(keys))

        old_a, new_a, _, _ = _best_pair(old_align, lambda: align(read_scores(scores_path), keys), args.repeats)
    print(f"{args.lines:,} lines, best of {args.repeats}")
    print(f"read_scores  line parser {old_s:7.3f} s   vectorised {new_s:7.3f} s   speed-up {old_s / new_s:5.1f}x")
    print(f"read + align line parser {old_a:7.3f} s   vectorised {new_a:7.3f} s   speed-up {old_a / new_a:5.1f}x")


if __name__ == "__main__":
    main()
