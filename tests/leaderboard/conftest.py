"""A real score-file submission: a tiny lfcc_gmm fitted on the engine tests' synthetic corpus.

The corpus comes from ``tests/engine/conftest.py`` (``make_corpus``, loaded by path): test set
``a_eval`` is its eval split (corpus ``synth``: in-domain for a detector trained on ``synth``),
``b_eval`` the eval split of a second corpus made the same way with another seed and renamed
``synth_b`` (out of domain). Unreadable trials of the engine corpus are left out of the test sets.
"""
from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest
import yaml

from spoofbench.corpora.manifest import write_manifest

TESTS = Path(__file__).resolve().parents[1]
CODECS = ("none", "g711_mulaw")


def _engine_corpus_module():
    spec = importlib.util.spec_from_file_location("_engine_corpus_for_leaderboard", TESTS / "engine" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readable(trials: list) -> list:
    return [t for t in trials if t.num_samples]


@pytest.fixture(scope="session")
def lb_corpus(tmp_path_factory) -> dict:
    """Two corpora, the leaderboard config over them, and the training data of corpus ``synth``."""
    make_corpus = _engine_corpus_module().make_corpus
    base = tmp_path_factory.mktemp("lb_corpus")
    a = make_corpus(base / "a", seed=7)
    b = make_corpus(base / "b", seed=8)
    manifests = base / "manifests"
    manifests.mkdir()
    write_manifest(manifests / "a_eval.jsonl.gz", _readable(a["eval"]))
    write_manifest(manifests / "b_eval.jsonl.gz",
                   [dataclasses.replace(t, corpus="synth_b") for t in _readable(b["eval"])])
    config = {"name": "tiny-board",
              "test_sets": [{"name": "a_eval", "manifest": "manifests/a_eval.jsonl.gz", "root": str(a["root"])},
                            {"name": "b_eval", "manifest": "manifests/b_eval.jsonl.gz", "root": str(b["root"])}],
              "codecs": list(CODECS), "bootstrap": 200, "seed": 0,
              "training_corpora": {"synth": [str(a["manifests"] / "train.jsonl.gz")]},
              "scoring": {"batch_size": 4, "num_workers": 0, "cpu_threads": 1}, "device": "cpu"}
    (base / "board.yaml").write_text(yaml.safe_dump(config))
    return {"base": base, "a": a, "b": b, "config": base / "board.yaml"}


@pytest.fixture(scope="session")
def trained_run(lb_corpus, tmp_path_factory) -> Path:
    """The engine run dir of a tiny lfcc_gmm fitted on corpus ``synth``."""
    from spoofbench.engine import TrainConfig, train

    a = lb_corpus["a"]
    out = tmp_path_factory.mktemp("lb_train")
    cfg = TrainConfig(detector="lfcc_gmm", preset="tiny", epochs=1, batch_size=8, num_workers=0, seed=0,
                      cpu_threads=1)
    train(cfg, a["train"], a["dev"], root=a["root"], out_dir=out, progress=False)
    return out


@pytest.fixture(scope="session")
def scored_files(lb_corpus, trained_run, tmp_path_factory, require_ffmpeg) -> Path:
    """Score files ``<test>__<codec>.txt`` of the trained detector on both test sets."""
    from spoofbench.engine import ScoreConfig, load_run_detector, score

    detector = load_run_detector(trained_run)
    out = tmp_path_factory.mktemp("lb_scores")
    cfg = ScoreConfig(codecs=CODECS, batch_size=4, num_workers=0, cpu_threads=1)
    base = lb_corpus["base"]
    for test, corpus in (("a_eval", lb_corpus["a"]), ("b_eval", lb_corpus["b"])):
        score(detector, base / "manifests" / f"{test}.jsonl.gz", root=corpus["root"], out_dir=out,
              testset=test, config=cfg, progress=False)
    return out
