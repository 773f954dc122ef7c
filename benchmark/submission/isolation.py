"""The isolation boundary for submitted code: bubblewrap (``bwrap``) plus resource limits.

:func:`run_isolated` starts ``python -I -m spoofbench.submission.sandbox MODE`` inside ``bwrap`` with

- new user, pid, ipc, uts, cgroup and network namespaces (``--unshare-all``), uid/gid 65534 inside
  (``nobody``) with every capability dropped, even when the operator is root;
- a read-only view of only what the worker needs: the system's ``/usr`` (shared libraries, ffmpeg),
  the interpreter's prefix, the virtual environment's site-packages, spoofbench's own package folders,
  the submitted wheel's throw-away environment and the audio it must read; a private tmpfs for
  ``/tmp`` (the working folder), a fresh ``/proc`` and a minimal ``/dev``;
- an empty environment (a handful of fixed variables), ``--new-session`` (no terminal to inject into)
  and ``--die-with-parent``; when the worker ends, the pid namespace ends and every process it
  started ends with it;
- limits: wall clock (the parent kills it), address space (``RLIMIT_AS``), file size
  (``RLIMIT_FSIZE``), open files, CPU seconds and processes (a ``pids`` cgroup where the host offers
  one, else ``RLIMIT_NPROC``, which the kernel does not enforce for root).

Data comes back on a pipe (an inherited fd named on the worker's command line, JSON lines); the worker's stdout is a separate pipe the
parent only inspects for noise. The parent decides everything from what it received.

Where bwrap is missing or cannot create namespaces (some containers), :func:`sandbox_status` says why
and model submissions are refused unless the operator passes ``--unsafe-no-sandbox``: then the worker
runs as a plain child process with the same limits and pipes, and the store and page say so.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

NOBODY = 65534
MAX_MESSAGE = 4 << 20          # one JSON line on the channel
STDERR_TAIL = 64 << 10


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run."""

    timeout_s: float = 300.0
    memory_mb: int = 8192
    processes: int = 64
    file_size_mb: int = 1024
    open_files: int = 256
    max_channel_mb: int = 2048   # everything the worker may send back


@dataclass
class Outcome:
    """What the parent observed of one run: every message (with its arrival time), the exit, the noise."""

    messages: list[dict] = field(default_factory=list)
    returncode: int | None = None
    stdout: bytes = b""
    stderr: str = ""
    killed: str | None = None       # why the parent killed it (wall clock, too much data, bad message)
    seconds: float = 0.0
    isolation: str = ""

    def last_stage(self) -> str:
        stages = [m.get("stage") for m in self.messages if m.get("type") == "stage"]
        return stages[-1] if stages else "start"


@functools.lru_cache(maxsize=1)
def sandbox_status() -> tuple[bool, str]:
    """``(usable, how)``: whether bwrap can create the namespaces here, and a sentence saying so."""
    tool = shutil.which("bwrap")
    if tool is None:
        return False, "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        done = subprocess.run([tool, "--unshare-all", "--uid", str(NOBODY), "--gid", str(NOBODY),
                               "--cap-drop", "ALL", *_system_binds(), "--proc", "/proc", "--dev", "/dev",
                               "--tmpfs", "/tmp", "true"], capture_output=True, text=True, timeout=30, env={},
                              check=False)
    except (OSError, subprocess.SubprocessError) as err:
        return False, f"bwrap cannot run here ({err})"
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return False, f"bwrap cannot create user/pid/network namespaces here ({why})"
    return True, f"bubblewrap {tool}: new user, pid, ipc, uts, cgroup and network namespaces, uid {NOBODY}"


def _system_binds() -> list[str]:
    """``/usr`` read-only and the merged-usr links (or binds) for /bin, /lib, /lib64, /sbin."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ("/etc/ld.so.cache", "/etc/alternatives", "/etc/ssl/openssl.cnf"):
        if Path(name).exists():
            args += ["--ro-bind", name, name]
    return args


def runtime_paths(python: Path | None = None) -> list[Path]:
    """What the worker must read: the interpreter's prefix, this environment's site-packages and
    spoofbench's package folders (an editable install maps them outside site-packages)."""
    import spoofbench

    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sysconfig.get_paths()["purelib"]),
             Path(sysconfig.get_paths()["platlib"])}
    for module in ("spoofbench", "spoofbench.models", "spoofbench.codecs", "spoofbench.data_manifests"):
        try:
            spec = importlib.util.find_spec(module)  # where it lives, without importing it
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.submodule_search_locations:
            paths.update(Path(p) for p in spec.submodule_search_locations)
    paths.add(Path(spoofbench.__file__).resolve().parent)
    if python is not None:
        paths.add(Path(python).parent.parent)
    return _outermost(p.resolve() for p in paths if p.exists())


def _outermost(paths: Iterable[Path]) -> list[Path]:
    kept: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


def _pids_cgroup(limit: int) -> Path | None:
    """A fresh ``pids`` cgroup (v2 or v1) limited to ``limit`` tasks, where the host lets us make one."""
    for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
        if not (base / "cgroup.procs").exists():
            continue
        try:
            folder = Path(tempfile.mkdtemp(prefix="spoofbench-sandbox-", dir=base))
            (folder / "pids.max").write_text(str(limit))
            return folder
        except OSError:
            continue
    return None


def _limits(limits: Limits, cgroup: Path | None) -> Callable[[], None]:
    memory = limits.memory_mb << 20
    size = limits.file_size_mb << 20
    cpu = int(limits.timeout_s) + 5

    procs = None if cgroup is None else str(cgroup / "cgroup.procs")

    def apply() -> None:  # runs in the child between fork and exec: no locks, no imports
        if procs is not None:
            with open(procs, "w") as handle:
                handle.write(str(os.getpid()))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        if procs is None:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    return apply


