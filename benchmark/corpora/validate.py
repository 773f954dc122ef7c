"""Check every trial of a manifest against its audio and report all problems, not the first.

Checks per trial: duplicate id, missing file, empty file, unreadable (no decoder reads it),
truncated (fewer samples decodable than the header promises, by libsndfile and by PyAV: a file
FFmpeg decodes in full is not truncated), no samples, non-finite (NaN/inf sample values), wrong
sample rate, clipped (a run of full-scale samples), silent (finite peak below a floor), and
recorded-vs-actual sample-rate/length mismatch. Decoding goes through
:mod:`spoofbench.audio_io`'s streams (libsndfile, else PyAV). Label values are checked when the manifest is read
(:class:`~spoofbench.errors.ManifestError` with file:line:field); ``validate_manifest`` reads the
manifest line by line itself so that bad rows are reported as problems too, and carries on.

Audio is decoded one file at a time in blocks (never a whole corpus in memory), in a thread pool.
"""
from __future__ import annotations

import gzip
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..atomic import write_text_atomic
from ..errors import ManifestError
from ..logs import progress as show_progress
from .manifest import Trial, write_manifest

#: Problem kinds, in the order reports list them.
KINDS = ("bad_row", "duplicate_id", "missing", "empty", "unreadable", "truncated", "no_samples",
         "non_finite", "wrong_sample_rate", "length_mismatch", "clipped", "silent")


@dataclass(frozen=True)
class ValidationConfig:
    """Thresholds of the audio checks.

    ``clip_level``: |x| at or above this counts as full scale; ``clip_run``: that many consecutive
    full-scale samples make a file clipped. ``silence_peak``: a peak below it is silent.
    """

    expect_sr: int | None = None
    clip_level: float = 0.999
    clip_run: int = 8
    silence_peak: float = 1e-4
    block_frames: int = 65_536
    workers: int = 4


