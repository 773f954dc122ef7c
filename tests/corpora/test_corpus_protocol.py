"""OOD protocols: YAML → labelled train/dev/test sets with domain labels and overlap reports."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spoofbench import cli
from spoofbench.corpora.manifest import Trial, read_manifest, write_manifest
from spoofbench.corpora.protocol import load_protocol, parse_protocol
from spoofbench.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "data_manifests" / "protocols"


def _t(corpus, split, i, label, attack="-", speaker="-", language="en", **custom):
    path = custom.pop("path", f"{split}/{corpus}_{split}_{i}.flac")
    return Trial(f"{corpus}_{split}_{i}", path, label, corpus, split, speaker=speaker,
                 attack="bonafide" if label == "bonafide" else attack, language=language,
                 custom=custom)


@pytest.fixture()
def manifests(tmp_path):
    out = tmp_path / "manifests"
    la = {"train": ["A01", "A02"], "dev": ["A01", "A02"], "eval": ["A01", "A07", "A16"]}
    for split, attacks in la.items():
        trials = [_t("asvspoof2019_la", split, 0, "bonafide", speaker=f"LA_{split}")]
        trials += [_t("asvspoof2019_la", split, i + 1, "spoof", a, speaker="LA_0079")
                   for i, a in enumerate(attacks)]
        write_manifest(out / f"asvspoof2019_la_{split}.jsonl.gz", trials)
    write_manifest(out / "in_the_wild_eval.jsonl.gz",
                   [_t("in_the_wild", "eval", 0, "bonafide", speaker="Donald_Trump"),
                    _t("in_the_wild", "eval", 1, "spoof", speaker="Donald_Trump")])
    wavefake = [_t("wavefake", "all", 0, "bonafide", speaker="LJ", source_corpus="ljspeech",
                   source_utterance="LJ001-0001")]
    for i, (vocoder, utt) in enumerate([("melgan", "LJ001-0001"), ("parallel_wavegan", "LJ001-0002"),
                                        ("waveglow", "LJ001-0001"), ("hifiGAN", "LJ001-0003")]):
        wavefake.append(_t("wavefake", "all", i + 1, "spoof", vocoder, speaker="LJ",
                           source_corpus="ljspeech", source_utterance=utt))
    wavefake.append(_t("wavefake", "all", 9, "spoof", "parallel_wavegan", speaker="jsut",
                       language="ja", source_corpus="jsut", source_utterance="BASIC5000_0001"))
    write_manifest(out / "wavefake_all.jsonl.gz", wavefake)
    return out


def test_la19_protocol_domains(manifests, tmp_path):
    yaml_path = tmp_path / "p.yaml"
    yaml_path.write_text("""
name: p
train: {manifest: asvspoof2019_la_train}
dev: asvspoof2019_la_dev
tests:
  eval_all: {manifest: asvspoof2019_la_eval}
  eval_seen: {manifest: asvspoof2019_la_eval, where: {attack: {in: [bonafide, A01]}}}
  wild: {manifest: in_the_wild_eval}
  wild_and_seen: [in_the_wild_eval, asvspoof2019_la_dev]
  unseen_speakers:
    manifest: asvspoof2019_la_eval
    disjoint_speakers: true
