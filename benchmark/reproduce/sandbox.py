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
from pathlib import Path
from typing import Any

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
    tmp = folder / f".{name}.tmp"
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, folder / name)


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


def run_checks(request: dict, folder: Path) -> dict:
    """The checks in order; the first that fails stops the rest."""
    import numpy as np
    import torch

    torch.set_num_threads(int(request.get("threads", 1)))
    checks: dict[str, Any] = {}
    result = {"checks": checks, "failed": None}

    def stage(name: str) -> None:
        _write(folder, "progress.json", {"stage": name})
        _write(folder, "result.json", result)

    def fail(name: str, reason: str) -> dict:
        checks[name] = {"ok": False, "reason": reason}
        result["failed"] = {"check": name, "reason": reason}
        _write(folder, "result.json", result)
        return result

    seed = int(request.get("seed", 0))
    stage("build")
    detector = _build(request, seed)
    from spoofbench.models import Detector, InputPolicy
    if not isinstance(detector, Detector) or not isinstance(getattr(detector, "input_policy", None), InputPolicy):
        return fail("build", "the detector does not declare an InputPolicy (input_policy)")
    checks["build"] = {"ok": True, "name": getattr(detector, "name", None), "sample_rate": detector.sample_rate,
                       "input_policy": detector.input_policy.to_dict()}
    stage("probe")
    waves = _probe_waves(request["probe"], detector.sample_rate)
    started = time.perf_counter()
    out, scores = _score(detector, waves)
    seconds = time.perf_counter() - started
    if out.dim() != 1 or out.shape[0] != len(waves):
        return fail("probe", f"scores of shape {tuple(out.shape)} for a batch of {len(waves)} clips; expected ({len(waves)},)")
    if not torch.isfinite(out).all():
        bad = int((~torch.isfinite(out)).sum())
        return fail("probe", f"{bad} of {len(waves)} scores are NaN or infinite")
    checks["probe"] = {"ok": True, "n_clips": len(waves), "scores": scores}
    stage("determinism")
    again = _score(_build(request, seed), waves)[0]
    if not torch.equal(again, _score(detector, waves)[0]) or not torch.equal(again, out):
        diff = float((again - out).abs().max())
        return fail("determinism", f"two runs with seed {seed} differ (largest score difference {diff:.3g})")
    checks["determinism"] = {"ok": True, "seed": seed}
    stage("batch_composition")
    singles = np.array([_score(detector, [w])[1][0] for w in waves], dtype=np.float64)
    shuffled = np.array(_score(detector, waves, list(reversed(range(len(waves)))))[1], dtype=np.float64)
    reference = np.asarray(scores, dtype=np.float64)
    tolerance = 1e-4 * np.maximum(1.0, np.abs(reference))
    worst = float(max(np.abs(singles - reference).max(), np.abs(shuffled - reference).max()))
    if (np.abs(singles - reference) > tolerance).any() or (np.abs(shuffled - reference) > tolerance).any():
        return fail("batch_composition", f"a clip's score depends on the rest of its batch (largest change {worst:.3g})")
    checks["batch_composition"] = {"ok": True, "largest_change": worst}
    stage("cost")
    from spoofbench.models import count_parameters
    audio_seconds = sum(len(w) for w in waves) / detector.sample_rate
    checks["cost"] = {"ok": True, "parameters": count_parameters(detector),
                      "buffers": int(sum(b.numel() for b in detector.buffers())),
                      "real_time_factor": seconds / audio_seconds if audio_seconds else None,
                      "probe_seconds": seconds, "probe_audio_seconds": audio_seconds,
                      "threads": torch.get_num_threads()}
    _write(folder, "progress.json", {"stage": "done"})
    _write(folder, "result.json", result)
    return result


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


def out_of_memory(text: str) -> bool:
    """True when ``text`` (an error message or stderr line) says an allocation failed: Python's
    MemoryError, C++'s ``std::bad_alloc`` (torch), or the C library's "cannot allocate memory"."""
    low = text.lower()
    return any(sign in low for sign in ("memoryerror", "bad_alloc", "allocate memory", "out of memory"))
