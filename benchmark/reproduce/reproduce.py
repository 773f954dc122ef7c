"""``spoofbench reproduce``: re-run a recorded command from its manifest, or check a published claim.

- :func:`reproduce_run` re-invokes the command recorded in ``RUN_DIR/manifest.json`` through the
  Python API into a new folder, compares every cell (or one) and ranks the manifest differences.
- :func:`scoring_only` recomputes the metrics from the stored score files and checks every hash.
- :func:`check_claim` recomputes a claimed metric from a published score file and keys.

Each returns a :class:`Report`: ``status`` is ``reproduced`` (exit 0), ``not_reproduced`` (1) or
``error`` (2); :func:`write_report` writes it as Markdown and JSON.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Union

from ..atomic import write_json_atomic, write_text_atomic
from ..errors import ConfigError, InputFileError, SpoofbenchError
from ..runner.result_model import Cell, RunResult
from .compare import CellComparison, cell_id, compare_cells, manifest_differences, read_cells, to_json
from ..digests import DigestCache
from .manifest import edited_sections, load_manifest, output_hashes

if TYPE_CHECKING:
    from ..demo.runs import DemoSettings
    from ..engine import ScoreConfig, TrainConfig
    from ..runner.config import BenchmarkConfig

#: What :func:`rerun` re-ran: the config of the recorded command (the demo's settings for ``demo``).
RerunConfig = Union["BenchmarkConfig", "DemoSettings", "TrainConfig", "ScoreConfig"]

EXIT = {"reproduced": 0, "not_reproduced": 1, "error": 2}


@dataclass
class Report:
    """What a reproduction found; ``findings`` are one-line statements, most important first."""
    mode: str
    status: str
    reason: str
    findings: list[str] = field(default_factory=list)
    cells: list[CellComparison] = field(default_factory=list)
    differences: list = field(default_factory=list)
    details: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT[self.status]

    def to_dict(self) -> dict:
        return to_json({"mode": self.mode, "status": self.status, "exit_code": self.exit_code, "reason": self.reason,
                        "findings": self.findings, "cells": self.cells, "differences": self.differences,
                        "details": self.details})


# ----------------------------------------------------------------------------- re-running a command

def _benchmark_config(manifest: Mapping, cell: str | None, fresh_cache: Path | None):
    from ..runner.config import BenchmarkConfig

    data = dict(manifest["config"])
    if fresh_cache is not None:
        data["codec_cache"] = str(fresh_cache)
    if cell:
        detector, seed, test, codec = _parse_cell(cell)
        data["detectors"] = [d for d in data["detectors"] if _label(d) == detector]
        data["seeds"], data["codecs"] = [seed], [codec]
        data["test_sets"] = [t for t in data.get("test_sets", []) if t["name"] == test]
        if not data["detectors"] or (not data["test_sets"] and not data.get("protocol")):
            raise ConfigError(f"cell {cell!r} is not in the recorded config", field="--cell")
    return BenchmarkConfig.from_dict(data)


def _label(spec: Mapping) -> str:
    return spec.get("label") or (spec["name"] if not spec.get("preset") else f"{spec['name']}:{spec['preset']}")


def _parse_cell(cell: str) -> tuple[str, int, str, str]:
    parts = cell.split("/")
    if len(parts) != 4 or not re.fullmatch(r"seed\d+", parts[1]):
        raise ConfigError(f"cell id {cell!r}: expected DETECTOR/seedN/TEST_SET/CODEC (as in the report)",
                          field="--cell")
    return parts[0], int(parts[1][4:]), parts[2], parts[3]


def rerun(manifest: Mapping, out: Path, *, cell: str | None = None, fresh_cache: bool = False,
          progress: bool = False) -> RerunConfig:
    """Re-invoke the recorded command through the Python API into ``out``; returns its config."""
    command, inputs = manifest["command"], manifest.get("invocation") or {}
    cache = out / "codec_cache" if fresh_cache else None
    if command in ("run", "demo"):
        from ..runner.benchmark import run_benchmark

        if command == "demo":
            if cell:
                raise ConfigError("--cell applies to `run`; re-run a whole demo", field="--cell")
            return _rerun_demo(inputs, out, progress)
        config = _benchmark_config(manifest, cell, cache)
        run_benchmark(config, out, progress=progress)
        return config
    if cell:
        raise ConfigError(f"--cell applies to run and demo, not {command}", field="--cell")
    if command == "train":
        from ..engine import TrainConfig, train_from_files

        config = TrainConfig.from_dict(manifest["config"])
        train_from_files(config, root=inputs["root"], out_dir=out, protocol=inputs.get("protocol"),
                         manifests_dir=inputs.get("manifests_dir"), train_manifest=inputs.get("train_manifest"),
                         dev_manifest=inputs.get("dev_manifest"), progress=progress)
        return config
    if command == "score":
        from ..engine import ScoreConfig, load_run_detector, score
        from ..models import build_detector

        config = ScoreConfig.from_dict({**manifest["config"], "resume": False,
                                        **({"cache_dir": str(cache)} if cache else {})})
        detector = (load_run_detector(inputs["run"]) if inputs.get("run") else
                    build_detector(inputs["detector"], inputs.get("preset"), checkpoint=inputs.get("checkpoint")))
        score(detector, inputs["manifest"], root=inputs["root"], out_dir=out, testset=inputs.get("testset"),
              config=config, progress=progress)
        return config
    raise InputFileError(f"unknown recorded command {command!r}", field="command")


def _rerun_demo(inputs: Mapping, out: Path, progress: bool) -> DemoSettings:
    """The demo again, corpus generation included (so generation and training can be told apart)."""

    from ..demo.runs import DemoSettings, run_demo

    values = {k: tuple(v) if isinstance(v, list) else v for k, v in inputs["settings"].items()}
    from ..demo.la19 import La19Sizes
    from ..demo.plan import DemoSizes
    for key, kind in (("corpus_sizes", DemoSizes), ("la19_sizes", La19Sizes)):
        if isinstance(values.get(key), dict):
            values[key] = kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values[key].items()})
    known = {f.name for f in dataclasses.fields(DemoSettings)}
    settings = DemoSettings(**{k: v for k, v in values.items() if k in known})
    _, corpus = run_demo(out, settings, progress=progress)
    return settings


def _config_vs_result(manifest: Mapping, run_dir: Path) -> list[str]:
    """Where the manifest's config disagrees with the config the results were computed with."""
    try:
        result, _ = read_cells(run_dir)
    except SpoofbenchError:
        return []
    recorded = result.config if "config" in result.model_fields_set else None
    if recorded is None or manifest["command"] != "run":
        return []
    from .compare import _flatten
    a, b = _flatten(recorded, "config"), _flatten(manifest["config"], "config")
    return [f"{key}: {a.get(key)!r} in result.json, {b.get(key)!r} in manifest.json"
            for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]