WORKER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp",
              "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "PYTHONDONTWRITEBYTECODE": "1", "MPLCONFIGDIR": "/tmp", "XDG_CACHE_HOME": "/tmp/cache"}


def bwrap_command(python: Path, argv: list[str], read_only: Iterable[Path]) -> list[str]:
    command = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--uid", str(NOBODY), "--gid", str(NOBODY),
               "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--hostname", "sandbox",
               *_system_binds(), "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _outermost(Path(p).resolve() for p in read_only):  # after the tmpfs: binds under /tmp stay
        command += ["--ro-bind", str(path), str(path)]
    command += ["--chdir", "/tmp", "--clearenv"]
    for key, value in WORKER_ENV.items():
        command += ["--setenv", key, value]
    return command + [str(python), "-I", "-m", "spoofbench.submission.sandbox", *argv]


def run_isolated(python: Path, argv: list[str], read_only: Iterable[Path], limits: Limits,
                 first: dict, on_message: Callable[[dict, float], dict | None], *,
                 unsafe_no_sandbox: bool = False) -> Outcome:
    """Run the worker; send ``first`` on its stdin, then whatever ``on_message`` returns for a message.

    ``on_message(message, arrival)`` may return a dict to send next (one JSON line on stdin).
    Never raises for a misbehaving worker: what happened is in the :class:`Outcome`.
    """
    outcome = Outcome()
    read_only = list(read_only) + runtime_paths(python)
    if unsafe_no_sandbox:
        command = [str(python), "-I", "-m", "spoofbench.submission.sandbox", *argv]
        outcome.isolation = "UNSAFE: no sandbox (--unsafe-no-sandbox): a plain child process with limits only"
        cwd = tempfile.mkdtemp(prefix="spoofbench-unsafe-")
    else:
        usable, how = sandbox_status()
        if not usable:
            raise RuntimeError(how)
        command = bwrap_command(python, argv, read_only)
        outcome.isolation = how
        cwd = None
    cgroup = _pids_cgroup(limits.processes)
    read_end, write_end = os.pipe()
    command += ["--channel", str(write_end)]  # the worker's data pipe, inherited at the same number
    if cgroup is None:
        outcome.isolation += "; processes limited by RLIMIT_NPROC only (no pids cgroup here)"
    started = time.monotonic()
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=(write_end,), env=dict(WORKER_ENV),
                                cwd=cwd, preexec_fn=_limits(limits, cgroup), start_new_session=True)
    finally:
        os.close(write_end)
    try:
        _converse(proc, read_end, first, on_message, limits, outcome, started)
    finally:
        os.close(read_end)
        _end(proc, cgroup)
        if cwd:
            shutil.rmtree(cwd, ignore_errors=True)
    outcome.returncode = proc.returncode
    outcome.seconds = time.monotonic() - started
    return outcome


def _send(proc: subprocess.Popen, message: dict) -> None:
    try:
        proc.stdin.write((json.dumps(message) + "\n").encode())
        proc.stdin.flush()
    except (BrokenPipeError, OSError):
        pass


def _converse(proc: subprocess.Popen, channel: int, first: dict, on_message, limits: Limits,
              outcome: Outcome, started: float) -> None:
    _send(proc, first)
    selector = selectors.DefaultSelector()
    for fd, name in ((channel, "channel"), (proc.stdout.fileno(), "stdout"), (proc.stderr.fileno(), "stderr")):
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ, name)
    buffer, received, stderr = b"", 0, bytearray()
    deadline = started + limits.timeout_s
    open_streams = 3
    while open_streams:
        left = deadline - time.monotonic()
        if left <= 0:
            outcome.killed = f"killed at the wall-clock limit ({limits.timeout_s:.0f} s)"
            return
        for key, _ in selector.select(timeout=min(left, 1.0)):
            try:
                data = os.read(key.fd, 1 << 16)
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(key.fd)
                open_streams -= 1
                continue
            if key.data == "stdout":
                outcome.stdout = (outcome.stdout + data)[:4096]
            elif key.data == "stderr":
                stderr += data
                del stderr[:-STDERR_TAIL]
                outcome.stderr = stderr.decode(errors="replace")
            else:
                received += len(data)
                if received > limits.max_channel_mb << 20:
                    outcome.killed = f"killed: sent more than {limits.max_channel_mb} MB"
                    return
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    reply = _message(line, outcome, on_message)
                    if outcome.killed:
                        return
                    if reply is not None:
                        _send(proc, reply)
                if len(buffer) > MAX_MESSAGE:
                    outcome.killed = f"killed: a message longer than {MAX_MESSAGE >> 20} MB"
                    return
    try:
        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        outcome.killed = f"killed at the wall-clock limit ({limits.timeout_s:.0f} s)"


def _message(line: bytes, outcome: Outcome, on_message) -> dict | None:
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        outcome.killed = f"killed: an unreadable message on the data channel ({line[:60]!r})"
        return None
    arrival = time.monotonic()
    message["_at"] = arrival
    if message["type"] != "file_data":  # bulk data is the handler's to keep (or refuse), not held here
        outcome.messages.append(message)
    return on_message(message, arrival)


def _end(proc: subprocess.Popen, cgroup: Path | None) -> None:
    """Kill whatever is left (bwrap's process group; in the pid namespace everything dies with it)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        try:
            stream.close()
        except OSError:
            pass
    proc.wait()
    if cgroup is not None:
        _kill_cgroup(cgroup)


def _kill_cgroup(cgroup: Path) -> None:
    """Kill every task still in the cgroup (the unsafe mode's escaped children), then remove it."""
    for _ in range(50):
        try:
            pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    try:
        cgroup.rmdir()
    except OSError:
        pass
