"""The worker ``spoofbench verify`` starts in a separate, limited process: ``python -m spoofbench.reproduce.sandbox REQUEST``.

It builds the submitted detector and runs the checks, writing ``progress.json`` (the stage now running)
and ``result.json`` (every check so far) into the request's folder after each stage, so the parent can
name the stage a killed worker was in. Network use is refused by an audit hook (socket creation,
connection and name look-ups raise; importing requests/urllib3/httpx/aiohttp is recorded as a violation).
Anything the detector prints to stdout lands in ``stdout.txt`` (fd 1 is redirected) and fails a check.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spoofbench.atomic import write_text_atomic  # imported up front: the worker may run out of memory later

_NETWORK_MODULES = ("requests", "urllib3", "httpx", "aiohttp", "websocket", "paramiko", "ftplib", "smtplib")
_NETWORK_EVENTS = ("socket.__new__", "socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.bind")
violations: list[str] = []


class NetworkRefused(RuntimeError):
    pass


def _audit(event: str, args: tuple) -> None:
    if event in _NETWORK_EVENTS:
        violations.append(f"{event}{args[:2]!r}")
        raise NetworkRefused(f"network access refused in verification ({event})")
    if event == "import" and args and str(args[0]).split(".")[0] in _NETWORK_MODULES:
        violations.append(f"import {args[0]}")
        raise NetworkRefused(f"importing the network library {args[0]!r} is refused in verification")


def _write(folder: Path, name: str, data: Any) -> None:
    write_text_atomic(folder / name, json.dumps(data, default=str))


def _probe_waves(paths: list[str], rate: int):
    from spoofbench.audio_io import read_audio

    waves = []
    for path in paths:
        wave, _ = read_audio(path, sample_rate=rate)
        waves.append(wave)
    return waves


def _score(detector, waves: list, order: list[int] | None = None):
    import torch
    from spoofbench.models import collate

    order = order or list(range(len(waves)))
    batch = [detector.input_policy.apply(waves[i], train=False) for i in order]
    x, lengths = collate(batch)
    with torch.no_grad():
        out = detector.score(x, lengths)
    out = torch.as_tensor(out).detach().to(torch.float64).cpu()
    result = [None] * len(waves)
    for slot, i in enumerate(order):
        result[i] = out[slot].item() if out.dim() == 1 and out.shape[0] == len(order) else None
    return out, result


def _build(request: dict, seed: int):
    import torch
    from spoofbench.models import build_detector

    torch.manual_seed(seed)
    detector = build_detector(request["detector"], request.get("preset"), checkpoint=request.get("checkpoint"))
    detector.eval()
    return detector


class _CheckFailed(Exception):
    """A check's verdict: the submission fails it for ``reason``."""


class _Progress:
    """``progress.json`` (the stage now running) and ``result.json`` (every check so far) of a request folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.current = ""
        self.checks: dict[str, Any] = {}
        self.result: dict[str, Any] = {"checks": self.checks, "failed": None}

    def stage(self, name: str) -> None:
        self.current = name
        _write(self.folder, "progress.json", {"stage": name})
        _write(self.folder, "result.json", self.result)

    def passed(self, record: dict) -> None:
        self.checks[self.current] = {"ok": True, **record}

    def fail(self, reason: str) -> dict:
        self.checks[self.current] = {"ok": False, "reason": reason}
        self.result["failed"] = {"check": self.current, "reason": reason}
        _write(self.folder, "result.json", self.result)
        return self.result

    def finish(self) -> dict:
        _write(self.folder, "progress.json", {"stage": "done"})
        _write(self.folder, "result.json", self.result)
        return self.result


@dataclass
class _Probe:
    """The probe clips and the detector's first scores of them (one batch, in order)."""

    waves: list
    out: Any            # the raw score tensor, float64
    scores: list        # per clip, None where the output has the wrong shape
    seconds: float


def run_checks(request: dict, folder: Path) -> dict:
    """The checks in order; the first that fails stops the rest."""
    import torch

    torch.set_num_threads(int(request.get("threads", 1)))
    seed = int(request.get("seed", 0))
    progress = _Progress(folder)
    try:
        progress.stage("build")
        detector = _build(request, seed)
        progress.passed(_check_build(detector))
        progress.stage("probe")
        probe = _run_probe(detector, request["probe"])
        progress.passed(_check_probe(probe))
        progress.stage("determinism")
        progress.passed(_check_determinism(request, seed, detector, probe))
        progress.stage("batch_composition")
        progress.passed(_check_batch_composition(detector, probe))
        progress.stage("cost")
        progress.passed(_cost(detector, probe))
    except _CheckFailed as failed:
        return progress.fail(str(failed))
    return progress.finish()