def _file_outputs_equal(old_dir: Path, new_dir: Path, manifest: Mapping, new_manifest: Mapping) -> list[CellComparison]:
    """For train and score (no result.json): compare each score file / checkpoint by hash."""
    old_out, new_out = manifest.get("outputs") or {}, new_manifest.get("outputs") or {}
    compared = []
    for name, digest in sorted(old_out.items()):
        if not name.endswith((".txt", ".pt")) or "/" in name and name.startswith("checkpoints/last"):
            continue
        status = "identical" if new_out.get(name) == digest else ("missing" if name not in new_out else "outside_ci")
        compared.append(CellComparison(name, "-", "-", status, note="" if status == "identical" else "file differs"))
    return compared


def reproduce_run(run_dir: str | Path, *, out: str | Path | None = None, cell: str | None = None,
                  fresh_cache: bool = False, progress: bool = False,
                  digest_cache: Any = None) -> Report:
    """Re-run ``run_dir``'s recorded command into ``out`` and compare (see the module docstring)."""
    from .record import record_command

    run_dir = Path(run_dir)
    manifest = load_manifest(run_dir)
    findings = _integrity_findings(manifest, run_dir)
    target = Path(out) if out else run_dir.parent / f"{run_dir.name}-reproduced"
    if target.resolve() == run_dir.resolve():
        raise ConfigError("--out must differ from the run being reproduced", field="--out")
    if target.exists() and any(target.iterdir()):
        # a folder with finished cells would be resumed, not recomputed: the comparison would prove nothing
        raise ConfigError(f"{target} exists and is not empty; a reproduction starts from an empty folder "
                          "(remove it or give another --out)", field="--out")
    config = rerun(manifest, target, cell=cell, fresh_cache=fresh_cache, progress=progress)
    inputs = dict(manifest.get("invocation") or {})
    if manifest["command"] == "demo":
        inputs = _demo_inputs(inputs, target)
    record_command(target, manifest.get("argv"), config, manifest.get("seeds"), inputs, command=manifest["command"],
                   digest_cache=digest_cache)
    new_manifest = load_manifest(target)
    if manifest["command"] in ("run", "demo"):
        cells = compare_cells(run_dir, target, only=[cell] if cell else None)
    else:
        cells = _file_outputs_equal(run_dir, target, manifest, new_manifest)
    diffs = manifest_differences(manifest, new_manifest, old_dir=run_dir, new_dir=target, cells=cells)
    if cell:  # the re-run's config is the recorded one narrowed to the cell: not a difference
        narrowed = ("config.detectors", "config.seeds", "config.codecs", "config.test_sets", "seeds")
        diffs = [d for d in diffs if not d.key.startswith(narrowed)]
    report = _verdict("rerun", cells, diffs, findings)
    report.details.update({"run_dir": str(run_dir), "reproduction_dir": str(target), "command": manifest["command"],
                           "cell": cell, "fresh_codec_cache": fresh_cache})
    if manifest["command"] == "demo" and manifest.get("demo_corpus") and new_manifest.get("demo_corpus"):
        same = manifest["demo_corpus"]["sha256"] == new_manifest["demo_corpus"]["sha256"]
        report.findings.insert(0, "demo corpus: regenerated " + ("bit for bit (generation is not the cause)" if same
                                                                  else "with different audio (generation differs)"))
    return report


