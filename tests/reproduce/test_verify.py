"""spoofbench verify: a well-behaved wheel passes; hangs, memory hogs, non-determinism, NaN, stdout, wrong
shape, network imports and broken wheels are each rejected with their reason."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from detector_wheel import build_detector_wheel

import pytest

from spoofbench.reproduce.verify import verify_submission

DETECTORS = textwrap.dedent('''
    """Test detectors for spoofbench verify: one good, the others each misbehaving in one way."""
    import torch
    from spoofbench.models import Detector, InputPolicy


    class Tiny(Detector):
        name = "tiny_test"
        sample_rate = 16000
        input_policy = InputPolicy(mode="fixed", num_samples=8000)

        def __init__(self, fault=None):
            super().__init__()
            self.fault = fault
            self.linear = torch.nn.Linear(8000, 2)

        def forward(self, waves, lengths=None):
            if self.fault == "hang":
                while True:
                    pass
            if self.fault == "hog":
                hoard = []
                while True:
                    hoard.append(bytearray(256 * 1024 * 1024))
            logits = self.linear(waves)
            if self.fault == "random":
                logits = logits + torch.rand(logits.shape, generator=torch.Generator().manual_seed(
                    int.from_bytes(__import__("os").urandom(4), "little")))
            if self.fault == "nan":
                logits = logits * float("nan")
            if self.fault == "print":
                print("scoring a batch")
            return logits

        def score(self, waves, lengths=None):
            out = super().score(waves, lengths)
            return out[:1] if self.fault == "shape" else out


    def build(preset=None, checkpoint=None, **overrides):
        return Tiny()

    def hang(preset=None, checkpoint=None, **overrides):
        return Tiny("hang")

    def hog(preset=None, checkpoint=None, **overrides):
        return Tiny("hog")

    def nondeterministic(preset=None, checkpoint=None, **overrides):
        return Tiny("random")

    def nan(preset=None, checkpoint=None, **overrides):
        return Tiny("nan")

    def printer(preset=None, checkpoint=None, **overrides):
        return Tiny("print")

    def shape(preset=None, checkpoint=None, **overrides):
        return Tiny("shape")

    def network(preset=None, checkpoint=None, **overrides):
        import urllib3  # noqa: F401  (refused by the sandbox)
        return Tiny()
''')
NAMES = ("good", "hang", "hog", "nondeterministic", "nan", "printer", "shape", "network")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("wheel_src")
    entry_points = {f"sbv_{n}": f'sbverify_dets:{"build" if n == "good" else n}' for n in NAMES}
    return build_detector_wheel(src, tmp_path_factory.mktemp("wheel_dist"), name="sbverify-dets",
                                package="sbverify_dets", source=DETECTORS, entry_points=entry_points)


def _verify(wheel: Path, name: str, tmp_path: Path, **kw):
    return verify_submission(wheel, detector=f"sbv_{name}", out_dir=tmp_path, **kw)


def test_good_wheel_is_verified(wheel, tmp_path):
    report = _verify(wheel, "good", tmp_path)
    assert report.passed, report.reason
    assert report.checks["cost"]["parameters"] == 8000 * 2 + 2
    assert report.checks["build"]["input_policy"]["mode"] == "fixed"
    assert report.checks["probe"]["n_clips"] >= 3
    saved = json.loads((tmp_path / "verification.json").read_text())
    assert saved["passed"] is True and saved["checks"]["determinism"]["ok"]


@pytest.mark.slow
@pytest.mark.parametrize("name, check, words", [
    ("hang", "build", "wall-clock limit"),
    ("hog", None, "memory limit"),
    ("nondeterministic", "determinism", "differ"),
    ("nan", "probe", "NaN"),
    ("printer", "stdout", "printed to stdout"),
    ("shape", "probe", "shape"),
    ("network", "sandbox", "urllib3"),
])
def test_misbehaving_detectors_are_rejected_with_their_reason(wheel, tmp_path, name, check, words):
    report = _verify(wheel, name, tmp_path, timeout_s=15 if name == "hang" else 120, memory_mb=3072 if name == "hog" else 8192)
    assert not report.passed
    assert words in report.reason, report.reason
    if check and name != "hang":
        assert report.failed_check == check, report.reason
    assert "\n" not in report.reason
    assert json.loads((tmp_path / "verification.json").read_text())["passed"] is False


def test_broken_wheel_and_missing_entry_point(tmp_path):
    bad = tmp_path / "broken-0.1-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    report = verify_submission(bad, out_dir=tmp_path)
    assert not report.passed and "not a readable wheel" in report.reason and report.failed_check == "install"
    missing = verify_submission(tmp_path / "nothere-0.1-py3-none-any.whl", out_dir=tmp_path)
    assert not missing.passed and "no such wheel" in missing.reason
    import zipfile
    no_metadata = tmp_path / "nometa-0.1-py3-none-any.whl"
    with zipfile.ZipFile(no_metadata, "w") as archive:  # an entry point but no METADATA/RECORD: pip refuses it
        archive.writestr("nometa-0.1.dist-info/entry_points.txt", "[spoofbench.detectors]\nx = nometa:build\n")
    refused = verify_submission(no_metadata, out_dir=tmp_path)
    assert not refused.passed and refused.failed_check == "install"
    assert refused.reason.startswith("the wheel does not install: ") and "\n" not in refused.reason


def test_zoo_detector_is_verified(tmp_path):
    report = verify_submission("rawcnn_2m", preset="tiny", out_dir=tmp_path)
    assert report.passed, report.reason
    assert report.checks["install"]["how"] == "zoo detector of this installation"
    assert report.checks["cost"]["parameters"] > 0 and report.checks["cost"]["real_time_factor"] > 0


def test_cli_exit_codes(tmp_path, capsys):
    from spoofbench.cli import main

    bad = tmp_path / "broken-0.1-py3-none-any.whl"
    bad.write_bytes(b"PK")
    assert main(["verify", str(bad), "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "REJECTED" in out and "Traceback" not in out


@pytest.mark.parametrize("text", ["MemoryError", "RuntimeError: std::bad_alloc",
                                  "OSError: [Errno 12] Cannot allocate memory", "CUDA out of memory"])
def test_allocation_failures_are_named_as_the_memory_limit(text):
    """torch fails with C++'s std::bad_alloc under RLIMIT_AS (before the detector's code runs, too):
    every allocation-failure message counts as hitting the memory limit, not as a generic exit."""
    from spoofbench.reproduce.sandbox import out_of_memory

    assert out_of_memory(text)
    assert not out_of_memory("ValueError: shapes do not match")
