"""``spoofbench run``: expand a benchmark config into cells, compute what is new, write result.json.

A *training cell* is (detector, seed); a *scoring cell* is (detector, seed, test set, codec).
Each is keyed by a content hash of what determines it (config, manifest sha256, checkpoint,
codec condition, engine versions). ``result.json`` is rewritten atomically after every finished
cell, so an interrupted run resumes with only the missing cells: a cell is done when its hash is
in ``result.json`` and its score file still has the recorded sha256. A failed cell is recorded
with its reason and never stops the others.

Run directory::

    config.yaml  environment.json  result.json  cells.csv
    keys/<test>.txt                      (utt_id label attack, for DET plots and re-scoring)
    train/<detector>__seed<S>__<hash>/   (the engine's run dir: checkpoints, train_log.csv)
    scores/<detector>__seed<S>__<hash>/<test>__<codec>.txt
    tables/*.md|csv   plots/*.png|svg
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from .. import __version__
from ..errors import ConfigError, SpoofbenchError
from .config import BenchmarkConfig, DetectorSpec
from ..atomic import write_json_atomic, write_text_atomic
from .results import SCHEMA_VERSION, load_result, write_tidy

Log = Callable[[str], None]


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def content_hash(*parts: Any) -> str:
    """A stable hash of JSON-able parts (dict keys sorted)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _TestSet:
    name: str
    manifest: str
    root: str
    trials: list
    sha256: str
    domain: str
    reason: str
    overlap: dict
    keys_path: Path


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


def expand_codecs(items: Iterable[str]) -> list[str]:
    """Condition ids in order, with ``matrix:NAME`` expanded and duplicates dropped."""
    from ..codecs import get_condition, get_matrix

    ids: list[str] = []
    for item in items:
        if item.startswith("matrix:"):
            ids += [c.id for c in get_matrix(item.partition(":")[2])]
        else:
            get_condition(item)  # unknown ids fail here, before any work
            ids.append(item)
    return list(dict.fromkeys(ids))


def _load_trials(path: str) -> list:
    from ..corpora.manifest import read_manifest

    return list(read_manifest(path))


def _write_keys(path: Path, trials: list) -> None:
    """Keys in the ASVspoof 2019 protocol layout: ``speaker utt_id - attack label``."""
    lines = [f"{_token(t.speaker)} {t.id} - {'-' if t.label == 'bonafide' else _token(t.attack)} {t.label}\n"
             for t in trials]
    write_text_atomic(path, "".join(lines))


def _token(text: str) -> str:
    return "_".join(str(text).split()) or "-"


def _describe_detector(spec: DetectorSpec) -> dict:
    from ..models import build_detector, count_parameters

    detector = build_detector(spec.name, spec.preset, checkpoint=spec.checkpoint, **dict(spec.overrides))
    return {"name": spec.name, "preset": spec.preset, "parameters": count_parameters(detector),
            "frontend": getattr(detector, "frontend", None), "sample_rate": detector.sample_rate,
            "input_policy": detector.input_policy.to_dict(),
            "checkpoint": spec.checkpoint,
            "checkpoint_sha256": sha256_file(spec.checkpoint) if spec.checkpoint else None}


def cell_metrics(score_path: Path, keys_path: Path, *, bootstrap: int, seed: int) -> dict:
    """Pooled and per-attack metrics of one score file over the trials it scored."""
    import numpy as np

    from ..metrics import bootstrap_ci, breakdown, compute_metrics, read_keys, read_scores

    scores = read_scores(score_path)
    keys = read_keys(keys_path)
    present = np.fromiter((i in scores for i in keys.ids), dtype=bool, count=len(keys))
    values = np.fromiter((scores[i] for i in keys.ids[present]), dtype=np.float64, count=int(present.sum()))
    labels = keys.labels[present]
    if len(set(labels.tolist())) < 2:
        raise SpoofbenchError(f"{score_path}: the scored trials hold only one class; "
                              "cannot compute metrics")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = compute_metrics(values, labels)
    metrics["warnings"] = [str(w.message) for w in caught]
    if bootstrap:
        intervals = bootstrap_ci(values, labels, n_resamples=bootstrap, seed=seed)
        metrics["eer_ci95"] = intervals["eer"].to_list()
        metrics["min_dcf_ci95"] = intervals["min_dcf"].to_list()
    attack = keys.columns.get("attack")
    if attack is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per = breakdown(values, labels, attack[present],
                            lambda s, y: {"eer": compute_metrics(s, y)["eer"]})
        metrics["per_attack_eer"] = {k: v["eer"] for k, v in per.items()}
    return metrics