""")
    protocol = load_protocol(yaml_path, manifests_dir=manifests)
    assert len(protocol.train) == 3 and len(protocol.dev) == 3
    tests = protocol.tests
    assert tests["eval_seen"].domain == "in-domain" and len(tests["eval_seen"].trials) == 2
    assert tests["eval_all"].domain == "ood"
    assert "2 attack(s) unseen in training: A07, A16" in tests["eval_all"].reason
    assert tests["wild"].domain == "ood" and "corpus not in training: in_the_wild" in tests["wild"].reason
    assert tests["wild_and_seen"].domain == "ood" and len(tests["wild_and_seen"].trials) == 5
    # the spoof speaker LA_0079 is shared with training; disjoint_speakers removes it
    assert tests["eval_all"].overlap.speakers == ("LA_0079",)
    assert [t.speaker for t in tests["unseen_speakers"].trials] == ["LA_eval"]
    assert not tests["unseen_speakers"].overlap.speaker_count
    assert tests["wild_and_seen"].overlap.trial_count == 0


def test_wavefake_example_yaml_overlap_and_split_cli(manifests, tmp_path, capsys):
    protocol = load_protocol(EXAMPLES / "wavefake_unseen_vocoders.yaml", manifests_dir=manifests)
    unseen = protocol.tests["unseen_vocoders"]
    assert {t.attack for t in unseen.trials} == {"bonafide", "waveglow", "hifiGAN"}
    assert unseen.domain == "ood" and "hifiGAN, waveglow" in unseen.reason
    # the same LJSpeech utterance re-vocoded, the same speaker, the same bona fide trial
    assert unseen.overlap.source_utterances == ("LJ001-0001",)
    assert unseen.overlap.speakers == ("LJ",) and unseen.overlap.trial_count == 1
    assert protocol.tests["seen_vocoders"].domain == "in-domain"
    assert "language(s) not in training: ja" in protocol.tests["japanese"].reason

    out = tmp_path / "split"
    assert cli.main(["corpora", "split", str(EXAMPLES / "wavefake_unseen_vocoders.yaml"),
                     "--manifests", str(manifests), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "unseen_vocoders" in printed and "ood" in printed and "LJ001-0001" in printed
    written = list(read_manifest(out / "test_unseen_vocoders.jsonl.gz"))
    assert len(written) == 3 and {t.custom["domain"] for t in written} == {"ood"}
    assert {t.custom["role"] for t in read_manifest(out / "train.jsonl.gz")} == {"train"}
    report = json.loads((out / "protocol_report.json").read_text())
    assert report["tests"]["seen_vocoders"]["domain"] == "in-domain"
    assert report["tests"]["unseen_vocoders"]["overlap"]["source_utterances"]["count"] == 1


@pytest.mark.parametrize("text,field", [
    ("train: a\ndev: b\n", "tests"),
    ("train: a\ndev: b\ntests: {x: {manifest: c, where: {attack: {within: [A01]}}}}\n",
     "tests.x.where.attack"),
    ("train: a\ndev: b\ntests: {x: {manifest: c, held_out: true}}\n", "tests.x.held_out"),
    ("train: a\ndev: b\ntests: {x: {manifest: c, disjoint_speakers: maybe}}\n",
     "tests.x.disjoint_speakers"),
    ("train: {manifest: 3}\ndev: b\ntests: {x: c}\n", "train.manifest"),
])
def test_bad_protocol_yaml_names_field(tmp_path, text, field):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        parse_protocol(path)
    assert info.value.field == field and "bad.yaml" in str(info.value)


def test_missing_manifest_is_named(tmp_path, manifests):
    path = tmp_path / "p.yaml"
    path.write_text("train: nope\ndev: asvspoof2019_la_dev\ntests: {x: in_the_wild_eval}\n")
    with pytest.raises(ConfigError, match=r"p.yaml: train.manifest: manifest 'nope' not found"):
        load_protocol(path, manifests_dir=manifests)


def test_example_protocols_parse():
    names = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    assert len(names) >= 3
    for name in names:
        spec = parse_protocol(EXAMPLES / name)
        assert spec.tests and spec.train.manifests


def test_filters_on_custom_columns_compare_as_text(tmp_path):
    trials = [Trial(f"u{i}", f"u{i}.wav", "spoof", "c", "eval", attack="A01",
                    custom={"bitrate": rate, "codec": codec})
              for i, (rate, codec) in enumerate([(64, "mp3"), ("32", "opus"), (16, "mp3")])]
    write_manifest(tmp_path / "c_eval.jsonl.gz", trials)
    (tmp_path / "p.yaml").write_text("""
train: c_eval
dev: c_eval
tests:
  mp3_64: {manifest: c_eval, where: {codec: mp3, bitrate: {in: [64, 32]}}}
  not_mp3: {manifest: c_eval, where: {codec: {not_equals: mp3}, custom.bitrate: "32"}}
  no_such_column: {manifest: c_eval, where: {vocoder: {not_in: [hifigan]}}}
""")
    tests = load_protocol(tmp_path / "p.yaml").tests
    assert [t.id for t in tests["mp3_64"].trials] == ["u0"]
    assert [t.id for t in tests["not_mp3"].trials] == ["u1"]
    assert len(tests["no_such_column"].trials) == 3
    assert tests["mp3_64"].overlap.trial_count == 1  # the same trial in train and test is reported
