"""Scoring: streamed, batched, resumable inference through codec conditions.

``score(detector, trials, root=..., out_dir=..., testset=...)`` writes, per codec condition,
``<testset>__<codec>.txt`` (``utt_id score`` lines, higher = bona fide, flushed after every
batch), ``<testset>__<codec>.failed.tsv`` (``utt_id<TAB>reason`` for trials whose audio cannot
be read or coded, or whose score is not finite) and ``<testset>__<codec>.json`` (input policy,
codec provenance, counts and coverage: expected, scored, failed).

DataLoader workers stream the manifest (each takes every ``num_workers``-th trial), read each
clip once, apply every codec condition (with the codec cache) and the detector's eval input
policy, sort a pool of clips per condition by length and hand over padded batches; at most
``bucket_pool`` clips per condition and worker are in memory (one batch for fixed-length inputs). A rerun skips the trials already in the score file and retries the failed ones
(the failure file then holds only trials that still fail); a partial last line left by a killed
run is dropped first. Each score file has one writer at a time (:mod:`.locks`).

Memory is budgeted (:func:`plan_memory`): unless a batch size is given, the clips per batch and the
scoring streams are chosen so that streams x batch x the detector's activation bytes per input sample
(``Detector.activation_bytes_per_sample``, or measured once with a probe batch) fit
``ScoreConfig.memory_budget_gb`` (default: half the available RAM, at most 2 GB, on a CPU; 70% of the
free GPU memory on CUDA); the choice is logged and recorded in the summary JSON (``memory``). Batches
are cut from length-sorted pools (little padding for variable-length inputs) and their scores are
written back in manifest order (each worker's trials; all of them with at most one worker).
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from ..errors import ConfigError, SpoofbenchError
from ..atomic import write_json_atomic
from ..logs import context_logger, progress as show_progress
from . import checkpoint as checkpoint_io
from .audio import AudioReadError
from .config import ScoreConfig
from .data import check_roots, fit_length, pad_batch, prepare_out_dir, worker_init
from .locks import exclusive_all
from .runtime import Runtime, cpu_threads, resolve_device, scoring_precision


@dataclass(frozen=True)
class ScoreFileResult:
    """One ``<testset>__<codec>`` score file and its counts."""
    testset: str
    codec: str
    scores: Path
    failed: Path
    summary: Path
    n_scored: int         # lines in the score file (this run and earlier ones)
    n_failed: int         # trials that still fail (lines in the failure file)
    n_resumed: int        # trials skipped because an earlier run had scored them
    seconds: float
    clips_per_s: float    # trials processed by this run per second
    n_expected: int = 0   # trials in the test set
    n_retried: int = 0    # trials an earlier run had failed, tried again by this run

    @property
    def coverage(self) -> float:
        """Scored / expected trials (1.0 for an empty test set)."""
        return self.n_scored / self.n_expected if self.n_expected else 1.0

    @property
    def complete(self) -> bool:
        """Every trial of the test set has a score."""
        return self.n_failed == 0 and self.n_scored >= self.n_expected


@dataclass(frozen=True)
class ScoreResult:
    files: tuple[ScoreFileResult, ...]
    input_policy: dict

    @property
    def complete(self) -> bool:
        """Every file scored every trial."""
        return all(f.complete for f in self.files)


def score_file_stem(testset: str, codec: str) -> str:
    return f"{testset}__{codec}"


def testset_name(manifest: str | os.PathLike) -> str:
    """``dev.jsonl.gz`` → ``dev``."""
    name = Path(manifest).name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name[: -len(suffix)] if name.endswith(suffix) else name
    return name


class _TrialSource:
    """Re-iterable trials: a manifest path (streamed on every pass) or a sequence."""

    def __init__(self, trials: str | os.PathLike | Iterable[Any]):
        if isinstance(trials, (str, os.PathLike)):
            self.path: Path | None = Path(trials)
            self.items: Sequence[Any] | None = None
        else:
            self.path = None
            self.items = trials if isinstance(trials, Sequence) else list(trials)

    def __len__(self) -> int:
        """The number of trials (one streamed pass over a manifest)."""
        if self.items is not None:
            return len(self.items)
        return sum(1 for _ in self)

    def __iter__(self) -> Iterator[Any]:
        if self.path is not None:
            from spoofbench.corpora.manifest import read_manifest
            return iter(read_manifest(self.path))
        return iter(self.items)


def _resume_file(path: Path, kind: str) -> set[str]:
    """Ids already in a ``kind`` ("scores": ``utt score``; "failed": ``utt<TAB>reason``) file.

    Stops at the first partial (no newline) or malformed line, as a killed writer leaves, and
    truncates the file there.
    """
    if not path.exists():
        return set()
    done: set[str] = set()
    good_end = 0
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            text = raw.decode("utf-8", errors="replace").rstrip("\n")
            if kind == "scores":
                parts = text.split()
                try:
                    if len(parts) != 2:
                        break
                    float(parts[1])
                except ValueError:
                    break
            else:
                parts = text.split("\t", 1)
                if len(parts) != 2 or not parts[0]:
                    break
            done.add(sys.intern(parts[0]))  # one string per id across the conditions' sets
            good_end += len(raw)
    if good_end != path.stat().st_size:
        with open(path, "r+b") as handle:
            handle.truncate(good_end)
    return done


class _ScoringStream(torch.utils.data.IterableDataset):
    """Length-bucketed batches ``{"condition", "ids", "waves", "lengths", "failures"}``.

    Each clip is decoded once and coded through every condition (index into ``conditions``)
    whose score file still lacks it; every condition keeps its own pool of ``pool`` clips, so its
    batches are the ones a stream of that condition alone would make. ``eager`` (fixed-length
    inputs only) hands each batch over as soon as it is complete instead of after its whole pool.
    A neural-codec condition that batches (:func:`spoofbench.codecs.batches_well`) pools the decoded
    clips and codes a pool with one batched call when it is handed over (:meth:`_code_pool`).
    """

    def __init__(self, source: _TrialSource, root: Any, conditions: Sequence[str], skips: Sequence[set[str]],
                 detector: Any, batch_size: int, pool: int, cache_dir: str | None, cache_max_bytes: int,
                 eager: bool = True, batch_samples: int | None = None, budget: str = ""):
        self.source, self.root, self.conditions, self.skips = source, root, list(conditions), list(skips)
        self.sample_rate, self.policy = detector.sample_rate, detector.input_policy
        self.min_samples, self.batch_size, self.pool = detector.min_samples, batch_size, pool
        # Variable-length inputs under a memory budget: a batch holds at most this many samples, padded
        # (clips x its longest clip); a clip longer than that alone is a failure naming ``budget``.
        self.batch_samples, self.budget = batch_samples, budget
        self.cache_dir, self.cache_max_bytes = cache_dir, cache_max_bytes
        # Fixed-length inputs sort to arrival order, so a pool's batches are consecutive runs of
        # batch_size clips: hand each over when it is complete, while the next clips are coded.
        self.eager = eager and self.policy.mode == "fixed"

    def _coders(self) -> tuple[list[Any], Any]:
        """The condition records (None for "none") and one codec cache for all of them."""
        if all(c == "none" for c in self.conditions):
            return [None] * len(self.conditions), None
        from spoofbench import codecs
        cache = codecs.CodecCache(self.cache_dir, self.cache_max_bytes) if self.cache_dir else None
        return [None if c == "none" else codecs.get_condition(c) for c in self.conditions], cache

    def _view(self, wave: np.ndarray, trial: Any, condition: Any, cache: Any) -> torch.Tensor:
        """The detector's eval input of ``wave`` coded through ``condition``."""
        if condition is not None:
            from spoofbench import codecs
            wave = np.asarray(codecs.apply_condition(wave, self.sample_rate, condition, key=trial.id,
                                                     cache=cache), dtype=np.float32)
        return self._input(wave)

    def _input(self, wave: np.ndarray) -> torch.Tensor:
        """The detector's eval input of an already coded ``wave``."""
        x = self.policy.apply(wave, train=False)
        return fit_length(x, self.min_samples, self.policy.pad)

    @staticmethod
    def _deferred(coders: list[Any]) -> list[bool]:
        """Per condition: are its clips kept decoded and coded a pool at a time (a neural codec that codes
        several clips per forward pass: :func:`spoofbench.codecs.batches_well`)? Others code each clip."""
        if all(c is None for c in coders):
            return [False] * len(coders)
        from spoofbench import codecs
        return [c is not None and codecs.batches_well(c) for c in coders]

    def _code_pool(self, pool: list[tuple[int, str, np.ndarray, str]], failures: list[tuple[int, str, str]],
                   condition: Any, cache: Any) -> list[tuple[int, str, torch.Tensor, str]]:
        """A deferred pool's decoded clips coded with one :func:`spoofbench.codecs.apply_condition_batch`
        call (``NEURAL_BATCH`` clips per forward pass) and turned into eval inputs. When that call fails,
        each clip is coded alone, so a clip that fails is a failure of its own (as undeferred)."""
        from spoofbench import codecs
        if not pool:
            return pool
        try:
            coded: list[Any] = codecs.apply_condition_batch([w for _, _, w, _ in pool], self.sample_rate, condition,
                                                            [utt for _, utt, _, _ in pool], cache=cache)
        except Exception:  # which clip failed, and why, is found clip by clip below
            coded = [None] * len(pool)
        ready = []
        for (q, utt, wave, decoder), y in zip(pool, coded):
            try:
                if y is None:
                    y = codecs.apply_condition(wave, self.sample_rate, condition, key=utt, cache=cache)
                ready.append((q, utt, self._input(np.asarray(y, dtype=np.float32)), decoder))
            except SpoofbenchError as err:
                failures.append((q, utt, str(err)))
            except Exception as err:  # a codec or policy failure of one clip is recorded, not fatal
                failures.append((q, utt, f"{type(err).__name__}: {err}"))
        return ready

    def _chunks(self, pool: list[tuple[int, str, torch.Tensor, str]],
                failures: list[tuple[int, str, str]]) -> list[list]:
        """``pool`` (sorted by length) cut into batches: ``batch_size`` clips at most and, under a memory
        budget for variable-length inputs, ``batch_samples`` padded samples at most; a clip over that
        alone goes to ``failures``."""
        chunks: list[list] = []
        chunk: list = []
        for item in pool:
            n = item[2].numel()
            if self.batch_samples is not None and n > self.batch_samples:
                failures.append((item[0], item[1], f"a clip of {n} samples ({n / self.sample_rate:.1f} s) needs more "
                                                   f"memory than {self.budget}; raise --memory-budget"))
                continue
            full = len(chunk) >= self.batch_size or (self.batch_samples is not None
                                                      and (len(chunk) + 1) * n > self.batch_samples)
            if chunk and full:
                chunks.append(chunk)
                chunk = []
            chunk.append(item)
        return chunks + ([chunk] if chunk else [])

    def _batches(self, k: int, pool: list[tuple[int, str, torch.Tensor, str]],
                 failures: list[tuple[int, str, str]], worker: int) -> Iterator[dict]:
        """Sorted-length batches of one condition's pool. Each clip carries its sequence number in this
        worker's stream of the condition, so the writer puts the scores back in the manifest's order."""
        pool.sort(key=lambda item: (item[2].numel(), item[0]))
        chunks = self._chunks(pool, failures)
        for n, chunk in enumerate(chunks):
            lengths = torch.tensor([w.numel() for _, _, w, _ in chunk], dtype=torch.int64)
            yield {"condition": k, "worker": worker, "seq": [q for q, _, _, _ in chunk],
                   "ids": [i for _, i, _, _ in chunk], "waves": pad_batch([w for _, _, w, _ in chunk]),
                   "lengths": lengths, "decoders": [d for _, _, _, d in chunk],
                   "failures": failures if n == 0 else []}
        if not chunks and failures:
            yield {"condition": k, "worker": worker, "seq": [], "ids": [], "waves": torch.zeros(0, 0),
                   "lengths": torch.zeros(0, dtype=torch.int64), "decoders": [], "failures": failures}

    def _trial(self, trial: Any, todo: list[int], coders: list[Any], cache: Any,
               pools: list[list], failures: list[list], seq: list[int], deferred: Sequence[bool] = ()) -> None:
        """Decode ``trial`` once; add its coded view (or the reason it failed) per condition in ``todo``,
        numbered ``seq[k]`` (then counted up) in the condition's stream; a ``deferred[k]`` condition gets
        the decoded clip, coded with its pool (:meth:`_code_pool`)."""
        from .data import read_clip  # from the pack (spoofbench pack) when it holds the clip's file, else decoded
        try:
            wave, info = read_clip(trial, self.root, self.sample_rate)
        except (AudioReadError, SpoofbenchError) as err:  # unreadable or non-finite audio
            for k in todo:
                failures[k].append((seq[k], trial.id, str(err)))
                seq[k] += 1
            return
        for k in todo:
            if k < len(deferred) and deferred[k]:
                pools[k].append((seq[k], trial.id, wave, f"{info.decoder}\t{info.source}"))
                seq[k] += 1
                continue
            try:
                pools[k].append((seq[k], trial.id, self._view(wave, trial, coders[k], cache), f"{info.decoder}\t{info.source}"))
            except SpoofbenchError as err:
                failures[k].append((seq[k], trial.id, str(err)))
            except Exception as err:  # a codec or policy failure of one clip is recorded, not fatal
                failures[k].append((seq[k], trial.id, f"{type(err).__name__}: {err}"))
            seq[k] += 1

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        coders, cache = self._coders()
        deferred = self._deferred(coders)
        pools: list[list] = [[] for _ in self.conditions]     # clips not yet handed over
        failures: list[list] = [[] for _ in self.conditions]
        filled = [0] * len(self.conditions)  # clips of each condition's current pool, handed over or not
        seq = [0] * len(self.conditions)     # trials of each condition handled by this worker so far
        for n, trial in enumerate(self.source):
            if n % workers != worker:
                continue
            todo = [k for k, skip in enumerate(self.skips) if trial.id not in skip]
            if not todo:  # scored under every condition already: do not decode it
                continue
            added = [len(pools[k]) for k in todo]
            self._trial(trial, todo, coders, cache, pools, failures, seq, deferred)
            for k, before in zip(todo, added):
                filled[k] += len(pools[k]) - before
                full = filled[k] >= self.pool
                if full or (self.eager and len(pools[k]) >= self.batch_size):
                    if deferred[k]:
                        pools[k] = self._code_pool(pools[k], failures[k], coders[k], cache)
                    yield from self._batches(k, pools[k], failures[k], worker)
                    pools[k], failures[k], filled[k] = [], [], 0 if full else filled[k]
        for k in range(len(self.conditions)):
            if deferred[k]:
                pools[k] = self._code_pool(pools[k], failures[k], coders[k], cache)
            yield from self._batches(k, pools[k], failures[k], worker)


