"""Every default condition on real speech (LibriSpeech, when ../shared is present) and on a
synthetic speech-like signal (always): length, alignment, DC, level, band, bitrate, distortion."""
from __future__ import annotations

import numpy as np
import pytest

from spoofbench.codecs import apply_condition, apply_condition_report, dsp, get_matrix

from codec_signals import (needs_ffmpeg, energy_above, envelope_lag, log_spectral_distance, real_speech, reference_for,
                      snr_db, speech_like)

RATE = 16000
DEFAULT = get_matrix("default")
VOCODERS = {"codec2_3200"}  # keep the envelope, not the waveform

# Plausible (min SNR dB, max log-spectral distance dB) on real speech, against the same band limits.
PLAUSIBLE = {
    "none": (100, 0.01), "g711_mulaw": (30, 3), "g711_alaw": (30, 3), "g722": (15, 3),
    "mp3_128k": (20, 1.5), "aac_128k": (20, 1.5), "mp3_32k": (8, 6), "aac_32k": (8, 6),
    "opus_64k": (12, 4), "opus_24k": (8, 5.5), "opus_12k": (4, 7.5), "vorbis_q6": (15, 4),
    "vorbis_q2": (10, 6.5), "g726_16k": (8, 10.5), "gsm_fr": (5, 8.5), "amr_nb_12k2": (0, 7.5),
    "amr_nb_4k75": (0, 10), "amr_wb_12k65": (3, 7.5), "amr_wb_23k85": (4, 6.5), "speex_8k": (0, 9), "codec2_3200": (-10, 10.5),
    "tel_g711_loss5": (3, 5), "tel_amr_loss10": (2, 9.5), "tel_gsm": (5, 10),
}


def _code_all(clips):
    needs_ffmpeg()
    out = {}
    for cond in DEFAULT:
        for name, x in clips:
            out[cond.id, name] = apply_condition_report(x, RATE, cond, key=name)
    return out


@pytest.fixture(scope="module")
def synthetic():
    clips = [("synthetic", speech_like(RATE, 3.0))]
    return clips, _code_all(clips)


@pytest.fixture(scope="module")
def real():
    clips = real_speech(3, RATE, 3.0)
    if not clips:
        pytest.skip("no LibriSpeech clips in ../shared/corpora/librispeech")
    return clips, _code_all(clips)


def test_default_matrix_covers_the_issue():
    ids = {c.id for c in DEFAULT}
    codecs = {c.codec for c in DEFAULT}
    assert len(DEFAULT) >= 16
    assert {"mp3", "aac", "opus", "vorbis", "amr_nb", "gsm", "pcm_mulaw", "pcm_alaw", "adpcm_g722"} <= codecs
    assert codecs & {"codec2", "speex"}
    for family in ("mp3", "aac", "opus", "vorbis"):
        levels = {c.bitrate or c.quality for c in DEFAULT if c.codec == family}
        assert len(levels) >= 2, family
    assert sum(1 for c in DEFAULT if c.channel is not None) >= 2
    assert set(PLAUSIBLE) == ids


def _check_clip(cond, x, report, *, real_speech_clip: bool):
    y = report.wave
    ref = reference_for(cond, x, RATE)
    # Length: exactly the input's (the spec allows 0.1 %).
    assert y.dtype == np.float32 and len(y) == len(x)
    assert np.all(np.isfinite(y))
    # Time alignment.
    if cond.id in VOCODERS:
        assert abs(envelope_lag(ref, y.astype(float))) <= 160, cond.id
    else:
        lag, peak = dsp.estimate_delay(ref, y.astype(float), 400)
        assert abs(lag) <= 2, (cond.id, lag, peak)
    # No DC offset added; no level jump (overall and between the halves).
    # (2-bit G.726 ADPCM drifts: up to about -27 dB of DC on the synthetic signal.)
    rms_ref = float(np.sqrt(np.mean(ref ** 2)))
    dc_tolerance = (0.08 if cond.id == "g726_16k" else 0.03) * rms_ref
    # Speech codecs may remove the input's own DC (a high-pass); none may add any.
    assert abs(float(y.mean())) <= abs(float(ref.mean())) + dc_tolerance, (cond.id, float(y.mean()))
    ratio = np.sqrt(np.mean(y.astype(float) ** 2)) / rms_ref
    assert 0.75 <= ratio <= 1.3, (cond.id, ratio)
    half = len(y) // 2
    ratios = [np.sqrt(np.mean(y[s].astype(float) ** 2) / np.mean(ref[s] ** 2)) for s in (slice(0, half), slice(half, None))]
    assert max(ratios) / min(ratios) < 1.5, (cond.id, ratios)
    # Narrow band: nothing above 4 kHz.
    if cond.is_narrowband:
        assert energy_above(y.astype(float), RATE, 4200) < 5e-4, cond.id
    # Bitrate within 15 % of nominal (encoded payload bytes).
    if cond.bitrate and report.encoded_bytes is not None:
        measured = report.encoded_bytes * 8 / (len(x) / RATE)
        assert abs(measured / cond.bitrate - 1) <= 0.15, (cond.id, measured)
    if real_speech_clip:
        min_snr, max_lsd = PLAUSIBLE[cond.id]
        snr = snr_db(ref, y.astype(float))
        lsd = log_spectral_distance(ref, y.astype(float), RATE, 3800)
        assert snr >= min_snr and lsd <= max_lsd, (cond.id, snr, lsd)
        if cond.id in VOCODERS:
            assert snr < 5, (cond.id, snr)  # a vocoder cannot keep the waveform


