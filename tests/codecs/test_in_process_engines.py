"""Vorbis and Codec 2 in-process: same output as the ffmpeg CLI bit for bit, deterministic, chosen by auto."""
from __future__ import annotations

import ctypes
import dataclasses

import numpy as np
import pytest

from spoofbench.codecs import apply_condition, apply_condition_report, get_condition
from spoofbench.codecs import codec2_lib
from spoofbench.codecs.engines import ENGINES, ffmpeg_codecs, select_engine

from codec_signals import needs_ffmpeg, speech_like

RATE = 16000


def _needs(engine: str, cid: str):
    cond = get_condition(cid)
    ok, why = ENGINES[engine].available(cond)
    if not ok:
        pytest.skip(why)
    return cond


def _cli_has(encoder: str) -> None:
    needs_ffmpeg()
    if encoder not in ffmpeg_codecs()[0]:
        pytest.skip(f"the system ffmpeg has no {encoder}")


def test_auto_codes_vorbis_and_codec2_in_process():
    for cid, engine in (("vorbis_q2", "native+pyav"), ("vorbis_q6", "native+pyav"), ("codec2_3200", "native")):
        _needs(engine, cid)
        assert select_engine(get_condition(cid))[0].name == engine, cid


@pytest.mark.parametrize("cid", ["vorbis_q2", "vorbis_q6"])
def test_native_vorbis_equals_ffmpeg_libvorbis(cid):
    """Same packets as `ffmpeg -c:a libvorbis -q:a Q`: decoded audio and payload size identical."""
    cond = _needs("native+pyav", cid)
    _cli_has("libvorbis")
    for seconds, seed in ((0.2, 1), (2.3, 2)):
        x = speech_like(RATE, seconds, seed=seed)
        ours = apply_condition_report(x, RATE, dataclasses.replace(cond, engine="native+pyav"), key="v")
        cli = apply_condition_report(x, RATE, dataclasses.replace(cond, engine="ffmpeg+pyav"), key="v")
        assert ours.wave.tobytes() == cli.wave.tobytes(), (cid, seconds)
        assert ours.encoded_bytes == cli.encoded_bytes and ours.delay == cli.delay


@pytest.mark.parametrize("mode", ["3200", "1300"])
def test_native_codec2_equals_the_cli(mode):
    """A fresh library per clip reproduces the two ffmpeg processes of the reference engine exactly."""
    cond = dataclasses.replace(_needs("native", "codec2_3200"), options=(("mode", mode),))
    _cli_has("libcodec2")
    for seconds, seed in ((0.3, 3), (2.0, 4)):
        x = speech_like(RATE, seconds, seed=seed)
        ours = apply_condition(x, RATE, dataclasses.replace(cond, engine="native"), key="c")
        cli = apply_condition(x, RATE, dataclasses.replace(cond, engine="ffmpeg"), key="c")
        assert ours.tobytes() == cli.tobytes(), (mode, seconds)


def test_codec2_random_state_is_reset_even_when_the_library_is_held():
    """Another holder of libcodec2 (its state advanced) does not leak into the output: a private copy is used."""
    cond = _needs("native", "codec2_3200")
    x = speech_like(RATE, 1.0, seed=6)
    before = apply_condition(x, RATE, cond, key="h")
    holder = ctypes.CDLL(codec2_lib.library_path())
    try:
        for _ in range(1000):
            holder.codec2_rand()
        held = apply_condition(x, RATE, cond, key="h")
        assert "path" in codec2_lib._PRIVATE  # the check saw the holder's state and switched
    finally:
        import _ctypes
        _ctypes.dlclose(holder._handle)
    after = apply_condition(x, RATE, cond, key="h")
    assert before.tobytes() == held.tobytes() == after.tobytes()


def test_fresh_library_starts_the_generator_at_its_seed():
    _needs("native", "codec2_3200")
    with codec2_lib.fresh_codec2() as lib:
        first = lib.codec2_rand()
    with codec2_lib.fresh_codec2() as lib:
        again = lib.codec2_rand()
    assert first == again == codec2_lib._FIRST_DRAWS[0]


def test_conditions_the_in_process_engines_do_not_take_fall_back():
    _needs("native+pyav", "vorbis_q2")
    by_bitrate = dataclasses.replace(get_condition("vorbis_q2"), quality=None, bitrate=64000)
    ok, why = ENGINES["native+pyav"].available(by_bitrate)
    assert not ok and "quality" in why
    assert select_engine(by_bitrate)[0] is None or select_engine(by_bitrate)[0].name != "native+pyav"
    odd_mode = dataclasses.replace(get_condition("codec2_3200"), options=(("mode", "9999"),))
    ok, why = ENGINES["native"].available(odd_mode)
    assert not ok and "mode" in why
    wide = dataclasses.replace(get_condition("codec2_3200"), sample_rate=16000)
    assert not ENGINES["native"].available(wide)[0]


def test_provenance_names_the_library():
    cond = _needs("native+pyav", "vorbis_q6")
    prov = ENGINES["native+pyav"].provenance_for(cond)
    assert prov["engine"] == "native+pyav" and "libvorbisenc" in prov["library"] and "PyAV" in prov["library"]
    c2 = _needs("native", "codec2_3200")
    assert "libcodec2" in ENGINES["native"].provenance_for(c2)["library"]
    y = apply_condition(speech_like(RATE, 0.5, seed=9), RATE, cond)
    assert y.dtype == np.float32 and len(y) == RATE // 2
