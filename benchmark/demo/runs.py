"""The demo's runs (``spoofbench demo``): a ladder of distribution shifts, real ASVspoof attacks, a pretrained row.

The demo is four ordinary benchmark runs (:func:`spoofbench.runner.benchmark.run_benchmark`) under one
folder, merged into one ``result.json`` that tables, plots and ``spoofbench report`` read:

``ladder/``      detectors trained on demo corpus A (≥ 3 seeds), scored uncoded on the ladder's rungs
                 1–4 (:mod:`.plan`) and on real ASVspoof 2019 LA attacks (``la19_dev``: OOD);
``telephone/``   the same trained checkpoints, rung 4 through telephone codecs (rung 5);
``channel/``     the same checkpoints, rung 4 through laundering and (simulated) replay conditions (rung 6);
``shortcut/``    the same checkpoints on ``la19_dev`` after ``vad_trim`` (the silence-shortcut check);
``la19/``        the reverse: detectors trained on the real 2019 LA mini train half, tested on its dev
                 half (in-domain) and on rung 4, demo corpus B (OOD);
``pretrained/``  the official AASIST weights scored as is on a subset of ``la19_dev`` — these
                 utterances are in AASIST's training and development data: flagged, never OOD evidence;
``shortcut_la19/`` the LA 2019 direction's checkpoints on ``la19_dev`` after ``vad_trim``.

The shortcut sub-runs score only the trimmed condition: their cells pair with the ``none`` cells of the same
detector, seed and trials in the ladder and LA 2019 runs (:mod:`spoofbench.runner.shortcut` on the merged result).
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runner.config import BenchmarkConfig, DataSpec, DetectorSpec, TestSetSpec
from .build import DemoCorpus, DemoWarning, build_demo_corpus
from .la19 import FULL_LA19, QUICK_LA19, La19Sizes, build_la19_manifests
from .plan import DemoSizes
from .rungs import LA19_LABEL, PRETRAINED_LABEL, RUNGS

#: Detectors trained by the demo on a CPU, 3 seeds each: a small raw-waveform CNN trained from scratch, the
#: classic LFCC-GMM, and a frozen pretrained encoder with a small trained head (ge2e_speaker_head: resemblyzer's
#: GE2E *speaker* encoder, not an SSL model; the one pretrained speech encoder whose weights are here offline).
#: An SSL pipeline joins when a local checkpoint is given. lfcc_lcnn joins with --detectors: it scores ~3x
#: slower than rawcnn_2m on 2 CPU cores and adds ~5 minutes to the full demo (estimated from the quick run).
#: aasist_l joins by default only on a GPU: on 2 CPU cores it scores ~1 clip/s (perf/RESULTS_models.md).
ENCODER_DETECTOR = "ge2e_speaker_head"
DEMO_DETECTORS_CPU = ("rawcnn_2m", "lfcc_gmm", ENCODER_DETECTOR)
DEMO_DETECTORS_GPU = ("rawcnn_2m", "aasist_l", "lfcc_lcnn", "lfcc_gmm", ENCODER_DETECTOR)
#: The frozen encoder's head trains this many times the epochs of the others, at a higher learning rate: its
#: epochs are cheap (the encoder runs without gradients) and a ~50 k-parameter head needs more steps than the
#: few dozen the demo's small training set gives in 3 epochs.
ENCODER_EPOCH_FACTOR, ENCODER_LR = 3, 3e-3
DEMO_DETECTORS_QUICK = DEMO_DETECTORS_CPU
#: The demo's clips last at most 3 s: fixed-window detectors see all of each clip, no tiling to 4 s.
DEMO_WINDOW = 48000
#: Rung 5: rung 4 through telephone channels.
TELEPHONE_CODECS_FULL = ("g711_mulaw", "tel_gsm")
TELEPHONE_CODECS_QUICK = ("tel_gsm",)
#: Rung 6: rung 4 through laundering and replay (channels.yaml), each ~1-6 ms a 3-s clip in-process (scoring,
#: not the condition, is the cost): a resampling chain, pink noise, office reverberation and the SIMULATED
#: loudspeaker -> room -> microphone replay. The quick demo keeps one laundering condition.
CHANNEL_CONDITIONS_FULL = ("resample_chain", "noise_pink_10db", "reverb_medium_rt06", "replay_sim_office")
CHANNEL_CONDITIONS_QUICK = ("noise_pink_10db",)
#: The silence-shortcut check (Mueller et al. 2021): la19_dev as is and after this condition.
SHORTCUT_CONDITION = "vad_trim"
SHORTCUT_TEST = "la19_dev"
#: Sub-runs that rescore trained checkpoints (their detector labels carry ``@seedN``).
RESCORED_RUNS = ("telephone", "channel", "shortcut", "shortcut_la19")
#: The official AASIST weights beside a developer checkout (../shared/reference/aasist).
DEFAULT_AASIST = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "aasist" / "AASIST.pth"
#: On a CPU the demo runs one job per usable core, at most this many, each on one thread (--jobs overrides).
MAX_DEMO_JOBS = 8


@dataclass(frozen=True)
class DemoSettings:
    """What a demo run does; ``quick`` trades size for a run of a few minutes."""
    quick: bool = False
    seed: int = 0
    epochs: int | None = None
    detectors: tuple[str, ...] | None = None
    codecs: tuple[str, ...] | None = None
    ssl_checkpoint: str | None = None
    device: str = "auto"
    bootstrap: int | None = None
    seeds: tuple[int, ...] | None = None
    aasist_weights: str | None = str(DEFAULT_AASIST)
    real_attacks: bool = True
    corpus_sizes: DemoSizes | None = None     # overrides the quick/full corpus sizes (tests)
    la19_sizes: La19Sizes | None = None       # overrides the quick/full ASVspoof 2019 LA mini cuts
    jobs: int | None = None                   # jobs at once (None: one per core on a CPU, one on a GPU)
    channels: tuple[str, ...] | None = None   # rung 6's conditions (None: quick/full default; (): no rung 6)
    shortcut: bool = True                     # the vad_trim check on la19_dev (needs real_attacks)
    pack: bool = True                         # decode the corpus once into ROOT/.spoofbench_pack (docs/packs.md)

    def la19_cuts(self) -> La19Sizes:
        return self.la19_sizes or (QUICK_LA19 if self.quick else FULL_LA19)

    def training(self, la19: bool = False) -> dict[str, Any]:
        default = 4 if la19 else (2 if self.quick else 3)   # the LA mini half is 40-80 clips: 4 epochs
        epochs = self.epochs or default
        return {"epochs": epochs, "batch_size": 16, "eval_batch_size": 32, "num_workers": 1,
                "patience": epochs, "optim": {"lr": 1e-3, "scheduler": "cosine"}, **self.pinned_threads()}

    def uses_gpu(self) -> bool:
        if self.device == "cuda":
            return True
        import torch

        return self.device == "auto" and torch.cuda.is_available()

    def pinned_threads(self) -> dict[str, int]:
        """On a CPU every job trains and scores on one thread: the demo's numbers then depend on neither
        the core count nor ``jobs`` (a float sum's order follows the thread count), and jobs run side by side."""
        return {} if self.uses_gpu() else {"cpu_threads": 1}

    def job_workers(self) -> int:
        """Jobs at once: ``jobs``, else one per usable core (at most :data:`MAX_DEMO_JOBS`) on a CPU, one on a GPU."""
        if self.jobs:
            return self.jobs
        if self.uses_gpu():
            return 1
        from ..engine import runtime

        return max(1, min(MAX_DEMO_JOBS, runtime.usable_cpus()))

    def detector_names(self) -> tuple[str, ...]:
        if self.detectors:
            return self.detectors
        if self.uses_gpu():
            return DEMO_DETECTORS_GPU
        return DEMO_DETECTORS_QUICK if self.quick else DEMO_DETECTORS_CPU

    def telephone_codecs(self) -> tuple[str, ...]:
        if self.codecs:
            return tuple(c for c in self.codecs if c != "none")
        return TELEPHONE_CODECS_QUICK if self.quick else TELEPHONE_CODECS_FULL

    def channel_conditions(self) -> tuple[str, ...]:
        if self.channels is not None:
            return tuple(c for c in self.channels if c != "none")
        return CHANNEL_CONDITIONS_QUICK if self.quick else CHANNEL_CONDITIONS_FULL

    def shortcut_conditions(self) -> tuple[str, ...]:
        return (SHORTCUT_CONDITION,) if self.shortcut and self.real_attacks else ()

    def seed_list(self) -> tuple[int, ...]:
        """Training seeds: three in the full demo (mean ± sd), one in the quick mode."""
        return self.seeds or ((0,) if self.quick else (0, 1, 2))

    def resamples(self) -> int:
        return self.bootstrap if self.bootstrap is not None else (200 if self.quick else 1000)


def _window(name: str) -> dict[str, Any]:
    """Demo-sized overrides (recorded with the results): fixed windows cover a whole demo clip;
    the GMM baseline gets 64 components, as the demo has minutes, not hours, of training speech."""
    from ..models import build_detector

    if name == "lfcc_gmm":
        return {"gmm_components": 64}
    if build_detector(name, "tiny").input_policy.mode == "fixed":
        return {"num_samples": DEMO_WINDOW}
    return {}


def _train_overrides(name: str, settings: DemoSettings, la19: bool) -> dict[str, Any]:
    """Per-detector training settings on top of :meth:`DemoSettings.training` (the frozen encoder's head)."""
    if name != ENCODER_DETECTOR:
        return {}
    epochs = settings.training(la19)["epochs"] * ENCODER_EPOCH_FACTOR
    return {"epochs": epochs, "patience": epochs, "optim": {"lr": ENCODER_LR, "scheduler": "cosine"}}


def _detectors(settings: DemoSettings, suffix: str = "") -> tuple[DetectorSpec, ...]:
    la19 = suffix == LA19_LABEL
    specs = [DetectorSpec(name=name, label=f"{name}{suffix}" if suffix else None, overrides=_window(name),
                          train=_train_overrides(name, settings, la19))
             for name in settings.detector_names()]
    if settings.ssl_checkpoint:
        specs.append(DetectorSpec(name="wavlm_base_plus", label=f"wavlm_base_plus{suffix}",
                                  overrides={"checkpoint_path": str(Path(settings.ssl_checkpoint).resolve())}))
    return tuple(specs)


def _common(settings: DemoSettings, corpus: DemoCorpus) -> dict[str, Any]:
    return {"scoring": {"batch_size": 16, "num_workers": 2, **settings.pinned_threads()},
            "bootstrap": settings.resamples(),
            "device": settings.device, "codec_cache": str(Path(corpus.root).parent / "codec_cache")}


def _test(name: str, manifest: Path, root: Path, domain: str) -> TestSetSpec:
    return TestSetSpec(name, str(manifest), str(root), domain)


def demo_config(corpus: DemoCorpus, settings: DemoSettings, la19: dict[str, Path] | None = None,
                la19_root: Path | None = None) -> BenchmarkConfig:
    """The ladder run: train on corpus A, score rungs 1–4 (and real 2019 LA attacks) uncoded."""
    root = Path(corpus.root)
    tests = [_test(name, corpus.manifest(source), root, "in-domain" if name == "r1_speakers" else "ood")
             for name, (source, _) in RUNGS.items() if source in corpus.manifests]
    # la19_pretrained is the AASIST row's own cut: not a rung of the ladder
    if la19:
        tests.append(_test("la19_dev", la19["la19_dev"], la19_root, "ood"))
    return BenchmarkConfig(
        name="demo-quick" if settings.quick else "demo", detectors=_detectors(settings),
        train=DataSpec(str(corpus.manifest("demo_a_train")), str(root)),
        dev=DataSpec(str(corpus.manifest("demo_a_dev")), str(root)),
        test_sets=tuple(tests), codecs=("none",), seeds=settings.seed_list(),
        training=settings.training(), **_common(settings, corpus)).validate()


def _rescore_config(name: str, corpus: DemoCorpus, settings: DemoSettings,
                    checkpoints: dict[tuple[str, int], str], test: TestSetSpec, codecs: tuple[str, ...],
                    ) -> BenchmarkConfig:
    """Trained checkpoints (labelled ``label@seedN``, relabelled by the merge) scored as is on ``test``
    through ``codecs``."""
    detectors = tuple(DetectorSpec(name=name, label=f"{label}@seed{seed}", checkpoint=path)
                      for (label, seed), path in checkpoints.items()
                      for name in [label.split("@")[0]])
    return BenchmarkConfig(name=name, detectors=detectors, test_sets=(test,), codecs=codecs, seeds=(0,),
                           **_common(settings, corpus)).validate()


def telephone_config(corpus: DemoCorpus, settings: DemoSettings, checkpoints: dict[tuple[str, int], str],
                     ) -> BenchmarkConfig:
    """Rung 5: the ladder's trained checkpoints, scored as is on rung 4 through telephone codecs."""
    test = _test("r4_corpora", corpus.manifest("demo_b_eval"), Path(corpus.root), "ood")
    return _rescore_config("demo-telephone", corpus, settings, checkpoints, test, settings.telephone_codecs())


def channel_config(corpus: DemoCorpus, settings: DemoSettings, checkpoints: dict[tuple[str, int], str],
                   ) -> BenchmarkConfig:
    """Rung 6: the ladder's trained checkpoints on rung 4 through laundering and (simulated) replay."""
    test = _test("r4_corpora", corpus.manifest("demo_b_eval"), Path(corpus.root), "ood")
    return _rescore_config("demo-channel", corpus, settings, checkpoints, test, settings.channel_conditions())


def shortcut_config(corpus: DemoCorpus, settings: DemoSettings, checkpoints: dict[tuple[str, int], str],
                    la19: dict[str, Path], la19_root: Path, domain: str) -> BenchmarkConfig:
    """The silence-shortcut check: trained checkpoints on ``la19_dev`` after ``vad_trim`` only (the ``none``
    cells of the same trials are the ladder's or the LA 2019 run's)."""
    test = _test(SHORTCUT_TEST, la19["la19_dev"], la19_root, domain)
    return _rescore_config("demo-shortcut", corpus, settings, checkpoints, test, settings.shortcut_conditions())


def la19_config(corpus: DemoCorpus, settings: DemoSettings, la19: dict[str, Path], la19_root: Path,
                ) -> BenchmarkConfig:
    """The reverse direction: train on the real 2019 LA mini train half; test its dev half and rung 4."""
    root = Path(corpus.root)
    ood = [_test("r4_corpora", corpus.manifest("demo_b_eval"), root, "ood")]  # demo corpus B: another world
    return BenchmarkConfig(
        name="demo-la19", detectors=_detectors(settings, LA19_LABEL),
        train=DataSpec(str(la19["la19_train"]), str(la19_root)),
        dev=DataSpec(str(la19["la19_select"]), str(la19_root)),
        test_sets=(_test("la19_dev", la19["la19_dev"], la19_root, "in-domain"), *ood),
        codecs=("none",), seeds=settings.seed_list(), training=settings.training(la19=True),
        **_common(settings, corpus)).validate()


def pretrained_config(corpus: DemoCorpus, settings: DemoSettings, la19: dict[str, Path], la19_root: Path,
                      weights: Path) -> BenchmarkConfig:
    """The official AASIST weights, scored as is (no training) on a subset of the real dev half, and (the
    silence-shortcut check) on the same trials after ``vad_trim``."""
    extra = {"trained_on": ("asvspoof2019_la",)} if "trained_on" in {
        f.name for f in dataclasses.fields(DetectorSpec)} else {}
    spec = DetectorSpec(name="aasist", label=PRETRAINED_LABEL, checkpoint=str(weights), **extra)
    return BenchmarkConfig(
        name="demo-pretrained", detectors=(spec,),
        test_sets=(_test("la19_pretrained", la19["la19_pretrained"], la19_root, "in-domain"),),
        codecs=("none", *settings.shortcut_conditions()), seeds=(0,), **_common(settings, corpus)).validate()


def trained_checkpoints(run_dir: Path, config: BenchmarkConfig) -> dict[tuple[str, int], str]:
    """(detector label, seed) → best checkpoint (absolute) of every finished training in a run folder."""
    found = {}
    for spec in config.detectors:
        slug = getattr(spec, "slug", spec.display)
        for seed in config.seeds:
            for done in sorted(Path(run_dir).rglob(f"{slug}__seed{seed}__*/done.json")):
                info = json.loads(done.read_text(encoding="utf-8"))
                best = _checkpoint_file(done.parent, info.get("best_checkpoint"))
                if best is not None:
                    found[(spec.display, seed)] = str(best)
    return found


def _checkpoint_file(train_dir: Path, recorded: str | None) -> Path | None:
    """The best checkpoint of a finished training. ``done.json`` records it as the trainer saw it: absolute,
    or relative to the working directory of that run (``--out runs/demo``), not to the folder."""
    fallback = train_dir / "checkpoints" / "best.pt"
    candidates = [Path(recorded), train_dir / recorded] if recorded else []
    for path in [*candidates, fallback]:
        if path.is_file():
            return path.resolve()
    return None


# ----------------------------------------------------------------------------- running

TRAINED_ON = {"ladder": ["demo_a"], "telephone": ["demo_a"], "channel": ["demo_a"], "shortcut": ["demo_a"],
              "la19": ["asvspoof2019_la (mini train half)"], "shortcut_la19": ["asvspoof2019_la (mini train half)"],
              "pretrained": ["asvspoof2019_la"]}
OVERLAP_NOTE = ("these utterances are ASVspoof 2019 LA train/dev data, which the official AASIST weights were "
                "trained and selected on")


def run_demo(out_dir: str | Path, settings: DemoSettings, *, progress: bool = True,
             corpus_dir: str | Path | None = None) -> tuple[dict, DemoCorpus]:
    """Build (or reuse) the demo corpus, run the four sub-benchmarks, merge them into ``out_dir``'s
    ``result.json`` and write tables, plots, ``report.md|html`` and ``demo_summary.md``.

    With more than one job at once (:meth:`DemoSettings.job_workers`), the jobs run in worker processes,
    started while the corpus is built, and the two independent chains (ladder → telephone; LA 2019 →
    pretrained) run side by side on the same workers.
    """
    from ..codecs.availability import require_runnable
    from ..runner.plan import expand_codecs

    # rungs 5 and 6 and the shortcut check: refused before any work when a condition cannot run here
    require_runnable(expand_codecs(settings.telephone_codecs() + settings.channel_conditions()
                                   + settings.shortcut_conditions()))
    out = Path(out_dir)
    corpus_dir = Path(corpus_dir) if corpus_dir else out / "corpus"
    corpus, executor = _corpus_and_workers(settings, corpus_dir, progress)
    try:
        if settings.pack:
            pack_demo_corpus(corpus, workers=settings.job_workers(), progress=progress)
        la19_root, la19 = (build_la19_manifests(corpus_dir / "la19", settings.la19_cuts(), seed=settings.seed)
                           if settings.real_attacks else (None, None))
        chains = _Chains(out, settings, corpus, la19, la19_root, progress, executor)
        runs = chains.run()
        extra = {"quick": settings.quick, "seeds": list(settings.seed_list()), "notes": chains.notes,
                 "rungs": {name: what for name, (_, what) in RUNGS.items()},
                 "telephone_codecs": list(settings.telephone_codecs()),
                 "channel_conditions": list(settings.channel_conditions()),
                 "shortcut_condition": SHORTCUT_CONDITION if settings.shortcut_conditions() else None}
        merged = _merge(out, runs, settings, extra)
        write_demo_outputs(merged, out, settings, executor)
    finally:
        if executor is not None:
            executor.close()
    return merged, corpus


def _corpus_and_workers(settings: DemoSettings, corpus_dir: Path, progress: bool):
    """Build the corpus while this process starts the job workers (when there are any).

    torch is imported first, before the corpus thread starts: SciPy's array-API checks (``resample_poly`` in
    the generators' probes) look torch up in ``sys.modules`` when it is there, and a torch still half-imported
    by this thread made them fail, so that attacks were skipped as "failed on a test sentence"."""
    from concurrent.futures import ThreadPoolExecutor

    import torch  # noqa: F401  (fully imported before another thread can see it in sys.modules)

    with ThreadPoolExecutor(1, thread_name_prefix="demo-corpus") as pool:
        building = pool.submit(build_demo_corpus, corpus_dir, quick=settings.quick, seed=settings.seed,
                               progress=progress, sizes=settings.corpus_sizes)
        executor = None
        try:
            executor = _executor(settings)
            if executor is not None:
                executor.start()
            return building.result(), executor
        except BaseException:
            if executor is not None:
                executor.close()
            raise


def pack_demo_corpus(corpus: DemoCorpus, *, workers: int = 0, progress: bool = True):
    """Decode the demo corpus once into ``ROOT/.spoofbench_pack`` (resumable: a rerun only checks it).

    Training and scoring find it there (``data.pack: auto``) and read each clip from its shards instead of
    decoding its FLAC in every epoch and condition; pack-fed clips are bit-identical to file-fed ones
    (int16 FLAC, ``dtype: auto``), so the demo's numbers do not change. The real LA 2019 mini clips
    (``la19``, ``pretrained``, ``shortcut*``) stay file-fed: their root is the reference data, not ours
    to write into."""
    from ..engine.pack import DEFAULT_DIR, pack_manifests

    result = pack_manifests(list(corpus.manifests.values()), root=corpus.root, out=corpus.root / DEFAULT_DIR,
                            workers=workers if workers > 1 else 0, progress=progress)
    if result.failed:
        _, path, why = result.failed[0]
        warnings.warn(f"demo pack: {len(result.failed)} clip(s) not packed (read from their files instead), "
                      f"e.g. {path}: {why}", DemoWarning, stacklevel=2)
    return result


def _executor(settings: DemoSettings):
    """The shared worker pool when the demo runs more than one job at once, else None (in this process)."""
    workers = settings.job_workers()
    if workers <= 1:
        return None
    from ..runner.pool_executor import ProcessPoolJobExecutor

    return ProcessPoolJobExecutor(workers=workers, threads=1)


@dataclass
class _Chains:
    """The demo's sub-benchmarks: ladder → telephone (its checkpoints) and LA 2019 → pretrained."""
    out: Path
    settings: DemoSettings
    corpus: DemoCorpus
    la19: dict[str, Path] | None
    la19_root: Path | None
    progress: bool
    executor: Any = None

    def __post_init__(self) -> None:
        self.notes: list[str] = []
        self.runs: dict[str, dict] = {}

    def run(self) -> dict[str, dict]:
        chains = [self.ladder, self.la19_chain]
        if self.executor is None:
            for chain in chains:
                chain()
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(chains), thread_name_prefix="demo-chain") as pool:
                running = [pool.submit(chain) for chain in chains]
                _preload_outputs()  # this thread only waits: load what the tables and the report need
                for future in running:
                    future.result()
        order = ("ladder", "telephone", "channel", "shortcut", "la19", "pretrained", "shortcut_la19")
        return {name: self.runs[name] for name in order if name in self.runs}

    def _run(self, name: str, config: BenchmarkConfig) -> dict:
        from ..runner.benchmark import run_benchmark

        self.runs[name] = run_benchmark(config, self.out / name, progress=self.progress, tables=False,
                                        executor=self.executor)
        return self.runs[name]

    def ladder(self) -> None:
        settings, corpus = self.settings, self.corpus
        ladder = demo_config(corpus, settings, self.la19, self.la19_root)
        self._run("ladder", ladder)
        wanted = [(settings.telephone_codecs(), "Rung 5 (telephone codecs)"),
                  (settings.channel_conditions(), "Rung 6 (laundering and replay)"),
                  (settings.shortcut_conditions() if self.la19 else (), "The silence-shortcut check")]
        if not any(codecs for codecs, _ in wanted):
            return
        checkpoints = trained_checkpoints(self.out / "ladder", ladder)
        if not checkpoints:
            self.notes += [f"{what} is skipped: no finished training with a best checkpoint under "
                           f"{self.out / 'ladder' / 'train'}." for codecs, what in wanted if codecs]
            return
        if settings.telephone_codecs():
            self._run("telephone", telephone_config(corpus, settings, checkpoints))
        if settings.channel_conditions():
            self._run("channel", channel_config(corpus, settings, checkpoints))
        if wanted[2][0]:
            self._run("shortcut", shortcut_config(corpus, settings, checkpoints, self.la19, self.la19_root, "ood"))

    def la19_chain(self) -> None:
        """The pretrained row first (one long job: started early, it cannot be the last), then LA 2019."""
        if not self.la19:
            return
        settings, corpus, la19, root = self.settings, self.corpus, self.la19, self.la19_root
        weights = Path(settings.aasist_weights) if settings.aasist_weights else None
        if weights is not None and weights.is_file():
            self._run("pretrained", pretrained_config(corpus, settings, la19, root, weights))
        else:
            self.notes.append(f"The pretrained AASIST row is skipped: no official weights at {weights} "
                              "(give --aasist-weights PATH).")
        reverse = la19_config(corpus, settings, la19, root)
        self._run("la19", reverse)
        if not settings.shortcut_conditions():
            return
        checkpoints = trained_checkpoints(self.out / "la19", reverse)
        if checkpoints:
            self._run("shortcut_la19", shortcut_config(corpus, settings, checkpoints, la19, root, "in-domain"))
        else:
            self.notes.append(f"The silence-shortcut check of the LA 2019 direction is skipped: no finished training "
                              f"with a best checkpoint under {self.out / 'la19' / 'train'}.")


