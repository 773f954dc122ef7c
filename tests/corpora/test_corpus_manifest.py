"""Trial records and JSON-lines manifests."""
from __future__ import annotations

import gzip
import json

import pytest

from spoofbench.corpora.manifest import (Trial, read_manifest, to_lhotse_cutset,
                                        trial_from_lhotse_cut, write_manifest)
from spoofbench.errors import ManifestError


def _trials():
    return [
        Trial("LA_T_1", "flac/LA_T_1.flac", "bonafide", "asvspoof2019_la", "train", speaker="LA_0079"),
        Trial("LA_T_2", "flac/LA_T_2.flac", "spoof", "asvspoof2019_la", "train", speaker="LA_0079",
              attack="A01", duration=1.5, sampling_rate=16000, num_samples=24000,
              custom={"codec": "mp3", "bitrate": 64, "source_corpus": "vctk"}),
        Trial("ünï", "fold/ünïcode é.wav", "spoof", "x", "eval", attack="-"),
    ]


@pytest.mark.parametrize("name", ["m.jsonl.gz", "m.jsonl"])
def test_roundtrip_and_atomic(tmp_path, name):
    path = tmp_path / name
    assert write_manifest(path, iter(_trials())) == 3
    assert list(read_manifest(path)) == _trials()
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left behind
    # gzip output is deterministic (stable hashes)
    first = path.read_bytes()
    write_manifest(path, _trials())
    assert path.read_bytes() == first


def test_bonafide_attack_defaults_and_audio_path(tmp_path):
    trial = _trials()[0]
    assert trial.attack == "bonafide" and trial.target == 1
    assert trial.audio_path(tmp_path) == tmp_path / "flac" / "LA_T_1.flac"
    assert {trial, trial} == {trial}


@pytest.mark.parametrize("row,field,bad", [
    ({"id": "a", "path": "p.wav", "label": "fake", "corpus": "c", "split": "s"}, "label", "fake"),
    ({"id": "a", "path": "/abs/p.wav", "label": "spoof", "corpus": "c", "split": "s"}, "path", "/abs"),
    ({"id": "a", "path": "p.wav", "label": "spoof", "corpus": "c"}, "split", "missing"),
    ({"id": "a", "path": "p.wav", "label": "spoof", "corpus": "c", "split": "s",
      "sampling_rate": "16k"}, "sampling_rate", "16k"),
    ({"id": "a", "path": "p.wav", "label": "spoof", "corpus": "c", "split": "s", "lable": 1},
     "lable", "unknown"),
])
def test_bad_rows_name_file_line_field(tmp_path, row, field, bad):
    path = tmp_path / "bad.jsonl.gz"
    good = _trials()[0].to_dict()
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(good) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ManifestError) as info:
        list(read_manifest(path))
    message = str(info.value)
    assert f"bad.jsonl.gz:2: {field}:" in message and bad in message
    assert info.value.line == 2 and info.value.field == field


def test_bad_json_and_missing_file(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "a",\n', encoding="utf-8")
    with pytest.raises(ManifestError, match=r"m.jsonl:1: not valid JSON"):
        list(read_manifest(path))
    with pytest.raises(ManifestError, match="manifest not found"):
        list(read_manifest(tmp_path / "nope.jsonl.gz"))


def test_lhotse_cutset(tmp_path):
    lhotse = pytest.importorskip("lhotse")
    trials = _trials()[1:2]
    cuts = to_lhotse_cutset(trials, tmp_path)
    cut = next(iter(cuts))
    assert isinstance(cuts, lhotse.CutSet)
    assert cut.id == "LA_T_2" and cut.recording.sampling_rate == 16000
    assert cut.supervisions[0].speaker == "LA_0079"
    assert cut.supervisions[0].custom["attack"] == "A01"
    assert cut.supervisions[0].custom["codec"] == "mp3"
    assert trial_from_lhotse_cut(cut, tmp_path) == trials[0]  # the mapping round-trips
