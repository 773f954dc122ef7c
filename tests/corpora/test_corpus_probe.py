"""Header probing: parallel, ordered, cached by path + mtime + size."""
from __future__ import annotations

import os

from spoofbench.corpora import probe as probe_module
from spoofbench.corpora.manifest import Trial
from spoofbench.corpora.probe import ProbeCache, probe_files, probe_trials

from corpora_testutil import write_audio


def test_probe_parallel_matches_serial_and_caches(tmp_path, monkeypatch):
    paths = [write_audio(tmp_path / f"{i}.wav", seconds=0.01 * (i + 1), rate=8000 * (1 + i % 2))
             for i in range(20)]
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    inputs = [str(p) for p in paths] + [str(tmp_path / "bad.wav"), str(tmp_path / "gone.wav")]
    serial = list(probe_files(inputs, serial=True))
    cache = ProbeCache(tmp_path / "cache")
    parallel = list(probe_files(inputs, cache=cache, workers=4))
    assert [r.path for r in parallel] == inputs
    assert [(r.sampling_rate, r.num_samples) for r in parallel] == [
        (r.sampling_rate, r.num_samples) for r in serial]
    assert parallel[3].sampling_rate == 16000 and parallel[3].num_samples == 640
    assert parallel[-2].error.startswith("unreadable") and parallel[-1].error.startswith("missing")
    assert len(cache) == 20  # failures are not cached

    calls = []
    real = probe_module.probe_header
    monkeypatch.setattr(probe_module, "probe_header", lambda p, s=None: calls.append(p) or real(p, s))
    again = list(probe_files(inputs, cache=cache, workers=4))
    assert again == parallel and calls == [str(tmp_path / "bad.wav")]
    write_audio(paths[0], seconds=0.05, rate=8000)  # size and mtime change → probed again
    os.utime(paths[0], ns=(1, 1))
    calls.clear()
    changed = list(probe_files(inputs[:1], cache=cache))
    assert calls == [inputs[0]] and changed[0].num_samples == 400
    cache.close()


def test_probe_trials_fills_fields(tmp_path):
    write_audio(tmp_path / "a.flac", seconds=0.25)
    trials = [Trial("a", "a.flac", "bonafide", "c", "s"), Trial("b", "b.flac", "spoof", "c", "s")]
    (a, ra), (b, rb) = probe_trials(iter(trials), tmp_path, workers=2)
    assert (a.sampling_rate, a.num_samples, a.duration) == (16000, 4000, 0.25) and ra.ok
    assert b == trials[1] and not rb.ok
