"""Compare two runs: cell by cell (scores, EER, bootstrap CI) and manifest by manifest (ranked causes).

- :func:`compare_cells` matches the cells of two run dirs by (detector, seed, test set, codec) and
  says, per cell, ``identical`` (score files equal byte for byte) or the largest per-trial score
  difference, the EER difference and whether the new EER lies inside the original's 95% CI.
- :func:`manifest_differences` lists every difference between two manifests that can move a score,
  each with a weight (0–100: how likely it is to matter) and the reason, adjusted by what the cells
  show (e.g. only coded cells differ → the codec path is the likelier cause).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import InputFileError
from ..digests import changed_trials, read_trial_hashes
from ..runner.result_model import Cell, FailedCell, RunResult
from .manifest import sha256_json


@dataclass
class CellComparison:
    cell: str                    # detector/seed<S>/test_set/codec
    codec: str
    test_set: str
    status: str                  # identical | within_ci | outside_ci | missing | failed
    max_score_diff: float | None = None
    n_trials_changed: int | None = None
    n_trials: int | None = None
    eer_old: float | None = None
    eer_new: float | None = None
    eer_diff: float | None = None
    ci95: list | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def cell_id(cell: Cell | FailedCell | Mapping[str, Any]) -> str:
    """``detector/seed<S>/test_set/codec`` of a cell (a model, or a cell record)."""
    if isinstance(cell, Mapping):
        return f"{cell['detector']}/seed{cell['seed']}/{cell['test_set']}/{cell['codec']}"
    return f"{cell.detector}/seed{cell.seed}/{cell.test_set}/{cell.codec}"


def read_cells(run_dir: str | Path) -> tuple[RunResult, dict[str, Cell]]:
    """``(result, {cell id: cell})`` of a run dir, through the runner's result reader."""
    from ..runner.results import read_result

    result = read_result(Path(run_dir))
    return result, {cell_id(c): c for c in result.cells}


def _scores(path: Path) -> dict[str, float]:
    from ..metrics import read_scores
    return dict(read_scores(path))


def _ci(cell: Cell, scores: Mapping[str, float], keys_path: Path, seed: int) -> list | None:
    ci = cell.metrics.eer_ci95
    if ci:
        return list(ci)
    try:
        import numpy as np

        from ..metrics import bootstrap_ci, read_keys

        keys = read_keys(keys_path)
        mask = np.array([i in scores for i in keys.ids])
        values = np.array([scores[i] for i in keys.ids[mask]], dtype=np.float64)
        return bootstrap_ci(values, keys.labels[mask], n_resamples=200, seed=seed)["eer"].to_list()
    except Exception:
        return None


def _keys_file(run_dir: Path, test_set: str) -> Path:
    """``keys/<test>.txt`` of a run, or of one of its sub-runs (the demo merges several)."""
    direct = run_dir / "keys" / f"{test_set}.txt"
    return direct if direct.is_file() else next(iter(sorted(run_dir.glob(f"*/keys/{test_set}.txt"))), direct)


def compare_cell(old_dir: Path, new_dir: Path, old: Cell, new: Cell | None) -> CellComparison:
    name = cell_id(old)
    base = CellComparison(name, old.codec, old.test_set, "missing", eer_old=old.metrics.eer)
    if new is None:
        base.note = "the re-run has no such cell (failed or not run)"
        return base
    old_path, new_path = old_dir / str(old.score_file), new_dir / str(new.score_file)
    base.eer_new = new.metrics.eer
    if base.eer_old is not None and base.eer_new is not None:
        base.eer_diff = base.eer_new - base.eer_old
    try:
        if old_path.read_bytes() == new_path.read_bytes():
            base.status, base.max_score_diff, base.n_trials_changed = "identical", 0.0, 0
            return base
        a, b = _scores(old_path), _scores(new_path)
    except (OSError, InputFileError) as err:
        base.status, base.note = "failed", f"cannot read a score file: {err}"
        return base
    common = a.keys() & b.keys()
    diffs = [abs(a[i] - b[i]) for i in common]
    base.max_score_diff = max(diffs) if diffs else None
    base.n_trials_changed = sum(d > 0 for d in diffs) + len(a.keys() ^ b.keys())
    base.n_trials = len(a)
    base.ci95 = _ci(old, a, _keys_file(old_dir, old.test_set), old.seed)
    if base.eer_new is None or not base.ci95:
        base.status = "outside_ci"
        base.note = "no EER or CI to compare"
    else:
        base.status = "within_ci" if base.ci95[0] <= base.eer_new <= base.ci95[1] else "outside_ci"
    return base


