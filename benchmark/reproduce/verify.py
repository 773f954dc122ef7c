"""``spoofbench verify``: check an untrusted detector submission in a separate, limited process.

:func:`verify_submission` installs a wheel into a throw-away virtual environment
(``python -m venv --system-site-packages`` plus this interpreter's site-packages, then
``pip install --no-deps --no-index``) or takes a zoo preset + checkpoint, and runs
:mod:`spoofbench.reproduce.sandbox` in a child process with a wall-clock limit, an address-space limit
(``RLIMIT_AS``), no network (a new network namespace via ``unshare -rn`` where the kernel allows it,
else a note; an audit hook refuses sockets in any case), a scrubbed environment and a private working
folder (no key files are ever given to it). Checks: build + input policy, a probe batch of real
shipped clips (finite scores of shape (B,)), same-seed determinism, batch-composition independence,
then the measured parameter count and real-time factor. The first failing check stops the run with
its reason; ``verification.json`` holds the report.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_json_atomic
from ..errors import SubmissionError
from .sandbox import out_of_memory

ENTRY_POINT_GROUP = "spoofbench.detectors"
CHECK_ORDER = ("install", "build", "probe", "determinism", "batch_composition", "cost", "sandbox")


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
    except (zipfile.BadZipFile, OSError, KeyError) as err:
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


def _install_wheel(wheel: Path, work: Path, timeout: float) -> tuple[Path, str]:
    python = _make_venv(work / "venv", timeout)
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--no-input",
                           "--disable-pip-version-check", "-q", str(wheel)],
                          capture_output=True, text=True, timeout=timeout, env=_clean_env(work))
    if done.returncode != 0:
        lines = [l for l in (done.stderr or done.stdout).splitlines() if l.strip()]
        raise SubmissionError(f"the wheel does not install: {lines[-1].strip() if lines else 'pip failed'}")
    return python, "installed into a throw-away venv (--system-site-packages, pip --no-deps --no-index)"


def _clean_env(work: Path) -> dict[str, str]:
    """No credentials, no proxies, no user site: only what Python needs."""
    keep = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(work),
            "PYTHONNOUSERSITE": "1", "TMPDIR": str(work), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return keep


def network_isolation() -> tuple[list[str], str]:
    """The command prefix that removes the network, and a note saying what was achieved."""
    tool = shutil.which("unshare")
    if tool:
        for prefix in ([tool, "-n"], [tool, "-rn"]):
            try:
                ok = subprocess.run(prefix + ["true"], capture_output=True, timeout=10).returncode == 0
            except (OSError, subprocess.SubprocessError):
                ok = False
            if ok:
                return prefix, f"no network: a new network namespace ({' '.join(Path(prefix[0]).name.split() + prefix[1:])})"
    return [], ("network namespace NOT available here (unshare missing or not permitted): only the in-process "
                "audit hook refuses sockets and network libraries")


def _limits(memory_bytes: int):
    def apply() -> None:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def verify_submission(submission: str | os.PathLike, *, detector: str | None = None, preset: str | None = None,
                      checkpoint: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None,
                      timeout_s: float = 300.0, memory_mb: int = 8192, seed: int = 0,
                      probe: list[str | os.PathLike] | None = None, keep_work: bool = False) -> VerificationReport:
    """Verify a wheel (``.whl``) or a zoo detector name (with ``checkpoint``); writes ``verification.json``.

    Returns the report; never raises for a misbehaving submission (its reason is in the report).
    """
    submission = str(submission)
    report = VerificationReport(submission, detector, False, "")
    work = Path(tempfile.mkdtemp(prefix="spoofbench-verify-"))
    try:
        _verify(report, submission, preset, checkpoint, work, timeout_s, memory_mb, seed, probe)
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


def _verify(report: VerificationReport, submission: str, preset: str | None, checkpoint: Any, work: Path,
            timeout_s: float, memory_mb: int, seed: int, probe: list | None) -> None:
    python = Path(sys.executable)
    if submission.endswith(".whl"):
        wheel = Path(submission)
        if not wheel.is_file():
            raise SubmissionError(f"{wheel}: no such wheel")
        names = _wheel_detectors(wheel)
        if not names:
            raise SubmissionError(f"{wheel.name}: declares no '{ENTRY_POINT_GROUP}' entry point")
        report.detector = report.detector or names[0]
        report.failed_check = "install"
        python, how = _install_wheel(wheel, work, min(timeout_s, 300))
        report.failed_check = None
        report.checks["install"] = {"ok": True, "how": how, "entry_points": names}
    else:
        report.detector = report.detector or submission
        report.checks["install"] = {"ok": True, "how": "zoo detector of this installation",
                                    "checkpoint": str(checkpoint) if checkpoint else None}
    clips = [str(Path(p).resolve()) for p in (probe or shipped_probe_clips())]
    request = {"detector": report.detector, "preset": preset, "checkpoint": str(checkpoint) if checkpoint else None,
               "seed": seed, "probe": clips, "threads": 1}
    folder = work / "sandbox"
    folder.mkdir()
    (folder / "request.json").write_text(json.dumps(request))
    _run_sandbox(report, python, folder, timeout_s, memory_mb)


def _run_sandbox(report: VerificationReport, python: Path, folder: Path, timeout_s: float, memory_mb: int) -> None:
    prefix, note = network_isolation()
    report.notes.append(note)
    report.notes.append("keys and score files are never given to the worker; it runs in a private temporary folder "
                        "with a scrubbed environment (filesystem reads are not otherwise restricted)")
    command = prefix + [str(python), "-m", "spoofbench.reproduce.sandbox", str(folder / "request.json")]
    report.sandbox = {"timeout_s": timeout_s, "memory_mb": memory_mb, "network": note, "command": command[-4:]}
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=folder, env=_clean_env(folder), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_limits(memory_mb * 1024 * 1024))
    try:
        _, stderr = proc.communicate(timeout=timeout_s)
        killed = None
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        _, stderr = proc.communicate()
        killed = f"killed at the wall-clock limit ({timeout_s:.0f} s)"
    report.sandbox["seconds"] = round(time.monotonic() - started, 2)
    result = _read(folder / "result.json") or {"checks": {}, "failed": None}
    stage = (_read(folder / "progress.json") or {}).get("stage", "start")
    error = _read(folder / "error.json")
    report.checks.update(result.get("checks", {}))
    printed = (folder / "stdout.txt").read_text(errors="replace").strip() if (folder / "stdout.txt").exists() else ""
    failure = result.get("failed")
    if killed:
        _fail(report, stage, f"{killed} during the {stage} check")
    elif failure:
        _fail(report, failure["check"], failure["reason"])
    elif error:
        why = {"network": "network use refused", "memory": f"exceeded the memory limit ({memory_mb} MB)"}.get(error["kind"])
        _fail(report, "sandbox" if error["kind"] == "network" else stage,
              f"{why}: {error['reason']}" if why else f"{error['reason']} (during the {stage} check)")
    elif proc.returncode != 0:
        tail = [l for l in (stderr or b"").decode(errors="replace").splitlines() if l.strip()]
        memory = proc.returncode < 0 or any(out_of_memory(line) for line in tail)
        why = f"exceeded the memory limit ({memory_mb} MB)" if memory else f"the worker exited with {proc.returncode}"
        _fail(report, stage, f"{why} during the {stage} check" + (f": {tail[-1][:200]}" if tail else ""))
    elif printed:
        _fail(report, "stdout", f"the detector printed to stdout ({printed.splitlines()[0][:80]!r}); "
                                "a detector must log to stderr or a logger")


def _fail(report: VerificationReport, check: str, reason: str) -> None:
    report.failed_check, report.reason = check, f"{check}: {reason}"
    report.checks.setdefault(check, {})
    report.checks[check] = {**report.checks[check], "ok": False, "reason": reason}


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