@dataclass(frozen=True)
class Problem:
    kind: str
    trial_id: str
    path: str
    detail: str
    line: int | None = None

    def describe(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{self.kind}: {where}{self.trial_id} ({self.path}): {self.detail}"


@dataclass
class ValidationReport:
    manifest: Path
    root: Path
    checked: int = 0
    kept: int = 0
    problems: list[Problem] = field(default_factory=list)
    decoders: dict[str, int] = field(default_factory=dict)  # files read per decoder

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for problem in self.problems:
            out[problem.kind] = out.get(problem.kind, 0) + 1
        return {k: out[k] for k in KINDS if k in out}


@dataclass
class _Scan:
    """What one pass of one decoder over a file found."""

    decoder: str
    rate: int = 0
    declared: int = 0
    decoded: int = 0
    peak: float = 0.0
    longest_clip: int = 0
    non_finite: int = 0
    first_non_finite: int = -1
    error: str | None = None


def _scan(path: Path, decoder: str, config: ValidationConfig) -> _Scan:
    """Decode ``path`` in blocks with ``decoder``, keeping peak, clipping and non-finite counts.
    Raises :class:`~spoofbench.audio_io.AudioReadError` when the decoder cannot open the file."""
    from ..audio_io import exact_length, open_stream

    stream = open_stream(path, decoder=decoder, block_frames=config.block_frames)
    declared = exact_length(stream.info)
    scan = _Scan(decoder, stream.info.sample_rate, declared or 0)
    run = 0
    for block in stream.blocks():
        finite = np.isfinite(block)
        if not finite.all():
            bad_frames = np.flatnonzero(~finite.all(axis=1))
            if scan.non_finite == 0:
                scan.first_non_finite = scan.decoded + int(bad_frames[0])
            scan.non_finite += int((~finite).sum())
            block = np.where(finite, block, 0.0)
        magnitude = np.abs(block).max(axis=1)
        scan.peak = max(scan.peak, float(magnitude.max()))
        run, scan.longest_clip = _longest_run(magnitude >= config.clip_level, run, scan.longest_clip)
        scan.decoded += block.shape[0]
    scan.error = stream.error
    if declared is None and scan.error is None:  # the container's duration is approximate
        scan.declared = scan.decoded
    return scan


def _decode_checked(path: Path, config: ValidationConfig) -> _Scan:
    """libsndfile's pass, or PyAV's where libsndfile cannot open the file or stops short."""
    from ..audio_io import LIBSNDFILE, PYAV, AudioReadError

    try:
        first = _scan(path, LIBSNDFILE, config)
    except AudioReadError as err:
        first = _Scan(LIBSNDFILE, error=err.message.removeprefix("unreadable: "))
        try:
            return _scan(path, PYAV, config)
        except AudioReadError as err2:
            raise AudioReadError(f"{first.error}; {err2.message.removeprefix('unreadable: ')}",
                                 path) from None
    if first.error is None and first.decoded >= first.declared:
        return first
    try:
        second = _scan(path, PYAV, config)
    except AudioReadError:
        return first
    if second.decoded >= first.declared and second.error is None:
        return second  # a conformant decoder reads it fully: not truncated
    first.error = (f"{first.error or 'stopped early'}; pyav decoded {second.decoded} samples"
                   + (f" ({second.error})" if second.error else ""))
    return first


def check_audio(trial: Trial, root: Path, config: ValidationConfig) -> list[tuple[str, str]]:
    """``(kind, detail)`` for every audio problem of ``trial`` (empty list when fine)."""
    return inspect_audio(trial, root, config)[0]


def inspect_audio(trial: Trial, root: Path, config: ValidationConfig
                  ) -> tuple[list[tuple[str, str]], str | None]:
    """``(problems, decoder)``: :func:`check_audio`'s problems and which decoder read the file
    (``"libsndfile"``, ``"pyav"``, or None when none could)."""
    from ..audio_io import AudioReadError

    path = trial.audio_path(root)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return [("missing", f"no file at {path}")], None
    except OSError as err:
        return [("unreadable", f"cannot stat: {err}")], None
    if size == 0:
        return [("empty", "file has 0 bytes")], None
    try:
        scan = _decode_checked(path, config)
    except AudioReadError as err:
        return [("unreadable", err.message)], None
    return _decode_problems(scan, path, size) + _content_problems(scan, trial, config), scan.decoder


def _content_problems(scan: _Scan, trial: Trial, config: ValidationConfig) -> list[tuple[str, str]]:
    """Rate, recorded length, clipping and silence."""
    problems: list[tuple[str, str]] = []
    rate, declared = scan.rate, scan.declared
    if config.expect_sr is not None and rate != config.expect_sr:
        problems.append(("wrong_sample_rate", f"{rate} Hz, expected {config.expect_sr} Hz"))
    if trial.sampling_rate is not None and trial.sampling_rate != rate:
        problems.append(("length_mismatch", f"manifest says {trial.sampling_rate} Hz, file is {rate} Hz"))
    elif trial.num_samples is not None and trial.num_samples != declared:
        problems.append(("length_mismatch", f"manifest says {trial.num_samples} samples, file "
                                            f"has {declared}"))
    finite_samples = scan.decoded and scan.non_finite < scan.decoded
    if finite_samples and scan.longest_clip >= config.clip_run:
        problems.append(("clipped", f"{scan.longest_clip} consecutive full-scale samples "
                                    f"(|x| >= {config.clip_level})"))
    if finite_samples and not scan.non_finite and scan.peak < config.silence_peak:
        problems.append(("silent", f"peak {scan.peak:.2e} below {config.silence_peak:.0e}"))
    return problems


def _decode_problems(scan: _Scan, path: Path, size: int) -> list[tuple[str, str]]:
    """Truncation, emptiness and non-finite samples found by the decoding pass."""
    problems: list[tuple[str, str]] = []
    if scan.error is not None or scan.decoded < scan.declared:
        problems.append(("truncated", f"decoding stopped after {scan.decoded} of {scan.declared} "
                                      f"samples: {scan.error or 'no error reported'}"))
    elif path.suffix.lower() == ".wav":
        shortfall = wav_data_shortfall(path, size)
        if shortfall > 0:
            problems.append(("truncated", f"RIFF data chunk declares {shortfall} bytes more than "
                                          f"the file holds"))
    if scan.declared == 0 and scan.decoded == 0:
        problems.append(("no_samples", "audio header is valid but holds no samples"))
    if scan.non_finite:
        problems.append(("non_finite", f"{scan.non_finite} NaN/infinite sample values, first at "
                                       f"sample {scan.first_non_finite} (scoring refuses the clip)"))
    return problems


def wav_data_shortfall(path: Path, size: int) -> int:
    """Bytes the RIFF ``data`` chunk declares beyond the end of the file (0 when complete).

    libsndfile silently reads a cut WAV to its end, so truncation is found from the header.
    """
    import struct

    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        offset = 12
        while True:
            handle.seek(offset)
            chunk = handle.read(8)
            if len(chunk) < 8:
                return 0
            chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):  # streaming writers leave it unset
                    return 0
                return max(0, offset + 8 + chunk_size - size)
            offset += 8 + chunk_size + (chunk_size & 1)


def _longest_run(flags: np.ndarray, run: int, longest: int) -> tuple[int, int]:
    """Update (current run, longest run) of True values across blocks."""
    if not flags.any():
        return 0, longest
    if flags.all():
        run += flags.size
        return run, max(longest, run)
    idx = np.flatnonzero(~flags)
    longest = max(longest, run + int(idx[0]))  # run continuing from the previous block
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if starts.size:
        longest = max(longest, int((ends - starts).max()))
    run = flags.size - 1 - int(idx[-1])
    return run, max(longest, run)