def compare_cells(old_dir: str | Path, new_dir: str | Path, only: Iterable[str] | None = None) -> list[CellComparison]:
    """Compare the cells of ``old_dir`` (restricted to ids in ``only``) with those of ``new_dir``."""
    _, old_cells = read_cells(old_dir)
    new_result, new_cells = read_cells(new_dir)
    failures = {cell_id(f): f"{f.stage} failed: {f.error}" for f in new_result.failed_cells}
    wanted = set(only) if only is not None else None
    out = []
    for name, cell in old_cells.items():
        if wanted is None or name in wanted:
            compared = compare_cell(Path(old_dir), Path(new_dir), cell, new_cells.get(name))
            if compared.status == "missing" and name in failures:
                compared.note = f"the re-run failed this cell: {failures[name]}"[:300]
            out.append(compared)
    return out


# ------------------------------------------------------------------------------- manifest differences

@dataclass
class Difference:
    key: str
    old: Any
    new: Any
    weight: int
    why: str
    detail: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


#: (key prefix, weight, why) for environment keys; the first matching prefix wins.
_RULES: tuple[tuple[str, int, str], ...] = (
    ("environment.lock", 70, "the environment was installed from another lock, or differs from its lock "
     "(another tested set of package versions)"),
    ("environment.device", 80, "CPU vs GPU (or another GPU) runs other kernels"),
    ("environment.packages.torch", 75, "torch versions change kernels and defaults"),
    ("environment.torch.version", 75, "torch versions change kernels and defaults"),
    ("environment.torch.cuda", 60, "CUDA / cuDNN versions change GPU kernels"),
    ("environment.torch.cudnn", 60, "CUDA / cuDNN versions change GPU kernels"),
    ("environment.media", 70, "another ffmpeg, decoder, native codec library or resampler changes the audio"),
    ("environment.packages.av", 65, "PyAV bundles the FFmpeg that decodes and codes audio"),
    ("environment.packages.soxr", 65, "the resampler changes every resampled clip"),
    ("environment.packages.soundfile", 50, "the audio reader"),
    ("environment.packages.numpy", 60, "numpy's kernels (features, GMM fits, metrics)"),
    ("environment.packages.scipy", 55, "scipy's signal and linear-algebra kernels"),
    ("environment.packages.scikit-learn", 60, "scikit-learn fits the GMM baseline"),
    ("environment.packages.torchaudio", 55, "torchaudio's front-ends (LFCC, resampling)"),
    ("environment.torch.cpu_capability", 65, "torch dispatches other CPU kernels (e.g. AVX512 vs AVX2): "
                                             "another summation order, tiny differences that training amplifies"),
    ("environment.torch.kernel_libraries", 60, "another MKL / oneDNN build"),
    ("environment.torch.blas", 60, "another BLAS under torch"),
    ("environment.numpy.threadpools", 55, "numpy's BLAS chose other kernels or threads"),
    ("environment.numpy.blas", 55, "numpy uses another BLAS"),
    ("environment.cpu.vendor", 55, "MKL and OpenBLAS take other code paths on another CPU vendor"),
    ("environment.cpu.model", 50, "another CPU model: other kernels may be dispatched"),
    ("environment.cpu.isa", 50, "other instruction sets: other kernels are dispatched"),
    ("environment.torch.num_threads", 45, "thread count changes reduction order in parallel kernels"),
    ("environment.torch.num_interop_threads", 25, "inter-op threads"),
    ("environment.env", 45, "environment variables that set threads or kernels"),
    ("environment.torch.deterministic", 50, "deterministic-algorithm mode"),
    ("environment.torch.cudnn_", 50, "cuDNN determinism / benchmark mode"),
    ("environment.torch.float32_matmul_precision", 50, "TF32 / reduced-precision matmuls"),
    ("environment.packages.transformers", 40, "SSL front-ends"),
    ("environment.packages.s3prl", 40, "SSL front-ends"),
    ("environment.packages.librosa", 30, "feature code"),
    ("environment.python", 30, "another Python"),
    ("environment.cpu", 20, "CPU count"),
    ("environment.packages", 10, "other package"),
    ("environment", 5, "platform detail"),
)


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}"))
        return out or {prefix: {}}
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        out = {}
        for i, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _rule(key: str) -> tuple[int, str]:
    for prefix, weight, why in _RULES:
        if key.startswith(prefix):
            return weight, why
    return 5, "recorded detail"