class BenchmarkRunner:
    """Runs one :class:`BenchmarkConfig` into ``out_dir`` (see the module docstring)."""

    def __init__(self, config: BenchmarkConfig, out_dir: str | Path, *, progress: bool = True,
                 log: Log | None = None):
        self.config = config
        self.out = Path(out_dir)
        self.progress = progress
        self.log = log or (lambda msg: print(msg, file=sys.stderr))

    # ------------------------------------------------------------------ set-up
    def _previous(self) -> dict:
        path = self.out / "result.json"
        if not path.exists():
            return {}
        try:
            result = load_result(path)
        except SpoofbenchError as err:
            self.log(f"ignoring the unreadable previous result ({err}); recomputing")
            return {}
        return {cell["hash"]: cell for cell in result["cells"]}

    def _data(self) -> tuple[list, list, Any, Any, list[_TestSet]]:
        """Train trials, dev trials, their roots, and the labelled test sets."""
        cfg = self.config
        if cfg.protocol is not None:
            return self._protocol_data()
        train = _load_trials(cfg.train.manifest) if cfg.train else []
        dev = _load_trials(cfg.dev.manifest) if cfg.dev else []
        tests = [self._test_set(spec.name, spec.manifest, spec.root, _load_trials(spec.manifest), train,
                                spec.domain) for spec in cfg.test_sets]
        return train, dev, cfg.train.root if cfg.train else None, cfg.dev.root if cfg.dev else None, tests

    def _protocol_data(self) -> tuple[list, list, Any, Any, list[_TestSet]]:
        from ..corpora.manifest import read_manifest
        from ..corpora.protocol import load_protocol, write_protocol

        ref = self.config.protocol
        protocol = load_protocol(ref.file, ref.manifests)
        folder = self.out / "protocol"
        report = write_protocol(protocol, folder)
        roots = dict(ref.roots)
        tests = [self._test_set(name, str(folder / report["tests"][name]["manifest"]), roots,
                                list(read_manifest(folder / report["tests"][name]["manifest"])),
                                protocol.train, None, (test.domain, test.reason))
                 for name, test in protocol.tests.items()]
        extra = [self._test_set(spec.name, spec.manifest, spec.root, _load_trials(spec.manifest),
                                protocol.train, spec.domain) for spec in self.config.test_sets]
        self._train_manifest, self._dev_manifest = folder / "train.jsonl.gz", folder / "dev.jsonl.gz"
        return protocol.train, protocol.dev, roots, roots, tests + extra

    def _test_set(self, name: str, manifest: str, root: Any, trials: list, train_trials: list,
                  forced_domain: str | None, labelled: tuple[str, str] | None = None) -> _TestSet:
        from ..corpora.protocol import domain_of, overlap_report

        if not trials:
            raise ConfigError(f"test set {name!r} has no trials", manifest)
        if forced_domain:
            domain, reason = forced_domain, "set in the config"
        elif labelled:
            domain, reason = labelled
        elif train_trials:
            domain, reason = domain_of(train_trials, trials)
        else:
            domain, reason = "ood", "no training data known (pretrained checkpoints)"
        overlap = overlap_report(train_trials, trials).to_dict() if train_trials else {}
        keys_path = self.out / "keys" / f"{name}.txt"
        _write_keys(keys_path, trials)
        return _TestSet(name, manifest, root, trials, sha256_file(manifest), domain, reason, overlap, keys_path)

    # ------------------------------------------------------------------ main
    def run(self) -> dict:
        from ..codecs import condition_provenance, get_condition
        from ..engine import ScoreConfig

        cfg = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        env = environment()
        env["git"] = _git_hash()
        write_json_atomic(self.out / "environment.json", env)
        codecs = expand_codecs(cfg.codecs)
        provenance = {c: {**dataclasses.asdict(get_condition(c)), **condition_provenance(get_condition(c))}
                      for c in codecs}
        self._train_manifest = Path(cfg.train.manifest) if cfg.train else None
        self._dev_manifest = Path(cfg.dev.manifest) if cfg.dev else None
        train_trials, dev_trials, self._train_root, self._dev_root, test_sets = self._data()
        data_hash = content_hash(*(sha256_file(p) if p else None for p in (self._train_manifest, self._dev_manifest)),
                                 self._train_root, self._dev_root)
        previous = self._previous()

        result: dict[str, Any] = {
            "schema": SCHEMA_VERSION, "run_id": self.out.name, "config": cfg.to_dict(), "environment": env,
            "detectors": {}, "codecs": provenance,
            "test_sets": {t.name: {"domain": t.domain, "reason": t.reason, "n_trials": len(t.trials),
                                   "manifest": t.manifest, "manifest_sha256": t.sha256, "overlap": t.overlap}
                          for t in test_sets},
            "cells": [], "failed_cells": [], "timing": {}}
        version_key = {k: env[k] for k in ("spoofbench", "torch", "av")}
        started = time.perf_counter()
        total = len(cfg.detectors) * len(cfg.seeds) * len(test_sets) * len(codecs)
        done_count = 0
        bar = _Progress(total, self.progress)
        try:
            for spec in cfg.detectors:
                label = spec.display
                try:
                    result["detectors"][label] = _describe_detector(spec)
                except SpoofbenchError as err:
                    self._fail_all(result, label, cfg.seeds, test_sets, codecs, "build", err, bar)
                    continue
                for seed in cfg.seeds:
                    train_key = content_hash(label, dataclasses.asdict(spec), seed, cfg.training, data_hash,
                                             version_key, cfg.device)
                    pending = {(t.name, c): content_hash(train_key, t.sha256, provenance[c])
                               for t in test_sets for c in codecs}
                    reused = [previous[h] for h in pending.values() if self._reusable(previous.get(h))]
                    result["cells"] += reused
                    bar.advance(len(reused))
                    done_count += len(reused)
                    if len(reused) == len(pending):
                        continue
                    try:
                        detector = self._trained_detector(spec, label, seed, train_key, train_trials,
                                                          dev_trials, result)
                    except SpoofbenchError as err:
                        self._fail_all(result, label, [seed], test_sets, codecs, "train", err, bar)
                        continue
                    except Exception as err:  # a crash in one detector must not lose the others
                        self._fail_all(result, label, [seed], test_sets, codecs, "train", err, bar,
                                       trace=traceback.format_exc())
                        continue
                    score_dir = self.out / "scores" / f"{label}__seed{seed}__{train_key[:10]}"
                    for test in test_sets:
                        todo = [c for c in codecs if not self._reusable(previous.get(pending[(test.name, c)]))]
                        if not todo:
                            continue
                        for c in todo:  # finished once, changed since: rescore from scratch, never resume it
                            stale = previous.get(pending[(test.name, c)])
                            if stale:
                                self.log(f"{stale['score_file']} changed since it was scored; rescoring it")
                                for name in (stale["score_file"], stale.get("failed_file")):
                                    if name:
                                        (self.out / name).unlink(missing_ok=True)
                        bar.describe(f"{label} seed {seed}: scoring {test.name} × {len(todo)} codec(s)")
                        score_cfg = ScoreConfig.from_dict({"device": cfg.device, **dict(cfg.scoring),
                                                           "codecs": todo, "cache_dir": cfg.codec_cache})
                        try:
                            scored = self._score(detector, test, score_dir, score_cfg)
                        except Exception as err:
                            for c in todo:
                                self._fail(result, label, seed, test.name, c, "score", err, bar)
                            continue
                        for file in scored.files:
                            cell = self._finish_cell(label, seed, test, file, pending[(test.name, file.codec)],
                                                     result)
                            bar.advance(1)
                            done_count += 1
                            if cell is not None:
                                self._save(result, started)
        finally:
            bar.close()
        self._save(result, started)
        return result

    # ------------------------------------------------------------------ cells
    def _reusable(self, cell: dict | None) -> bool:
        if not cell:
            return False
        path = self.out / cell["score_file"]
        return path.is_file() and sha256_file(path) == cell.get("score_sha256")

    def _trained_detector(self, spec: DetectorSpec, label: str, seed: int, train_key: str,
                          train_trials: list, dev_trials: list, result: dict):
        from ..engine import TrainConfig, load_run_detector, train
        from ..models import build_detector

        if spec.checkpoint:
            return build_detector(spec.name, spec.preset, checkpoint=spec.checkpoint, **dict(spec.overrides))
        run_dir = self.out / "train" / f"{label}__seed{seed}__{train_key[:10]}"
        done_marker = run_dir / "done.json"
        if done_marker.is_file():
            self.log(f"{label} seed {seed}: reusing the trained checkpoint in {run_dir}")
        else:
            config = TrainConfig.from_dict({"device": self.config.device, **dict(self.config.training),
                                            **dict(spec.train), "detector": spec.name, "preset": spec.preset,
                                            "overrides": dict(spec.overrides), "seed": seed})
            resume = (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir())
            self.log(f"{label} seed {seed}: training ({'resuming' if resume else 'new run'}) in {run_dir}")
            trained = train(config, train_trials, dev_trials, root=self._train_root,
                            dev_root=self._dev_root, out_dir=run_dir, resume=resume,
                            progress=self.progress)
            write_json_atomic(done_marker, trained.to_dict())
        info = json.loads(done_marker.read_text(encoding="utf-8"))
        result["detectors"][label].setdefault("training", {})[str(seed)] = {
            k: info.get(k) for k in ("best_epoch", "best_dev_eer", "epochs_run", "stopped_early", "weights_sha256")}
        return load_run_detector(run_dir)

    def _score(self, detector, test: _TestSet, score_dir: Path, score_cfg):
        from ..engine import score

        return score(detector, test.trials, root=test.root, out_dir=score_dir, testset=test.name,
                     config=score_cfg, progress=self.progress)

    def _finish_cell(self, label: str, seed: int, test: _TestSet, file, cell_hash: str, result: dict) -> dict | None:
        try:
            metrics = cell_metrics(file.scores, test.keys_path, bootstrap=self.config.bootstrap, seed=seed)
        except SpoofbenchError as err:
            self._fail(result, label, seed, test.name, file.codec, "metrics", err, None)
            return None
        cell = {"detector": label, "seed": seed, "test_set": test.name, "codec": file.codec,
                "domain": test.domain, "hash": cell_hash,
                "score_file": str(Path(file.scores).resolve().relative_to(self.out.resolve())),
                "score_sha256": sha256_file(file.scores), "n_scored": file.n_scored, "n_failed": file.n_failed,
                "failed_file": str(Path(file.failed).resolve().relative_to(self.out.resolve())) if file.n_failed else None,
                "clips_per_s": file.clips_per_s, "metrics": metrics}
        result["cells"].append(cell)
        return cell

    def _fail(self, result: dict, label: str, seed: int, test: str, codec: str, stage: str,
              err: BaseException, bar: "_Progress | None", trace: str | None = None) -> None:
        result["failed_cells"].append({"detector": label, "seed": seed, "test_set": test, "codec": codec,
                                       "stage": stage, "error": f"{type(err).__name__}: {err}",
                                       **({"traceback": trace} if trace else {})})
        if bar is not None:
            bar.advance(1)

    def _fail_all(self, result, label, seeds, test_sets, codecs, stage, err, bar, trace=None) -> None:
        self.log(f"{label}: {stage} failed: {type(err).__name__}: {err}")
        for seed in seeds:
            for test in test_sets:
                for codec in codecs:
                    self._fail(result, label, seed, test.name, codec, stage, err, bar, trace)

    def _save(self, result: dict, started: float) -> None:
        result["timing"]["last_run_seconds"] = round(time.perf_counter() - started, 3)
        write_json_atomic(self.out / "result.json", result)


