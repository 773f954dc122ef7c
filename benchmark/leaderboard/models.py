"""``leaderboard add`` for model submissions: verify, run the operator's benchmark, store like score files.

A model submission folder holds ``submission.yaml`` with ``model: {detector, preset, checkpoint}``
(a zoo preset and a checkpoint in the folder) or ``model: {detector, wheel}``. Steps:

1. ``spoofbench verify`` (:func:`spoofbench.reproduce.verify.verify_submission`) in its sandbox:
   build, finite probe scores, determinism, batch independence, parameter count and real-time factor;
   a declared parameter count more than 1% off the verified one is rejected.
2. The operator's benchmark (:func:`spoofbench.runner.orchestrator.run_benchmark`) scores every test set ×
   condition with the checkpoint as is, in ``DIR/runs/<system>-<time>/``.
3. Its score files become a score-file submission (``DIR/runs/.../submission/``) that goes through
   the same checks and scoring as any other, stored with ``kind = model`` and the verified figures.

A wheel is verified in a throw-away environment, but the benchmark run needs its detector installed
where the operator runs spoofbench (``pip install the.whl`` first); otherwise it is rejected.
"""
from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

import yaml

from ..errors import SubmissionError
from ..submission.check import declare_files
from ..submission.model import model_checkpoint, verify_model
from ..submission.spec import SPEC_NAME, SubmissionSpec, load_spec
from .board import Leaderboard
from .ingest import AddResult, add_submission
from .ranking import system_slug


def add_model_submission(board: Leaderboard, folder: str | Path, *, verify_timeout_s: float = 600.0,
                         progress: bool = False) -> AddResult:
    """Verify, benchmark and store a model submission (see the module docstring)."""
    folder = Path(folder)
    spec = load_spec(folder)
    if spec.model is None:
        raise SubmissionError(f"{folder / SPEC_NAME}: not a model submission (no 'model')")
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    run_dir = board.directory / "runs" / f"{system_slug({'system': spec.system, 'version': 0})}-{stamp}"
    verified = verify_model(spec, folder, run_dir, timeout_s=verify_timeout_s)
    scores = _run_benchmark(board, spec, folder, run_dir, progress=progress)
    submission = _as_score_submission(spec, scores, run_dir / "submission")
    return add_submission(board, submission, kind="model", verified=verified)


def _run_benchmark(board: Leaderboard, spec: SubmissionSpec, folder: Path, run_dir: Path, *,
                   progress: bool) -> dict[str, Path]:
    """Score every test set × condition with the operator's config; ``{file name: score path}``."""
    from ..models import DETECTORS
    from ..runner.orchestrator import run_benchmark

    model = spec.model
    if model.detector not in DETECTORS.names():
        raise SubmissionError(f"1 problem(s) in submission {folder}:\n  - detector {model.detector!r} is not "
                              "installed here; install the wheel into the operator's environment, then add again")
    cfg = board.config
    detector = {"name": model.detector, "label": spec.system}
    if model.preset:
        detector["preset"] = model.preset
    checkpoint = model_checkpoint(spec, folder)
    if checkpoint is not None:
        detector["checkpoint"] = str(checkpoint)
    bench = {"name": f"{cfg.name}:{spec.system}", "codecs": list(cfg.codecs), "device": cfg.device,
             "scoring": dict(cfg.scoring), "bootstrap": 0, "seeds": [0], "detectors": [detector],
             "test_sets": [{"name": t.name, "manifest": t.manifest, "root": t.root} for t in cfg.test_sets]}
    missing_root = [t.name for t in cfg.test_sets if not (t.root and t.manifest)]
    if missing_root:
        raise SubmissionError(f"the leaderboard config gives no manifest and corpus root for "
                              f"{', '.join(missing_root)}; model submissions need the audio")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "benchmark.yaml").write_text(yaml.safe_dump(bench, sort_keys=False), encoding="utf-8")
    result = run_benchmark(run_dir / "benchmark.yaml", run_dir / "run", progress=progress, tables=False)
    if result["failed_cells"]:
        reasons = "\n".join(f"  - {c['test_set']} × {c['codec']}: {c['stage']} failed: {c['error']}"
                            for c in result["failed_cells"])
        raise SubmissionError(f"{len(result['failed_cells'])} problem(s) in submission {folder}:\n{reasons}")
    return {f"{c['test_set']}__{c['codec']}.txt": run_dir / "run" / c["score_file"] for c in result["cells"]}


def _as_score_submission(spec: SubmissionSpec, scores: dict[str, Path], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name, path in scores.items():
        shutil.copyfile(path, out / name)
    data = spec.to_dict()
    data.pop("model")
    data["files"] = declare_files(out)
    data["description"] = f"{spec.description} [model submission: {spec.model.detector}" \
                          f"{':' + spec.model.preset if spec.model.preset else ''}, scored by the operator]"
    (out / SPEC_NAME).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out
