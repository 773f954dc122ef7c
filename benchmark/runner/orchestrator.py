"""``spoofbench run``: plan a config's cells, run what is new through an executor, write result.json.

A *train cell* is (detector, seed); a *score cell* is (detector, seed, test set, codec). Each is keyed
by a content hash of what determines it (config, manifest sha256, the test set's audio content,
checkpoint, codec condition, engine versions): :func:`~spoofbench.runner.plan.plan_cells`. The runner
reuses finished cells, groups the rest into jobs (:mod:`spoofbench.runner.jobs`) and hands them to an
executor (:mod:`spoofbench.runner.executor`; local by default). A cell is done when its hash is in
``result.json``, its score file still has the recorded sha256 and it covers every trial. A failed
cell is recorded with its reason and never stops the others.

Run directory::

    config.yaml  environment.json  result.json  cells.csv
    keys/<test>.txt                      (utt_id label attack, for DET plots and re-scoring)
    train/<detector>__seed<S>__<hash>/   (the engine's run dir: checkpoints, train_log.csv)
    scores/<detector>__seed<S>__<hash>/<test>__<codec>.txt
    tables/*.md|csv   plots/*.png|svg
"""
from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import yaml

from .. import __version__
from ..atomic import write_json_atomic, write_text_atomic
from ..errors import SpoofbenchError
from ..logs import ProgressCounter
from .config import BenchmarkConfig
from .data import gather_inputs
from .celllog import LOG_NAME, CellLog, latest_cells, read_records, render_result
from .executor import Executor, LocalExecutor
from .jobs import CALIBRATION_NAME, Job, ScoreJob, TrainJob, as_note, cell_metrics, failed_cell, training_summary
from .lock import run_lock
from .plan import Cell, PlanInputs, ScoreCell, TrainCell, content_hash, expand_codecs, plan_cells
from .results import SCHEMA_VERSION, load_result, write_result

__all__ = ["BenchmarkRunner", "environment",
           "cell_metrics", "content_hash", "expand_codecs", "sha256_file"]

Log = Callable[[str], None]   # a caller's own sink for notes; by default they are log records


def sha256_file(path: str | Path) -> str:
    """sha256 of a file; of a checkpoint *folder* (a Hugging Face model directory), its files' digest."""
    from ..digests import file_sha256, tree_digest

    if Path(path).is_dir():
        return tree_digest(path).digest
    return file_sha256(path)


def environment() -> dict:
    """Versions that decide whether a cell may be reused."""
    import numpy
    import torch

    env = {"spoofbench": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
           "numpy": numpy.__version__, "torch": torch.__version__,
           "cuda": torch.version.cuda if torch.cuda.is_available() else None}
    try:
        import av
        env["av"] = av.__version__
    except ImportError:
        env["av"] = None
    return env