def _clean(text: str) -> str:
    return " ".join(text.split())


def score(detector: Any, trials: str | os.PathLike | Iterable[Any], *, root: Any, out_dir: str | Path,
          testset: str | None = None, config: ScoreConfig | None = None, progress: bool = True,
          extra_summary: dict | None = None, log_context: dict | None = None) -> ScoreResult:
    """Score ``trials`` (a manifest path or Trial sequence) with ``detector`` under each codec.

    ``root``: the corpus root (or ``{corpus: root}``). ``testset`` names the files (default: the
    manifest's name). One pass over the audio: each clip is decoded once and coded through every
    condition in the same worker, and batches of fixed-length inputs are handed over as soon as they are
    complete; the score files are the ones a call per condition would write (byte for byte with at most
    one DataLoader worker; with several, the lines' order follows the workers' interleaving; the earlier
    pass-per-condition engine lives on only as perf/bench_onepass.py's baseline). Each
    score file is locked for the call (:mod:`.locks`): a second writer fails at once. Progress lines
    name the detector (``name:preset``), test set and codec, plus ``log_context`` (e.g. ``seed``, or a
    ``detector`` label of the caller's). Returns the files written with their coverage; see the module
    docstring.
    """
    config = (config or ScoreConfig()).validate()
    source = _TrialSource(trials)
    testset = _testset(testset, source)
    check_roots(root, "root")
    out = prepare_out_dir(out_dir)
    for codec in config.codecs:
        if codec != "none":
            from spoofbench import codecs
            codecs.get_condition(codec)  # fail early on an unknown condition id
    device = resolve_device(config.device)
    rt = Runtime(device, scoring_precision(config.precision, device))
    detector = detector.to(device).eval()
    expected = len(source)
    stems = [out / f"{score_file_stem(testset, codec)}.txt" for codec in config.codecs]
    results: list[ScoreFileResult] = []
    streams = scoring_streams(detector, config, rt)
    with exclusive_all(stems, "score file"), cpu_threads(1 if streams > 1 else config.cpu_threads):
        plan = plan_memory(detector, config, rt, streams)
        streams = plan.streams
        with cpu_threads(1 if streams > 1 else config.cpu_threads):
            name, preset = getattr(detector, "name", None), getattr(detector, "preset", None)
            context = {"detector": f"{name}:{preset}" if name and preset else name, **(log_context or {})}
            # Said beside the progress lines (quiet runs: with -v, and always in the summary JSON's "memory").
            context_logger(__name__, **context).log(logging.INFO if progress else logging.DEBUG,
                                                    "scoring memory: %s", plan.describe())
            files = [_ConditionFiles.open(out, testset, codec, config.resume) for codec in config.codecs]
            extra = {**(extra_summary or {}), "streams": streams, "memory": plan.to_dict()}
            results += _score_pass(detector, source, root, files, config, rt, progress, expected, extra,
                                   eager=True, log_context=log_context or {}, streams=streams, plan=plan)
    return ScoreResult(tuple(results), detector.input_policy.to_dict())


