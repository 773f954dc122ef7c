"""Scoring through a neural codec that batches well (on a GPU; forced here) codes a pool of clips per forward pass
(apply_condition_batch) and gives the scores of coding clip by clip (what it does on a CPU); a clip that fails
inside a batch fails alone. Random-weight EnCodec 24 kHz."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from neural_weights import save_encodec_24khz
from spoofbench import codecs
from spoofbench.engine import ScoreConfig, score
from spoofbench.errors import CodecError
from spoofbench.models import build_detector

pytest.importorskip("encodec")
pytestmark = pytest.mark.timeout(300)
CODECS = ("none", "encodec_6k")
real_batches_well = codecs.batches_well


@pytest.fixture(scope="module")
def detector():
    torch.manual_seed(0)
    return build_detector("rawcnn_2m", "tiny").eval()


@pytest.fixture(scope="module")
def weights_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("neural_root")
    save_encodec_24khz(root)
    return root


@pytest.fixture
def calls(monkeypatch, weights_root):
    """The clips of every neural.code_batch call; ``calls.fail_length``: a clip length whose batch raises."""
    monkeypatch.setenv("SPOOFBENCH_NEURAL_WEIGHTS", str(weights_root))
    sizes: list[int] = []
    real = codecs.neural.code_batch

    def recording(waves, rate, step, seeds):
        sizes.append(len(waves))
        if any(len(w) == recording.fail_length for w in waves):
            raise CodecError("simulated failure of one clip")
        return real(waves, rate, step, seeds)
    recording.fail_length = -1
    recording.sizes = sizes
    monkeypatch.setattr(codecs.neural, "code_batch", recording)
    return recording


def _run(detector, corpus, out, cache=None):
    cfg = ScoreConfig(codecs=CODECS, batch_size=4, bucket_pool=6, num_workers=0, cpu_threads=1, cache_dir=cache)
    result = score(detector, corpus["manifests"] / "eval.jsonl.gz", root=corpus["root"], out_dir=out, config=cfg,
                   progress=False)
    return {f.codec: f for f in result.files}


def _lines(path) -> list[tuple[str, float]]:
    return [(line.split()[0], float(line.split()[1])) for line in path.read_text().splitlines()]


def _same_scores(batched, per_clip):
    assert batched["none"].scores.read_bytes() == per_clip["none"].scores.read_bytes()
    a, b = _lines(batched["encodec_6k"].scores), _lines(per_clip["encodec_6k"].scores)
    assert [u for u, _ in a] == [u for u, _ in b]  # the same trials, in manifest order
    np.testing.assert_allclose([s for _, s in a], [s for _, s in b], rtol=1e-4, atol=1e-5)
    assert batched["encodec_6k"].failed.read_bytes() == per_clip["encodec_6k"].failed.read_bytes()
    assert batched["encodec_6k"].n_scored == per_clip["encodec_6k"].n_scored


def test_batched_scores_equal_per_clip_scores(detector, corpus, tmp_path, calls, monkeypatch):
    monkeypatch.setattr(codecs, "batches_well", lambda condition: True)  # as on a GPU
    batched = _run(detector, corpus, tmp_path / "batched", cache=str(tmp_path / "cache"))
    n = batched["encodec_6k"].n_scored
    assert n == 17 and batched["encodec_6k"].n_failed == 3  # the empty, truncated and missing clips
    assert max(calls.sizes) > 1 and sum(calls.sizes) == n and len(calls.sizes) < n  # fewer calls than clips
    assert _lines(batched["encodec_6k"].scores) != _lines(batched["none"].scores)  # really coded
    calls.sizes.clear()
    monkeypatch.setattr(codecs, "batches_well", real_batches_well)  # encodec_6k codes on the CPU: per clip
    per_clip = _run(detector, corpus, tmp_path / "per_clip")
    assert calls.sizes == [1] * n
    _same_scores(batched, per_clip)
    calls.sizes.clear()
    monkeypatch.setattr(codecs, "batches_well", lambda condition: True)
    again = _run(detector, corpus, tmp_path / "again", cache=str(tmp_path / "cache"))
    assert calls.sizes == []  # every clip from the cache the batched run filled
    assert again["encodec_6k"].scores.read_bytes() == batched["encodec_6k"].scores.read_bytes()


def test_a_clip_failing_in_a_batch_fails_alone(detector, corpus, tmp_path, calls, monkeypatch):
    monkeypatch.setattr(codecs, "batches_well", lambda condition: True)
    calls.fail_length = sf.info(str(corpus["root"] / "eval" / "eval_003.wav")).frames
    batched = _run(detector, corpus, tmp_path / "batched")
    failed = batched["encodec_6k"].failed.read_text()
    assert "eval_003\t" in failed and "simulated failure of one clip" in failed
    assert batched["encodec_6k"].n_scored == 16 and max(calls.sizes) > 1
    monkeypatch.setattr(codecs, "batches_well", real_batches_well)
    per_clip = _run(detector, corpus, tmp_path / "per_clip")
    _same_scores(batched, per_clip)
