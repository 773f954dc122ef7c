"""Model submissions on the submitter's side: ``spoofbench verify`` and the declared parameter count.

``submission check`` of a model folder and the operator's ``leaderboard add`` both call
:func:`verify_model`: the checks of :func:`spoofbench.submission.verify.verify_submission` (sandboxed
build, finite probe scores, determinism, batch independence, parameter count, real-time factor), and
a declared parameter count more than 1% off the verified one is rejected.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import SubmissionError
from .spec import SPEC_NAME, SubmissionSpec

PARAMETER_TOLERANCE = 0.01


def submitted_file(spec: SubmissionSpec, folder: Path, field: str) -> Path | None:
    """``model.<field>`` (checkpoint or wheel) as a path inside the submission folder; None when not given.

    A symbolic link or a path leaving the folder is refused: whatever it names is mounted into the
    sandbox, so it must be the submitter's own file, never one of the operator's."""
    relative = getattr(spec.model, field)
    if relative is None:
        return None
    path = Path(folder) / relative
    where = f"{Path(folder) / SPEC_NAME}: model.{field}"
    if path.is_symlink():
        raise SubmissionError(f"{where}: {relative} is a symbolic link; submit the file itself")
    if not path.resolve().is_relative_to(Path(folder).resolve()):
        raise SubmissionError(f"{where}: {relative} is outside the submission folder")
    if not path.is_file():
        raise SubmissionError(f"{where}: {path.resolve()} not found")
    return path.resolve()


def model_checkpoint(spec: SubmissionSpec, folder: Path) -> Path | None:
    """The model's checkpoint inside the submission folder (None when it has none)."""
    return submitted_file(spec, folder, "checkpoint")


def verify_model(spec: SubmissionSpec, folder: Path, run_dir: Path, *, timeout_s: float = 600.0,
                 unsafe_no_sandbox: bool = False) -> dict:
    """Run ``spoofbench verify`` on the model (report in ``run_dir/verification.json``); returns
    ``{parameters, parameters_verified, parameters_source, rtf, isolation, unsafe_no_sandbox, verification}``
    or raises :class:`SubmissionError` with the failed check. A declared count more than 1% off the
    count (the operator's where it could count, else the submission's own report) is rejected."""
    from .verify import verify_submission

    model = spec.model
    if model.wheel:
        target = str(submitted_file(spec, folder, "wheel"))
        report = verify_submission(target, detector=model.detector, out_dir=run_dir, timeout_s=timeout_s,
                                   unsafe_no_sandbox=unsafe_no_sandbox)
    else:
        report = verify_submission(model.detector, preset=model.preset, checkpoint=model_checkpoint(spec, folder),
                                   out_dir=run_dir, timeout_s=timeout_s, unsafe_no_sandbox=unsafe_no_sandbox)
    if not report.passed:
        raise SubmissionError(f"1 problem(s) in submission {folder}:\n  - verify failed: {report.reason}")
    cost = report.checks["cost"]
    counted = int(cost["parameters"])
    how = "verified" if cost.get("parameters_verified") else "reported by the submission"
    if abs(counted - spec.parameters) > PARAMETER_TOLERANCE * counted:
        raise SubmissionError(f"1 problem(s) in submission {folder}:\n  - {folder / SPEC_NAME}: parameters: "
                              f"declared {spec.parameters:,} but the model has {counted:,} ({how})")
    return {"parameters": counted, "parameters_verified": bool(cost.get("parameters_verified")),
            "parameters_source": cost.get("parameters_source", how), "rtf": cost.get("real_time_factor"),
            "isolation": report.sandbox.get("isolation", ""),
            "unsafe_no_sandbox": bool(report.sandbox.get("unsafe_no_sandbox")),
            "verification": str(run_dir / "verification.json")}