def draw_demo_plots(task: tuple[dict, str]) -> dict:
    """EER heat maps, parameters vs OOD EER, DET curves, rung 4 through its channels and the silence shortcut of a
    demo result: ``{"ok", "plots": [path...]}``."""
    from ..runner.plots import plot_det_curves, plot_eer_heatmaps, plot_params_vs_ood

    result, out = task[0], Path(task[1])
    plots = plot_eer_heatmaps(result, out / "plots", formats=("png",))
    plots += plot_params_vs_ood(result, out / "plots", formats=("png",))
    plots += plot_det_curves(result, out, formats=("png",))
    from .plots import plot_demo_extras

    plots += plot_demo_extras(result, out / "plots", formats=("png",))
    return {"ok": True, "plots": [str(p) for p in plots]}


def _preload_outputs() -> None:
    from ..runner import report, results, tables  # noqa: F401  (metrics, scikit-learn, pandas)


def _merge(out: Path, runs: dict, settings: DemoSettings, extra: dict) -> dict:
    from .merge import merge_results

    return merge_results(out, runs, name="demo-quick" if settings.quick else "demo", trained_on=TRAINED_ON,
                         rescored=RESCORED_RUNS,
                         not_ood_evidence={PRETRAINED_LABEL: {"la19_pretrained": OVERLAP_NOTE}}, extra=extra)