def _sidecar(run_dir: Path | None, manifest: Mapping, relative: str | None) -> dict | None:
    if run_dir is None or not relative:
        return None
    try:
        return read_trial_hashes(run_dir / relative)
    except InputFileError:
        return None


def _input_differences(old: Mapping, new: Mapping, old_dir: Path | None, new_dir: Path | None) -> list[Difference]:
    out: list[Difference] = []
    a, b = old.get("inputs") or {}, new.get("inputs") or {}
    for role in sorted(set(a.get("files", {})) | set(b.get("files", {}))):
        x, y = a.get("files", {}).get(role, {}), b.get("files", {}).get(role, {})
        if not x or not y:
            out.append(Difference(f"inputs.files.{role}", x.get("sha256"), y.get("sha256"), 3,
                                  f"{role} is used by one of the two runs only"))
        elif x.get("sha256") != y.get("sha256"):
            weight = 90 if role.startswith(("checkpoint", "manifest", "protocol")) else 60
            out.append(Difference(f"inputs.files.{role}", x.get("sha256"), y.get("sha256"), weight,
                                  f"input file {role} changed content"))
    for name in sorted(set(a.get("audio", {})) | set(b.get("audio", {}))):
        x, y = a.get("audio", {}).get(name, {}), b.get("audio", {}).get(name, {})
        if x.get("sha256") == y.get("sha256"):
            continue
        if not x or not y:
            out.append(Difference(f"inputs.audio.{name}", x.get("sha256"), y.get("sha256"), 3,
                                  f"{name} is used by one of the two runs only"))
            continue
        detail = ""
        old_h = _sidecar(old_dir, old, x.get("trial_hashes"))
        new_h = _sidecar(new_dir, new, y.get("trial_hashes"))
        if old_h is not None and new_h is not None:
            detail = changed_trials(old_h, new_h).describe()
        attacks = sorted(k for k in set(x.get("by_attack", {})) | set(y.get("by_attack", {}))
                         if x.get("by_attack", {}).get(k) != y.get("by_attack", {}).get(k))
        if attacks:
            detail += ("; " if detail else "") + f"attacks whose audio differs: {', '.join(attacks)}"
        out.append(Difference(f"inputs.audio.{name}", x.get("sha256"), y.get("sha256"), 95,
                              f"the audio of {name} changed content", detail))
    ca, cb = (a.get("codecs") or {}).get("conditions", {}), (b.get("codecs") or {}).get("conditions", {})
    for cid in sorted(set(ca) | set(cb)):
        x, y = ca.get(cid, {}), cb.get(cid, {})
        if not x or not y:
            out.append(Difference(f"inputs.codecs.{cid}", x.get("sha256"), y.get("sha256"), 3,
                                  f"{cid} is used by one of the two runs only"))
        elif x.get("sha256") != y.get("sha256"):
            out.append(Difference(f"inputs.codecs.{cid}", x.get("sha256"), y.get("sha256"), 90,
                                  f"the definition of codec condition {cid} changed"))
        elif sha256_json(x.get("provenance")) != sha256_json(y.get("provenance")):
            out.append(Difference(f"inputs.codecs.{cid}.provenance", x.get("provenance"), y.get("provenance"), 75,
                                  f"{cid} is coded by another engine or library version"))
    out += _cache_differences(a.get("codec_cache"), b.get("codec_cache"), old_dir, new_dir)
    return out