def _check_build(detector) -> dict:
    from spoofbench.models import Detector, InputPolicy

    if not isinstance(detector, Detector) or not isinstance(getattr(detector, "input_policy", None), InputPolicy):
        raise _CheckFailed("the detector does not declare an InputPolicy (input_policy)")
    return {"name": getattr(detector, "name", None), "sample_rate": detector.sample_rate,
            "input_policy": detector.input_policy.to_dict()}


def _run_probe(detector, paths: list[str]) -> _Probe:
    waves = _probe_waves(paths, detector.sample_rate)
    started = time.perf_counter()
    out, scores = _score(detector, waves)
    return _Probe(waves, out, scores, time.perf_counter() - started)


def _check_probe(probe: _Probe) -> dict:
    """One finite score per clip."""
    import torch

    n = len(probe.waves)
    if probe.out.dim() != 1 or probe.out.shape[0] != n:
        raise _CheckFailed(f"scores of shape {tuple(probe.out.shape)} for a batch of {n} clips; expected ({n},)")
    if not torch.isfinite(probe.out).all():
        bad = int((~torch.isfinite(probe.out)).sum())
        raise _CheckFailed(f"{bad} of {n} scores are NaN or infinite")
    return {"n_clips": n, "scores": probe.scores}


def _check_determinism(request: dict, seed: int, detector, probe: _Probe) -> dict:
    """A second build with the same seed, and a second pass of the first, give the same scores."""
    import torch

    again = _score(_build(request, seed), probe.waves)[0]
    if not torch.equal(again, _score(detector, probe.waves)[0]) or not torch.equal(again, probe.out):
        diff = float((again - probe.out).abs().max())
        raise _CheckFailed(f"two runs with seed {seed} differ (largest score difference {diff:.3g})")
    return {"seed": seed}


def _check_batch_composition(detector, probe: _Probe) -> dict:
    """A clip scores the same alone and in a reversed batch (relative tolerance 1e-4)."""
    import numpy as np

    waves = probe.waves
    singles = np.array([_score(detector, [w])[1][0] for w in waves], dtype=np.float64)
    shuffled = np.array(_score(detector, waves, list(reversed(range(len(waves)))))[1], dtype=np.float64)
    reference = np.asarray(probe.scores, dtype=np.float64)
    tolerance = 1e-4 * np.maximum(1.0, np.abs(reference))
    worst = float(max(np.abs(singles - reference).max(), np.abs(shuffled - reference).max()))
    if (np.abs(singles - reference) > tolerance).any() or (np.abs(shuffled - reference) > tolerance).any():
        raise _CheckFailed(f"a clip's score depends on the rest of its batch (largest change {worst:.3g})")
    return {"largest_change": worst}


def _cost(detector, probe: _Probe) -> dict:
    """Parameters, buffers and the real-time factor of the probe batch (always passes)."""
    import torch
    from spoofbench.models import count_parameters

    audio_seconds = sum(len(w) for w in probe.waves) / detector.sample_rate
    return {"parameters": count_parameters(detector),
            "buffers": int(sum(b.numel() for b in detector.buffers())),
            "real_time_factor": probe.seconds / audio_seconds if audio_seconds else None,
            "probe_seconds": probe.seconds, "probe_audio_seconds": audio_seconds,
            "threads": torch.get_num_threads()}


def out_of_memory(text: str) -> bool:
    """True when ``text`` (an error message or stderr line) says an allocation failed: Python's
    MemoryError, C++'s ``std::bad_alloc`` (torch), or the C library's "cannot allocate memory"."""
    low = text.lower()
    return any(sign in low for sign in ("memoryerror", "bad_alloc", "allocate memory", "out of memory"))


def main(argv: list[str] | None = None) -> int:
    request_path = Path((argv or sys.argv[1:])[0])
    folder = request_path.parent
    request = json.loads(request_path.read_text())
    # Anything printed to stdout (Python or C level) goes to a file the parent inspects.
    stdout_file = open(folder / "stdout.txt", "w")
    os.dup2(stdout_file.fileno(), 1)
    sys.stdout = stdout_file
    import numpy  # noqa: F401  (the worker's own dependencies load before the hook)
    import torch  # noqa: F401
    import spoofbench.models  # noqa: F401
    sys.addaudithook(_audit)
    try:
        run_checks(request, folder)
    except NetworkRefused as err:
        _write(folder, "error.json", {"kind": "network", "reason": str(err), "violations": violations})
        return 3
    except MemoryError:
        _write(folder, "error.json", {"kind": "memory", "reason": "the detector exceeded the memory limit"})
        return 4
    except BaseException as err:  # the submission's own failure, reported in one line
        text = f"{type(err).__name__}: {err}".splitlines()[0][:300] if str(err) else type(err).__name__
        kind = "memory" if out_of_memory(str(err)) else "error"
        _write(folder, "error.json", {"kind": kind, "reason": text, "violations": violations})
        return 5
    finally:
        sys.stdout.flush()
    if violations:
        _write(folder, "error.json", {"kind": "network", "reason": "network use: " + "; ".join(violations[:3]),
                                      "violations": violations})
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