def write_demo_outputs(result: dict, out: Path, settings: DemoSettings, executor: Any = None) -> dict[str, Path]:
    """Tables, plots, the report and the demo summary of a merged demo result (the plots on one of
    ``executor``'s workers, beside the report, when given)."""
    from ..atomic import write_text_atomic
    from ..runner.report import ReportSettings, build_report, report_html, report_markdown
    from ..runner.results import write_tidy
    from ..runner.tables import write_tables

    paths: dict[str, Path] = {}
    if not result["cells"]:
        return paths
    drawing = executor.call(draw_demo_plots, (result, str(out))) if executor is not None else None
    write_tables(result, out / "tables")
    write_tidy(result, out)
    report_settings = ReportSettings(resamples=settings.resamples(), seed=settings.seed)
    report = build_report(out, report_settings)
    report.sections.append(_seed_question_section(result, out, report, report_settings))
    channels = _channel_section(result, out, report_settings)
    if channels is not None:
        report.sections.append(channels)
    from .silence import shortcut_rows, shortcut_section, write_shortcut_tables

    condition = result.get("demo", {}).get("shortcut_condition")
    shortcut = shortcut_rows(out, report_settings, condition)
    if shortcut:
        report.sections.append(shortcut_section(shortcut, condition))
        write_shortcut_tables(shortcut, out / "tables", condition)
    paths["report_md"], paths["report_html"] = out / "report.md", out / "report.html"
    write_text_atomic(paths["report_md"], report_markdown(report))
    drawn = (drawing.result() if drawing is not None else draw_demo_plots((result, str(out))))
    if not drawn["ok"]:
        raise RuntimeError(f"drawing the demo's plots failed: {drawn['error']}\n{drawn.get('traceback', '')}")
    plots = [Path(p) for p in drawn["plots"]]
    write_text_atomic(paths["report_html"], report_html(report, [str(p.relative_to(out)) for p in plots]))
    from .summary import demo_summary

    paths["summary"] = out / "demo_summary.md"
    write_text_atomic(paths["summary"], demo_summary(result, out, report.comparisons, report_settings,
                                                     shortcut=shortcut))
    return paths


