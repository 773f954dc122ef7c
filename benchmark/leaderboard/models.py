"""``leaderboard add`` for model submissions: verify and score inside the sandbox, store like score files.

A model submission folder holds ``submission.yaml`` with ``model: {detector, preset, checkpoint}``
(a zoo preset and a checkpoint in the folder) or ``model: {detector, wheel}``. Steps:

1. ``spoofbench verify`` (:func:`spoofbench.submission.verify.verify_submission`) in the sandbox:
   build, finite probe scores, determinism, batch independence, parameter count and real-time factor;
   a declared parameter count more than 1% off the counted one is rejected.
2. Scoring, in the same sandbox (:mod:`spoofbench.submission.isolation`), never in this process: the
   worker sees the test sets' audio (read-only) and label-free copies of their trial lists, scores every
   test set × condition with the operator's scoring config and streams the score files back over a pipe.
   The real-time factor on the board is this process's wall clock over that run (start-up included)
   divided by the audio it scored.
3. The score files become a score-file submission (``DIR/runs/.../submission/``) that goes through
   the same checks and scoring as any other, stored with ``kind = model``, the verified (or reported, †)
   parameter count, and the isolation used (``--unsafe-no-sandbox`` is named in the store and on the page).
"""
from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

import yaml

from ..errors import SubmissionError
from ..submission.check import declare_files
from ..submission.isolation import Limits
from ..submission.model import model_checkpoint, submitted_file, verify_model
from ..submission.spec import SPEC_NAME, SubmissionSpec, load_spec
from .board import Leaderboard
from .ingest import AddResult, add_submission
from .ranking import system_slug


def add_model_submission(board: Leaderboard, folder: str | Path, *, verify_timeout_s: float = 600.0,
                         progress: bool = False, unsafe_no_sandbox: bool = False,
                         score_timeout_s: float = 6 * 3600.0, memory_mb: int = 8192) -> AddResult:
    """Verify, score (both sandboxed) and store a model submission (see the module docstring)."""
    folder = Path(folder)
    spec = load_spec(folder)
    if spec.model is None:
        raise SubmissionError(f"{folder / SPEC_NAME}: not a model submission (no 'model')")
    missing_root = [t.name for t in board.config.test_sets if not (t.root and t.manifest)]
    if missing_root:
        raise SubmissionError(f"the leaderboard config gives no manifest and corpus root for "
                              f"{', '.join(missing_root)}; model submissions need the audio")
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    run_dir = board.directory / "runs" / f"{system_slug({'system': spec.system, 'version': 0})}-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=True)
    verified = verify_model(spec, folder, run_dir, timeout_s=verify_timeout_s, unsafe_no_sandbox=unsafe_no_sandbox)
    limits = Limits(timeout_s=score_timeout_s, memory_mb=memory_mb, processes=256)
    try:
        scores, seconds = _score_sandboxed(board, spec, folder, run_dir, limits, verified["unsafe_no_sandbox"])
    finally:
        for scratch in ("venv", "input"):  # the throw-away environment and the label-free trial lists
            shutil.rmtree(run_dir / scratch, ignore_errors=True)
    audio = _audio_seconds(board) * len(board.codecs)
    verified = {**verified, "rtf": seconds / audio if audio else verified["rtf"], "rtf_source":
                "the operator's wall clock over the sandboxed scoring run (start-up included) / audio scored"
                if audio else "verify's probe batch"}
    submission = _as_score_submission(spec, scores, run_dir / "submission")
    return add_submission(board, submission, kind="model", verified=verified)


def _scrubbed_manifests(board: Leaderboard, folder: Path) -> list[dict]:
    """Label-free copies of the test sets' trial lists (ids, paths, corpus, durations): the keys stay here."""
    from ..corpora.manifest import BONAFIDE_ATTACK, Trial, read_manifest, write_manifest

    folder.mkdir(parents=True, exist_ok=True)
    tests = []
    for test in board.config.test_sets:
        trials = [Trial(id=t.id, path=t.path, label="bonafide", corpus=t.corpus, split=t.split,
                        attack=BONAFIDE_ATTACK, duration=t.duration, sampling_rate=t.sampling_rate,
                        num_samples=t.num_samples) for t in read_manifest(test.manifest)]
        path = folder / f"{test.name}.jsonl.gz"
        write_manifest(path, trials)
        tests.append({"name": test.name, "manifest": str(path.resolve()), "root": test.root})
    return tests


