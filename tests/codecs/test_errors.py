"""Failures name the condition and the clip and carry FFmpeg's own message."""
from __future__ import annotations

import numpy as np
import pytest

from codec_signals import needs_ffmpeg, speech_like
from spoofbench.codecs import CodecCondition, apply_condition, check_conditions, get_matrix
from spoofbench.errors import CodecError


def test_ffmpeg_message_is_passed_on():
    needs_ffmpeg()
    bad = CodecCondition(id="gsm_bad_rate", codec="gsm", encoder="libgsm", sample_rate=11025, engine="ffmpeg")
    with pytest.raises(CodecError) as err:
        apply_condition(speech_like(16000, 0.5), 16000, bad, key="LA_T_1")
    text = str(err.value)
    assert "gsm_bad_rate" in text and "LA_T_1" in text
    assert "8000" in text  # libgsm: "Sample rate 8000Hz required for GSM, got 11025Hz instead."


def test_pyav_message_is_passed_on():
    bad = CodecCondition(id="opus_bad_rate", codec="opus", encoder="libopus", bitrate=12000,
                         sample_rate=11025, engine="pyav")  # libopus codes at 8/12/16/24/48 kHz only
    with pytest.raises(CodecError, match=r"opus_bad_rate.*clip 'k9'.*PyAV \(libopus\).*avcodec_open2"):
        apply_condition(speech_like(16000, 0.5), 16000, bad, key="k9")


def test_missing_encoder_is_reported():
    ghost = CodecCondition(id="ghost", codec="mp3", encoder="libghost", engine="auto")
    with pytest.raises(CodecError, match="no engine can run it here.*libghost"):
        apply_condition(np.zeros(1600, np.float32), 16000, ghost, key="k")
    (status,) = check_conditions([ghost])
    assert not status.available and "libghost" in status.reason


@pytest.mark.parametrize("wave, rate, fragment", [
    (np.zeros(0, np.float32), 16000, "empty"),
    (np.zeros((2, 100), np.float32), 16000, "1-D"),
    (np.zeros(100, np.int16), 16000, "float"),
    (np.full(100, np.nan, np.float32), 16000, "NaN"),
    (np.zeros(100, np.float32), 0, "sample_rate"),
])
def test_bad_input(wave, rate, fragment):
    with pytest.raises(CodecError, match=fragment):
        apply_condition(wave, rate, "mp3_32k", key="clip7")


def test_very_short_clip_still_same_length():
    needs_ffmpeg()
    x = speech_like(16000, 0.5)[:40]
    for cond in get_matrix("default"):
        assert len(apply_condition(x, 16000, cond, key="short")) == 40, cond.id


def test_check_reports_every_default_condition():
    needs_ffmpeg()
    statuses = check_conditions(get_matrix("default"))
    assert all(s.available and s.works for s in statuses), [(s.condition.id, s.reason) for s in statuses if not s.works]


@pytest.mark.parametrize("cid", ["gsm_fr", "speex_8k"])
def test_native_matches_the_ffmpeg_cli_reference(cid):
    """The ctypes path and ffmpeg's wrapper of the same library agree (decoders may differ)."""
    needs_ffmpeg()
    import dataclasses

    from spoofbench.codecs import get_condition
    from spoofbench.codecs.engines import ENGINES

    cond = get_condition(cid)
    if not ENGINES["native"].available(cond)[0]:
        pytest.skip(f"system library for {cid} not loadable")
    x = speech_like(16000, 1.0, seed=11)
    native = apply_condition(x, 16000, dataclasses.replace(cond, engine="native"), key="n")
    cli = apply_condition(x, 16000, dataclasses.replace(cond, engine="ffmpeg"), key="n")
    snr = 10 * np.log10(np.sum(cli.astype(float) ** 2) / max(np.sum((cli - native).astype(float) ** 2), 1e-20))
    assert snr > 40, (cid, snr)


@pytest.mark.parametrize("cid", ["speex_8k", "vorbis_q6"])
def test_in_process_decoding_matches_the_cli_reference(cid):
    needs_ffmpeg()
    import dataclasses

    from spoofbench.codecs import get_condition

    cond = get_condition(cid)
    x = speech_like(16000, 1.0, seed=12)
    fast = apply_condition(x, 16000, dataclasses.replace(cond, engine="ffmpeg+pyav"), key="n")
    reference = apply_condition(x, 16000, dataclasses.replace(cond, engine="ffmpeg"), key="n")
    diff = np.sum((reference - fast).astype(float) ** 2)
    snr = 10 * np.log10(np.sum(reference.astype(float) ** 2) / max(diff, 1e-20))
    assert snr > 40, snr


def test_speex_wide_band_goes_through_ffmpegs_libspeex():
    """ASVspoof 5's C03: Speex at 16 kHz. The native ctypes path declines it (its output differed from FFmpeg's
    libspeex wrapper), so `auto` codes it through FFmpeg and agrees with the CLI reference."""
    needs_ffmpeg()
    import dataclasses

    from spoofbench.codecs import apply_condition_report, get_condition
    from spoofbench.codecs.engines import ENGINES

    cond = get_condition("speex_wb_16k")
    available, why = ENGINES["native"].available(cond)
    assert not available and "8000 Hz (narrow band) only" in why
    x = speech_like(16000, 1.0, seed=11)
    auto = apply_condition_report(x, 16000, cond, key="n")
    assert auto.engine != "native" and len(auto.wave) == len(x)
    reference = apply_condition(x, 16000, dataclasses.replace(cond, engine="ffmpeg"), key="n")
    snr = 10 * np.log10(np.sum(reference.astype(float) ** 2) / max(np.sum((reference - auto.wave) ** 2), 1e-20))
    assert snr > 40, snr