def scoring_streams(detector: Any, config: ScoreConfig, rt: Runtime) -> int:
    """How many batches are scored at once (``ScoreConfig.streams``): more than one only on a CPU and
    for a detector whose eval forward is pure (``concurrent_inference``); each then runs single-threaded."""
    if rt.device.type != "cpu" or not getattr(detector, "concurrent_inference", False):
        if config.streams > 1:
            why = (f"on {rt.device.type}" if rt.device.type != "cpu"
                   else f"{getattr(detector, 'name', 'this detector')} does not declare concurrent_inference")
            logging.getLogger(__name__).warning("scoring streams %d asked, 1 used: %s", config.streams, why)
        return 1
    if config.streams:
        return config.streams
    return config.cpu_threads or torch.get_num_threads()


GiB = 1024 ** 3
#: Default budgets: a share of the free RAM, capped on a CPU (where bigger batches buy no speed, only
#: memory: the convolutions of one clip already fill a core), and a share of the free GPU memory.
CPU_BUDGET_SHARE, CPU_BUDGET_CAP, GPU_BUDGET_SHARE = 0.5, 2 * GiB, 0.7
#: Clips per batch at most when the budget chooses (a pool of ``bucket_pool`` clips caps it too): on a
#: CPU bigger batches are no faster and hand work over to the scoring streams later.
MAX_AUTO_BATCH = {"cpu": 32, "cuda": 256}
#: Length of the probe clip for variable-length detectors (seconds).
PROBE_SECONDS = 4.0
_MEASURED: dict[tuple, float] = {}   # (detector, config, device, precision, threads, samples) -> bytes per sample


