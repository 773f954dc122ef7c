"""The codec condition as a typed config: YAML errors as ``file:line: field.path: ...``, a record that
is hashable, frozen and picklable, and a to_dict (hence the coded-audio cache key) that did not change."""
from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest
import yaml

from spoofbench.codecs import CONDITIONS, ChannelChain, CodecCondition, catalog, condition_from_dict, load_conditions
from spoofbench.codecs.cache import CodecCache
from spoofbench.errors import ConfigError

# to_dict() and the cache key of these conditions, computed with the hand-checked (pre-pydantic)
# condition: the types survive (quality 2 → 2.0, bitrate "12.2k" → 12200, band [300, 3400] → floats),
# so every cached clip keeps its key.
PINNED = """
- {id: pin_vorbis, codec: vorbis, encoder: libvorbis, quality: 2, sample_rate: 16000}
- {id: pin_tel, codec: amr_nb, bitrate: 12.2k, sample_rate: 8000,
   channel: {band: [300, 3400], loss_rate: 0.1, frame_ms: 20, band_order: 4, concealment_gain: 1}}
- {id: pin_c2, codec: codec2, encoder: libcodec2, bitrate: 3200, options: {mode: 3200, b: x}, description: d}
- {id: none, codec: none}
"""
PINNED_KEYS = {
    "pin_vorbis": "7606748d19155d9997b014544e90dcca6cca363146657e73172fd81838d3a3a6",
    "pin_tel": "c875b6bcc22b226baeea4a7fe34f6021f59158841fdf20cda3a91b1ab18644d8",
    "pin_c2": "526a4640cc831d5ac4eaa1ccee4b32c78341f156fe98f499ba1e39d460a2f880",
    "none": "33d689c9be82b0ec678d5d3aa3807c5d04295f1a08953cec55a0fbba17606dc0",
}


def test_to_dict_and_cache_keys_are_unchanged():
    wave = np.linspace(-1, 1, 64, dtype=np.float32)
    conditions = {c["id"]: condition_from_dict(c) for c in yaml.safe_load(PINNED)}
    assert json.dumps(conditions["pin_tel"].to_dict(), sort_keys=True) == (
        '{"bitrate": 12200, "channel": {"band": [300.0, 3400.0], "band_order": 4, "concealment_gain": 1.0, '
        '"frame_ms": 20.0, "loss_rate": 0.1}, "codec": "amr_nb", "description": "", "encoder": "amr_nb", '
        '"engine": "auto", "id": "pin_tel", "options": {}, "quality": null, "sample_rate": 8000}')
    for cid, cond in conditions.items():
        key = CodecCache.make_key(wave, 16000, cond.to_dict(), {"engine": "x"}, "k")
        assert key == PINNED_KEYS[cid], cid
    assert conditions["pin_c2"].options == (("b", "x"), ("mode", "3200"))
    assert conditions["none"].encoder == "" and conditions["pin_tel"].encoder == "amr_nb"