def _channel_section(result: dict, out: Path, settings: Any) -> Any:
    """The report's rungs 5 and 6: rung 4 as is and through each channel, columns named as in the demo summary
    (``r6_channel: ... (simulation)`` for the simulated replay chain); None without coded rung-4 cells."""
    from ..runner.report import ScoreStore, Section
    from .ladder import ladder_table

    if not any(c["test_set"] == "r4_corpora" and c["codec"] != "none" for c in result["cells"]):
        return None
    store = ScoreStore(result, out)
    detectors = [d for d, i in result["detectors"].items() if i.get("run") == "ladder"]
    table, _ = ladder_table(
        result, store if store.available() else None, detectors, ["r4_corpora"], telephone=True, settings=settings,
        title="Rung 4 through telephone codecs (r5) and laundering / replay (r6): EER (%)",
        caption="The ladder's trained checkpoints (demo corpus A) scored on rung 4 as is and through each condition. "
                "\"(simulation)\": a simulated loudspeaker → room → microphone chain (parameters in "
                "`spoofbench codecs list --matrix replay`), not a re-recording.")
    return Section("Rungs 5 and 6: rung 4 through telephone codecs, laundering and simulated replay", [table])


def _seed_question_section(result: dict, out: Path, report: Any, settings: Any) -> Any:
    """The report's answer to the seed's question: per rung and direction, the raw-waveform CNN vs the frozen
    pretrained encoder, with the rung's power (:mod:`.verdict`)."""
    from ..runner.report import Section
    from .summary import encoder_note, seed_question
    from .verdict import CLAIM, verdict_table

    m = len(report.comparisons)
    blocks: list[Any] = [f"The seed's claim: {CLAIM}. Per rung: the paired bootstrap of the two families (Holm-"
                         f"adjusted over the report's {m} comparisons, every seed pair agreeing) and the smallest EER "
                         "difference the rung detects with 80% power (at Holm's strictest level; in brackets at its "
                         "last; from the paired Δ intervals, which span every seed pair: conservative). \"Cannot "
                         "tell\" means the set does not separate them: a true difference below the detectable one "
                         "may exist."]
    note = encoder_note(result)
    if note:
        blocks.append(note)
    parts = seed_question(result, out, report.comparisons, settings)
    blocks += [verdict_table(rows, title, "") for title, rows in parts]
    if not parts:
        blocks.append("Not answered: the run lacks rawcnn_2m or ge2e_speaker_head.")
    return Section("The seed's question: small raw-waveform model vs frozen pretrained encoder", blocks)