def compare_runs(run_dir: str | Path, other_dir: str | Path) -> Report:
    """Compare two finished runs of the same config (e.g. from two machines) without re-running anything."""
    run_dir, other_dir = Path(run_dir), Path(other_dir)
    manifest, other = load_manifest(run_dir), load_manifest(other_dir)
    findings = _integrity_findings(manifest, run_dir) + _integrity_findings(other, other_dir)
    if manifest["command"] in ("run", "demo"):
        cells = compare_cells(run_dir, other_dir)
    else:
        cells = _file_outputs_equal(run_dir, other_dir, manifest, other)
    diffs = manifest_differences(manifest, other, old_dir=run_dir, new_dir=other_dir, cells=cells)
    if manifest.get("demo_corpus") and other.get("demo_corpus"):
        same = manifest["demo_corpus"]["sha256"] == other["demo_corpus"]["sha256"]
        findings.insert(0, "demo corpus: " + ("identical in both runs (generation is not the cause)" if same
                                              else "the generated audio differs (see inputs.audio.* by attack)"))
    report = _verdict("compare", cells, diffs, findings)
    report.details.update({"run_dir": str(run_dir), "other_dir": str(other_dir)})
    return report


def _demo_inputs(inputs: Mapping, target: Path) -> dict:
    """The recorded demo inputs with the corpus paths of the re-run."""
    old_root = Path(inputs.get("corpus_dir") or ".")
    new_root = target / "corpus"
    manifests = {name: str(new_root / Path(path).relative_to(old_root)) if Path(path).is_relative_to(old_root)
                 else path for name, path in (inputs.get("corpus_manifests") or {}).items()}
    return {**inputs, "corpus_dir": str(new_root), "corpus_manifests": manifests}


def _integrity_findings(manifest: Mapping, run_dir: Path) -> list[str]:
    findings = []
    edited = edited_sections(manifest)
    if edited:
        findings.append(f"manifest.json was edited after the run: section(s) {', '.join(edited)} no longer match "
                        "their seals")
    findings += [f"config disagrees with result.json: {line}" for line in _config_vs_result(manifest, run_dir)]
    return findings


def _verdict(mode: str, cells: list[CellComparison], diffs: list, findings: list[str]) -> Report:
    bad = [c for c in cells if c.status not in ("identical", "within_ci")]
    identical = sum(c.status == "identical" for c in cells)
    summary = f"{identical} of {len(cells)} cells identical bit for bit"
    if any(c.status == "within_ci" for c in cells):
        summary += f", {sum(c.status == 'within_ci' for c in cells)} within the original 95% CI"
    if bad:
        summary += f", {len(bad)} not reproduced ({', '.join(c.cell for c in bad[:3])}{', …' if len(bad) > 3 else ''})"
    top = [d for d in diffs if d.weight >= 30][:3]
    if bad and top:
        summary += "; likeliest cause: " + "; ".join(f"{d.key} ({d.why})" for d in top[:2])
    status = "not_reproduced" if bad or not cells else "reproduced"
    if not cells:
        summary = "no cell to compare (the run has no finished cells)"
    return Report(mode, status, summary, findings, cells, diffs)


# ----------------------------------------------------------------------------- scoring only