class _Progress:
    """A rich progress bar over cells with an ETA (silent when disabled)."""

    def __init__(self, total: int, enabled: bool):
        self._bar = None
        if enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._bar = Progress(TextColumn("[bold]cells[/]"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 TextColumn("{task.description}"), transient=False)
            self._task = self._bar.add_task("", total=total)
            self._bar.start()

    def advance(self, n: int) -> None:
        if self._bar is not None and n:
            self._bar.advance(self._task, n)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def run_benchmark(config: BenchmarkConfig | str | Path, out_dir: str | Path, *, progress: bool = True,
                  log: Log | None = None, tables: bool = True) -> dict:
    """Run (or resume) a benchmark; write result.json, cells.csv, tables and plots into ``out_dir``."""
    if not isinstance(config, BenchmarkConfig):
        config = BenchmarkConfig.from_yaml(config)
    result = BenchmarkRunner(config, out_dir, progress=progress, log=log).run()
    if tables and result["cells"]:
        write_reports(result, out_dir)
    return result


def write_reports(result: dict, out_dir: str | Path) -> dict[str, list[Path]]:
    """Tables (Markdown, CSV), the tidy cells CSV and the plots of a result, under ``out_dir``."""
    from .plots import plot_eer_heatmaps, plot_params_vs_ood
    from .tables import render, standard_tables

    out = Path(out_dir)
    written: dict[str, list[Path]] = {"tables": [], "plots": []}
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for i, table in enumerate(standard_tables(result, ("eer", "min_dcf"))):
        for fmt in ("md", "csv"):
            path = out / "tables" / f"{i:02d}_{_slug(table.title)}.{fmt}"
            write_text_atomic(path, render(table, fmt))
            written["tables"].append(path)
    written["tables"] += write_tidy(result, out)
    written["plots"] += plot_eer_heatmaps(result, out / "plots", formats=("png", "svg"))
    written["plots"] += plot_params_vs_ood(result, out / "plots", formats=("png", "svg"))
    written["plots"] += plot_det_curves(result, out)
    return written


def plot_det_curves(result: dict, out_dir: str | Path) -> list[Path]:
    """DET curves per test set (uncoded condition, seed of each detector's first cell)."""
    import numpy as np

    from ..metrics import plot_det, read_keys, read_scores

    out = Path(out_dir)
    written = []
    for test_set in result["test_sets"]:
        keys = read_keys(out / "keys" / f"{test_set}.txt")
        systems = {}
        for cell in result["cells"]:
            if cell["test_set"] != test_set or cell["codec"] != "none" or cell["detector"] in systems:
                continue
            scores = read_scores(out / cell["score_file"])
            present = np.fromiter((i in scores for i in keys.ids), dtype=bool, count=len(keys))
            values = np.array([scores[i] for i in keys.ids[present]])
            systems[cell["detector"]] = (values, keys.labels[present])
        if systems:
            for suffix in ("png", "svg"):
                path = out / "plots" / f"det__{test_set}.{suffix}"
                path.parent.mkdir(parents=True, exist_ok=True)
                plot_det(systems, path, title=f"DET: {test_set} ({result['test_sets'][test_set]['domain']})")
                written.append(path)
    return written


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")[:60]