def _git_hash() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class BenchmarkRunner:
    """Runs one :class:`BenchmarkConfig` into ``out_dir`` (see the module docstring).

    ``rescore``: cell selectors (``all``, a cell hash prefix, or a ``detector/seed/test_set/codec``
    glob) whose finished cells are scored again from scratch.
    """

    def __init__(self, config: BenchmarkConfig, out_dir: str | Path, *, progress: bool = True,
                 log: Log | None = None, executor: Executor | None = None, rescore: Sequence[str] = ()):
        self.config = config
        self.out = Path(out_dir)
        self.progress = progress
        self.log = as_note(log, __name__)
        self.executor = executor or LocalExecutor(self.log)
        self.rescore = tuple(rescore)

    def run(self) -> dict:
        require_codecs(self.config)  # a condition no engine can run here: refused before the run folder exists
        prepare_run_folder(self.out)
        with run_lock(self.out, self.log):
            return self._run()

    def _run(self) -> dict:
        check_plugins(self.config, self.log)  # a broken plugin stops the run before any work
        env = self._prepare_folder()
        data = gather_inputs(self.config, self.out, progress=self.progress)
        provenance = _codec_provenance(expand_codecs(self.config.codecs))
        inputs = PlanInputs(data.test_sets, data.data_hash, env, provenance)
        cells = plan_cells(self.config, inputs)
        self._data = data
        self._started = time.perf_counter()
        previous, logged = self._previous()
        self.detectors: dict[str, dict] = {}
        broken = self._describe_detectors()
        self._record_folders(cells)
        scored = [c for c in cells if isinstance(c, ScoreCell)]
        with writing(self.out / LOG_NAME):
            self.cell_log = CellLog(self.out / LOG_NAME)
        self._append(self._header(env, inputs, scored))
        self._bar = ProgressCounter(len(scored), "cells", enabled=self.progress)
        try:
            jobs = self._jobs(cells, previous, logged, broken)
            self.executor.run(jobs, self._on_result, self._on_start)
        finally:
            self._bar.close()
        self._append({"type": "end", "seconds": round(time.perf_counter() - self._started, 3)})
        result = render_result(self.out / LOG_NAME)
        with writing(self.out / "result.json"):
            write_result(self.out / "result.json", result)
        return result

    # ------------------------------------------------------------------ set-up
    def _prepare_folder(self) -> dict:
        env = environment()
        env["git"] = _git_hash()
        with writing(self.out):
            write_text_atomic(self.out / "config.yaml", yaml.safe_dump(self.config.to_dict(), sort_keys=False))
            write_json_atomic(self.out / "environment.json", env)
        return env

    def _header(self, env: dict, inputs: PlanInputs, scored: list[ScoreCell]) -> dict:
        return {"type": "run", "schema": SCHEMA_VERSION, "run_id": self.out.name, "config": self.config.to_dict(),
                "environment": env, "detectors": self.detectors, "codecs": dict(inputs.codecs),
                "test_sets": {t.name: {"domain": t.domain, "reason": t.reason, "n_trials": t.n_trials,
                                       "manifest": t.manifest, "manifest_sha256": t.sha256,
                                       "audio_sha256": t.audio_sha256, "overlap": dict(t.overlap),
                                       "dev_overlap": dict(t.dev_overlap),
                                       **_per_detector_labels(self.config, t)}
                              for t in inputs.test_sets},
                "planned": [c.key for c in scored]}

    def _previous(self) -> tuple[dict, bool]:
        """hash → finished cell of earlier runs (from the cell log, else an older result.json); from the log?"""
        log_path = self.out / LOG_NAME
        try:
            if log_path.is_file():
                return latest_cells(read_records(log_path)), True
            if (self.out / "result.json").is_file():
                return {cell["hash"]: cell for cell in load_result(self.out / "result.json")["cells"]}, False
        except SpoofbenchError as err:
            self.log(f"ignoring the unreadable previous results ({err}); recomputing", warning=True)
        return {}, False

    # ------------------------------------------------------------------ jobs
    def _jobs(self, cells: list[Cell], previous: dict, logged: bool, broken: dict[str, str]) -> list[Job]:
        """Reuse finished cells; group the rest into a train job and score jobs per (detector, seed)."""
        jobs: list[Job] = []
        for train_cell in (c for c in cells if isinstance(c, TrainCell)):
            mine = [c for c in cells if isinstance(c, ScoreCell) and c.train_key == train_cell.key]
            if train_cell.detector in broken:
                self._fail_cells(mine, "build", broken[train_cell.detector])
                continue
            pending = [c for c in mine if not self._reuse(c, previous.get(c.key), logged)]
            self._note_training(train_cell)
            if pending:
                jobs += self._jobs_of(train_cell, pending)
        return jobs

    def _describe_detectors(self) -> dict[str, str]:
        """Describe every detector once; the labels that cannot be built, with the reason."""
        broken = {}
        for spec in self.config.detectors:
            try:
                self.detectors[spec.display] = describe_detector(spec)
            except SpoofbenchError as err:
                broken[spec.display] = f"{type(err).__name__}: {err}"
                self.log(f"build failed: {broken[spec.display]}", warning=True, detector=spec.display)
        return broken

    def _record_folders(self, cells: list[Cell]) -> None:
        """Per detector and seed: its train folder and the checkpoint its cells are scored with (relative to
        the run folder, or the config's checkpoint as given), and the overrides that went into it."""
        for cell in (c for c in cells if isinstance(c, TrainCell)):
            info = self.detectors.setdefault(cell.detector, {})
            folder = f"train/{cell.folder}"
            checkpoint = cell.spec.checkpoint or f"{folder}/checkpoints/best.pt"
            info.setdefault("runs", {})[str(cell.seed)] = {
                "train_dir": folder, "checkpoint": checkpoint, "scores_dir": f"scores/{cell.folder}",
                "train_key": cell.key, "overrides": dict(cell.spec.overrides)}

    def _reuse(self, cell: ScoreCell, old: dict | None, logged: bool) -> bool:
        """Keep a finished cell (True) or prepare it to be scored (False)."""
        rescore = self._selected_for_rescore(cell)
        if old and not rescore and self._intact(old) and old.get("complete", True):
            self._record_cell(old, log=not logged, reused=True)
            return True
        if old and (rescore or not self._intact(old)):
            why = "rescoring it" if rescore else "changed since it was scored; rescoring it"
            self.log(f"{old['score_file']}: {why}", **_context(cell))
            for name in (old["score_file"], old.get("failed_file")):
                if name:
                    (self.out / name).unlink(missing_ok=True)
        elif old:
            self.log(f"covered {old.get('n_scored')} of {old.get('n_expected')} trials; "
                     "re-attempting the missing ones", **_context(cell))
        return False

    def _intact(self, cell: dict) -> bool:
        path = self.out / cell["score_file"]
        return path.is_file() and sha256_file(path) == cell.get("score_sha256")

    def _selected_for_rescore(self, cell: ScoreCell) -> bool:
        return any(s == "all" or cell.key.startswith(s) or fnmatch.fnmatchcase(cell.ident, s) for s in self.rescore)

    def _jobs_of(self, train_cell: TrainCell, pending: list[ScoreCell]) -> list[Job]:
        cfg, data = self.config, self._data
        index = [d.display for d in cfg.detectors].index(train_cell.detector)
        run_dir = str(self.out / "train" / train_cell.folder)
        score_config = cfg.score_config(("none",)).to_dict()
        calibrate = cfg.calibration and data.dev_manifest is not None
        jobs: list[Job] = []
        if train_cell.needs_training or calibrate:
            train_config = cfg.train_config(index, train_cell.seed).to_dict() if train_cell.needs_training else None
            jobs.append(TrainJob(train_cell, run_dir, train_config, data.train_manifest, data.dev_manifest,
                                 data.train_root, data.dev_root, self.progress, score_config, calibrate))
        score_dir = str(self.out / "scores" / train_cell.folder)
        calibration = str(Path(run_dir) / CALIBRATION_NAME) if calibrate else None
        for test in data.test_sets:
            todo = tuple(c for c in pending if c.test_set == test.name)
            if todo:
                jobs.append(ScoreJob(todo, train_cell.spec, run_dir, test, score_dir, score_config, str(self.out),
                                     cfg.bootstrap, self.progress, calibration))
        return jobs

    # ------------------------------------------------------------------ results
    def _on_start(self, job: Job) -> None:
        if isinstance(job, ScoreJob):
            first = job.cells[0]
            self._bar.describe(f"{first.detector} seed {first.seed}: scoring {first.test_set} × "
                               f"{len(job.cells)} codec(s)")
            self.log(f"scoring {len(job.cells)} codec(s) ({self._bar.done}/{self._bar.total} cells done)",
                     detector=first.detector, seed=first.seed, testset=first.test_set)

    def _on_result(self, job: Job, outcome: dict) -> None:
        if isinstance(job, TrainJob):
            if outcome["ok"]:
                self._note_training(job.cell, outcome.get("training") or
                                    ({"calibration": outcome["calibration"]} if outcome.get("calibration") else None))
            else:
                self.log(f"train failed: {outcome['error']}", warning=True, detector=job.cell.detector,
                         seed=job.cell.seed)
            return
        if not outcome["ok"]:
            self._fail_cells(job.cells, outcome["stage"], outcome["error"], outcome.get("traceback"))
            return
        for cell in outcome["cells"]:
            self._record_cell(cell)
        failed_keys = {(f["codec"]) for f in outcome["failed"]}
        self._fail_cells([c for c in job.cells if c.codec in failed_keys], "metrics",
                         {f["codec"]: f["error"] for f in outcome["failed"]})

    def _note_training(self, cell: TrainCell, summary: dict | None = None) -> None:
        """Log the training summary (and calibration) of a train cell, given or read from its folder."""
        summary = summary or training_summary(self.out / "train" / cell.folder)
        if summary is not None:
            self._append({"type": "training", "detector": cell.detector, "seed": cell.seed, "summary": summary})

    def _record_cell(self, cell: dict, log: bool = True, reused: bool = False) -> None:
        """Log a finished cell; its metric warnings are said when it is scored, not again when a resume reuses it."""
        if log:
            self._append({"type": "cell", **cell})
        self._bar.update(1)
        where = {"detector": cell["detector"], "seed": cell["seed"], "testset": cell["test_set"],
                 "codec": cell["codec"]}
        for message in () if reused else cell.get("metrics", {}).get("warnings", []):
            self.log(message, warning=True, **where)
        if not cell.get("complete", True):
            self.log(f"incomplete: scored {cell.get('n_scored')} of {cell.get('n_expected')} "
                     f"trials ({cell.get('n_failed')} failed, see {cell.get('failed_file')})", warning=True, **where)

    def _fail_cells(self, cells: Iterable[ScoreCell], stage: str, error: str | dict, trace: str | None = None) -> None:
        for cell in cells:
            text = error[cell.codec] if isinstance(error, dict) else error
            self._append({"type": "failed", "hash": cell.key, **failed_cell(cell, stage, text, trace)})
            if stage != "build":  # a build failure was logged once for the detector
                self.log(f"failed ({stage}): {text}", warning=True, **_context(cell))
            self._bar.update(1)

    def _append(self, record: dict) -> None:
        with writing(self.out / LOG_NAME):
            self.cell_log.append(record)


