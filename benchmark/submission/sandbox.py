"""The worker that runs submitted code, started inside the sandbox by :mod:`.isolation`:
``python -I -m spoofbench.submission.sandbox MODE --channel FD``.

It only *reports*; every verdict is the parent's. Requests arrive as JSON lines on stdin; data goes
back as JSON lines on the channel fd (``stage``, ``built``, ``scores``, ``file_*``, ``error``,
``done``). Nothing is written for the parent to read later, and stdout is left to the parent, which
rejects anything printed there. Modes:

``verify``
    build the detector (first request), report what it declares, then score the probe clips of the
    second request in each batching it names (``[[i, j, ...], ...]``), one ``scores`` message each.
``score``
    build the detector and score every test set × condition of the request with
    :func:`spoofbench.engine.score` (the operator's scoring config), streaming each score file back.

Importing a network library is refused by an audit hook as a matter of policy (the network namespace
has no route anyway; the hook is a message, not the boundary).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

_NETWORK_MODULES = ("requests", "urllib3", "httpx", "aiohttp", "websocket", "paramiko", "ftplib", "smtplib")
_CHUNK = 1 << 18


class NetworkRefused(RuntimeError):
    pass


def _audit(event: str, args: tuple) -> None:
    if event == "import" and args and str(args[0]).split(".")[0] in _NETWORK_MODULES:
        raise NetworkRefused(f"importing the network library {args[0]!r} is refused in the sandbox")


def out_of_memory(text: str) -> bool:
    """True when ``text`` (an error message or stderr line) says an allocation failed: Python's
    MemoryError, C++'s ``std::bad_alloc`` (torch), the C library's "cannot allocate memory", or the
    dynamic loader's "failed to map segment" (a shared library that no longer fits the address space)."""
    low = text.lower()
    return any(sign in low for sign in ("memoryerror", "bad_alloc", "allocate memory", "out of memory",
                                        "failed to map segment"))


class _Channel:
    def __init__(self, fd: int):
        self.stream = os.fdopen(fd, "w", encoding="utf-8", closefd=True)

    def send(self, message_type: str, **fields: Any) -> None:
        self.stream.write(json.dumps({"type": message_type, **fields}) + "\n")
        self.stream.flush()


def _request() -> dict:
    line = sys.stdin.readline()
    if not line:
        raise SystemExit(0)
    return json.loads(line)


def _build(request: dict):
    import torch
    from spoofbench.models import build_detector

    torch.manual_seed(int(request.get("seed", 0)))
    detector = build_detector(request["detector"], request.get("preset"), checkpoint=request.get("checkpoint"))
    detector.eval()
    return detector


def _described(detector) -> dict:
    from spoofbench.models import Detector, InputPolicy, count_parameters

    policy = getattr(detector, "input_policy", None)
    return {"is_detector": isinstance(detector, Detector), "name": str(getattr(detector, "name", "")),
            "sample_rate": int(getattr(detector, "sample_rate", 0) or 0),
            "input_policy": policy.to_dict() if isinstance(policy, InputPolicy) else None,
            "parameters": int(count_parameters(detector)),
            "buffers": int(sum(b.numel() for b in detector.buffers()))}


def _scores(detector, waves: list, order: list[int]) -> dict:
    import torch
    from spoofbench.models import collate

    batch = [detector.input_policy.apply(waves[i], train=False) for i in order]
    x, lengths = collate(batch)
    with torch.no_grad():
        out = torch.as_tensor(detector.score(x, lengths)).detach().to(torch.float64).cpu()
    return {"shape": list(out.shape), "values": out.flatten()[: 4 * len(order)].tolist()}


def run_verify(channel: _Channel) -> None:
    from spoofbench.audio_io import read_audio

    request = _request()
    import torch
    torch.set_num_threads(int(request.get("threads", 1)))
    channel.send("stage", stage="build")
    detector = _build(request)
    channel.send("built", **_described(detector))
    probe = _request()
    channel.send("stage", stage="probe")
    waves = [read_audio(path, sample_rate=detector.sample_rate)[0] for path in probe["probe"]]
    channel.send("stage", stage="scoring")
    for label, order in probe["batches"]:
        channel.send("scores", batch=label, order=order, **_scores(detector, waves, order))
    channel.send("done")


def run_score(channel: _Channel) -> None:
    from spoofbench.engine import ScoreConfig, score

    request = _request()
    channel.send("stage", stage="build")
    detector = _build(request)
    channel.send("built", **_described(detector))
    out = Path.cwd() / "scores"  # the private working folder (/tmp inside the sandbox)
    config = ScoreConfig(**request["config"])
    for test in request["test_sets"]:
        channel.send("stage", stage=f"scoring {test['name']}")
        result = score(detector, test["manifest"], root=test["root"], out_dir=out, testset=test["name"],
                       config=config, progress=False)
        for file in result.files:
            failed = file.failed.read_text(errors="replace").splitlines()[:3] if file.n_failed else []
            channel.send("file_start", name=file.scores.name, n_failed=file.n_failed, failures=failed)
            with open(file.scores, encoding="utf-8") as handle:
                while chunk := handle.read(_CHUNK):
                    channel.send("file_data", name=file.scores.name, data=chunk)
            channel.send("file_end", name=file.scores.name)
    channel.send("done")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    mode = argv[0]
    channel = _Channel(int(argv[argv.index("--channel") + 1]))
    import numpy  # noqa: F401  (the worker's own dependencies load before the hook)
    import spoofbench.engine
    import spoofbench.models  # noqa: F401
    import torch  # noqa: F401
    sys.addaudithook(_audit)
    try:
        {"verify": run_verify, "score": run_score}[mode](channel)
    except NetworkRefused as err:
        channel.send("error", kind="network", reason=str(err))
        return 3
    except MemoryError:
        channel.send("error", kind="memory", reason="MemoryError")
        return 4
    except BaseException as err:  # noqa: BLE001 - the submission's own failure (SystemExit too), in one line
        text = f"{type(err).__name__}: {err}".splitlines()[0][:300] if str(err) else type(err).__name__
        channel.send("error", kind="memory" if out_of_memory(text) else "error", reason=text)
        return 5
    return 0


if __name__ == "__main__":
    sys.exit(main())
