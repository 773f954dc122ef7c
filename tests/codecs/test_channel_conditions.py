"""Channel conditions: typing, determinism, length, the signal each step makes, caching, composition."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from codec_signals import speech_like
from spoofbench.cli import main
from spoofbench.codecs import (CodecCache, apply_condition, apply_condition_report, condition_provenance,
                               get_condition, get_matrix, load_conditions)
from spoofbench.codecs import channel_dsp
from spoofbench.codecs.catalog import CONDITIONS, MATRICES
from spoofbench.codecs.channel import ChannelCondition, channel_from_dict
from spoofbench.errors import CodecError, ConfigError

RATE = 16000


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return speech_like(RATE, 1.5)


def _cond(steps, cid="t_chain"):
    return channel_from_dict({"id": cid, "steps": steps})


def _band_energy(x, lo, hi):
    f, p = signal.welch(x, RATE, nperseg=1024)
    return float(p[(f >= lo) & (f < hi)].sum())


def test_builtin_matrices_are_typed_and_listed():
    for name in ("laundering", "replay", "neural", "asvspoof5_like", "realworld", "silence"):
        conds = get_matrix(name)
        assert conds[0].id == "none" and len(conds) >= 4
        for cond in conds[1:]:
            if isinstance(cond, ChannelCondition):
                assert cond.description and cond.summary()
    for cond in get_matrix("asvspoof5_like")[1:]:
        assert "arXiv:2502.08857" in cond.description
    for cond in get_matrix("replay"):
        if getattr(cond, "is_simulation", False):
            assert "SIMULATED" in cond.description and "SIMULATED" in cond.summary()


@pytest.mark.parametrize("cid", ["resample_8k", "resample_22k05_scipy", "lufs_m23", "noise_pink_10db",
                                 "babble_10db", "clip_12db", "lowpass_4k", "reverb_small_rt03",
                                 "replay_sim_phone", "reverb_then_amr", "reverb_then_amrwb"])
def test_keeps_length_and_is_deterministic(clip, cid):
    cond = get_condition(cid)
    y1 = apply_condition(clip, RATE, cond, key="LA_E_1")
    y2 = apply_condition(clip, RATE, cond, key="LA_E_1")
    assert y1.dtype == np.float32 and len(y1) == len(clip) and np.all(np.isfinite(y1))
    assert np.array_equal(y1, y2)
    assert not np.allclose(y1, clip, atol=1e-4)
    other = apply_condition(clip, RATE, cond, key="LA_E_2")
    if cond.is_random:
        assert not np.array_equal(y1, other)
    elif not any(get_condition(c).is_random for c in cond.codec_ids):
        assert np.array_equal(y1, other)


def test_noise_snr_and_colour(clip):
    x = clip.astype(np.float64)
    for color in ("white", "pink", "brown"):
        y = apply_condition(clip, RATE, _cond([{"kind": "noise", "color": color, "snr_db": 10}]), key="k")
        noise = y - x
        snr = 10 * np.log10(np.mean(x ** 2) / np.mean(noise ** 2))
        assert snr == pytest.approx(10, abs=0.2)
        low, high = _band_energy(noise, 50, 500), _band_energy(noise, 4000, 7500)
        # expected: white 450/3500 = 0.13; pink ln(10)/ln(1.875) = 3.7; brown (1/50-1/500)/(1/4000-1/7500) = 154
        expected = {"white": (0.05, 0.3), "pink": (2, 7), "brown": (50, 500)}[color]
        assert expected[0] < low / high < expected[1]


def test_babble_uses_other_speakers_only():
    pool = channel_dsp.babble_pool("train")
    assert len({row[1] for row in pool}) >= 8
    own = pool[0]  # a clip of this speaker must never hear itself
    digits = "".join(ch for ch in own[1] if ch.isdigit())
    for seed in range(20):
        talkers = channel_dsp.babble_talkers(f"librispeech-{digits}-1-0000-c0", 4, "train", seed)
        assert len({t[1] for t in talkers}) == 4 and own[1] not in {t[1] for t in talkers}
    n_speakers = len({row[1] for row in pool})
    with pytest.raises(CodecError, match="other speakers"):
        channel_dsp.babble_talkers(f"librispeech-{digits}-1", n_speakers, "train", 0)


def test_loudness_target(clip):
    import pyloudnorm

    y = apply_condition(clip, RATE, get_condition("lufs_m23"), key="k")
    assert pyloudnorm.Meter(RATE).integrated_loudness(y.astype(np.float64)) == pytest.approx(-23, abs=0.3)
    silent = np.zeros(RATE, np.float32)
    assert np.array_equal(apply_condition(silent, RATE, get_condition("lufs_m23")), silent)


def test_band_clip_resample(clip):
    y = apply_condition(clip, RATE, get_condition("lowpass_4k"))
    assert _band_energy(y, 5000, 7900) < 1e-3 * _band_energy(clip, 5000, 7900)
    y = apply_condition(clip, RATE, get_condition("clip_12db"))
    assert np.abs(clip).max() * 4 > 1 and np.abs(y).max() <= 1.0 and np.any(np.abs(y) >= 1.0 - 1e-6)
    y = apply_condition(clip, RATE, get_condition("resample_8k"))
    assert _band_energy(y, 4200, 7900) < 1e-3 * _band_energy(clip, 4200, 7900)
    assert _band_energy(y, 300, 3000) == pytest.approx(_band_energy(clip, 300, 3000), rel=0.05)


def test_reverb_is_aligned_and_reverberant():
    impulse = np.zeros(RATE, np.float32)
    impulse[1000] = 0.5
    y = apply_condition(impulse, RATE, get_condition("reverb_medium_rt06")).astype(np.float64)
    assert int(np.argmax(np.abs(y))) == pytest.approx(1000, abs=2)  # direct path aligned
    tail = np.sum(y[1000 + int(0.05 * RATE):] ** 2) / np.sum(y ** 2)
    assert tail > 0.2  # late energy of a 0.6 s room
    rir_small, _ = channel_dsp.room_rir((3.5, 3.0, 2.5), 0.3, (1.0, 1.5, 1.5), (2.6, 1.8, 1.2), 1.0, RATE)
    rir_large, _ = channel_dsp.room_rir((10.0, 7.0, 3.5), 0.9, (2.5, 3.5, 1.7), (7.0, 4.0, 1.5), 1.0, RATE)

    def decay(rir):  # samples until the energy decay curve falls 20 dB
        edc = np.cumsum(rir[::-1] ** 2)[::-1]
        return int(np.argmax(edc < edc[0] * 0.01))
    assert decay(rir_large) > 2 * decay(rir_small)
    with pytest.raises(CodecError, match="outside the room"):
        apply_condition(impulse, RATE, _cond([{"kind": "reverb", "room": [3, 3, 3], "rt60": 0.3,
                                               "source": [1, 1, 1], "mic": [4, 1, 1]}]))


def test_silence_pad_and_vad_trim(clip):
    pad = apply_condition(clip, RATE, get_condition("silence_pad_1s"))
    assert len(pad) == len(clip) + RATE and not pad[:RATE // 2].any() and not pad[-RATE // 2:].any()
    from spoofbench.audio_io import read_audio
    from spoofbench.codecs.channel_dsp import babble_pool
    speech, _ = read_audio(babble_pool("train")[0][2], sample_rate=RATE)
    padded = np.concatenate([np.zeros(RATE), speech, np.zeros(RATE // 2)]).astype(np.float32)
    trimmed = apply_condition(padded, RATE, get_condition("vad_trim"))
    assert len(speech) * 0.5 < len(trimmed) < len(padded) - RATE  # both silences (mostly) gone
    assert get_condition("vad_trim").keeps_length is False
    silent = np.zeros(RATE, np.float32)  # no speech: unchanged
    assert np.array_equal(apply_condition(silent, RATE, get_condition("vad_trim")), silent)
    import torch
    before = torch.get_num_threads()
    apply_condition(padded, RATE, get_condition("vad_trim"))
    assert torch.get_num_threads() == before


def test_composition_equals_the_steps_in_order(clip):
    chained = apply_condition(clip, RATE, get_condition("reverb_then_amr"), key="k")
    reverb = apply_condition(clip, RATE, get_condition("reverb_medium_rt06"), key="k")
    both = apply_condition(reverb, RATE, get_condition("amr_nb_12k2"), key="k")
    np.testing.assert_allclose(chained, both, atol=1e-6)
    prov = condition_provenance("reverb_then_amr")
    assert prov["available"] and [s["kind"] for s in prov["steps"]] == ["reverb", "codec"]
    assert "pyroomacoustics" in prov["library"] and prov["steps"][1]["definition"]["codec"] == "amr_nb"
    assert prov["steps"][0]["version"].startswith("pyroomacoustics ")


def test_cache_hits_and_keys(clip, tmp_path):
    cache = CodecCache(tmp_path / "cache")
    first = apply_condition_report(clip, RATE, "noise_white_20db", key="a", cache=cache)
    again = apply_condition_report(clip, RATE, "noise_white_20db", key="a", cache=cache)
    other = apply_condition_report(clip, RATE, "noise_white_20db", key="b", cache=cache)
    assert not first.cached and again.cached and not other.cached
    assert np.array_equal(first.wave, again.wave) and not np.array_equal(first.wave, other.wave)
    trimmed = apply_condition_report(clip, RATE, "silence_pad_1s", cache=cache)
    assert apply_condition_report(clip, RATE, "silence_pad_1s", cache=cache).cached
    assert len(trimmed.wave) == len(clip) + RATE
    from spoofbench.codecs.channel_apply import cache_key
    k1 = cache_key(cache, clip, RATE, get_condition("lufs_m23"), "a")
    assert k1 == cache_key(cache, clip, RATE, get_condition("lufs_m23"), "b")  # not random: no clip key
    assert k1 != cache_key(cache, clip, RATE, get_condition("lufs_m14"), "a")


def test_yaml_errors_name_file_line_field(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("conditions:\n  - id: mine\n    steps:\n      - {kind: noise, snr_db: 10, color: purple}\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml:\d+: .*color.*expected one of"):
        load_conditions(path)
    path.write_text("conditions:\n  - id: mine\n    steps:\n      - {kind: bogus}\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml"):
        load_conditions(path)
    path.write_text("conditions:\n  - id: mine\n    steps:\n      - {kind: codec, id: no_such_codec}\n")
    with CONDITIONS.isolated():
        with pytest.raises(ConfigError, match=r"mine\.yaml:4: conditions\[0\]\.steps\[0\]\.id: unknown"):
            load_conditions(path)
    path.write_text("conditions:\n  - id: mine2\n    steps: [{kind: reverb, rt60: 0.5, room: [3, 3], "
                    "source: [1, 1, 1], mic: [2, 2, 2]}]\n")
    with pytest.raises(ConfigError, match="not a point"):
        load_conditions(path)


def test_user_yaml_composes_channels_with_codecs(tmp_path, clip):
    path = tmp_path / "mine.yaml"
    path.write_text("conditions:\n  - id: my_chain\n    steps:\n      - {kind: band, low: 200}\n"
                    "      - {kind: codec, id: g711_mulaw}\nmatrices:\n  my_matrix: [none, my_chain, mp3_32k]\n")
    saved = dict(MATRICES)
    try:
        with CONDITIONS.isolated():
            load_conditions(path)
            assert [c.id for c in get_matrix("my_matrix")] == ["none", "my_chain", "mp3_32k"]
            y = apply_condition(clip, RATE, "my_chain")
            assert len(y) == len(clip)
    finally:
        MATRICES.clear()
        MATRICES.update(saved)


def test_cli_list_shows_parameters_and_apply(tmp_path, capsys, clip):
    assert main(["codecs", "list", "--matrix", "laundering"]) == 0
    out = capsys.readouterr().out
    assert "reverb(room=6x4.5x3 m, rt60=0.6 s" in out and "noise(snr_db=10.0, color=babble" in out
    assert main(["codecs", "list", "--matrix", "replay", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    sim = [r for r in rows if r["id"] == "replay_sim_office"][0]
    assert sim["simulation"] and sim["steps"][0]["kind"] == "replay" and sim["steps"][0]["room"]["rt60"] == 0.5
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, clip, RATE)
    assert main(["codecs", "apply", "replay_sim_phone", str(src), str(dst)]) == 0
    assert "SIMULATION" in capsys.readouterr().out
    y, rate = sf.read(dst, dtype="float32")
    assert rate == RATE and len(y) == len(clip)
    assert main(["codecs", "apply", "silence_pad_2s", str(src), str(dst)]) == 0
    assert len(sf.read(dst)[0]) == len(clip) + 2 * RATE


def test_scoring_config_accepts_channel_conditions():
    from spoofbench.runner.plan import expand_codecs

    ids = expand_codecs(["none", "matrix:laundering", "vad_trim"])
    assert "babble_10db" in ids and ids[-1] == "vad_trim"


def test_describing_vad_trim_leaves_torch_threads_alone():
    """Importing silero_vad sets torch's threads to 1; listing a vad_trim condition must not (a run's
    later training and scoring would silently change their thread count and their float sums)."""
    import subprocess
    import sys

    code = ("import torch; torch.set_num_threads(2); from spoofbench.codecs import condition_provenance; "
            "condition_provenance('vad_trim'); print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "2"