@dataclass(frozen=True)
class MemoryPlan:
    """What scoring chose from the memory budget: batch size, streams and the peak it expects.

    ``batch_samples``: for variable-length inputs under a budget, the padded samples a batch may hold
    (clips x its longest); None for fixed-length inputs and for an explicit batch size.
    """
    batch_size: int
    streams: int
    batch_samples: int | None
    budget_bytes: int | None       # None: no budget applied (the batch size was given)
    budget_source: str
    bytes_per_sample: float | None  # activations per input sample of one clip, plus the input itself
    estimate: str                   # "declared" | "measured" | "unknown"
    clip_samples: int               # the clip length the figures are for (the fixed length, or a probe's)
    estimated_peak_bytes: int | None

    def budget_text(self) -> str:
        return (f"the memory budget of {self.budget_bytes / GiB:.2f} GB for {self.streams} stream(s)"
                if self.budget_bytes is not None else "the memory budget")

    def describe(self) -> str:
        seconds = f"{self.clip_samples}-sample clip"
        per_clip = (f"{self.bytes_per_sample * self.clip_samples / 2 ** 20:.0f} MB per {seconds} ({self.estimate})"
                    if self.bytes_per_sample is not None else "activation size unknown")
        peak = (f"~{self.estimated_peak_bytes / GiB:.2f} GB estimated peak of activations"
                if self.estimated_peak_bytes is not None else "peak not estimated")
        budget = (f"budget {self.budget_bytes / GiB:.2f} GB ({self.budget_source})"
                  if self.budget_bytes is not None else self.budget_source)
        batch = (f"batches of up to {self.batch_samples} padded samples and {self.batch_size} clips"
                 if self.batch_samples is not None else f"batch {self.batch_size}")
        return f"{batch}, {self.streams} stream(s), {peak}; {per_clip}; {budget}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def available_memory(device: torch.device) -> int:
    """Bytes free now: the GPU's free memory on CUDA, else the RAM the kernel reports available, or the
    room left under this process's cgroup limit when that is smaller."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    import psutil

    free = int(psutil.virtual_memory().available)
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            free = min(free, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(free, 0)


def memory_budget(config: ScoreConfig, device: torch.device) -> tuple[int, str]:
    """(bytes, where the figure comes from): ``memory_budget_gb`` or the default share of free memory."""
    if config.memory_budget_gb is not None:
        return int(config.memory_budget_gb * GiB), "memory_budget_gb"
    free = available_memory(device)
    if device.type == "cuda":
        return int(GPU_BUDGET_SHARE * free), f"auto: {GPU_BUDGET_SHARE:.0%} of {free / GiB:.1f} GB free on the GPU"
    share = int(CPU_BUDGET_SHARE * free)
    return (min(share, CPU_BUDGET_CAP),
            f"auto: {CPU_BUDGET_SHARE:.0%} of {free / GiB:.1f} GB available, at most {CPU_BUDGET_CAP / GiB:.0f} GB")


def _probe_samples(detector: Any) -> int:
    policy = detector.input_policy
    if policy.mode == "fixed":
        return int(policy.num_samples)
    return max(int(detector.min_samples), int(PROBE_SECONDS * detector.sample_rate))


def _rss_high_water() -> tuple[Any, Any] | None:
    """(reset, read) of this process's peak RSS (Linux: /proc/self/clear_refs and VmHWM), or None."""
    status, clear = Path("/proc/self/status"), Path("/proc/self/clear_refs")
    if not status.exists() or not os.access(clear, os.W_OK):
        return None

    def read() -> tuple[int, int]:
        values = {}
        for line in status.read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1]) * 1024
        return values["VmRSS"], values["VmHWM"]

    def reset() -> None:
        gc.collect()
        with contextlib.suppress(OSError, AttributeError):  # hand freed heap back first (glibc)
            import ctypes
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        clear.write_text("5")

    return reset, read