def _rows(path: Path, report: ValidationReport) -> Iterator[tuple[int, Trial]]:
    """Trials of a manifest; bad rows become ``bad_row`` problems instead of stopping."""
    if not path.is_file():
        raise ManifestError("manifest not found", path=path)
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rb") if gz else open(path, "rb")
    with io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                yield number, Trial.from_dict(data)
            except ManifestError as err:
                row_id = data.get("id", "?") if isinstance(data, dict) else "?"
                row_path = data.get("path", "?") if isinstance(data, dict) else "?"
                report.problems.append(Problem("bad_row", str(row_id), str(row_path),
                                               str(err), line=number))
            except (json.JSONDecodeError, TypeError) as err:
                report.problems.append(Problem("bad_row", "?", "?", f"not a trial: {err}",
                                               line=number))


def validate_manifest(manifest: str | os.PathLike, root: str | os.PathLike, *,
                      config: ValidationConfig = ValidationConfig(),
                      write_clean: str | os.PathLike | None = None,
                      progress: bool = True) -> ValidationReport:
    """Check every trial of ``manifest`` under ``root``; optionally write a cleaned manifest.

    With ``write_clean`` the trials without problems go to that path and the rejected ones, with
    their reasons, to ``<write_clean stem>.rejects.jsonl`` beside it (one JSON object per line:
    ``line``, ``id``, ``path``, ``problems``). Both writes are atomic.
    """
    manifest, root = Path(manifest), Path(root)
    if not root.is_dir():
        raise ManifestError("corpus root is not a directory (expected the folder the manifest's "
                            "paths are relative to)", path=root)
    report = ValidationReport(manifest, root)
    seen: dict[str, int] = {}
    bad_lines: set[int] = set()
    bad_by_line: dict[int, list[Problem]] = {}

    def jobs() -> Iterator[tuple[int, Trial]]:
        for number, trial in _rows(manifest, report):
            if trial.id in seen:
                problem = Problem("duplicate_id", trial.id, trial.path,
                                  f"id first used on line {seen[trial.id]}", line=number)
                report.problems.append(problem)
                bad_by_line.setdefault(number, []).append(problem)
            else:
                seen[trial.id] = number
            yield number, trial

    clean: list[tuple[int, Trial]] = []
    with ThreadPoolExecutor(max_workers=max(1, config.workers)) as pool:
        results = _chunked_map(pool, lambda job: (job, inspect_audio(job[1], root, config)),
                               jobs())
        for (number, trial), (found, decoder) in _progress(results, progress, manifest):
            report.checked += 1
            if decoder is not None:
                report.decoders[decoder] = report.decoders.get(decoder, 0) + 1
            for kind, detail in found:
                problem = Problem(kind, trial.id, trial.path, detail, line=number)
                report.problems.append(problem)
                bad_by_line.setdefault(number, []).append(problem)
            if number in bad_by_line:
                bad_lines.add(number)
            elif write_clean is not None:
                clean.append((number, trial))
    report.kept = report.checked - len(bad_lines)
    report.problems.sort(key=lambda p: (p.line or 0, KINDS.index(p.kind)))
    if write_clean is not None:
        _write_clean(Path(write_clean), clean, report)
    return report


def _chunked_map(pool: ThreadPoolExecutor, fn, items, chunk: int = 512):
    """``pool.map`` in bounded chunks, so a long manifest never becomes a million futures."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= chunk:
            yield from pool.map(fn, batch)
            batch = []
    if batch:
        yield from pool.map(fn, batch)


def rejects_path(clean_path: Path) -> Path:
    name = clean_path.name
    for suffix in (".jsonl.gz", ".jsonl"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return clean_path.with_name(f"{name}.rejects.jsonl")


def _write_clean(path: Path, clean: list[tuple[int, Trial]], report: ValidationReport) -> None:
    write_manifest(path, (trial for _, trial in clean))
    grouped: dict[int, list[Problem]] = {}
    for problem in report.problems:
        grouped.setdefault(problem.line or 0, []).append(problem)
    target = rejects_path(path)
    write_text_atomic(target, "".join(
        json.dumps({"line": line, "id": problems[0].trial_id, "path": problems[0].path,
                    "problems": [{"kind": p.kind, "detail": p.detail} for p in problems]},
                   ensure_ascii=False) + "\n"
        for line, problems in sorted(grouped.items())))


def _progress(results, enabled: bool, manifest: Path):
    """Progress over the checked trials; the total is the manifest's non-empty lines (bad rows included)."""
    if not enabled:
        return results
    return show_progress(results, total=count_rows(manifest), desc=f"validating {manifest.name}")


def count_rows(path: Path) -> int:
    """Non-empty lines of a (gzipped or plain) JSON-lines manifest."""
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as handle:
        return sum(1 for line in handle if line.strip())