def _cache_differences(x: Mapping | None, y: Mapping | None, old_dir: Path | None, new_dir: Path | None
                       ) -> list[Difference]:
    if not x or not y or x.get("sha256") == y.get("sha256"):
        return []
    old_h = _sidecar(old_dir, {}, x.get("entry_hashes"))
    new_h = _sidecar(new_dir, {}, y.get("entry_hashes"))
    if old_h is None or new_h is None:
        return [Difference("inputs.codec_cache", x.get("sha256"), y.get("sha256"), 40,
                           "the codec cache changed (entries not recorded: cannot tell whether used entries changed)")]
    changes = changed_trials(old_h, new_h)
    if changes.changed:
        return [Difference("inputs.codec_cache", x.get("sha256"), y.get("sha256"), 85,
                           f"{len(changes.changed)} codec-cache entr{'y holds' if len(changes.changed) == 1 else 'ies hold'} "
                           "other audio under the same key (the ffmpeg-coded cache was altered or written by "
                           "another encoder build)", f"entries: {', '.join(changes.changed[:5])}")]
    return [Difference("inputs.codec_cache", x.get("n_entries"), y.get("n_entries"), 3,
                       "entries were added or evicted (no entry changed content)")]


def _config_differences(old: Mapping, new: Mapping) -> list[Difference]:
    out = []
    fa, fb = _flatten(old.get("config"), "config"), _flatten(new.get("config"), "config")
    for key in sorted(set(fa) | set(fb)):
        if fa.get(key) != fb.get(key) and not key.endswith((".manifest", ".root", ".codec_cache", ".checkpoint")):
            out.append(Difference(key, fa.get(key), fb.get(key), 100, "the configuration differs"))
    if list(old.get("seeds") or []) != list(new.get("seeds") or []):
        out.append(Difference("seeds", old.get("seeds"), new.get("seeds"), 100, "other seeds"))
    sa, sb = old.get("spoofbench") or {}, new.get("spoofbench") or {}
    if sa.get("commit") != sb.get("commit"):
        out.append(Difference("spoofbench.commit", sa.get("commit"), sb.get("commit"), 70, "another spoofbench commit"))
    if sa.get("dirty") != sb.get("dirty") or sa.get("dirty"):
        out.append(Difference("spoofbench.dirty", sa.get("dirty"), sb.get("dirty"), 40 if sa.get("dirty") or sb.get("dirty") else 0,
                              "uncommitted changes to spoofbench: the commit does not pin the code"))
    return out


def manifest_differences(old: Mapping, new: Mapping, *, old_dir: str | Path | None = None,
                         new_dir: str | Path | None = None, cells: list[CellComparison] | None = None
                         ) -> list[Difference]:
    """Every difference between two manifests, most likely to matter first."""
    od, nd = (Path(old_dir) if old_dir else None), (Path(new_dir) if new_dir else None)
    diffs = _config_differences(old, new) + _input_differences(old, new, od, nd)
    ea, eb = _flatten(old.get("environment"), "environment"), _flatten(new.get("environment"), "environment")
    for key in sorted(set(ea) | set(eb)):
        if ea.get(key) != eb.get(key):
            weight, why = _rule(key)
            diffs.append(Difference(key, ea.get(key), eb.get(key), weight, why))
    _weigh_by_evidence(diffs, cells)
    return sorted(diffs, key=lambda d: (-d.weight, d.key))


def _weigh_by_evidence(diffs: list[Difference], cells: list[CellComparison] | None) -> None:
    """Move weights by what the cells show (which codecs / test sets changed)."""
    if not cells:
        return
    differing = [c for c in cells if c.status != "identical"]
    if not differing:
        for d in diffs:
            d.detail = (d.detail + "; " if d.detail else "") + "no score changed"
            d.weight = d.weight // 5  # keeps the order, says it did not matter here
        return
    codec_only = all(c.codec != "none" for c in differing) and any(c.codec == "none" for c in cells)
    test_sets = {c.test_set for c in differing}
    for d in diffs:
        codec_path = d.key.startswith(("inputs.codec", "environment.media", "environment.packages.av"))
        if codec_only:
            d.weight = min(100, d.weight + 10) if codec_path else max(0, d.weight - 30)
        if d.key.startswith("inputs.audio."):
            name = d.key.split(".", 2)[2]
            if name in test_sets:
                d.weight = min(100, d.weight + 5)
            elif name not in ("train", "dev"):
                d.weight = max(0, d.weight - 40)


def to_json(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.to_dict() if hasattr(o, "to_dict") else str(o)))
