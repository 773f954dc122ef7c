"""Wall time and CPU utilisation of a whole ``spoofbench demo``: the default (jobs side by side) against
one job at a time, run one after the other by this script.

    python perf/bench_demo_cpu.py [--quick] [--no-baseline] [--keep DIR]

Each run is ``spoofbench demo [--quick] --out <fresh folder> --no-progress [--jobs 1]`` in a subprocess.
Printed per run: wall time, the CPU time of the demo's process tree (its workers included, from the
kernel's accounting of the reaped children), utilisation as a share of the usable cores, the
whole-machine busy share sampled from ``/proc/stat`` every second (shows other load), the idle
core-seconds, and the largest process's peak RSS. Both runs train with one thread per job, so they
compute the same numbers; the ratio is what running jobs side by side buys. Run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def _stat() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class MachineSampler(threading.Thread):
    """Whole-machine busy share, one sample a second."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        before = _stat()
        while not self._stop_event.wait(1.0):
            now = _stat()
            busy, total = now[0] - before[0], now[1] - before[1]
            self.samples.append(busy / total if total else 0.0)
            before = now

    def stop(self) -> list[float]:
        self._stop_event.set()
        self.join()
        return self.samples


def run_demo(out: Path, quick: bool, jobs: int | None) -> dict:
    command = [sys.executable, "-m", "spoofbench", "demo", "--out", str(out), "--no-progress"]
    command += ["--quick"] if quick else []
    command += ["--jobs", str(jobs)] if jobs else []
    sampler = MachineSampler()
    sampler.start()
    start = time.perf_counter()
    with open(out.parent / f"{out.name}.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    samples = sampler.stop()
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed (status {status}); see {out.parent / out.name}.log")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall": wall, "cpu": cpu, "share": cpu / (wall * _cores()),
            "machine": sum(samples) / len(samples) if samples else float("nan"),
            "idle_core_s": wall * _cores() - cpu, "rss_gib": usage.ru_maxrss / 2**20}


def _eers(out: Path) -> dict:
    import json

    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return {(c["detector"], c["seed"], c["test_set"], c["codec"]): c["metrics"]["eer"] for c in result["cells"]}


def _row(name: str, r: dict) -> str:
    return (f"{name:<28} {r['wall']:8.1f} s {r['cpu']:9.1f} CPU s {100 * r['share']:6.1f}% of {_cores()} cores "
            f"(machine {100 * r['machine']:5.1f}%)  idle {r['idle_core_s']:6.1f} core-s  peak RSS {r['rss_gib']:.2f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the quick demo (default: the full one)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-job-at-a-time run")
    parser.add_argument("--keep", type=Path, help="keep the run folders under DIR (default: a temporary folder)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_demo_cpu_")) if args.keep is None else args.keep
    root.mkdir(parents=True, exist_ok=True)
    try:
        print(f"{'quick' if args.quick else 'full'} demo on {_cores()} usable cores; run folders under {root}")
        results = {"default (jobs side by side)": run_demo(root / "default", args.quick, None)}
        print(_row("default (jobs side by side)", results["default (jobs side by side)"]), flush=True)
        if not args.no_baseline:
            results["--jobs 1 (one at a time)"] = run_demo(root / "jobs1", args.quick, 1)
            print(_row("--jobs 1 (one at a time)", results["--jobs 1 (one at a time)"]))
            base, new = results["--jobs 1 (one at a time)"], results["default (jobs side by side)"]
            print(f"speed-up of the default over --jobs 1: {base['wall'] / new['wall']:.2f}x")
            same = _eers(root / "default") == _eers(root / "jobs1")
            print(f"same EER in every cell: {'yes' if same else 'NO'}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
