"""Model submissions on the submitter's side: ``spoofbench verify`` and the declared parameter count.

``submission check`` of a model folder and the operator's ``leaderboard add`` both call
:func:`verify_model`: the checks of :func:`spoofbench.reproduce.verify.verify_submission` (sandboxed
build, finite probe scores, determinism, batch independence, parameter count, real-time factor), and
a declared parameter count more than 1% off the verified one is rejected.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import SubmissionError
from .spec import SPEC_NAME, SubmissionSpec

PARAMETER_TOLERANCE = 0.01


def model_checkpoint(spec: SubmissionSpec, folder: Path) -> Path | None:
    """The model's checkpoint inside the submission folder (None when it has none)."""
    if spec.model.checkpoint is None:
        return None
    path = (folder / spec.model.checkpoint).resolve()
    if not path.is_file():
        raise SubmissionError(f"{folder / SPEC_NAME}: model.checkpoint: {path} not found")
    return path


def verify_model(spec: SubmissionSpec, folder: Path, run_dir: Path, *, timeout_s: float = 600.0) -> dict:
    """Run ``spoofbench verify`` on the model (report in ``run_dir/verification.json``); returns
    ``{parameters, rtf, verification}`` or raises :class:`SubmissionError` with the failed check."""
    from ..submission.verify import verify_submission

    model = spec.model
    if model.wheel:
        target = str((folder / model.wheel).resolve())
        report = verify_submission(target, detector=model.detector, out_dir=run_dir, timeout_s=timeout_s)
    else:
        report = verify_submission(model.detector, preset=model.preset, checkpoint=model_checkpoint(spec, folder),
                                   out_dir=run_dir, timeout_s=timeout_s)
    if not report.passed:
        raise SubmissionError(f"1 problem(s) in submission {folder}:\n  - verify failed: {report.reason}")
    cost = report.checks["cost"]
    counted = int(cost["parameters"])
    if abs(counted - spec.parameters) > PARAMETER_TOLERANCE * counted:
        raise SubmissionError(f"1 problem(s) in submission {folder}:\n  - {folder / SPEC_NAME}: parameters: "
                              f"declared {spec.parameters:,} but the model has {counted:,} (verified)")
    return {"parameters": counted, "rtf": cost.get("real_time_factor"),
            "verification": str(run_dir / "verification.json")}
