"""apply_condition_batch: many clips through a neural codec per forward pass, with the per-clip results, cache
keys and seeds of apply_condition (random-weight EnCodec 24 kHz and a narrow DAC 16 kHz, built offline)."""
from __future__ import annotations

import numpy as np
import pytest

from codec_signals import speech_like
from neural_weights import save_encodec_24khz
from spoofbench import codecs
from spoofbench.codecs import (CodecCache, apply_condition, apply_condition_batch, apply_condition_report,
                               batches_well)
from spoofbench.codecs.channel import channel_from_dict
from spoofbench.codecs.channel_apply import cache_key
from spoofbench.errors import CodecError

torch = pytest.importorskip("torch")
pytest.importorskip("encodec")
RATE = 16000
#: EnCodec's output for one clip coded alone and in a batch differs by float summation order (about 5e-8
#: measured); the existing one-clip-vs-batch test of neural.code_batch uses the same tolerance.
ATOL = 1e-4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def encodec_file(tmp_path_factory):
    return save_encodec_24khz(tmp_path_factory.mktemp("batch_weights"))


def _cond(weights, cid="t_batch", before=(), after=(), device="cpu"):
    step = {"kind": "neural", "model": "encodec_24khz", "bandwidth": 6.0, "weights": str(weights), "device": device}
    return channel_from_dict({"id": cid, "steps": [*before, step, *after]})


@pytest.fixture
def spy(monkeypatch):
    """Records the number of clips of every neural.code_batch call."""
    sizes: list[int] = []
    real = codecs.neural.code_batch

    def recording(waves, rate, step, seeds):
        sizes.append(len(waves))
        return real(waves, rate, step, seeds)
    monkeypatch.setattr(codecs.neural, "code_batch", recording)
    return sizes


def _clips(n=5):
    return [speech_like(RATE, 0.25 + 0.07 * i, seed=10 + i) for i in range(n)]


def test_batch_equals_one_clip_at_a_time_and_batches(encodec_file, spy):
    cond = _cond(encodec_file)
    clips, keys = _clips(), [f"k{i}" for i in range(5)]
    batch = apply_condition_batch(clips, RATE, cond, keys, max_batch=3)
    assert sorted(spy) == [2, 3]  # 5 misses, at most 3 per forward pass
    spy.clear()
    for clip, key, coded in zip(clips, keys, batch):
        alone = apply_condition(clip, RATE, cond, key=key)
        assert coded.dtype == np.float32 and len(coded) == len(clip)
        np.testing.assert_allclose(coded, alone, atol=ATOL)
        assert np.abs(coded - alone).max() < 1e-3 * np.abs(alone).max()
    assert spy == [1] * 5