@pytest.mark.parametrize("cond", DEFAULT, ids=lambda c: c.id)
def test_real_speech(real, cond):
    clips, coded = real
    for name, x in clips:
        _check_clip(cond, x, coded[cond.id, name], real_speech_clip=True)


@pytest.mark.parametrize("cond", DEFAULT, ids=lambda c: c.id)
def test_synthetic_speech(synthetic, cond):
    clips, coded = synthetic
    for name, x in clips:
        _check_clip(cond, x, coded[cond.id, name], real_speech_clip=False)


def test_quality_ordering(synthetic, real):
    """µ-law ≫ codec2; a higher bitrate of one codec is closer to the input than a lower one."""
    for clips, coded in (synthetic, real):
        for name, x in clips:
            def measure(cid):
                cond = next(c for c in DEFAULT if c.id == cid)
                ref = reference_for(cond, x, RATE)
                y = coded[cid, name].wave.astype(float)
                return snr_db(ref, y), log_spectral_distance(ref, y, RATE, 3800)
            mulaw, codec2 = measure("g711_mulaw"), measure("codec2_3200")
            assert mulaw[0] > codec2[0] + 25 and mulaw[1] < codec2[1] - 4
            for low, high in (("mp3_32k", "mp3_128k"), ("aac_32k", "aac_128k"), ("opus_12k", "opus_64k"),
                              ("vorbis_q2", "vorbis_q6"), ("amr_nb_4k75", "amr_nb_12k2"),
                              ("amr_wb_12k65", "amr_wb_23k85")):
                assert measure(high)[1] < measure(low)[1], (low, high, name)


@pytest.mark.parametrize("cid", ["mp3_32k", "amr_nb_12k2", "gsm_fr", "tel_amr_loss10", "opus_24k",
                                 "speex_8k", "speex_wb_16k", "codec2_3200", "vorbis_q2"])
def test_deterministic(cid):
    """Bit-identical output whatever was coded before in this process (no hidden global state)."""
    needs_ffmpeg()
    x = speech_like(RATE, 1.5, seed=3)
    a = apply_condition(x, RATE, cid, key="trial_1")
    apply_condition(speech_like(RATE, 0.7, seed=8), RATE, cid, key="other")
    b = apply_condition(x.copy(), RATE, cid, key="trial_1")
    assert a.tobytes() == b.tobytes()


def test_packet_loss_is_seeded_by_key():
    x = speech_like(RATE, 2.0, seed=4)
    a = apply_condition(x, RATE, "tel_g711_loss5", key="trial_1")
    b = apply_condition(x, RATE, "tel_g711_loss5", key="trial_2")
    c = apply_condition(x, RATE, "tel_g711_loss5", key="trial_1")
    assert a.tobytes() == c.tobytes() and a.tobytes() != b.tobytes()
    _, lost = dsp.erase_frames(np.ones(8000 * 100), 8000, 0.05, 20.0, dsp.loss_seed("k", "tel_g711_loss5"), 0.5)
    assert 0.03 < lost.mean() < 0.07


def test_other_input_rates_keep_length():
    needs_ffmpeg()
    for rate in (8000, 22050, 44100):
        x = speech_like(rate, 1.0, seed=5)
        for cid in ("mp3_32k", "amr_nb_12k2", "opus_12k", "gsm_fr"):
            y = apply_condition(x, rate, cid, key="r")
            assert len(y) == len(x), (rate, cid)
