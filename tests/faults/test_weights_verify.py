"""``spoofbench verify`` of a wheel that ships weight files: a reported parameter count is verified only
when it equals what the operator counted in those files (read without running them); a lie keeps †.

One wheel (built here) holds an honest detector that loads its shipped ``weights.safetensors``, a detector
that reports more parameters than its files hold, a safetensors file with an oversized header and a
``.pt`` whose pickle would create a marker file if anything ran it. Skips where there is no sandbox.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

from detector_wheel import build_detector_wheel

import pytest
import torch
from safetensors.torch import save_file
from spoofbench.submission.isolation import sandbox_status
from spoofbench.submission.verify import verify_submission

USABLE, HOW = sandbox_status()
pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(not USABLE, reason=f"no sandbox on this machine: {HOW}")]

SOURCE = '''
from pathlib import Path
import torch
from safetensors.torch import load_file
from spoofbench.models import Detector, InputPolicy


class Shipped(Detector):
    name = "shipped_weights"
    sample_rate = 16000
    input_policy = InputPolicy(mode="fixed", num_samples=4000)

    def __init__(self, extra=0):
        super().__init__()
        self.linear = torch.nn.Linear(4000, 2)
        self.linear.load_state_dict(load_file(str(Path(__file__).with_name("weights.safetensors"))))
        self.extra = extra

    def fitted_parameters(self):
        return self.extra

    def forward(self, waves, lengths=None):
        return self.linear(waves)


def honest(preset=None, checkpoint=None, **kw):
    return Shipped()


def liar(preset=None, checkpoint=None, **kw):
    return Shipped(extra=1_000_000)
'''


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _build(base: Path, marker: Path) -> Path:
    package = base / "src" / "sbweights"
    package.mkdir(parents=True)
    linear = torch.nn.Linear(4000, 2)
    save_file(linear.state_dict(), str(package / "weights.safetensors"))
    (package / "bad.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + b"{" * 64)
    torch.save({"weight": torch.zeros(3), "run": _Payload(marker)}, package / "evil.pt")
    return build_detector_wheel(base / "src", base / "dist", name="sbweights", package="sbweights", source=SOURCE,
                                entry_points={"sbw_honest": "sbweights:honest", "sbw_liar": "sbweights:liar"},
                                package_data=("*.safetensors", "*.pt"))


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("weights")
    marker = base / "pickle-ran.txt"
    wheel = _build(base, marker)
    assert not marker.exists()
    return {"wheel": wheel, "marker": marker}


def test_a_count_equal_to_the_shipped_weights_is_verified(shipped, tmp_path):
    report = verify_submission(shipped["wheel"], detector="sbw_honest", out_dir=tmp_path, timeout_s=120)
    assert report.passed, report.reason
    cost = report.checks["cost"]
    assert cost["parameters"] == 8002 and cost["parameters_verified"] is True
    assert cost["parameters_source"] == "matched the wheel's weight files (sbweights/weights.safetensors)"
    files = {f["name"]: f for f in cost["parameters_weight_files"]}
    assert files["sbweights/weights.safetensors"]["elements"] == 8002
    assert "over the limit" in files["sbweights/bad.safetensors"]["refused"]
    assert "weights-only" in files["sbweights/evil.pt"]["refused"]
    assert any("sbweights/evil.pt not counted" in note for note in report.notes)
    assert not shipped["marker"].exists()          # the pickle was refused, not run, in this process


def test_a_count_that_disagrees_with_the_weights_stays_reported(shipped, tmp_path):
    report = verify_submission(shipped["wheel"], detector="sbw_liar", out_dir=tmp_path, timeout_s=120)
    assert report.passed, report.reason
    cost = report.checks["cost"]
    assert cost["parameters"] == 1_008_002
    assert cost["parameters_verified"] is False
    assert cost["parameters_source"] == "reported by the submission; its weight files hold 8,002"
    assert cost["parameters_counted_from_files"] == {"sbweights/weights.safetensors": 8002}
    note = next(n for n in report.notes if "reports" in n)
    assert "reports 1,008,002 parameters" in note and "hold 8,002 (sbweights/weights.safetensors)" in note
    assert not shipped["marker"].exists()