def test_batches_well_means_a_batching_codec_on_a_gpu(encodec_file, monkeypatch):
    """Worth batching: EnCodec / DAC coding on CUDA; on a CPU a batched pass was slower (perf/RESULTS_engine.md)."""
    auto = _cond(encodec_file, "t_auto", device="auto")
    chain = _cond(encodec_file, "t_auto_chain", before=[{"kind": "resample", "rates": [8000]}], device="auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not batches_well(auto) and not batches_well(chain)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert batches_well(auto) and batches_well(chain) and batches_well(_cond(encodec_file, "t_cuda", device="cuda"))
    assert not batches_well(_cond(encodec_file))  # device: cpu (the default of a neural step)
    snac = channel_from_dict({"id": "t_snac_auto", "steps": [{"kind": "neural", "model": "snac_24khz",
                                                               "device": "auto"}]})
    assert not batches_well(snac)  # one clip per pass anyway (its decoder noise is drawn per call)
    assert not batches_well("g711_mulaw")


def test_cache_keys_and_entries_are_the_per_clip_ones(encodec_file, tmp_path, spy):
    cond, cache = _cond(encodec_file), CodecCache(tmp_path / "cache")
    clips, keys = _clips(4), ["a", "b", "c", "d"]
    first = apply_condition_report(clips[1], RATE, cond, key="b", cache=cache)  # one clip coded alone first
    spy.clear()
    batch = apply_condition_batch(clips, RATE, cond, keys, cache=cache)
    assert spy == [3]  # the cached clip is not coded again
    assert np.array_equal(batch[1], first.wave)  # the value already cached is the value
    for clip, key, coded in zip(clips, keys, batch):
        entry = cache.get(cache_key(cache, clip, RATE, cond, key))
        assert entry is not None and np.array_equal(entry, coded)  # stored under apply_condition's key
        again = apply_condition_report(clip, RATE, cond, key=key, cache=cache)
        assert again.cached and np.array_equal(again.wave, coded)
    writes = cache.stats.writes
    assert all(np.array_equal(a, b) for a, b in zip(apply_condition_batch(clips, RATE, cond, keys, cache=cache),
                                                    batch))
    assert cache.stats.writes == writes and spy == [3]  # all hits: nothing coded, nothing written


def test_steps_around_the_neural_one_run_per_clip_with_their_seeds(encodec_file, spy):
    """A chain: resampling before, seeded noise after: each clip gets apply_condition's noise (its key's seed)."""
    cond = _cond(encodec_file, "t_chain", before=[{"kind": "resample", "rates": [8000]}],
                 after=[{"kind": "noise", "color": "white", "snr_db": 10.0}])
    clips, keys = _clips(3), ["x", "y", "z"]
    batch = apply_condition_batch(clips, RATE, cond, keys)
    assert spy[0] == 3
    for clip, key, coded in zip(clips, keys, batch):
        np.testing.assert_allclose(coded, apply_condition(clip, RATE, cond, key=key), atol=ATOL)
    swapped = apply_condition_batch(clips, RATE, cond, ["y", "x", "z"])  # keys seed the noise
    assert np.abs(swapped[0] - batch[0]).max() > 10 * ATOL


def test_other_conditions_code_clip_by_clip_exactly(spy):
    cond = channel_from_dict({"id": "t_noisy", "steps": [{"kind": "noise", "color": "pink", "snr_db": 20.0}]})
    clips, keys = _clips(3), ["p", "q", "r"]
    assert not batches_well(cond) and not batches_well("g711_mulaw")
    for clip, key, coded in zip(clips, keys, apply_condition_batch(clips, RATE, cond, keys)):
        assert np.array_equal(coded, apply_condition(clip, RATE, cond, key=key))
    assert spy == []


def test_errors_name_the_condition_and_clips(encodec_file):
    cond = _cond(encodec_file, "t_err")
    clips = _clips(2)
    with pytest.raises(CodecError, match="2 clips but 1 keys"):
        apply_condition_batch(clips, RATE, cond, ["a"])
    with pytest.raises(CodecError, match=r"condition 't_err', clip 'bad': the clip is empty"):
        apply_condition_batch([clips[0], np.zeros(0, np.float32)], RATE, cond, ["good", "bad"])
    missing = _cond(encodec_file.parent / "absent.th", "t_absent")
    with pytest.raises(CodecError, match=r"condition 't_absent', clips 'a', 'b' \(2 in one batch\): step 1 "
                                         r"\(neural\): no weights"):
        apply_condition_batch(clips, RATE, missing, ["a", "b"])


def test_dac_batches_equal_padded_lengths(tmp_path, spy):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.DacConfig(encoder_hidden_size=4, downsampling_ratios=[2, 4, 5, 8], decoder_hidden_size=32,
                                    upsampling_ratios=[8, 5, 4, 2], n_codebooks=12,
                                    codebook_size=1024, codebook_dim=8, sampling_rate=16000)
    transformers.DacModel(config).save_pretrained(str(tmp_path / "dac"))
    cond = channel_from_dict({"id": "t_dac_batch", "steps": [{"kind": "neural", "model": "dac_16khz",
                                                               "bandwidth": 6.0, "weights": str(tmp_path / "dac")}]})
    clips = [speech_like(RATE, s, seed=i) for i, s in enumerate((0.49, 0.8, 0.50))]  # 0.49 and 0.50 s: one length
    batch = apply_condition_batch(clips, RATE, cond, ["a", "b", "c"])
    assert spy == [3]
    for clip, key, coded in zip(clips, "abc", batch):
        np.testing.assert_allclose(coded, apply_condition(clip, RATE, cond, key=key), atol=1e-6)