def scoring_only(run_dir: str | Path, *, cell: str | None = None, digest_cache: Any = None) -> Report:
    """Recompute metrics from the stored score files and check every recorded hash (no model needed)."""
    run_dir = Path(run_dir)
    manifest = load_manifest(run_dir)
    findings = _integrity_findings(manifest, run_dir)
    cache = digest_cache if isinstance(digest_cache, DigestCache) else DigestCache(digest_cache)
    try:
        findings += _hash_findings(manifest, run_dir, cache)
    finally:
        if not isinstance(digest_cache, DigestCache):
            cache.close()
    cells: list[CellComparison] = []
    if manifest["command"] in ("run", "demo"):
        result, stored = read_cells(run_dir)
        for name, c in stored.items():
            if cell and name != cell:
                continue
            cells.append(_recompute_cell(run_dir, c, _cell_origin(run_dir, result, c)))
    hash_problems = [f for f in findings if f.startswith(("changed:", "missing:"))]
    bad = [c for c in cells if c.status != "identical"]
    status = "not_reproduced" if hash_problems or bad or any("edited" in f for f in findings) else "reproduced"
    reason = (f"{sum(c.status == 'identical' for c in cells)} of {len(cells)} cells recomputed to the stored metrics; "
              f"{len(hash_problems)} hash mismatch(es)")
    if hash_problems:
        reason += f" (first: {hash_problems[0]})"
    return Report("scoring-only", status, reason, findings, cells, [], {"run_dir": str(run_dir)})


def _hash_findings(manifest: Mapping, run_dir: Path, cache: DigestCache) -> list[str]:
    from .digest import audio_digest

    found = []
    now = output_hashes(run_dir, cache)
    for name, digest in sorted((manifest.get("outputs") or {}).items()):
        if now.get(name) == digest:
            continue
        if is_derived_output(name):  # re-rendered from result.json and the score files: not evidence
            found.append(f"re-rendered: {name} " + ("is absent" if name not in now else "differs from the recorded "
                                                    "hash (derived output; `spoofbench report` rewrites it)"))
        elif name not in now:
            found.append(f"missing: {name} (recorded sha256 {digest[:12]}…)")
        else:
            kind = "checkpoint" if name.endswith(".pt") else "file"
            found.append(f"changed: {kind} {name}: sha256 {now[name][:12]}… differs from the recorded {digest[:12]}…")
    for role, record in sorted((manifest["inputs"].get("files") or {}).items()):
        path = Path(record.get("path", ""))
        if record.get("sha256") and path.is_file() and cache.sha256(path) != record["sha256"]:
            found.append(f"changed: input {role} {path}: content differs from the recorded sha256")
        elif record.get("sha256") and not path.is_file():
            found.append(f"missing: input {role} {path}")
    for name, record in sorted((manifest["inputs"].get("audio") or {}).items()):
        if not record.get("sha256") or not record.get("manifest") or not Path(record["manifest"]).is_file():
            continue
        try:
            now_digest = audio_digest(record["manifest"], record["root"], cache=cache)
        except SpoofbenchError:
            continue
        if now_digest.digest != record["sha256"]:
            from ..digests import changed_trials, read_trial_hashes
            detail = ""
            if record.get("trial_hashes") and (run_dir / record["trial_hashes"]).is_file():
                detail = ": " + changed_trials(read_trial_hashes(run_dir / record["trial_hashes"]), now_digest).describe()
            found.append(f"changed: audio of {name}{detail}")
    return found


#: Outputs re-rendered from result.json and the score files (``spoofbench report``, tables, plots, the flat
#: cells.csv, the demo's summary): their hashes are recorded, but a difference or absence there is reported
#: as "re-rendered", never as a failed reproduction (the metrics they show are checked cell by cell).
DERIVED_OUTPUTS = ("report.md", "report.html", "cells.csv", "demo_summary.md")
DERIVED_FOLDERS = ("tables", "plots")


def is_derived_output(name: str) -> bool:
    """Whether the output ``name`` (relative to the run folder) is a re-renderable view of the results."""
    parts = Path(name).parts
    return bool(parts) and (parts[-1] in DERIVED_OUTPUTS or any(p in DERIVED_FOLDERS for p in parts[:-1]))


@dataclass(frozen=True)
class CellOrigin:
    """Where a cell's metrics were computed: the run folder that scored it (a demo's sub-run, or the run
    itself), the score file relative to it, and the bootstrap count and seed that run used."""
    root: Path
    score_file: str
    bootstrap: int
    seed: int


