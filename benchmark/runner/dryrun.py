"""``spoofbench run --dry-run``: the cells a config plans, without reading audio or training.

Lists the train cells (detector × seed) and the score cells (detector × seed × test set × codec),
the inputs that are missing (a warning here; an error for a real run), and a compute estimate only
where measured throughput exists: the scoring rate (clips/s) each detector reached in an earlier run
recorded in the same run folder. Training time is never estimated (no measured figure).
"""
from __future__ import annotations

import gzip
from pathlib import Path

from ..errors import SpoofbenchError
from .config import BenchmarkConfig
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
    from .results import load_result

    if out is None or not (out / "result.json").is_file():
        return {}
    try:
        result = load_result(out)
    except SpoofbenchError:
        return {}
    rates: dict[str, list[float]] = {}
    for cell in result["cells"]:
        if cell.get("clips_per_s"):
            rates.setdefault(cell["detector"], []).append(float(cell["clips_per_s"]))
    return {d: sum(v) / len(v) for d, v in rates.items()}


def describe_plan(config: BenchmarkConfig, out: Path | None = None) -> str:
    """The dry-run text: cells, missing inputs, and a scoring-time estimate where measured."""
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
    for spec in config.detectors:
        for seed in config.seeds:
            for name, _ in tests:
                lines.append(f"  {spec.display}/{seed}/{name}/*  ({len(codecs)} cells)")
    try:
        config.check_files()
    except SpoofbenchError as err:
        lines.append(f"warning: missing input (a real run stops here): {err}")
    lines += _estimate(config, tests, codecs, out)
    return "\n".join(lines)


def _estimate(config: BenchmarkConfig, tests: list, codecs: list[str], out: Path | None) -> list[str]:
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
        seconds = sum(known) * len(codecs) * len(config.seeds) / rate
        total += seconds
        lines.append(f"  {spec.display}: scoring ≈ {seconds / 60:.1f} min at the measured {rate:.1f} clips/s")
    return ["compute estimate (scoring only, from the rates measured in this folder's earlier run; "
            f"training not estimated): ≈ {total / 60:.1f} min", *lines]