def measure_activation_bytes(detector: Any, rt: Runtime, samples: int) -> float | None:
    """Peak bytes per input sample of the eval forward under ``inference_mode``, measured once per
    detector configuration, device and thread count with probe batches of one and two noise clips of
    ``samples`` (the peak RSS on a CPU, the allocator's peak on CUDA). The larger of the two-clip
    increment and half the two-clip peak is kept (errs high). None where it cannot be measured.

    Side effect on a CPU: the probe resets this process's peak-RSS mark (VmHWM, and with it getrusage's
    ru_maxrss), so a peak reached before scoring is no longer reported by them. Declaring
    ``Detector.activation_bytes_per_sample`` (or giving a batch size) avoids the probe."""
    key = (type(detector).__qualname__, getattr(detector, "name", None), repr(getattr(detector, "config", None)),
           str(rt.device), rt.precision, torch.get_num_threads(), samples)
    if key in _MEASURED:
        return _MEASURED[key]
    generator = torch.Generator().manual_seed(0)
    waves = 0.1 * torch.randn(2, samples, generator=generator)

    def forward(n: int) -> None:
        with torch.inference_mode(), rt.autocast():
            detector.score(waves[:n].to(rt.device), torch.full((n,), samples, dtype=torch.int64, device=rt.device))

    peaks = []
    if rt.device.type == "cuda":
        for n in (1, 2):
            torch.cuda.synchronize(rt.device)
            base = torch.cuda.memory_allocated(rt.device)
            torch.cuda.reset_peak_memory_stats(rt.device)
            forward(n)
            torch.cuda.synchronize(rt.device)
            peaks.append(torch.cuda.max_memory_allocated(rt.device) - base)
    else:
        probe = _rss_high_water()
        if probe is None:
            return None
        reset, read = probe
        for n in (1, 2):
            reset()
            base, _ = read()
            forward(n)
            peaks.append(max(read()[1] - base, 0))
    per_clip = max(peaks[1] - peaks[0], peaks[1] / 2)
    _MEASURED[key] = per_clip / samples
    return _MEASURED[key]