def _cell_origin(run_dir: Path, result: RunResult, cell: Cell) -> CellOrigin:
    """The run that computed ``cell``. A merged demo result prefixes score files with the sub-run folder and
    relabels the telephone run's seeds: the sub-run's own result.json holds its bootstrap and the seed it used."""
    config = result.config
    score_file = str(cell.score_file)
    head, _, rest = score_file.partition("/")
    runs = config.get("runs") or {}
    if head in runs and rest:
        sub = run_dir / head
        seed = cell.seed
        try:
            _, sub_cells = read_cells(sub)
            seed = next((c.seed for c in sub_cells.values() if c.score_file == rest), seed)
        except SpoofbenchError:
            pass
        return CellOrigin(sub, rest, int((runs[head] or {}).get("bootstrap") or 0), seed)
    return CellOrigin(run_dir, score_file, int(config.get("bootstrap") or 0), cell.seed)


def _recompute_cell(run_dir: Path, cell: Cell, origin: CellOrigin) -> CellComparison:
    name = cell_id(cell)
    stored = cell.metrics.to_dict()   # the metric keys as the run wrote them
    try:
        metrics = _cell_metrics(origin.root / origin.score_file, run_dir / "keys" / f"{cell.test_set}.txt",
                                origin.bootstrap, origin.seed, _calibration(origin, cell))
    except (SpoofbenchError, OSError) as err:
        return CellComparison(name, cell.codec, cell.test_set, "failed", note=str(err))
    keys = ("eer", "min_dcf", "act_dcf", "cllr", "eer_ci95")
    differ = [k for k in keys if k in stored and not _same(stored[k], metrics.get(k))]
    return CellComparison(name, cell.codec, cell.test_set, "identical" if not differ else "outside_ci",
                          eer_old=stored.get("eer"), eer_new=metrics.get("eer"),
                          eer_diff=(metrics.get("eer") or 0) - (stored.get("eer") or 0),
                          ci95=stored.get("eer_ci95"), note=f"differs: {', '.join(differ)}" if differ else "")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b or (a is None and isinstance(b, float) and math.isnan(b))
        return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return a == b


def _calibration(origin: CellOrigin, cell: Cell) -> Any:
    """The score calibration a cell's metrics used (``train/<folder>/calibration.json`` of the run that scored
    it, where the score file is ``scores/<folder>/...``); a calibrated cell without one raises."""
    if not cell.metrics.calibrated:
        return None
    from ..metrics import LinearCalibration
    from ..runner.jobs import CALIBRATION_NAME

    parts = Path(origin.score_file).parts
    folder = parts[1] if len(parts) > 2 and parts[0] == "scores" else Path(origin.score_file).parent.name
    path = origin.root / "train" / folder / CALIBRATION_NAME
    if not path.is_file():
        raise InputFileError(f"the cell's metrics are calibrated but its calibration is missing: {path}")
    try:
        return LinearCalibration.load(path)
    except (OSError, ValueError) as err:
        raise InputFileError(f"{path}: unreadable calibration ({err})") from err


def _cell_metrics(score_path: Path, keys_path: Path, bootstrap: int, seed: int, calibration: Any = None) -> dict:
    """The runner's own metrics function (same calibration, bootstrap count and seed as the run)."""
    from ..runner.jobs import cell_metrics

    return cell_metrics(score_path, keys_path, bootstrap=bootstrap, seed=seed, calibration=calibration)


# ----------------------------------------------------------------------------- published claims

_CLAIM = re.compile(r"^\s*([a-z_]+)\s*=\s*([-+0-9.eE]+)\s*(%?)\s*$")


def parse_claim(text: str) -> tuple[str, float, float, bool]:
    """``"eer=2.19%"`` → (metric, value as a fraction, tolerance = half the last printed digit, percent)."""
    match = _CLAIM.match(text or "")
    if not match:
        raise ConfigError(f"claim {text!r}: expected METRIC=VALUE, e.g. 'eer=2.19%' or 'min_dcf=0.0612'",
                          field="--claim")
    metric, number, percent = match.group(1), match.group(2), bool(match.group(3))
    decimals = len(number.split(".")[1]) if "." in number and "e" not in number.lower() else 0
    scale = 100.0 if percent else 1.0
    try:
        value = float(number) / scale
    except ValueError:
        raise ConfigError(f"claim {text!r}: {number!r} is not a number", field="--claim") from None
    bounded = metric in ("eer", "auc")  # fractions of trials: 0..1 (0..100%)
    if not math.isfinite(value) or value < 0 or (bounded and value > 1):
        limit = "between 0 and 100%" if bounded else ">= 0"
        raise ConfigError(f"claim {text!r}: {metric} must be {limit}", field="--claim")
    return metric, value, 0.5 * 10 ** -decimals / scale, percent