def require_codecs(config: BenchmarkConfig) -> None:
    """Refuse a config naming a codec condition no engine can run here, before any work (no run folder, no
    training): one :class:`~spoofbench.errors.CodecError` line naming what to install (the CLI exits 2)."""
    from ..codecs.availability import require_runnable

    require_runnable(expand_codecs(config.codecs))


def prepare_run_folder(out: Path) -> None:
    """Create the run folder; a path that is a file, or a folder that cannot be made, is one clear error."""
    if out.exists() and not out.is_dir():
        raise SpoofbenchError(f"{out}: is a file; expected a folder for the run (--out)")
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def writing(path: Path):
    """Turn an OSError (full disk, read-only folder) while writing under ``path`` into one clear line."""
    try:
        yield
    except OSError as err:
        where = err.filename or path
        raise SpoofbenchError(f"{where}: cannot write: {err.strerror or err}; free space or choose a writable "
                              "--out, then run again (finished cells are kept)") from err


def _per_detector_labels(config: BenchmarkConfig, test) -> dict:
    """Domain labels and overlap of ``test`` for detectors that declare ``trained_on`` (pretrained weights).

    Others share the test set's own label (from the config's training set). Only corpus ids are declared,
    so the overlap names the shared corpora; trial-level overlap is unknown for them.
    """
    declared = [spec for spec in config.detectors if spec.trained_on]
    if not declared:
        return {}
    domains, overlaps = {}, {}
    for spec in declared:
        domain, reason = test.label_for(spec.trained_on)
        domains[spec.display] = {"domain": domain, "reason": reason}
        overlaps[spec.display] = {"trained_on": list(spec.trained_on),
                                  "shared_corpora": sorted(set(test.corpora) & set(spec.trained_on)),
                                  "trials": "unknown (only corpus ids are declared)"}
    return {"domain_by_detector": domains, "overlap_by_detector": overlaps}


