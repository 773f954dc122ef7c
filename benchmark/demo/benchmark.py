"""``spoofbench demo``: the embedded benchmark — train on demo corpus A, test on A-eval and B.

Corpus A and corpus B have disjoint speakers and disjoint attack families, so A-eval is in-domain
and B is out of distribution by construction; every test set goes through a codec matrix.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runner.config import BenchmarkConfig, DataSpec, DetectorSpec, TestSetSpec
from .build import DemoCorpus, build_demo_corpus

#: Detectors trained by the demo on a CPU (an SSL pipeline joins when a local checkpoint is given).
#: aasist_l joins by default only on a GPU: on 2 CPU cores it scores ~1 clip/s (perf/RESULTS_models.md),
#: which alone would take the full matrix past the demo's 15-minute budget.
DEMO_DETECTORS_CPU = ("rawcnn_2m", "lfcc_lcnn", "lfcc_gmm")
DEMO_DETECTORS_GPU = ("rawcnn_2m", "aasist_l", "lfcc_lcnn", "lfcc_gmm")
#: The demo's clips last at most 3 s: fixed-window detectors see all of each clip, no tiling to 4 s.
DEMO_WINDOW = 48000
#: The quick mode's codec conditions: one per family of degradation.
QUICK_CODECS = ("none", "mp3_32k", "opus_12k", "g711_mulaw", "gsm_fr")


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

    def training(self) -> dict[str, Any]:
        epochs = self.epochs or (2 if self.quick else 6)
        return {"epochs": epochs, "batch_size": 16, "eval_batch_size": 32, "num_workers": 1,
                "patience": epochs, "optim": {"lr": 1e-3, "scheduler": "cosine"}}

    def detector_names(self) -> tuple[str, ...]:
        if self.detectors:
            return self.detectors
        import torch

        gpu = self.device == "cuda" or (self.device == "auto" and torch.cuda.is_available())
        return DEMO_DETECTORS_GPU if gpu else DEMO_DETECTORS_CPU

    def codec_list(self) -> tuple[str, ...]:
        if self.codecs:
            return self.codecs
        return QUICK_CODECS if self.quick else ("matrix:default",)


def _window(name: str) -> dict[str, Any]:
    """Demo-sized overrides (recorded with the results): fixed windows cover a whole demo clip;
    the GMM baseline gets 64 components, as the demo has minutes, not hours, of training speech."""
    from ..models import build_detector

    if name == "lfcc_gmm":
        return {"gmm_components": 64}
    if build_detector(name, "tiny").input_policy.mode == "fixed":
        return {"num_samples": DEMO_WINDOW}
    return {}


def demo_config(corpus: DemoCorpus, settings: DemoSettings) -> BenchmarkConfig:
    """The benchmark config of a demo run over a built demo corpus."""
    root = str(corpus.root)
    detectors = [DetectorSpec(name=name, overrides=_window(name)) for name in settings.detector_names()]
    if settings.ssl_checkpoint:
        detectors.append(DetectorSpec(name="wavlm_base_plus", label="wavlm_base_plus",
                                      overrides={"checkpoint_path": str(Path(settings.ssl_checkpoint).resolve())}))
    return BenchmarkConfig(
        name="demo-quick" if settings.quick else "demo",
        detectors=tuple(detectors),
        train=DataSpec(str(corpus.manifest("demo_a_train")), root),
        dev=DataSpec(str(corpus.manifest("demo_a_dev")), root),
        test_sets=(TestSetSpec("demo_a_eval", str(corpus.manifest("demo_a_eval")), root),
                   TestSetSpec("demo_b_eval", str(corpus.manifest("demo_b_eval")), root)),
        codecs=settings.codec_list(),
        seeds=(settings.seed,),
        training=settings.training(),
        scoring={"batch_size": 16, "num_workers": 1},
        bootstrap=settings.bootstrap if settings.bootstrap is not None else (0 if settings.quick else 200),
        device=settings.device,
        codec_cache=str(Path(root).parent / "codec_cache"),
    ).validate()


def run_demo(out_dir: str | Path, settings: DemoSettings, *, progress: bool = True,
             corpus_dir: str | Path | None = None) -> tuple[dict, DemoCorpus]:
    """Build (or reuse) the demo corpus, then run the demo benchmark into ``out_dir``."""
    from ..runner.runner import run_benchmark

    out = Path(out_dir)
    corpus_dir = Path(corpus_dir) if corpus_dir else out / "corpus"
    corpus = build_demo_corpus(corpus_dir, quick=settings.quick, seed=settings.seed, progress=progress)
    config = demo_config(corpus, settings)
    result = run_benchmark(config, out, progress=progress)
    return result, corpus