def plan_memory(detector: Any, config: ScoreConfig, rt: Runtime, streams: int) -> MemoryPlan:
    """Batch size and streams from the memory budget and the detector's activation bytes per sample
    (declared by ``Detector.activation_bytes_per_sample``, else measured once). The budget is for all
    streams together: each stream gets its share, and streams are dropped before a batch falls below one
    clip. An explicit ``batch_size`` wins (the estimate is then only reported, from a declaration).
    Raises ``ConfigError`` when the budget cannot hold one clip."""
    samples = _probe_samples(detector)
    fixed = detector.input_policy.mode == "fixed"
    declared = getattr(detector, "activation_bytes_per_sample", None)
    declared = declared() if callable(declared) else None
    if config.batch_size is not None:
        per_sample = None if declared is None else float(declared) + 4
        peak = None if per_sample is None else int(per_sample * samples * config.batch_size * streams)
        plan = MemoryPlan(config.batch_size, streams, None, None, "batch_size given: no budget applied",
                          per_sample, "declared" if declared is not None else "unknown", samples, peak)
        if config.memory_budget_gb is not None and peak is not None and peak > config.memory_budget_gb * GiB:
            logging.getLogger(__name__).warning(
                "batch_size %d x %d stream(s) needs ~%.2f GB of activations, over memory_budget_gb %.2f; "
                "the batch size given wins", config.batch_size, streams, peak / GiB, config.memory_budget_gb)
        return plan
    budget, source = memory_budget(config, rt.device)
    estimate = "declared"
    if declared is None:
        declared, estimate = measure_activation_bytes(detector, rt, samples), "measured"
    if declared is None:
        raise ConfigError(f"{getattr(detector, 'name', 'this detector')} declares no activation_bytes_per_sample "
                          "and this platform cannot measure it (no /proc/self/clear_refs); give a batch size "
                          "(--batch-size / batch_size)", field="batch_size")
    per_sample = float(declared) + 4   # the input batch itself, fp32
    clip = per_sample * samples
    # Fixed-length inputs: every clip has ``samples``. Variable-length ones: the shortest clip the detector
    # takes must fit; longer clips that do not fit fail alone, naming the budget (see _ScoringStream).
    shortest = samples if fixed else max(int(detector.min_samples), 1)
    if budget < per_sample * shortest:
        raise ConfigError(
            f"memory budget {budget / GiB:.3g} GB ({source}) is too small for one clip: "
            f"{getattr(detector, 'name', 'the detector')} needs ~{per_sample * shortest / GiB:.3g} GB per "
            f"{shortest}-sample clip ({shortest / detector.sample_rate:.2f} s; {per_sample:.0f} bytes per sample, "
            f"{estimate}); raise --memory-budget / memory_budget_gb", field="memory_budget_gb")
    clip = min(clip, budget)  # variable-length: streams are kept while each can hold a probe-length clip
    if streams * clip > budget:
        logging.getLogger(__name__).info("scoring streams %d -> %d: the memory budget holds %d clip(s) at once",
                                         streams, int(budget // clip), int(budget // clip))
        streams = int(budget // clip)
    per_stream = budget / streams
    cap = min(MAX_AUTO_BATCH.get(rt.device.type, MAX_AUTO_BATCH["cpu"]), config.bucket_pool)
    if fixed:
        batch = max(1, min(cap, int(per_stream // clip)))
        batch_samples = None
        peak = int(clip * batch * streams)
    else:
        batch_samples = int(per_stream // per_sample)
        batch = cap
        peak = int(per_sample * batch_samples * streams)
    return MemoryPlan(batch, streams, batch_samples, budget, source, per_sample, estimate, samples, peak)


def _testset(testset: str | None, source: _TrialSource) -> str:
    if testset is None:
        if source.path is None:
            raise ConfigError("testset name needed when scoring a list of trials", field="testset")
        testset = testset_name(source.path)
    if any(c in testset for c in "/\\ ") or not testset:
        raise ConfigError(f"testset name {testset!r} must be non-empty, without '/', '\\' or spaces",
                          field="testset")
    return testset


@dataclass
class _ConditionFiles:
    """The files of one ``<testset>__<codec>`` and what an earlier run left in them."""
    testset: str
    codec: str
    scores: Path
    failed: Path
    summary: Path
    decoders: Path        # ``utt<TAB>decoder<TAB>source``: which audio decoder read each scored trial, from the pack or its file
    done: set[str]        # trials with a score: skipped
    n_retried: int        # trials an earlier run failed: tried again

    @classmethod
    def open(cls, out: Path, testset: str, codec: str, resume: bool) -> "_ConditionFiles":
        """Drop partial lines; start a fresh failure file (it ends holding only still-failing trials)."""
        stem = score_file_stem(testset, codec)
        files = cls(testset, codec, out / f"{stem}.txt", out / f"{stem}.failed.tsv", out / f"{stem}.json",
                    out / f"{stem}.decoders.tsv", set(), 0)
        if not resume:
            for path in (files.scores, files.failed, files.summary, files.decoders):
                path.unlink(missing_ok=True)
        files.done = _resume_file(files.scores, "scores")
        files.n_retried = len(_resume_file(files.failed, "failed") - files.done)
        files.failed.write_bytes(b"")
        return files


def _score_pass(detector: Any, source: _TrialSource, root: Any, group: list[_ConditionFiles],
                config: ScoreConfig, rt: Runtime, progress: bool, expected: int, extra: dict,
                eager: bool, log_context: dict, streams: int = 1,
                plan: "MemoryPlan | None" = None) -> list[ScoreFileResult]:
    """One pass over the trials scoring every condition of ``group``; one result per condition."""
    plan = plan or plan_memory(detector, config, rt, streams)
    from .data import with_pack  # the root's pack per config.data (auto|on|off)
    stream = _ScoringStream(source, with_pack(root, detector.sample_rate, config.data), [f.codec for f in group], [f.done for f in group], detector,
                            plan.batch_size, config.bucket_pool, config.cache_dir, config.cache_max_bytes,
                            eager=eager, batch_samples=plan.batch_samples, budget=plan.budget_text())
    loader = torch.utils.data.DataLoader(
        stream, batch_size=None, num_workers=config.num_workers,
        worker_init_fn=worker_init if config.num_workers else None, pin_memory=rt.device.type == "cuda",
        prefetch_factor=2 if config.num_workers else None)
    t0 = time.perf_counter()
    writers = [_ScoreWriter(f) for f in group]
    todo = sum(max(expected - len(f.done), 0) for f in group)
    codecs = [f.codec for f in group]
    name, preset = getattr(detector, "name", None), getattr(detector, "preset", None)
    log = context_logger(__name__, **{"detector": f"{name}:{preset}" if name and preset else name,
                                      "testset": group[0].testset,
                                      "codec": codecs[0] if len(codecs) == 1 else None, **log_context})
    with contextlib.ExitStack() as stack, torch.inference_mode():
        for writer in writers:
            stack.enter_context(writer)
        clips = _score_batches(loader, detector, writers, rt, streams)
        for _ in show_progress(clips, total=todo, desc=f"scoring {group[0].testset} × {', '.join(codecs)}",
                               logger=log, enabled=progress):
            pass
    seconds = time.perf_counter() - t0
    extra = {**extra, "pass_conditions": [f.codec for f in group]}
    return [_finish(detector, w.files, w, config, rt, expected, seconds, extra) for w in writers]


def _score_batches(loader: Any, detector: Any, writers: list["_ScoreWriter"], rt: Runtime,
                   streams: int = 1) -> Iterator[None]:
    """Score and write every batch of ``loader``; yield once per trial handled (for the progress count).

    With ``streams`` > 1, up to that many batches are scored at once, each in a thread of its own (torch
    releases the GIL inside its kernels); the results are written in the loader's order, so the files are
    the ones a single stream writes.
    """
    def forward(batch: dict) -> np.ndarray | None:
        if not batch["ids"]:
            return None
        with torch.inference_mode(), rt.autocast():  # both are thread-local: entered in the scoring thread
            values = detector.score(batch["waves"].to(rt.device, non_blocking=True), batch["lengths"].to(rt.device))
        return values.float().cpu().numpy()

    def write(batch: dict, values: np.ndarray | None) -> int:
        return writers[batch["condition"]].write_batch(batch, values)

    if streams <= 1:
        for batch in loader:
            yield from range(write(batch, forward(batch)))
        return
    with ThreadPoolExecutor(streams, thread_name_prefix="spoofbench-score") as pool:
        pending: deque = deque()
        for batch in loader:
            pending.append((batch, pool.submit(forward, batch)))
            if len(pending) >= streams:  # all streams busy: write the oldest batch once it is scored
                done, future = pending.popleft()
                yield from range(write(done, future.result()))
        while pending:
            done, future = pending.popleft()
            yield from range(write(done, future.result()))


class _ScoreWriter:
    """Appends scores and failures of one condition, flushed after every batch; counts them.

    Batches come sorted by clip length; ``write_batch`` holds each result until the results of the
    trials before it in its worker's stream are written, so each worker's lines are in manifest order
    (all lines, with at most one DataLoader worker).
    """

    def __init__(self, files: _ConditionFiles):
        self.files = files
        self.n_scored, self.n_failed, self.processed = len(files.done), 0, 0
        self._held: dict[int, dict[int, tuple]] = {}   # worker -> seq -> (utt, value or None, decoder, reason)
        self._next: dict[int, int] = {}                # worker -> the next seq to write

    def write_batch(self, batch: dict, values: np.ndarray | None) -> int:
        """Hold one batch's results (``seq`` numbers, scores, ``failures``) and write every result whose
        predecessors are written. Returns the trials the batch handled (for the progress count)."""
        worker = batch.get("worker", 0)
        held = self._held.setdefault(worker, {})
        for seq, utt, reason in batch["failures"]:
            held[seq] = (utt, None, None, reason)
        decoders = batch.get("decoders") or ["unknown"] * len(batch["ids"])
        for seq, utt, value, decoder in zip(batch["seq"], batch["ids"], values if values is not None else (),
                                            decoders):
            held[seq] = (utt, value, decoder, None)
        self._release(worker, drain=False)
        return len(batch["failures"]) + len(batch["ids"])

    def _release(self, worker: int, drain: bool) -> None:
        held, start = self._held[worker], self._next.get(worker, 0)
        stop = start
        while stop in held:
            stop += 1
        ready = [held.pop(q) for q in range(start, stop)]
        if drain:  # the stream ended: whatever is left (nothing, unless a worker died) in its order
            ready += [held.pop(q) for q in sorted(held)]
        self._next[worker] = stop
        if ready:
            ids = [utt for utt, value, _, reason in ready if reason is None]
            values = np.array([value for _, value, _, reason in ready if reason is None], dtype=np.float64)
            self.write(ids, values, [(utt, reason) for utt, _, _, reason in ready if reason is not None],
                       [decoder for _, _, decoder, reason in ready if reason is None])

    def __exit__(self, *exc: Any) -> None:
        for worker in list(self._held):
            self._release(worker, drain=True)
        self._scores.close()
        self._failed.close()
        self._decoders.close()

    def __enter__(self) -> "_ScoreWriter":
        self._scores = open(self.files.scores, "a", encoding="utf-8")
        self._failed = open(self.files.failed, "a", encoding="utf-8")
        self._decoders = open(self.files.decoders, "a", encoding="utf-8")
        return self


    def write(self, ids: Sequence[str], values: np.ndarray | None, failures: Sequence[tuple[str, str]],
              decoders: Sequence[str] | None = None) -> int:
        """Write one batch; a non-finite score is a failure of its trial. Returns the trials handled."""
        failures = list(failures)
        lines, read_by = [], []
        decoders = decoders if decoders is not None else ["unknown"] * len(ids)
        for utt, value, decoder in zip(ids, values if values is not None else (), decoders):
            if np.isfinite(value):
                lines.append(f"{utt} {float(value):.8g}\n")
                read_by.append(f"{utt}\t{decoder}\n")
            else:
                failures.append((utt, f"the detector returned a non-finite score ({float(value)})"))
        if lines:
            self._scores.write("".join(lines))
            self._scores.flush()
            self._decoders.write("".join(read_by))
            self._decoders.flush()
        if failures:
            self._failed.write("".join(f"{utt}\t{_clean(reason)}\n" for utt, reason in failures))
            self._failed.flush()
        self.n_scored += len(lines)
        self.n_failed += len(failures)
        self.processed += len(lines) + len(failures)
        return len(lines) + len(failures)


def _finish(detector: Any, files: _ConditionFiles, writer: _ScoreWriter, config: ScoreConfig, rt: Runtime,
            expected: int, seconds: float, extra: dict) -> ScoreFileResult:
    """The result of one condition and its ``<stem>.json`` summary."""
    codec = files.codec
    condition_record: dict[str, Any] = {"id": codec}
    if codec != "none":
        from spoofbench import codecs
        condition_record = {"id": codec, **codecs.condition_provenance(codecs.get_condition(codec))}
    result = ScoreFileResult(files.testset, codec, files.scores, files.failed, files.summary, writer.n_scored,
                             writer.n_failed, len(files.done), seconds,
                             writer.processed / seconds if seconds > 0 else 0.0, expected, files.n_retried)
    write_json_atomic(files.summary, {
        "testset": files.testset, "codec": condition_record, "detector": _describe(detector),
        "input_policy": detector.input_policy.to_dict(), "scores": files.scores.name,
        "failed": files.failed.name, "n_expected": expected, "n_scored": result.n_scored,
        "n_failed": result.n_failed, "n_resumed": result.n_resumed, "n_retried": result.n_retried,
        "coverage": result.coverage, "complete": result.complete, "seconds": seconds,
        "clips_per_s": result.clips_per_s, "device": str(rt.device), "precision": rt.precision,
        "batch_size": extra.get("memory", {}).get("batch_size", config.batch_size), "num_workers": config.num_workers,
        "decoders": files.decoders.name, **_read_counts(files.decoders), **extra}, fsync=True)
    return result


def _read_counts(path: Path) -> dict[str, dict[str, int]]:
    """``decoder_counts``: how many scored trials each audio decoder read (libsndfile, or PyAV where
    libsndfile fails; for a packed clip, the decoder that packed it); ``clip_sources``: how many came from
    the pack (``spoofbench pack``) and how many from their files (lines of older runs, without the column,
    count as ``unrecorded``)."""
    decoders: dict[str, int] = {}
    sources: dict[str, int] = {}
    if path.exists():
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                parts = line.rstrip("\n").split("\t")
                if len(parts) in (2, 3) and line.endswith("\n"):
                    decoders[parts[1]] = decoders.get(parts[1], 0) + 1
                    source = parts[2] if len(parts) == 3 else "unrecorded"
                    sources[source] = sources.get(source, 0) + 1
    return {"decoder_counts": dict(sorted(decoders.items())), "clip_sources": dict(sorted(sources.items()))}


def _describe(detector: Any) -> dict:
    describe = getattr(detector, "describe", None)
    if callable(describe):
        return describe()
    return {"name": getattr(detector, "name", type(detector).__name__)}


def load_run_detector(run_dir: str | os.PathLike) -> Any:
    """The best checkpoint of a training run dir, built through the detector registry."""
    import yaml

    from spoofbench.errors import CheckpointError
    from spoofbench.models import build_detector

    run = Path(run_dir)
    best = run / "checkpoints" / checkpoint_io.BEST
    if not best.is_file():
        raise CheckpointError(f"{run}: no {best.relative_to(run)}; is this a finished `spoofbench train` run dir?")
    try:
        config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise CheckpointError(f"{run / 'config.yaml'}: cannot read the run's config: {err}") from err
    name = config.get("detector")
    if not isinstance(name, str):
        raise ConfigError(f"no detector name (got {name!r})", path=run / "config.yaml", field="detector")
    return build_detector(name, config.get("preset"), checkpoint=best)
