"""``spoofbench run --dry-run``: the cells a config plans, without training or scoring.

Resolves every detector spec first (a misspelled ``module:factory`` is an error here, as in the real
run, which also builds and probes each plugin before any training). Lists the train cells
(detector × seed) and the score cells (detector × seed × test set × codec), the inputs that are
missing (a warning here; an error for a real run), which cells an earlier run in the same folder
already finished (cached: they will be reused) and which will run, and a compute estimate of the cells
that will run only, where measured throughput exists: the scoring rate (clips/s) each detector reached
in that earlier run. Training time is never estimated (no measured figure). Matching cells needs their
content hashes, so with an earlier run the test sets' audio digests are read (from the run folder's
digest cache, copied: the dry run writes nothing into the run folder).
"""
from __future__ import annotations

import gzip
from pathlib import Path

from ..errors import SpoofbenchError
from .config import BenchmarkConfig, resolve_specs
from .plan import expand_codecs


def planned_test_sets(config: BenchmarkConfig) -> list[tuple[str, str | None]]:
    """(name, manifest or None) of every test set, protocol tests included (their manifests are derived)."""
    tests: list[tuple[str, str | None]] = []
    if config.protocol is not None:
        from ..corpora.protocol import parse_protocol

        tests += [(name, None) for name in parse_protocol(config.protocol.file).tests]
    return tests + [(t.name, t.manifest) for t in config.test_sets]


def _count_trials(manifest: str | None) -> int | None:
    if not manifest or not Path(manifest).is_file():
        return None
    opener = gzip.open if manifest.endswith(".gz") else open
    try:
        with opener(manifest, "rt", encoding="utf-8") as handle:
            return sum(1 for line in handle if line.strip())
    except (OSError, EOFError, UnicodeDecodeError):
        return None


def _measured_rates(out: Path | None) -> dict[str, float]:
    """detector → mean clips/s of its freshly scored cells in ``out``'s result.json (if any)."""
    from .results import read_result

    if out is None or not (out / "result.json").is_file():
        return {}
    try:
        result = read_result(out)
    except SpoofbenchError:
        return {}
    rates: dict[str, list[float]] = {}
    for cell in result.cells:
        if cell.clips_per_s:
            rates.setdefault(cell.detector, []).append(float(cell.clips_per_s))
    return {d: sum(v) / len(v) for d, v in rates.items()}


def cached_cells(config: BenchmarkConfig, out: Path | None) -> tuple[set[str], set[str]] | None:
    """(idents of the score cells an earlier run in ``out`` finished and a run would reuse, idents of all
    planned cells), or None when ``out`` holds no earlier run. Reads the test sets' audio digests."""
    import shutil
    import tempfile

    from .celllog import LOG_NAME, latest_cells, read_records
    from .result_model import parse_cell
    from .data import gather_inputs
    from .orchestrator import _codec_provenance, environment, sha256_file
    from .plan import PlanInputs, ScoreCell, plan_cells

    if out is None or not ((out / LOG_NAME).is_file() or (out / "result.json").is_file()):
        return None
    try:
        config.check_files()
        if (out / LOG_NAME).is_file():
            previous = {h: parse_cell(c, out / LOG_NAME) for h, c in latest_cells(read_records(out / LOG_NAME)).items()}
        else:
            from .results import read_result
            previous = {c.hash: c for c in read_result(out / "result.json").cells if c.hash}
        with tempfile.TemporaryDirectory(prefix="spoofbench-dryrun-") as tmp:
            if (out / "digests").is_dir():
                shutil.copytree(out / "digests", Path(tmp) / "digests")
            data = gather_inputs(config, Path(tmp))
            inputs = PlanInputs(data.test_sets, data.data_hash, environment(),
                                _codec_provenance(expand_codecs(config.codecs)))
            cells = [c for c in plan_cells(config, inputs) if isinstance(c, ScoreCell)]
    except SpoofbenchError:
        return None
    cached = set()
    for cell in cells:
        old = previous.get(cell.key)
        path = out / str(old.score_file) if old else None
        if old and old.complete and path and path.is_file() and sha256_file(path) == old.score_sha256:
            cached.add(cell.ident)
    return cached, {c.ident for c in cells}


def describe_plan(config: BenchmarkConfig, out: Path | None = None) -> str:
    """The dry-run text: cells (cached or to run), missing inputs, and a scoring-time estimate where measured."""
    resolve_specs(config)
    codecs = expand_codecs(config.codecs)
    tests = planned_test_sets(config)
    lines = [f"benchmark {config.name!r}: {len(config.detectors)} detector(s) × {len(config.seeds)} seed(s) × "
             f"{len(tests)} test set(s) × {len(codecs)} codec condition(s) = "
             f"{len(config.detectors) * len(config.seeds) * len(tests) * len(codecs)} score cell(s)"]
    lines.append("train cells:")
    for spec in config.detectors:
        how = f"checkpoint {spec.checkpoint} (scored as is)" if spec.checkpoint else "trained in the run"
        lines.append(f"  {spec.display}: seeds {', '.join(map(str, config.seeds))}; {how}")
    lines.append(f"score cells (detector/seed/test_set/codec), codecs: {', '.join(codecs)}")
    matched = cached_cells(config, out)
    cached = matched[0] if matched else set()
    for spec in config.detectors:
        for seed in config.seeds:
            for name, _ in tests:
                done = sum(f"{spec.display}/{seed}/{name}/{c}" in cached for c in codecs)
                state = f"{done} cached, {len(codecs) - done} to run" if matched else f"{len(codecs)} to run"
                lines.append(f"  {spec.display}/{seed}/{name}/*  ({len(codecs)} cells: {state})")
    if matched:
        lines.append(f"cached (finished in {out}, reused): {len(cached)} cell(s); to run: "
                     f"{len(matched[1]) - len(cached)}")
    elif out is not None and ((out / "cells.jsonl").is_file() or (out / "result.json").is_file()):
        lines.append(f"cached: unknown (the inputs of {out}'s earlier run could not be matched); "
                     "every cell is counted as to run")
    try:
        config.check_files()
    except SpoofbenchError as err:
        lines.append(f"warning: missing input (a real run stops here): {err}")
    lines += _estimate(config, tests, codecs, out, cached)
    return "\n".join(lines)


def _estimate(config: BenchmarkConfig, tests: list, codecs: list[str], out: Path | None,
              cached: set[str] = frozenset()) -> list[str]:
    rates = _measured_rates(out)
    counts = {name: _count_trials(manifest) for name, manifest in tests}
    if not rates:
        return ["compute estimate: none (no measured throughput: no earlier run in this folder); "
                "training time is never estimated"]
    lines, total = [], 0.0
    for spec in config.detectors:
        rate = rates.get(spec.display)
        known = [n for n in counts.values() if n]
        if not rate or len(known) != len(counts):
            lines.append(f"  {spec.display}: no estimate (no measured rate or unknown test-set sizes)")
            continue
        clips = sum(counts[name] for seed in config.seeds for name, _ in tests for codec in codecs
                    if f"{spec.display}/{seed}/{name}/{codec}" not in cached)
        seconds = clips / rate
        total += seconds
        lines.append(f"  {spec.display}: scoring ≈ {seconds / 60:.1f} min at the measured {rate:.1f} clips/s "
                     f"({clips:,} clips in the cells to run)")
    return ["compute estimate of the cells to run (scoring only, from the rates measured in this folder's "
            f"earlier run; cached cells cost nothing; training not estimated): ≈ {total / 60:.1f} min", *lines]
