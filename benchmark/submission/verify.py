"""``spoofbench verify``: check an untrusted detector submission inside the sandbox; the verdict is ours.

:func:`verify_submission` installs a wheel into a throw-away virtual environment (``python -m venv
--system-site-packages`` plus this interpreter's site-packages, then ``pip install --no-deps --no-index``:
installing a wheel runs none of its code) or takes a zoo preset + checkpoint, and runs the worker
(:mod:`spoofbench.submission.sandbox`) twice inside the isolation boundary of
:mod:`spoofbench.submission.isolation` (bubblewrap: no network, no view of the host's files beyond
the interpreter, the packages and the probe audio, limits on time, memory, processes and file size).

Everything is decided here, from the scores the two runs sent over a pipe: *build* (a Detector with an
InputPolicy), *probe* (one finite score per clip, shape (B,)), *determinism* (the second run and a
second pass of the first give the same scores, compared here), *batch_composition* (each clip alone and
the batch reversed give the same scores within 1e-4), *cost* (the real-time factor is this process's
wall clock over the probe batch; the parameter count is ``verified`` only where this process counts it
without running submitted code, i.e. a zoo detector built from the package's own code with its
checkpoint read by ``torch.load(weights_only=True)``, or a wheel whose reported count equals the element
count of its weight files as read here by :mod:`spoofbench.submission.weights_count` (safetensors
headers, weights-only torch loads; nothing from the wheel runs in this process); otherwise it is
``reported by the submission``, with the files' counts in a note where they differ).
A worker that prints on stdout, exits early or sends nothing is rejected with that reason; nothing
the worker writes anywhere is read back.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_json_atomic
from ..errors import SubmissionError
from .isolation import Limits, Outcome, run_isolated, sandbox_status
from .sandbox import out_of_memory
from .weights_count import WeightsRefused, count_wheel_weights

ENTRY_POINT_GROUP = "spoofbench.detectors"
CHECK_ORDER = ("install", "build", "probe", "determinism", "batch_composition", "cost", "sandbox")
TOLERANCE = 1e-4


@dataclass
class VerificationReport:
    submission: str
    detector: str | None
    passed: bool
    reason: str
    checks: dict = field(default_factory=dict)
    failed_check: str | None = None
    sandbox: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def shipped_probe_clips(n: int = 6) -> list[Path]:
    """Real clips that ship with spoofbench (the demo's vendored speech), a few per source."""
    base = Path(__file__).resolve().parents[2] / "data_manifests" / "demo" / "audio"
    clips = sorted(base.rglob("*.flac")) + sorted(base.rglob("*.wav"))
    if not clips:
        raise SubmissionError(f"no shipped probe clips under {base}")
    step = max(1, len(clips) // n)
    return clips[::step][:n]


def _wheel_detectors(wheel: Path) -> list[str]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
            text = archive.read(names[0]).decode("utf-8") if names else ""
    except (zipfile.BadZipFile, OSError, KeyError, UnicodeDecodeError) as err:
        raise SubmissionError(f"{wheel}: not a readable wheel ({err})") from err
    found, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]").strip()
        elif "=" in line and section == ENTRY_POINT_GROUP:
            found.append(line.split("=", 1)[0].strip())
    return found


def _make_venv(folder: Path, timeout: float) -> Path:
    """A venv that sees this interpreter's packages (torch, spoofbench) behind its own."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(folder)],
                   check=True, capture_output=True, timeout=timeout)
    python = folder / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, timeout=timeout).stdout.strip()
    parents = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(parents))
    Path(purelib, "zz_spoofbench_parent.pth").write_text(lines)
    return python


def install_wheel(wheel: Path, work: Path, timeout: float) -> tuple[Path, str]:
    python = _make_venv(work / "venv", timeout)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(work),
           "PYTHONNOUSERSITE": "1", "TMPDIR": str(work)}
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--no-input",
                           "--disable-pip-version-check", "--no-compile", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise SubmissionError(f"the wheel does not install: {lines[-1].strip() if lines else 'pip failed'}")
    return python, "installed into a throw-away venv (--system-site-packages, pip --no-deps --no-index)"


def zoo_parameter_count(detector: str, preset: str | None, checkpoint: Any) -> int | None:
    """The parameter count of a zoo detector, counted here without running submitted code: the
    package's own builder and the checkpoint read with ``torch.load(weights_only=True)``. None for a
    detector that is not built into spoofbench (a wheel's entry point, a module spec)."""
    from ..models import DETECTORS, build_detector, count_parameters

    if detector not in DETECTORS.builtin_entries():
        return None
    return int(count_parameters(build_detector(detector, preset, checkpoint=checkpoint)))


def verify_submission(submission: str | os.PathLike, *, detector: str | None = None, preset: str | None = None,
                      checkpoint: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None,
                      timeout_s: float = 300.0, memory_mb: int = 8192, seed: int = 0,
                      probe: list[str | os.PathLike] | None = None, keep_work: bool = False,
                      unsafe_no_sandbox: bool = False, processes: int = 64,
                      file_size_mb: int = 256) -> VerificationReport:
    """Verify a wheel (``.whl``) or a zoo detector name (with ``checkpoint``); writes ``verification.json``.

    Returns the report; never raises for a misbehaving submission (its reason is in the report). Where
    bwrap cannot isolate, the submission is rejected unless ``unsafe_no_sandbox`` is given.
    """
    submission = str(submission)
    report = VerificationReport(submission, detector, False, "")
    work = Path(tempfile.mkdtemp(prefix="spoofbench-verify-"))
    limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb, processes=processes, file_size_mb=file_size_mb,
                    max_channel_mb=64)
    try:
        _verify(report, submission, preset, checkpoint, work, limits, seed, probe, unsafe_no_sandbox)
    except SubmissionError as err:
        report.reason = str(err)
        report.failed_check = report.failed_check or "install"
    except subprocess.TimeoutExpired:
        report.reason, report.failed_check = f"installation did not finish within {timeout_s:.0f} s", "install"
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    report.passed = report.failed_check is None
    if report.passed:
        report.reason = "all checks passed"
    if out_dir is not None:
        write_json_atomic(Path(out_dir) / "verification.json", report.to_dict())
    return report


def require_sandbox(unsafe_no_sandbox: bool) -> tuple[str, bool]:
    """``(the isolation this machine gives, whether it runs unsandboxed)``; raises where there is no
    sandbox and no explicit ``--unsafe-no-sandbox`` (which is ignored where the sandbox works)."""
    usable, how = sandbox_status()
    if usable:
        return how, False
    if unsafe_no_sandbox:
        return f"UNSAFE: no sandbox (--unsafe-no-sandbox given; {how})", True
    raise SubmissionError(f"sandbox: {how}; submitted code is never run without it. Install bubblewrap where "
                          "user namespaces are allowed, or pass --unsafe-no-sandbox to run it anyway "
                          "(recorded as such)")


def _verify(report: VerificationReport, submission: str, preset: str | None, checkpoint: Any, work: Path,
            limits: Limits, seed: int, probe: list | None, unsafe: bool) -> None:
    python = Path(sys.executable)
    read_only: list[Path] = []
    if submission.endswith(".whl"):
        wheel = Path(submission)
        if not wheel.is_file():
            raise SubmissionError(f"{wheel}: no such wheel")
        names = _wheel_detectors(wheel)
        if not names:
            raise SubmissionError(f"{wheel.name}: declares no '{ENTRY_POINT_GROUP}' entry point")
        report.detector = report.detector or names[0]
        report.failed_check = "install"
        python, how = install_wheel(wheel, work, min(limits.timeout_s, 300))
        report.failed_check = None
        read_only.append(work / "venv")
        report.checks["install"] = {"ok": True, "how": how, "entry_points": names}
    else:
        report.detector = report.detector or submission
        report.checks["install"] = {"ok": True, "how": "zoo detector of this installation",
                                    "checkpoint": str(checkpoint) if checkpoint else None}
        if checkpoint:
            read_only.append(Path(checkpoint).resolve())
    report.failed_check = "sandbox"
    isolation, unsafe = require_sandbox(unsafe)
    report.failed_check = None
    report.notes.append(isolation)
    clips = [Path(p).resolve() for p in (probe or shipped_probe_clips())]
    request = {"detector": report.detector, "preset": preset, "checkpoint": str(Path(checkpoint).resolve())
               if checkpoint else None, "seed": seed, "threads": 1}
    report.sandbox = {"isolation": isolation, "unsafe_no_sandbox": unsafe,
                      **asdict(limits)}
    n = len(clips)
    batches = [["full", list(range(n))], ["again", list(range(n))], ["reversed", list(reversed(range(n)))],
               *[[f"single:{i}", [i]] for i in range(n)]]
    first = _run(python, request, clips, batches, read_only + clips, limits, unsafe)
    report.sandbox["seconds"] = [round(first.outcome.seconds, 2)]
    if _failed(report, first, limits):
        return
    second = _run(python, request, clips, [["full", list(range(n))]], read_only + clips, limits, unsafe)
    report.sandbox["seconds"].append(round(second.outcome.seconds, 2))
    if _failed(report, second, limits, run_name="second run"):
        return
    if not _judge(report, first, second, clips, n, seed):
        return
    if submission.endswith(".whl"):
        _match_weight_files(report, Path(submission), work / "weights")
        return
    try:
        counted = zoo_parameter_count(report.detector, preset, checkpoint)
    except Exception as err:  # noqa: BLE001 - the package's own code and a weights-only load: its error, one line
        _fail(report, "cost", f"counting the parameters failed: {str(err).splitlines()[0][:200]}")
        return
    cost = report.checks["cost"]
    if counted is not None:
        cost.update(parameters=counted, parameters_verified=True,
                    parameters_source="counted by the operator (zoo detector, weights-only checkpoint)")
    else:
        cost.update(parameters_verified=False, parameters_source="reported by the submission")


def _match_weight_files(report: VerificationReport, wheel: Path, scratch: Path) -> None:
    """Compare the count the submission reported with its wheel's weight files, read here without running
    anything from them (:mod:`spoofbench.submission.weights_count`): equal to one file's count, or all
    files' together, makes it ``verified``; otherwise it stays ``reported by the submission``, with a note."""
    cost = report.checks["cost"]
    cost.update(parameters_verified=False, parameters_source="reported by the submission")
    try:
        weights = count_wheel_weights(wheel, scratch)
    except WeightsRefused as err:
        report.notes.append(f"parameters: the wheel's weight files were not read ({err})")
        return
    if not weights.files:
        return
    cost["parameters_weight_files"] = weights.to_list()
    for refused in (f for f in weights.files if f.refused):
        report.notes.append(f"parameters: weight file {refused.name} not counted: {refused.refused}")
    reported, candidates = cost.get("parameters"), weights.candidates()
    matched = weights.match(reported)
    if matched is not None:
        cost.update(parameters_verified=True,
                    parameters_source=f"matched the wheel's weight files ({matched[:160]})")
        return
    if candidates:
        cost["parameters_counted_from_files"] = candidates
        counts = " or ".join(f"{count:,}" for count in dict.fromkeys(candidates.values()))
        cost["parameters_source"] = f"reported by the submission; its weight files hold {counts}"
        held = "; ".join(f"{count:,} ({what[:160]})" for what, count in candidates.items())
        shown = f"{reported:,}" if isinstance(reported, int) else repr(reported)[:40]
        report.notes.append(f"parameters: the submission reports {shown} parameters; its weight files hold "
                            f"{held} (kept as reported by the submission)")


@dataclass
class _Run:
    outcome: Outcome
    probe_sent: float | None = None


def _run(python: Path, request: dict, clips: list[Path], batches: list, read_only: list[Path], limits: Limits,
         unsafe: bool) -> _Run:
    run = _Run(Outcome())

    def on_message(message: dict, arrival: float) -> dict | None:
        if message["type"] == "built" and run.probe_sent is None:
            run.probe_sent = arrival
            return {"probe": [str(c) for c in clips], "batches": batches}
        return None

    run.outcome = run_isolated(python, ["verify"], read_only, limits, request, on_message, unsafe_no_sandbox=unsafe)
    return run


def _failed(report: VerificationReport, run: _Run, limits: Limits, run_name: str = "") -> bool:
    """Reject a run that was killed, failed, printed, or ended without sending everything."""
    outcome = run.outcome
    stage = outcome.last_stage()
    stage = "build" if stage == "start" else stage
    where = f" ({run_name})" if run_name else ""
    errors = [m for m in outcome.messages if m["type"] == "error"]
    done = any(m["type"] == "done" for m in outcome.messages)
    memory_hint = (f"exceeded the memory limit (--memory-mb {limits.memory_mb}: the address space of the "
                   "whole worker, torch's shared libraries included; raise --memory-mb if the detector needs more)")
    tail = [line for line in outcome.stderr.splitlines() if line.strip()]
    if outcome.killed:
        return _fail(report, stage, f"{outcome.killed} during the {stage} check{where}")
    if errors:
        error = errors[0]
        kind, text = str(error.get("kind")), str(error.get("reason", ""))[:300]
        if kind == "network":
            return _fail(report, "sandbox", f"network use refused: {text}")
        if kind == "memory":
            return _fail(report, stage, f"{memory_hint} during the {stage} check{where}: {text}")
        return _fail(report, stage, f"{text} (during the {stage} check{where})")
    if outcome.stdout.strip():
        printed = outcome.stdout.decode(errors="replace").strip().splitlines()[0][:80]
        return _fail(report, "stdout", f"the detector printed to stdout ({printed!r}); a detector must log to "
                                       "stderr or a logger")
    if (not done or outcome.returncode != 0) and any(out_of_memory(line) for line in tail[-5:]):
        return _fail(report, stage, f"{memory_hint} during the {stage} check{where}: {tail[-1][:200]}")
    if not done:
        return _fail(report, stage, f"the worker exited with {outcome.returncode} during the {stage} check{where} "
                                    "without sending all its scores (an early exit is a rejection)"
                     + (f": {tail[-1][:200]}" if tail else ""))
    if outcome.returncode != 0:
        return _fail(report, stage, f"the worker exited with {outcome.returncode} after its scores{where}")
    return False


def _scores(run: _Run) -> dict[str, dict]:
    return {str(m.get("batch")): m for m in run.outcome.messages if m["type"] == "scores"}


def _values(message: dict | None, n: int) -> list[float] | None:
    """The ``n`` scores of a message whose shape is (n,), as floats; None otherwise."""
    if message is None or message.get("shape") != [n]:
        return None
    values = message.get("values")
    if not isinstance(values, list) or len(values) != n:
        return None
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def _judge(report: VerificationReport, first: _Run, second: _Run, clips: list[Path], n: int, seed: int) -> bool:
    built = next((m for m in first.outcome.messages if m["type"] == "built"), None)
    if built is None or not built.get("is_detector") or not isinstance(built.get("input_policy"), dict):
        return not _fail(report, "build", "the detector does not declare an InputPolicy (input_policy)")
    report.checks["build"] = {"ok": True, "name": built.get("name"), "sample_rate": built.get("sample_rate"),
                              "input_policy": built["input_policy"]}
    one = _scores(first)
    full = _values(one.get("full"), n)
    if full is None:
        shape = tuple((one.get("full") or {}).get("shape") or ())
        return not _fail(report, "probe", f"scores of shape {shape} for a batch of {n} clips; expected ({n},)")
    bad = sum(1 for v in full if not math.isfinite(v))
    if bad:
        return not _fail(report, "probe", f"{bad} of {n} scores are NaN or infinite")
    report.checks["probe"] = {"ok": True, "n_clips": n, "scores": full}
    again, other = _values(one.get("again"), n), _values(_scores(second).get("full"), n)
    if again != full or other != full:
        diffs = [abs(a - b) for xs in (again, other) if xs is not None for a, b in zip(xs, full)]
        worst = max(diffs) if diffs else float("nan")
        return not _fail(report, "determinism", f"two runs with seed {seed} differ (largest score difference "
                                                f"{worst:.3g}; compared by the operator)")
    report.checks["determinism"] = {"ok": True, "seed": seed, "runs": 2}
    reversed_scores = _values(one.get("reversed"), n)
    singles = [(_values(one.get(f"single:{i}"), 1) or [float("nan")])[0] for i in range(n)]
    if reversed_scores is None:
        return not _fail(report, "batch_composition", "no scores of shape (B,) for the reversed batch")
    reversed_by_clip = list(reversed(reversed_scores))
    worst = max(abs(x - r) for xs in (singles, reversed_by_clip) for x, r in zip(xs, full))
    if not math.isfinite(worst) or any(abs(x - r) > TOLERANCE * max(1.0, abs(r))
                                       for xs in (singles, reversed_by_clip) for x, r in zip(xs, full)):
        return not _fail(report, "batch_composition", f"a clip's score depends on the rest of its batch "
                                                      f"(largest change {worst:.3g})")
    report.checks["batch_composition"] = {"ok": True, "largest_change": worst}
    arrival = one["full"]["_at"]
    probe_seconds = max(0.0, arrival - (first.probe_sent or arrival))
    audio_seconds = _audio_seconds(clips)
    report.checks["cost"] = {"ok": True, "parameters": built.get("parameters"), "buffers": built.get("buffers"),
                             "real_time_factor": probe_seconds / audio_seconds if audio_seconds else None,
                             "probe_seconds": probe_seconds, "probe_audio_seconds": audio_seconds, "threads": 1,
                             "timing": "the operator's wall clock from sending the probe to receiving its scores "
                                       "(clip decoding included)"}
    return True


def _audio_seconds(clips: list[Path]) -> float:
    import soundfile

    return float(sum(soundfile.info(str(c)).duration for c in clips))


def _fail(report: VerificationReport, check: str, reason: str) -> bool:
    reason = " ".join(reason.split())
    report.failed_check, report.reason = check, f"{check}: {reason}"
    report.checks[check] = {**report.checks.get(check, {}), "ok": False, "reason": reason}
    return True