def check_claim(scores: str | Path, keys: str | Path, claim: str, *, normalization: Any = None,
                key_format: str | None = None, tolerance: float | None = None) -> Report:
    """Recompute the claimed metric from a published score file and keys; say how it was obtained."""
    from ..metrics import compute_metrics, load_trials

    metric, value, rounding, percent = parse_claim(claim)
    import warnings

    trials = load_trials(scores, keys, key_format, normalization)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = compute_metrics(trials.scores, trials.labels)
    if metric not in metrics:
        raise ConfigError(f"claim metric {metric!r} is not computed; expected one of "
                          f"{', '.join(k for k, v in metrics.items() if isinstance(v, float))}", field="--claim")
    got = float(metrics[metric])
    allowed = max(rounding, tolerance or 0.0)
    ok = abs(got - value) <= allowed + 1e-12
    shown = (lambda x: f"{100 * x:.4f}%") if percent else (lambda x: f"{x:.6g}")
    norm = normalization.to_dict() if normalization is not None else {}
    how = (f"{metric} over {len(trials.ids)} trials ({int(trials.labels.sum())} bona fide, "
           f"{int((trials.labels == 0).sum())} spoof) aligned by id with {keys}; higher score = bona fide"
           + ("; scores negated (--flip)" if norm.get("flip") else "")
           + (f"; score column {norm['score_col']}" if norm.get("score_col") else "")
           + (f"; ids mapped by {norm['id_map']!r}" if norm.get("id_map") else "")
           + "".join(f"; dropped {d['count']} {kind} id(s)" for kind, d in trials.dropped.items()))
    reason = (f"claimed {metric} {shown(value)}, recomputed {shown(got)}: "
              + ("reproduced" if ok else "NOT reproduced") + f" (tolerance ±{shown(allowed)}, from the claim's rounding)")
    findings = [how] + [f"note: {w.message}" for w in caught]
    if not ok and metric == "eer" and abs((1 - got) - value) <= allowed:
        findings.append("the claim matches 1 - EER: the published scores may have inverted polarity (try --flip)")
    return Report("claim", "reproduced" if ok else "not_reproduced", reason, findings, [], [],
                  {"metric": metric, "claimed": value, "recomputed": got, "tolerance": allowed,
                   "normalization": norm, "dropped": trials.dropped, "all_metrics": metrics})


# ----------------------------------------------------------------------------- reports

def render_markdown(report: Report) -> str:
    lines = [f"# spoofbench reproduce ({report.mode}): {report.status.replace('_', ' ')}", "", report.reason, ""]
    if report.findings:
        lines += ["## Findings", ""] + [f"- {f}" for f in report.findings] + [""]
    if report.cells:
        lines += ["## Cells", "", "| cell | status | max score diff | EER old | EER new | ΔEER | CI95 (old) | note |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in report.cells:
            lines.append(f"| {c.cell} | {c.status} | {_num(c.max_score_diff)} | {_pct(c.eer_old)} | {_pct(c.eer_new)} | "
                         f"{_pct(c.eer_diff)} | {_ci_text(c.ci95)} | {c.note} |")
        lines.append("")
    if report.differences:
        lines += ["## Differences between the manifests (most likely to matter first)", "",
                  "| weight | what | recorded | now | why |", "|---|---|---|---|---|"]
        for d in report.differences:
            lines.append(f"| {d.weight} | `{d.key}` | {_short(d.old)} | {_short(d.new)} | {d.why}"
                         f"{' — ' + d.detail if d.detail else ''} |")
        lines.append("")
    return "\n".join(lines)


def _num(x: Any) -> str:
    return "-" if x is None else f"{x:.3g}"


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _ci_text(ci: Any) -> str:
    return "-" if not ci else f"[{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]%"


def _short(x: Any) -> str:
    text = str(x)
    return (text[:60] + "…") if len(text) > 61 else text


def write_report(report: Report, folder: str | Path, stem: str = "reproduction") -> tuple[Path, Path]:
    folder = Path(folder)
    md, js = folder / f"{stem}.md", folder / f"{stem}.json"
    write_text_atomic(md, render_markdown(report) + "\n")
    write_json_atomic(js, report.to_dict())
    return md, js