def test_record_is_hashable_frozen_picklable_and_round_trips():
    cond = condition_from_dict(yaml.safe_load(PINNED)[1])
    assert isinstance(cond.channel, ChannelChain) and cond.channel.band == (300.0, 3400.0)
    assert hash(cond) == hash(condition_from_dict(cond.to_dict()))
    assert condition_from_dict(cond.to_dict()) == cond == pickle.loads(pickle.dumps(cond))
    assert len({cond, condition_from_dict(cond.to_dict())}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        cond.bitrate = 1
    again = dataclasses.replace(cond, engine="ffmpeg")  # replace re-validates
    assert again.engine == "ffmpeg" and again.channel == cond.channel
    with pytest.raises(Exception, match="engine"):
        dataclasses.replace(cond, engine="gpu")
    direct = CodecCondition(id="d1", codec="mp3", options=(("b", 1), ("a", 2)))
    assert direct.encoder == "" and direct.options == (("b", "1"), ("a", "2"))  # pairs kept in order


@pytest.mark.parametrize("text, where, message", [
    # unknown key: named with its line and a suggestion
    ("conditions:\n  - id: u1\n    codec: mp3\n    bitrat: 32k\n",
     "4: conditions[0].bitrat", "unknown key, did you mean bitrate?"),
    ("conditions:\n  - id: u2\n    codec: mp3\n    channel:\n      los_rate: 0.1\n",
     "5: conditions[0].channel.los_rate", "unknown key, did you mean loss_rate?"),
    ("condition:\n  - {id: u3, codec: mp3}\n", "1: condition", "unknown key, did you mean conditions?"),
    # wrong type
    ("conditions:\n  - id: t1\n    codec: mp3\n    sample_rate: fast\n",
     "4: conditions[0].sample_rate", "value 'fast' is not an integer"),
    ("conditions:\n  - id: t2\n    codec: mp3\n    quality: true\n",
     "4: conditions[0].quality", "value True is not a number"),
    ("conditions:\n  - id: t3\n    codec: mp3\n    channel: telephone\n",
     "4: conditions[0].channel", "value 'telephone' is a str; expected a mapping"),
    ("conditions: {id: t4}\n", "1: conditions", "value {'id': 't4'} is a dict; expected a list"),
    ("matrices:\n  m: none\n", "2: matrices.m", "value 'none' is a str; expected a list"),
    ("conditions:\n  - [t5, mp3]\n", "2: conditions[0]", "value ['t5', 'mp3'] is a list; expected a mapping"),
    # bad value
    ("conditions:\n  - id: v1\n    codec: mp3\n    channel: {band: [3400, 300]}\n",
     "4: conditions[0].channel.band", "value [3400, 300] is not a pass band; expected [low_hz, high_hz]"),
    ("conditions:\n  - id: v2\n    codec: mp3\n    sample_rate: -8000\n",
     "4: conditions[0].sample_rate", "value -8000 must be > 0"),
    ("conditions:\n  - id: V3\n    codec: mp3\n", "2: conditions[0].id", "value 'V3' is not a condition id"),
    ("conditions:\n  - id: v4\n    codec: mp3\n    engine: gpu\n",
     "4: conditions[0].engine", "value 'gpu': expected one of 'auto', 'pyav'"),
    ("conditions:\n  - id: v5\n    codec: mp3\n  - id: v5\n    codec: aac\n",
     "4: conditions[1].id", "condition id 'v5' appears twice"),
])
def test_bad_condition_yaml_gives_file_line_and_field(tmp_path, text, where, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with CONDITIONS.isolated(), pytest.raises(ConfigError) as err:
        load_conditions(path)
    assert str(err.value).startswith(f"{path}:{where}: {message}"), str(err.value)


def test_plugin_mapping_errors_name_the_plugin_and_condition():
    with CONDITIONS.isolated():
        CONDITIONS.register("plugin_rate", {"codec": "gsm", "sample_rate": "eight"}, source="my_plugin")
        with pytest.raises(ConfigError) as err:
            catalog.get_condition("plugin_rate")
    assert str(err.value) == "my_plugin: conditions.plugin_rate.sample_rate: value 'eight' is not an integer"


def test_user_file_happy_path(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "MATRICES", dict(catalog.MATRICES))
    path = tmp_path / "plugin_conditions.yaml"
    path.write_text("conditions:\n"
                    "  - id: hp_opus\n    codec: opus\n    encoder: libopus\n    bitrate: 16k\n"
                    "    options: {vbr: 'off'}\n"
                    "  - {id: hp_tel, codec: pcm_alaw, sample_rate: 8000, engine: ffmpeg,\n"
                    "     channel: {band: null, loss_rate: 0.05}}\n"
                    "matrices:\n  hp: [none, hp_opus, hp_tel]\n")
    with CONDITIONS.isolated():
        loaded = load_conditions(path)
        assert [c.id for c in catalog.get_matrix("hp")] == ["none", "hp_opus", "hp_tel"]
        opus, tel = loaded
        assert (opus.bitrate, opus.options, opus.channel) == (16000, (("vbr", "off"),), None)
        assert tel.encoder == "pcm_alaw" and tel.engine == "ffmpeg" and tel.is_random
        assert tel.channel == ChannelChain(band=None, loss_rate=0.05) and tel.is_narrowband
    assert "hp_opus" not in CONDITIONS
