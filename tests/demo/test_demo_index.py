"""The vendored bona fide clips match their index, their licences and the demo's speaker split."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf

from spoofbench.demo.index import INDEX_COLUMNS, LICENCES, demo_data_dir, load_index
from spoofbench.errors import ManifestError

from testenv import SHARED


@pytest.fixture(scope="module")
def clips():
    return load_index()


def test_index_lists_exactly_the_vendored_files_with_their_sha256(clips):
    data = demo_data_dir()
    listed = {c.path for c in clips}
    on_disk = {str(p.relative_to(data)) for p in (data / "audio").rglob("*.flac")}
    assert listed == on_disk
    for clip in clips:
        assert hashlib.sha256((data / clip.path).read_bytes()).hexdigest() == clip.sha256, clip.path


def test_every_clip_is_16k_mono_short_and_the_total_stays_small(clips):
    data = demo_data_dir()
    total_bytes = 0
    for clip in clips:
        info = sf.info(str(data / clip.path))
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert 1.4 <= info.frames / 16000 <= 3.0
        assert abs(info.frames / 16000 - clip.duration_s) < 1e-3
        total_bytes += (data / clip.path).stat().st_size
    # ~43 MB since the held-out pools grew to rank detectors (issue 28): keep the package under 45 MB of speech
    assert total_bytes < 45e6


def test_held_out_pools_hold_the_full_demos_rungs(clips):
    from spoofbench.demo.plan import FULL_SIZES, SETS

    pools = {}
    for clip in clips:
        pools.setdefault((clip.corpus, clip.split), []).append(clip)
    assert len(pools[("A", "eval")]) >= 500 and len({c.speaker for c in pools[("A", "eval")]}) >= 140
    assert len(pools[("B", "eval")]) >= 250
    for name, spec in SETS.items():
        bona, spoof = FULL_SIZES.counts(name)
        assert bona <= len(pools[spec.pool]), name
        if name not in ("demo_a_train", "demo_a_dev"):
            assert bona >= 250 and spoof >= 250, name


def test_licences_follow_the_source_and_attribution_names_every_source(clips):
    attribution = (demo_data_dir() / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for source in {c.source for c in clips}:
        assert {c.licence for c in clips if c.source == source} == {LICENCES[source]}
    for phrase in ("LibriSpeech", "CC BY 4.0", "LJ Speech", "Public domain", "CMU ARCTIC"):
        assert phrase in attribution


def test_corpora_and_splits_have_disjoint_speakers(clips):
    groups = {}
    for clip in clips:
        groups.setdefault((clip.corpus, clip.split), set()).add(clip.speaker)
    assert set(groups) == {("A", "train"), ("A", "dev"), ("A", "eval"), ("B", "eval")}
    keys = sorted(groups)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert not groups[a] & groups[b], (a, b)
    assert len(groups[("A", "train")]) >= 40
    assert {c.source for c in clips if c.corpus == "B"} == {"librispeech", "ljspeech", "cmu_arctic"}


def test_origins_exist_in_the_shared_corpora(clips):
    corpora = SHARED / "corpora"
    if not corpora.is_dir():
        pytest.skip("../shared/corpora is absent")
    for clip in clips:
        assert (corpora / clip.origin).is_file(), clip.origin


def test_bad_index_rows_name_line_and_field(tmp_path):
    good = (demo_data_dir() / "index.tsv").read_text(encoding="utf-8").splitlines()
    bad_licence = good[1].split("\t")
    bad_licence[INDEX_COLUMNS.index("licence")] = "all-rights-reserved"
    path = tmp_path / "index.tsv"
    path.write_text("\n".join([good[0], good[1], "\t".join(bad_licence)]) + "\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"index.tsv:3: licence: .*all-rights-reserved"):
        load_index(path)
    path.write_text("clip\tpath\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"index.tsv:1: bad header"):
        load_index(path)
    short = good[1].split("\t")[:-2]
    path.write_text("\n".join([good[0], "\t".join(short)]) + "\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"index.tsv:2: expected 12 tab-separated fields, got 10"):
        load_index(path)


def test_clips_are_reproduced_by_the_vendoring_cut_from_their_origin(clips):
    from spoofbench.demo.vendoring import CLIP_MAX_S, _chunks

    corpora = SHARED / "corpora"
    if not corpora.is_dir():
        pytest.skip("../shared/corpora is absent")
    data = demo_data_dir()
    picked = [next(c for c in clips if c.source == s and c.chunk == k)
              for s, k in (("librispeech", 0), ("librispeech", 1), ("ljspeech", 0),
                           ("cmu_arctic", 0))]
    for clip in picked:
        recut = _chunks(corpora / clip.origin, clip.chunk + 1)[clip.chunk]
        vendored, rate = sf.read(str(data / clip.path), dtype="int16")
        expected = np.clip(np.round(recut * 32767), -32768, 32767).astype(np.int16)
        assert rate == 16000 and len(recut) <= CLIP_MAX_S * rate
        assert len(vendored) == len(expected)
        assert np.abs(vendored.astype(int) - expected).max() <= 1, clip.clip_id