def plugin_specs(config: BenchmarkConfig) -> list:
    """The detector specs of ``config`` that are ``module:factory`` plugins (not registered names)."""
    from ..models import DETECTORS

    return [spec for spec in config.detectors if spec.name not in DETECTORS]


def check_plugins(config: BenchmarkConfig, log: Log | None = None) -> None:
    """Run :func:`spoofbench.models.module_detector.check_plugin` on every plugin that is trained in the run
    (build, probe batch, save and reload a checkpoint); the first failure raises its one-line error."""
    from ..models.module_detector import check_plugin
    from .config import resolve_specs

    resolve_specs(config)  # a misspelled spec: one ConfigError naming detectors[i].name
    note = as_note(log, __name__)
    for spec in plugin_specs(config):
        if spec.checkpoint:
            continue  # scored as is: describe_detector builds it from its checkpoint
        info = check_plugin(spec.name, spec.preset, dict(spec.overrides))
        note(f"plugin check passed ({info['parameters']:,} parameters; build, probe batch of "
             f"{info['probe_samples']} samples, checkpoint save and reload)", detector=spec.display)


def describe_detector(spec) -> dict:
    """Parameters, front-end, sample rate and input policy of a detector spec (builds it once)."""
    from ..models import build_detector, count_parameters

    detector = build_detector(spec.name, spec.preset, checkpoint=spec.checkpoint, **dict(spec.overrides))
    return {"name": spec.name, "preset": spec.preset, "parameters": count_parameters(detector),
            "frontend": getattr(detector, "frontend", None), "sample_rate": detector.sample_rate,
            "input_policy": detector.input_policy.to_dict(),
            "checkpoint": spec.checkpoint, "trained_on": list(spec.trained_on) if spec.trained_on else None,
            "checkpoint_sha256": sha256_file(spec.checkpoint) if spec.checkpoint else None}


def _codec_provenance(codecs: list[str]) -> dict:
    from ..codecs import condition_provenance, get_condition

    return {c: {**dataclasses.asdict(get_condition(c)), **condition_provenance(get_condition(c))} for c in codecs}


def _context(cell: ScoreCell) -> dict:
    """The log context of a score cell."""
    return {"detector": cell.detector, "seed": cell.seed, "testset": cell.test_set, "codec": cell.codec}
