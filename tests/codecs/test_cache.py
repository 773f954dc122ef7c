"""CodecCache: second run codes nothing, damaged entries are redone, bounded, multi-process safe."""
from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

from codec_signals import needs_ffmpeg, speech_like
from spoofbench.codecs import CodecCache, apply_condition, engines, get_matrix

RATE = 16000


@pytest.fixture
def count_engine_calls(monkeypatch):
    calls = []
    for engine in engines.ENGINES.values():
        original = engine.code

        def counted(x, rate, condition, _original=original, _name=engine.name):
            calls.append((_name, condition.id))
            return _original(x, rate, condition)
        monkeypatch.setattr(engine, "code", counted)
    return calls


def test_second_run_codes_nothing(tmp_path, count_engine_calls):
    needs_ffmpeg()
    clips = [speech_like(RATE, 1.0, seed=s) for s in range(2)]
    conditions = [c for c in get_matrix("default") if c.id in ("mp3_32k", "gsm_fr", "tel_amr_loss10", "g722")]
    cache = CodecCache(tmp_path / "cache", max_bytes=50_000_000)
    first = [apply_condition(x, RATE, c, key=f"t{i}", cache=cache) for c in conditions for i, x in enumerate(clips)]
    coded_first = [c for c in count_engine_calls]
    assert len(coded_first) >= len(conditions) * len(clips)
    count_engine_calls.clear()
    second = [apply_condition(x, RATE, c, key=f"t{i}", cache=cache) for c in conditions for i, x in enumerate(clips)]
    assert count_engine_calls == []
    assert cache.stats.hits == len(first)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, second))
    # A random condition is keyed by the trial id too: a new key is coded again.
    apply_condition(clips[0], RATE, "tel_amr_loss10", key="another", cache=cache)
    assert len(count_engine_calls) == 1


def test_damaged_entry_is_detected_and_recomputed(tmp_path, count_engine_calls):
    x = speech_like(RATE, 1.0, seed=9)
    cache = CodecCache(tmp_path, max_bytes=10_000_000)
    good = apply_condition(x, RATE, "g711_alaw", key="a", cache=cache)
    (entry,) = [p for _, _, p in cache.entries()]
    blob = bytearray(entry.read_bytes())
    blob[-10] ^= 0xFF  # flip bits in the payload
    entry.write_bytes(bytes(blob))
    count_engine_calls.clear()
    again = apply_condition(x, RATE, "g711_alaw", key="a", cache=cache)
    assert cache.stats.damaged == 1 and len(count_engine_calls) == 1
    assert again.tobytes() == good.tobytes()
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    assert cache.get(entry.stem) is None and not entry.exists()
    assert cache.stats.damaged == 2


def test_bounded_evicts_oldest(tmp_path):
    cache = CodecCache(tmp_path, max_bytes=20_000)
    for i in range(10):
        cache.put(f"{i:02d}" + "0" * 62, np.full(1000, i, np.float32))  # ~4 kB each
        cache.evict()
    assert cache.size_bytes() <= 20_000
    kept = sorted(p.stem[:2] for _, _, p in cache.entries())
    assert kept == [f"{i:02d}" for i in range(10)][-len(kept):]  # the newest survive


def _worker(args):
    directory, seed = args
    cache = CodecCache(directory, max_bytes=50_000_000)
    x = speech_like(RATE, 0.5, seed=seed % 3)
    return apply_condition(x, RATE, "g711_mulaw", key="k", cache=cache).tobytes()


def test_several_processes_share_one_cache(tmp_path):
    with mp.get_context("fork").Pool(2) as pool:
        results = pool.map(_worker, [(str(tmp_path), s) for s in range(12)])
    for seed, blob in enumerate(results):
        assert blob == results[seed % 3]
    cache = CodecCache(tmp_path, max_bytes=50_000_000)
    assert len(cache.entries()) == 3
    assert not [p for p in tmp_path.rglob(".tmp-*")]  # no temp files left behind