def _audio_seconds(board: Leaderboard) -> float:
    return float(sum(t.duration or 0.0 for test in board.config.test_sets for t in board.trials(test.name) or []))


def _score_sandboxed(board: Leaderboard, spec: SubmissionSpec, folder: Path, run_dir: Path, limits: Limits,
                     unsafe: bool) -> tuple[dict[str, Path], float]:
    """Score every test set × condition inside the sandbox; ``({file name: path}, wall seconds)``."""
    import sys

    from ..submission.isolation import run_isolated
    from ..submission.verify import install_wheel

    model = spec.model
    python, read_only = Path(sys.executable), []
    if model.wheel:
        python, _ = install_wheel(submitted_file(spec, folder, "wheel"), run_dir, 300)
        read_only.append(run_dir / "venv")
    checkpoint = model_checkpoint(spec, folder)
    if checkpoint is not None:
        read_only.append(checkpoint)
    tests = _scrubbed_manifests(board, run_dir / "input")
    read_only += [run_dir / "input", *(Path(t["root"]) for t in tests)]
    config = {"codecs": list(board.codecs), "device": board.config.device, "cache_dir": None, "resume": False,
              **{k: v for k, v in dict(board.config.scoring).items() if k not in ("codecs", "cache_dir")}}
    request = {"detector": model.detector, "preset": model.preset, "seed": 0, "config": config, "test_sets": tests,
               "checkpoint": str(checkpoint) if checkpoint else None}
    out = run_dir / "scores"
    out.mkdir(parents=True, exist_ok=True)
    received = _Received(out, limits.file_size_mb << 20)
    outcome = run_isolated(python, ["score"], read_only, limits, request, received.on_message, unsafe_no_sandbox=unsafe)
    problem = received.problem or _score_problem(outcome, received)
    if problem:
        raise SubmissionError(f"1 problem(s) in submission {folder}:\n  - scoring in the sandbox: {problem}")
    return received.files, outcome.seconds


class _Received:
    """Score files streamed back by the worker, written here with a size limit (names checked)."""

    def __init__(self, out: Path, limit: int):
        self.out, self.limit = out, limit
        self.files: dict[str, Path] = {}
        self.sizes: dict[str, int] = {}
        self.failed: dict[str, tuple[int, list]] = {}
        self.problem = ""

    def on_message(self, message: dict, _arrival: float) -> None:
        kind, name = message["type"], str(message.get("name", ""))
        if not kind.startswith("file_") or self.problem:
            return
        if "/" in name or "__" not in name or not name.endswith(".txt") or name.startswith("."):
            self.problem = f"the worker sent a file named {name[:80]!r}; expected TEST__CONDITION.txt"
            return
        path = self.out / name
        if kind == "file_start":
            path.write_bytes(b"")
            self.files[name], self.sizes[name] = path, 0
            self.failed[name] = (int(message.get("n_failed") or 0), list(message.get("failures") or [])[:3])
        elif kind == "file_data" and name in self.files:
            data = str(message.get("data", "")).encode("utf-8")
            self.sizes[name] += len(data)
            if self.sizes[name] > self.limit:
                self.problem = f"{name} is larger than {self.limit >> 20} MB"
                return
            with open(path, "ab") as handle:
                handle.write(data)
        return


def _score_problem(outcome, received: _Received) -> str:
    errors = [m for m in outcome.messages if m["type"] == "error"]
    stage = outcome.last_stage()
    if outcome.killed:
        return f"{outcome.killed} during {stage}"
    if errors:
        return f"{str(errors[0].get('reason', ''))[:300]} (during {stage})"
    if outcome.stdout.strip():
        return "the detector printed to stdout; a detector must log to stderr or a logger"
    if not any(m["type"] == "done" for m in outcome.messages) or outcome.returncode != 0:
        return (f"the worker exited with {outcome.returncode} during {stage} without sending every score file "
                "(an early exit is a rejection)")
    failed = {n: f for n, f in received.failed.items() if f[0]}
    if failed:
        return "; ".join(f"{n}: {k} trial(s) failed to score ({'; '.join(why)[:200]})" for n, (k, why) in failed.items())
    return ""


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
