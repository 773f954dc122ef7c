"""Scoring several batches at once on a CPU (``ScoreConfig.streams``): each batch single-threaded in a
thread of its own, written in the loader's order, so the files equal those of one stream."""
from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import torch

from spoofbench.engine import ScoreConfig, score
from spoofbench.errors import DetectorError
from spoofbench.models import build_detector

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def detector():
    torch.manual_seed(0)
    return build_detector("rawcnn_2m", "tiny").eval()


def _score(detector, corpus, out, streams: int, codecs=("none", "g711_mulaw"), workers: int = 1):
    cfg = ScoreConfig(codecs=codecs, batch_size=3, num_workers=workers, cpu_threads=1, streams=streams)
    return score(detector, corpus["manifests"] / "eval.jsonl.gz", root=corpus["root"], out_dir=out, config=cfg,
                 progress=False)


def test_streams_write_the_files_of_one_stream(detector, corpus, tmp_path, require_ffmpeg):
    one = _score(detector, corpus, tmp_path / "one", 1)
    three = _score(detector, corpus, tmp_path / "three", 3)
    for a, b in zip(one.files, three.files):
        assert a.scores.read_bytes() == b.scores.read_bytes() and a.n_scored == b.n_scored > 0
        assert json.loads(b.summary.read_text())["streams"] == 3
        assert json.loads(a.summary.read_text())["streams"] == 1


class _Overlap(torch.nn.Module):
    """Wraps a detector; records how many score calls run at the same time."""

    def __init__(self, inner, concurrent: bool, fail_on_call: int | None = None):
        super().__init__()
        self.inner, self.concurrent_inference, self.fail_on_call = inner, concurrent, fail_on_call
        for name in ("name", "preset", "sample_rate", "input_policy", "min_samples"):
            setattr(self, name, getattr(inner, name))
        self.lock, self.active, self.most, self.calls = threading.Lock(), 0, 0, 0

    def score(self, waves, lengths):
        with self.lock:
            self.active += 1
            self.calls += 1
            self.most = max(self.most, self.active)
            call = self.calls
        try:
            time.sleep(0.05)  # long enough for the next batch's thread to start
            if call == self.fail_on_call:
                raise DetectorError("boom in a scoring thread")
            return self.inner.score(waves, lengths)
        finally:
            with self.lock:
                self.active -= 1


def test_batches_really_run_at_once_and_only_for_a_pure_detector(detector, corpus, tmp_path, caplog):
    pure = _Overlap(detector, concurrent=True)
    result = _score(pure, corpus, tmp_path / "pure", 2, codecs=("none",), workers=0)
    assert pure.most == 2 and result.files[0].n_scored > 0
    opaque = _Overlap(detector, concurrent=False)  # a detector that did not opt in: one stream
    caplog.set_level(logging.WARNING, logger="spoofbench.engine.scoring")  # whatever an earlier `-q` left
    result = _score(opaque, corpus, tmp_path / "opaque", 2, codecs=("none",), workers=0)
    assert opaque.most == 1 and json.loads(result.files[0].summary.read_text())["streams"] == 1
    assert "streams 2 asked, 1 used" in caplog.text and "concurrent_inference" in caplog.text


def test_an_error_in_a_scoring_thread_reaches_the_caller(detector, corpus, tmp_path):
    failing = _Overlap(detector, concurrent=True, fail_on_call=2)
    with pytest.raises(DetectorError, match="boom in a scoring thread"):
        _score(failing, corpus, tmp_path / "fail", 2, codecs=("none",), workers=0)


def test_streams_must_not_be_negative():
    with pytest.raises(Exception, match="streams"):
        ScoreConfig(streams=-1).validate()
