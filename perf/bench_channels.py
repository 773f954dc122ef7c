"""Channel-matrix cost: the laundering matrix against the classic default matrix, per clip, same run.

Clips: the bona fide sources of the quick demo's test sets (spoofbench's vendored demo speech,
``data_manifests/demo``: corpus A split eval and corpus B, chunk 0), at 16 kHz. Both matrices code
every clip in this one process, one condition after the other (no cache), after one warm-up clip
per matrix (engine delays measured, RIRs computed, silero-vad loaded: once per process). Prints
seconds per clip for each matrix and each condition, and the ratio laundering / default.
Usage: python perf/bench_channels.py [--clips 40] [--matrix laundering] [--out perf/RESULTS_codecs.md]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from spoofbench.audio_io import read_audio
from spoofbench.codecs import apply_condition, get_matrix

RATE = 16000
DEMO = Path(__file__).resolve().parents[1] / "data_manifests" / "demo"


def demo_test_clips(count: int) -> list[tuple[str, np.ndarray]]:
    lines = (DEMO / "index.tsv").read_text(encoding="utf-8").splitlines()
    col = {name: i for i, name in enumerate(lines[0].split("\t"))}
    rows = [line.split("\t") for line in lines[1:]]
    rows = [r for r in rows if r[col["split"]] == "eval"][:count]
    return [(r[col["clip_id"]], read_audio(DEMO / r[col["path"]], sample_rate=RATE)[0]) for r in rows]


def cost(matrix: str, clips: list[tuple[str, np.ndarray]]) -> dict[str, float]:
    """Seconds per clip of each condition of ``matrix`` (after a warm-up clip)."""
    conditions = get_matrix(matrix)
    for cond in conditions:
        apply_condition(clips[0][1], RATE, cond, key=clips[0][0])
    out = {}
    for cond in conditions:
        start = time.perf_counter()
        for key, wave in clips:
            apply_condition(wave, RATE, cond, key=key)
        out[cond.id] = (time.perf_counter() - start) / len(clips)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--matrix", default="laundering")
    parser.add_argument("--out", type=Path, default=None, help="append a result section to this Markdown file")
    args = parser.parse_args()
    clips = demo_test_clips(args.clips)
    seconds = sum(len(w) for _, w in clips) / RATE / len(clips)
    default = cost("default", clips)
    channel = cost(args.matrix, clips)
    d_total, c_total = sum(default.values()), sum(channel.values())
    load = os.getloadavg()[0]
    lines = [f"## Channel matrix cost: {args.matrix} vs default (issue 25), measured while other jobs ran "
             f"(load average {load:.1f} on {os.cpu_count()} cores)",
             f"`python perf/bench_channels.py --clips {args.clips} --matrix {args.matrix}`: {len(clips)} bona fide "
             f"clips of the quick demo's test sets (vendored demo speech, split eval; mean {seconds:.2f} s), "
             "one process, no cache, after one warm-up clip per matrix.", "",
             "| matrix | conditions | seconds per clip (whole matrix) |", "|---|---|---|",
             f"| default (classic codecs) | {len(default)} | {d_total:.3f} |",
             f"| {args.matrix} | {len(channel)} | {c_total:.3f} |", "",
             f"Ratio {args.matrix} / default per clip: **{c_total / d_total:.2f}x** (goal: at most 2x).", "",
             f"Slowest {args.matrix} conditions (ms per clip): " + ", ".join(
                 f"{cid} {1000 * s:.1f}" for cid, s in sorted(channel.items(), key=lambda kv: -kv[1])[:6]), ""]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write("\n" + text)


if __name__ == "__main__":
    main()
