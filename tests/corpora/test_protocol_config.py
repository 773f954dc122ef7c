"""The protocol YAML as a typed config: the shapes it accepts, and ``file:line: field.path: ...`` errors."""
from __future__ import annotations

import dataclasses

import pytest

from spoofbench.corpora.manifest import Trial
from spoofbench.corpora.protocol import Condition, ProtocolSpec, SetSpec, parse_protocol
from spoofbench.errors import ConfigError

GOOD = """\
description: every shape a set can take
train: la_train
dev: [la_dev, extra_dev]
tests:
  seen:
    manifests: la_eval
    where:
      attack: {in: [bonafide, A01]}
      language: en
      custom.bitrate: {not_equals: 64}
      corpus: {equals: la}
  wild: {manifest: [wild_eval], where: {speaker: {not_in: [s1, s2]}}, disjoint_speakers: true}
  2021: df_eval
"""


def test_shapes_become_typed_sets(tmp_path):
    path = tmp_path / "la_to_wild.yaml"
    path.write_text(GOOD)
    spec = parse_protocol(path)
    assert isinstance(spec, ProtocolSpec) and spec.name == "la_to_wild"  # the file's stem
    assert spec.description == "every shape a set can take"
    assert spec.train == SetSpec(manifests=("la_train",))
    assert spec.dev.manifests == ("la_dev", "extra_dev")
    assert list(spec.tests) == ["seen", "wild", "2021"]
    seen = spec.tests["seen"]
    assert seen.manifests == ("la_eval",) and not seen.disjoint_speakers
    assert seen.where == {"attack": Condition("in", ("bonafide", "A01")), "language": Condition("in", ("en",)),
                          "custom.bitrate": Condition("not_in", (64,)), "corpus": Condition("in", ("la",))}
    assert spec.tests["wild"] == SetSpec(("wild_eval",), {"speaker": Condition("not_in", ("s1", "s2"))}, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"


def test_set_filters_compare_as_text():
    spec = SetSpec(manifests=("m",), where={"attack": Condition("in", ("A01",)),
                                            "bitrate": Condition("not_in", (64,))})
    trial = Trial("t", "t.wav", "spoof", "c", "eval", attack="A01", custom={"bitrate": "32"})
    assert spec.matches(trial)
    assert not spec.matches(dataclasses.replace(trial, custom={"bitrate": "64"}))
    assert not spec.matches(dataclasses.replace(trial, attack="A02"))


BASE = "train: a\ndev: b\n"


@pytest.mark.parametrize("text, where, message", [
    # unknown key (a misspelt required key is reported as such, not as the key it leaves missing)
    (BASE + "test: {x: c}\n", "3: test", "unknown key, did you mean tests?"),
    (BASE + "tests:\n  x:\n    manifest: c\n    disjoint_speaker: true\n",
     "6: tests.x.disjoint_speaker", "unknown key, did you mean disjoint_speakers?"),
    # wrong type
    (BASE + "tests:\n  x: {manifest: c,\n      disjoint_speakers: maybe}\n",
     "5: tests.x.disjoint_speakers", "value 'maybe' is not true/false"),
    ("train: {manifest: 3}\ndev: b\ntests: {x: c}\n", "1: train.manifest", "value 3 is not a manifest"),
    (BASE + "tests:\n  x: {manifest: c, where: [attack]}\n", "4: tests.x.where",
     "value ['attack'] is not a mapping column: condition"),
    ("train: a\ndev: 7\ntests: {x: c}\n", "2: dev", "value 7 is a int; expected a mapping"),
    # bad value
    (BASE + "tests:\n  x:\n    manifest: c\n    where:\n      attack: {within: [A01]}\n",
     "7: tests.x.where.attack", "value {'within': ['A01']} is not a condition; expected one of in, not_in"),
    (BASE + "tests:\n  x:\n    manifest: c\n    where: {attack: []}\n",
     "6: tests.x.where.attack", "value [] is not a condition; expected a scalar or a non-empty list"),
    (BASE + "tests: {}\n", "3: tests", "value {} is not a test set mapping; expected a non-empty mapping"),
    (BASE + "tests:\n  x: {where: {attack: A01}}\n", "4: tests.x.manifest", "required key missing"),
    ("train: a\ntests: {x: c}\n", "dev", "required key missing"),
    ("train: [\n", "2", "invalid YAML"),
])
def test_bad_protocol_gives_file_line_and_field(tmp_path, text, where, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        parse_protocol(path)
    separator = ": " if where[0].isalpha() else ":"
    assert str(err.value).startswith(f"{path}{separator}{where}: {message}"), str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read config"):
        parse_protocol(tmp_path / "nope.yaml")
