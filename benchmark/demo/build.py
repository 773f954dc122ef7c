"""Build the demo corpus: vendored bona fide clips plus offline-generated spoofs, with manifests.

``build_demo_corpus(out_dir, quick=True, seed=0)`` writes ``out_dir/audio/<set>/*.flac`` (16 kHz
mono) and one manifest per set ``out_dir/<set>.jsonl.gz`` (paths relative to ``out_dir``):
``demo_a_train``, ``demo_a_dev`` and the ladder of test sets ``demo_a_eval``, ``demo_a_voices``,
``demo_a_families``, ``demo_b_eval`` (see :mod:`.plan`). ``out_dir/demo_build.json`` holds the
fingerprint (settings, vendored index, generator versions): a second call with the same
fingerprint returns at once; an interrupted build resumes, making only the missing files.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from ..errors import SpoofbenchError
from .generators import (ATTACKS, ClipJob, Task, exit_with_parent, generator_versions,
                         probe_attack, run_task)
from .index import demo_data_dir, index_digest, load_index
from ..atomic import write_text_atomic
from .plan import FULL_SIZES, QUICK_SIZES, SETS, DemoSizes, PlannedClip, make_plan

#: Bump when the way clips are made changes (invalidates every cached demo corpus).
FORMAT_VERSION = 2
STATE_FILE = "demo_build.json"
_FESTIVAL_BATCH, _BATCH = 10, 6


class DemoWarning(UserWarning):
    """An attack skipped because its generator is missing, or clips that failed."""


@dataclass(frozen=True)
class DemoCorpus:
    """A built demo corpus.

    ``manifests``: set name → manifest path; ``attacks``: set name → attack ids used;
    ``skipped``: attack id → why it was skipped; ``counts``: set → {"bonafide": n, "spoof": n};
    ``generated``: clips made by this call (0 on a cache hit); ``failed``: utt id → error.
    """

    root: Path
    manifests: dict[str, Path]
    attacks: dict[str, list[str]]
    skipped: dict[str, str]
    counts: dict[str, dict[str, int]]
    fingerprint: str
    cache_hit: bool
    generated: int
    wall_s: float
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def protocol(self) -> Path:
        """The shipped protocol YAML (train A, dev A, tests A-eval and B); load it with
        ``spoofbench.corpora.protocol.load_protocol(corpus.protocol, manifests_dir=corpus.root)``."""
        return demo_data_dir() / "protocol.yaml"

    def manifest(self, name: str) -> Path:
        """Path of set ``name`` (a key of :data:`~spoofbench.demo.plan.SETS`)."""
        if name not in self.manifests:
            raise SpoofbenchError(f"no demo set {name!r}; expected one of {sorted(self.manifests)}")
        return self.manifests[name]


def _write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _fingerprint(settings: dict, versions: dict, index_sha: str) -> str:
    blob = json.dumps({"settings": settings, "versions": versions, "index": index_sha},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _corpus_from_state(root: Path, state: dict, *, cache_hit: bool, generated: int,
                       wall_s: float) -> DemoCorpus:
    return DemoCorpus(root=root, manifests={k: root / v for k, v in state["manifests"].items()},
                      attacks=state["attacks"], skipped=state["skipped"], counts=state["counts"],
                      fingerprint=state["fingerprint"], cache_hit=cache_hit, generated=generated,
                      wall_s=wall_s, failed=state.get("failed", {}))


def _load_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _tasks(pending: list[PlannedClip]) -> list[Task]:
    """Batches of one attack each; festival batches are larger (one process per batch)."""
    by_attack: dict[str, list[ClipJob]] = {}
    for clip in pending:
        by_attack.setdefault(clip.job.attack, []).append(clip.job)
    tasks = []
    for attack, jobs in by_attack.items():
        size = _FESTIVAL_BATCH if attack.startswith("festival_") else _BATCH
        tasks += [Task(attack, jobs[i:i + size]) for i in range(0, len(jobs), size)]
    # slowest first so the two workers finish together
    weight = {"festival_slt_hts": 0, "festival_ked": 1, "world": 2, "world_shifted": 2, "griffin_lim": 3}
    tasks.sort(key=lambda t: (weight.get(t.attack, 9), t.jobs[0].utt_id))
    return tasks


def _run_tasks(tasks: list[Task], total: int, workers: int, progress: bool) -> list:
    from tqdm import tqdm

    results = []
    bar = tqdm(total=total, desc="demo corpus: generating clips", unit="clip", disable=not progress)
    try:
        if workers <= 1:
            for task in tasks:
                done = run_task(task)
                results += done
                bar.update(len(done))
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                     initializer=exit_with_parent,
                                     initargs=(os.getpid(),)) as pool:
                futures = [pool.submit(run_task, task) for task in tasks]
                for future in as_completed(futures):
                    done = future.result()
                    results += done
                    bar.update(len(done))
    finally:
        bar.close()
    return results


def _write_manifests(out_dir: Path, plan: list[PlannedClip], failed: dict[str, str]) -> tuple[dict, dict]:
    import soundfile as sf

    from ..corpora.manifest import Trial, write_manifest

    manifests, counts = {}, {}
    for name in SETS:
        trials = []
        for clip in (c for c in plan if c.set_name == name and c.job.utt_id not in failed):
            info = sf.info(str(out_dir / clip.rel_path))
            trials.append(Trial(
                id=clip.job.utt_id, path=clip.rel_path, label=clip.label, corpus=clip.corpus,
                split=clip.split, speaker=clip.speaker,
                attack="bonafide" if clip.label == "bonafide" else clip.job.attack,
                language="en", duration=round(info.frames / info.samplerate, 6),
                sampling_rate=int(info.samplerate), num_samples=int(info.frames),
                custom=dict(clip.custom)))
        path = out_dir / f"{name}.jsonl.gz"
        write_manifest(path, trials)
        manifests[name] = path.name
        counts[name] = {"bonafide": sum(t.label == "bonafide" for t in trials),
                        "spoof": sum(t.label == "spoof" for t in trials)}
    return manifests, counts


def build_demo_corpus(out_dir: str | os.PathLike, *, quick: bool, seed: int = 0,
                      progress: bool = True, sizes: DemoSizes | None = None,
                      workers: int = 2) -> DemoCorpus:
    """Generate (or reuse) the demo corpus in ``out_dir``; see the module docstring.

    ``sizes`` overrides the quick/full sizes (tests use tiny ones). Attacks whose generator is
    missing are skipped with a :class:`DemoWarning` and listed in ``DemoCorpus.skipped``.
    Workers are spawned processes: a script calling this needs an ``if __name__ == "__main__"``
    guard (the ``spoofbench`` console script and pytest have one).
    """
    start = time.perf_counter()
    root = Path(out_dir)
    sizes = sizes or (QUICK_SIZES if quick else FULL_SIZES)
    data_dir = demo_data_dir()
    index_sha = index_digest(data_dir / "index.tsv")
    versions = generator_versions()
    settings = {"format": FORMAT_VERSION, "seed": int(seed), "sizes": sizes.to_dict()}
    fingerprint = _fingerprint(settings, versions, index_sha)
    state_path = root / STATE_FILE
    state = _load_state(state_path) if state_path.exists() else None
    if _is_complete(root, state, fingerprint) and not _skipped_now_runnable(state):
        return _corpus_from_state(root, state, cache_hit=True, generated=0,
                                  wall_s=time.perf_counter() - start)
    _clear_other_build(root, state, fingerprint)
    root.mkdir(parents=True, exist_ok=True)

    available, skipped = _available_attacks()
    plan = make_plan(load_index(data_dir / "index.tsv"), data_dir, root, sizes, seed, available)
    attacks = {name: [a.id for a in available if a.id in spec.attacks] for name, spec in SETS.items()}
    state = {"fingerprint": fingerprint, "settings": settings, "versions": versions,
             "index_sha256": index_sha, "complete": False, "attacks": attacks,
             "skipped": skipped, "manifests": {}, "counts": {}}
    _write_json_atomic(state_path, state)
    generated, failed = _generate_missing(root, plan, workers, progress)
    manifests, counts = _write_manifests(root, plan, failed)
    state.update(complete=not failed, manifests=manifests, counts=counts, failed=failed)
    _write_json_atomic(state_path, state)
    return _corpus_from_state(root, state, cache_hit=False, generated=generated,
                              wall_s=time.perf_counter() - start)


def _is_complete(root: Path, state: dict | None, fingerprint: str) -> bool:
    """True when ``root`` holds a finished build with this fingerprint and all its manifests."""
    return bool(state and state.get("fingerprint") == fingerprint and state.get("complete") and all(
        (root / p).is_file() for p in state.get("manifests", {}).values()))


def _skipped_now_runnable(state: dict) -> bool:
    """True when an attack the cached build skipped (its tool was missing) runs here now: the corpus is then
    made again with it, instead of reusing a build that lacks it. Only the skipped attacks are probed, so
    a cache hit with none skipped costs nothing."""
    skipped = set(state.get("skipped") or {})
    back = [attack.id for attack in ATTACKS if attack.id in skipped and probe_attack(attack) is None]
    if back:
        warnings.warn(f"demo corpus built without attack(s) {', '.join(back)}, which run here now; "
                      f"rebuilding it", DemoWarning, stacklevel=3)
        state["fingerprint"] = None  # so that _clear_other_build removes the old clips
    return bool(back)


def _clear_other_build(root: Path, state: dict | None, fingerprint: str) -> None:
    """Remove a build made with other settings; refuse a folder with audio that no build made."""
    if state and state.get("fingerprint") != fingerprint:
        warnings.warn(f"{root}: demo corpus built with other settings or generator versions; "
                      f"rebuilding it", DemoWarning, stacklevel=3)
        shutil.rmtree(root / "audio", ignore_errors=True)
        shutil.rmtree(root / ".spoofbench_pack", ignore_errors=True)  # the old clips' decoded samples
        for name in state.get("manifests", {}).values():
            (root / name).unlink(missing_ok=True)
    elif state is None and (root / "audio").exists():
        raise SpoofbenchError(f"{root}: holds an audio/ folder but no {STATE_FILE}; choose an empty "
                              f"or demo-built folder so that no foreign file is mixed in")


def _available_attacks() -> tuple[list, dict[str, str]]:
    """The attacks whose generator runs here, and attack id → why each other one is skipped (warned)."""
    skipped = {}
    available = []
    for attack in ATTACKS:
        reason = probe_attack(attack)
        if reason is None:
            available.append(attack)
        else:
            skipped[attack.id] = reason
            warnings.warn(f"demo attack {attack.id} ({attack.description}) skipped: {reason}",
                          DemoWarning, stacklevel=3)
    return available, skipped


def _generate_missing(root: Path, plan: list[PlannedClip], workers: int,
                      progress: bool) -> tuple[int, dict[str, str]]:
    """Make the planned clips not on disk yet; the number made and utt id → error of those that failed."""
    for stale in (root / "audio").rglob("*.tmp") if (root / "audio").is_dir() else ():
        stale.unlink(missing_ok=True)  # half-written files of an interrupted build
    pending = [c for c in plan if not (root / c.rel_path).is_file()]
    results = _run_tasks(_tasks(pending), len(pending), workers, progress)
    failed = {r.utt_id: r.error for r in results if r.error}
    if failed:
        first = next(iter(failed.items()))
        warnings.warn(f"demo corpus: {len(failed)} clip(s) failed and are left out of the "
                      f"manifests (first: {first[0]}: {first[1]})", DemoWarning, stacklevel=3)
    return len(pending) - len(failed), failed
