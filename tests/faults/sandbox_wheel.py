"""A small hostile wheel for the sandbox tests: detectors that each try one attack on the operator.

Each attack detector tries its attack while it is built; where the attack *works* it leaves evidence
the test can see (a file outside, a process, a connection, or an exception carrying a secret), and
where it is stopped it goes on as a well-behaved detector (so a passing verify means the attack
failed, not that it never ran).
"""
from __future__ import annotations

from pathlib import Path

from detector_wheel import build_detector_wheel

SOURCE = '''
import os, socket, subprocess, sys
import torch
from spoofbench.models import Detector, InputPolicy

PATHS = {paths!r}


class Tiny(Detector):
    name = "tiny_attack"
    sample_rate = 16000
    input_policy = InputPolicy(mode="fixed", num_samples=4000)

    def __init__(self, noisy=False):
        super().__init__()
        self.noisy = noisy
        self.linear = torch.nn.Linear(4000, 2)

    def forward(self, waves, lengths=None):
        out = self.linear(waves)
        if self.noisy:
            out = out + torch.from_numpy(__import__("numpy").random.default_rng().normal(size=tuple(out.shape))).float()
        return out


def good(preset=None, checkpoint=None, **kw):
    return Tiny()


def exit_zero(preset=None, checkpoint=None, **kw):
    os._exit(0)


def forge(preset=None, checkpoint=None, **kw):
    """Write the verdict files the old worker wrote, claiming a tiny, fast, passing model; then leave."""
    import json
    for folder in (os.getcwd(), os.environ.get("TMPDIR", "/tmp")):
        try:
            with open(os.path.join(folder, "result.json"), "w") as h:
                json.dump({{"checks": {{"cost": {{"ok": True, "parameters": 123, "real_time_factor": 1e-6}}}},
                           "failed": None}}, h)
            with open(os.path.join(folder, "progress.json"), "w") as h:
                json.dump({{"stage": "done"}}, h)
        except OSError:
            pass
    os._exit(0)


def forge_channel(preset=None, checkpoint=None, **kw):
    """Send a forged 'built' message claiming 123 parameters, then behave: the count must stay 'reported'."""
    import json
    fd = int(sys.argv[sys.argv.index("--channel") + 1])
    os.write(fd, (json.dumps({{"type": "built", "is_detector": True, "name": "x", "sample_rate": 16000,
                               "input_policy": {{"mode": "fixed", "num_samples": 4000}},
                               "parameters": 123, "buffers": 0}}) + "\\n").encode())
    return Tiny()


def equal_patch(preset=None, checkpoint=None, **kw):
    torch.equal = lambda a, b: True
    return Tiny(noisy=True)


def canary(preset=None, checkpoint=None, **kw):
    for path in (PATHS["canary"], "/root/.bash_history", "/etc/shadow"):
        try:
            with open(path) as h:
                text = h.read()
        except OSError:
            continue
        raise RuntimeError("LEAKED " + path + " " + text[:200])
    return Tiny()


def write_outside(preset=None, checkpoint=None, **kw):
    for path in (PATHS["outside"], PATHS["outside_tmp"]):
        try:
            with open(path, "w") as h:
                h.write("escaped")
        except OSError:
            pass
    return Tiny()


def orphans(preset=None, checkpoint=None, **kw):
    for _ in range(50):
        try:
            subprocess.Popen(["sleep", PATHS["marker"]])
        except OSError:
            break
    try:
        subprocess.Popen(["sleep", PATHS["marker_session"]], start_new_session=True)
        subprocess.Popen(["sh", "-c", "(setsid sleep " + PATHS["marker_session"] + " &) ; exit 0"])
    except OSError:
        pass
    return Tiny()


def sockets(preset=None, checkpoint=None, **kw):
    attempts = [(socket.AF_UNIX, PATHS["unix"]), (socket.AF_UNIX, "\\0" + PATHS["abstract"]),
                (socket.AF_INET, ("127.0.0.1", PATHS["tcp"]))]
    for family, address in attempts:
        code = ("import socket; s = socket.socket({{}}, socket.SOCK_STREAM); s.settimeout(2); s.connect({{!r}}); "
                "s.sendall(b'reached')").format(int(family), address)
        subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=20)
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(address)
            s.sendall(b"reached")
        except OSError:
            pass
    return Tiny()


def argv_sniffer(preset=None, checkpoint=None, **kw):
    """Behave only where it believes it is watched (the worker's argv names 'sandbox'); else misbehave."""
    if "sandbox" not in sys.argv[0]:
        try:
            with open(PATHS["sniffed"], "w") as h:
                h.write(str(os.getpid()))
        except OSError:
            pass
        return Tiny(noisy=True)
    return Tiny()
'''

NAMES = ("good", "exit_zero", "forge", "forge_channel", "equal_patch", "canary", "write_outside", "orphans",
         "sockets", "argv_sniffer")


def build_wheel(src: Path, dist: Path, paths: dict) -> Path:
    """Build ``sbattack-0.1`` with one ``spoofbench.detectors`` entry point per attack (``sba_<name>``)."""
    return build_detector_wheel(src, dist, name="sbattack", package="sbattack", source=SOURCE.format(paths=paths),
                                entry_points={f"sba_{n}": f"sbattack:{n}" for n in NAMES})
