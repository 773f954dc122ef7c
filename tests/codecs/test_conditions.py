"""Conditions as data: the YAML, user files, entry points, validation errors."""
from __future__ import annotations

import dataclasses

import pytest

from spoofbench.codecs import (CONDITIONS, MATRICES, CodecCondition, catalog, condition_from_dict,
                               condition_provenance, get_condition, get_matrix, load_conditions)
from spoofbench.errors import ConfigError, SpoofbenchError, UnknownPluginError


def test_builtin_matrices_and_ids():
    from spoofbench.codecs.channel import ChannelCondition

    assert {"default", "telephony", "media", "asvspoof2021_df_like"} <= set(MATRICES)
    for name in MATRICES:  # classic codecs, or channel chains (laundering, replay, neural, ...)
        assert all(isinstance(c, (CodecCondition, ChannelCondition)) for c in get_matrix(name))
    for name in ("default", "telephony", "media"):
        assert all(isinstance(c, CodecCondition) for c in get_matrix(name))
    mp3 = get_condition("mp3_32k")
    assert (mp3.codec, mp3.encoder, mp3.bitrate, mp3.sample_rate) == ("mp3", "libmp3lame", 32000, 16000)
    tel = get_condition("tel_amr_loss10")
    assert tel.channel.band == (300.0, 3400.0) and tel.channel.loss_rate == 0.10 and tel.is_random
    assert get_condition("amr_nb_4k75").bitrate == 4750
    with pytest.raises(dataclasses.FrozenInstanceError):
        mp3.bitrate = 1


def test_unknown_names():
    with pytest.raises(UnknownPluginError, match="did you mean 'mp3_32k'"):
        get_condition("mp3_32")
    with pytest.raises(UnknownPluginError, match="unknown codec matrix"):
        get_matrix("nope")


def test_round_trip():
    for cid in ("tel_g711_loss5", "codec2_3200", "vorbis_q2"):
        cond = get_condition(cid)
        assert condition_from_dict(cond.to_dict()) == cond


def test_user_yaml(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "MATRICES", dict(catalog.MATRICES))  # nothing registered here outlives the test
    path = tmp_path / "mine.yaml"
    path.write_text(
        "conditions:\n"
        "  - {id: user_mp3_48k, codec: mp3, encoder: libmp3lame, bitrate: 48k, sample_rate: 16000}\n"
        "  - {id: user_tel, codec: pcm_alaw, encoder: pcm_alaw, sample_rate: 8000,\n"
        "     channel: {band: [300, 3400], loss_rate: 0.02}}\n"
        "matrices:\n  user_matrix: [none, user_mp3_48k, user_tel]\n")
    with CONDITIONS.isolated():
        loaded = load_conditions(path)
        assert [c.id for c in loaded] == ["user_mp3_48k", "user_tel"]
        assert [c.id for c in get_matrix("user_matrix")] == ["none", "user_mp3_48k", "user_tel"]
        assert CONDITIONS.source("user_tel") == str(path)
    assert "user_tel" not in CONDITIONS


@pytest.mark.parametrize("text, field, fragment", [
    ("conditions:\n  - {id: x1, codec: mp3, bitrate: fast}\n", "conditions[0].bitrate", "'fast'"),
    ("conditions:\n  - {id: x2, codec: mp3, engine: gpu}\n", "conditions[0].engine", "'gpu'"),
    ("conditions:\n  - {id: x3, codec: mp3, channel: {loss_rate: 1.5}}\n", "conditions[0].channel.loss_rate", "1.5"),
    ("conditions:\n  - {id: x4, codec: mp3, colour: red}\n", "conditions[0].colour", "unknown key"),
    ("conditions:\n  - {id: mp3_32k, codec: mp3}\n", "conditions.mp3_32k", "already defined"),
    ("matrices:\n  m: [none, nope]\n", "matrices.m", "nope"),
    ("conditions: [\n", None, "invalid YAML"),
])
def test_bad_yaml_names_file_and_field(tmp_path, text, field, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_conditions(path)
    assert str(path) in str(err.value) and fragment in str(err.value)
    if field:
        assert err.value.field == field


def test_registered_mapping_and_callable_like_an_entry_point():
    with CONDITIONS.isolated():  # nothing registered here outlives the test
        CONDITIONS.register("plugin_gsm", {"codec": "gsm", "encoder": "libgsm", "bitrate": 13000,
                                           "sample_rate": 8000}, source="test plugin")
        CONDITIONS.register("plugin_callable", lambda: CodecCondition(id="plugin_callable", codec="pcm_mulaw",
                                                                      encoder="pcm_mulaw", sample_rate=8000))
        assert get_condition("plugin_gsm").encoder == "libgsm"
        assert get_condition("plugin_callable").codec == "pcm_mulaw"
        CONDITIONS.register("plugin_bad", lambda: 42)  # a callable is checked once it is called
        with pytest.raises(ConfigError, match="expected a CodecCondition"):
            get_condition("plugin_bad")
        with pytest.raises(SpoofbenchError, match="expected a CodecCondition or Mapping"):
            CONDITIONS.register("plugin_int", 42)  # anything else is refused when it registers
    assert "plugin_gsm" not in CONDITIONS and "plugin_bad" not in CONDITIONS


def test_provenance_names_engine_library_version_and_resampler():
    prov = condition_provenance("mp3_32k")
    assert prov["engine"] == "pyav" and "libavcodec" in prov["library"] and prov["version"].startswith("av ")
    prov = condition_provenance("amr_nb_12k2")  # the system library, whatever PyAV's FFmpeg was built with
    assert prov["engine"] == "native" and "libopencore-amrnb" in prov["library"]
    assert prov["resampler"].startswith("soxr ")  # the one resampler (spoofbench.audio_io)
    prov = condition_provenance("none")
    assert prov["engine"] == "none" and prov["available"]
