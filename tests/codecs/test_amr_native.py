"""AMR-NB / AMR-WB through the system libraries (native engine): bit-exact against recorded references,
chosen by auto, named in the provenance; a missing library is a clear, early message naming its package.

The references (``data/amr_reference.npz``) were recorded by ``data/make_amr_reference.py`` with PyAV
18.1.0, whose bundled FFmpeg had ``libopencore_amrnb``. The libraries are installed by setup.sh: when one
is missing these tests fail (a broken set-up) with the ``apt-get install`` command, they do not skip.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from spoofbench.codecs import amr_lib, apply_condition, check_conditions, condition_provenance, get_condition
from spoofbench.codecs import get_matrix
from spoofbench.codecs.availability import require_runnable
from spoofbench.codecs.engines import select_engine
from spoofbench.codecs.native import NativeEngine
from spoofbench.errors import CodecError

from codec_signals import speech_like

REFERENCE = Path(__file__).with_name("data") / "amr_reference.npz"
CASES = [("amr_nb", "nb", 12200), ("amr_nb", "nb", 4750), ("amr_wb", "wb", 12650), ("amr_wb", "wb", 23850)]


def _require(codec: str) -> None:
    why = amr_lib.missing_message(codec)
    if why:
        pytest.fail(f"{codec}: {why}")


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as data:
        return dict(data)


def _packets(reference, key: str, bitrate: int) -> list[bytes]:
    flat = reference[f"{key}_{bitrate}_packets"].tobytes()
    ends = np.cumsum(reference[f"{key}_{bitrate}_sizes"])
    return [flat[start:end] for start, end in zip([0, *ends[:-1]], ends)]


@pytest.mark.parametrize("codec,key,bitrate", CASES, ids=lambda v: str(v))
def test_packets_and_decoded_samples_equal_the_reference(reference, codec, key, bitrate):
    """NB: the packets PyAV 18.1.0's libopencore_amrnb wrote and the samples its libopencore_amrnb
    decoder returned, bit for bit. WB: the packets of libvo-amrwbenc called on its own, and PyAV
    18.1.0's bundled libopencore_amrwb decoder's samples."""
    _require(codec)
    pcm = reference[f"{key}_input"]
    packets = amr_lib.encode(pcm, codec, bitrate)
    assert packets == _packets(reference, key, bitrate)
    decoded = amr_lib.decode(packets, codec)
    assert decoded.dtype == np.int16 and np.array_equal(decoded, reference[f"{key}_{bitrate}_decoded"])


@pytest.mark.parametrize("cid,key,bitrate", [("amr_nb_12k2", "nb", 12200), ("amr_nb_4k75", "nb", 4750),
                                             ("amr_wb_12k65", "wb", 12650), ("amr_wb_23k85", "wb", 23850)])
def test_native_engine_codes_a_clip_as_the_reference(reference, cid, key, bitrate):
    """The engine's framing (last frame zero-padded, one all-zero frame after it, as FFmpeg's flush) and
    its float ↔ s16 conversion reproduce the reference samples and payload exactly."""
    condition = get_condition(cid)
    _require(condition.codec)
    x = reference[f"{key}_input"].astype(np.float64) / 32768.0
    coded = NativeEngine().code(x, condition.sample_rate, condition)
    assert coded.rate == condition.sample_rate
    assert np.array_equal(np.round(coded.samples * 32768.0).astype(np.int16), reference[f"{key}_{bitrate}_decoded"])
    assert coded.encoded_bytes == int(reference[f"{key}_{bitrate}_sizes"].sum())


def test_bitrate_picks_the_mode_as_ffmpeg_did():
    assert [amr_lib.mode_for(rate, amr_lib.NB_RATES) for rate in amr_lib.NB_RATES] == list(range(8))
    assert amr_lib.mode_for(5000, amr_lib.NB_RATES) == 1  # nearest: 5150
    assert amr_lib.mode_for(4950, amr_lib.NB_RATES) == 0  # a tie goes to the lower rate
    assert amr_lib.mode_for(99000, amr_lib.NB_RATES) == 7
    assert amr_lib.mode_for(12650, amr_lib.WB_RATES) == 2 and amr_lib.mode_for(23850, amr_lib.WB_RATES) == 8
    assert amr_lib.mode_for(23450, amr_lib.WB_RATES) == 7


def test_auto_picks_native_and_the_provenance_names_library_and_version():
    for cid, libraries in (("amr_nb_12k2", ["libopencore-amrnb"]), ("tel_amr_loss10", ["libopencore-amrnb"]),
                           ("amr_wb_12k65", ["libvo-amrwbenc", "libopencore-amrwb"]),
                           ("amr_wb_23k85", ["libvo-amrwbenc", "libopencore-amrwb"])):
        condition = get_condition(cid)
        _require(condition.codec)
        engine, why = select_engine(condition)
        assert engine is not None and engine.name == "native", (cid, why)
        prov = condition_provenance(cid)
        assert prov["engine"] == "native" and prov["available"]
        for library in libraries:
            assert library in prov["library"] and library in prov["version"], (cid, prov)
        assert ".so." in prov["version"]  # the library file's version at least (plus Debian's, when dpkg has it)


def test_wide_band_conditions_are_in_the_default_and_telephony_matrices():
    for matrix in ("default", "telephony"):
        ids = [c.id for c in get_matrix(matrix)]
        assert "amr_wb_12k65" in ids and "amr_wb_23k85" in ids, matrix
    assert "tel_amrwb_loss3" in [c.id for c in get_matrix("telephony")]
    wb = get_condition("amr_wb_12k65")
    assert (wb.codec, wb.encoder, wb.bitrate, wb.sample_rate) == ("amr_wb", "libvo_amrwbenc", 12650, 16000)
    assert not wb.is_narrowband


@pytest.mark.parametrize("cid", ["tel_amr_loss10", "tel_amrwb_loss3"])
def test_frame_loss_chain_is_seeded_by_the_trial_key(cid):
    _require(get_condition(cid).codec)
    x = speech_like(16000, 2.0, seed=11)
    a = apply_condition(x, 16000, cid, key="trial_1")
    b = apply_condition(x, 16000, cid, key="trial_2")
    assert len(a) == len(x) and a.tobytes() == apply_condition(x, 16000, cid, key="trial_1").tobytes()
    assert a.tobytes() != b.tobytes()
    lossless = dataclasses.replace(get_condition(cid), id=f"{cid}_noloss",
                                   channel=dataclasses.replace(get_condition(cid).channel, loss_rate=0.0))
    assert apply_condition(x, 16000, lossless, key="trial_1").tobytes() != a.tobytes()


def test_native_rejects_what_it_cannot_code():
    _require("amr_nb")
    engine = NativeEngine()
    wrong_rate = dataclasses.replace(get_condition("amr_nb_12k2"), id="amr_16k", sample_rate=16000)
    assert engine.available(wrong_rate) == (False, "AMR-NB codes at 8000 Hz only")
    no_bitrate = dataclasses.replace(get_condition("amr_wb_12k65"), id="amr_wb_free", bitrate=None)
    assert not engine.available(no_bitrate)[0] and "needs a bitrate" in engine.available(no_bitrate)[1]


@pytest.fixture
def without_amrnb(monkeypatch):
    """This process as if libopencore-amrnb0 were not installed."""
    real = amr_lib._load
    monkeypatch.setattr(amr_lib, "_load", lambda library: None if library is amr_lib.AMRNB else real(library))


def test_a_missing_library_names_its_package(without_amrnb):
    condition = get_condition("amr_nb_12k2")
    ok, why = NativeEngine().available(condition)
    assert not ok and "apt-get install libopencore-amrnb0" in why
    (status,) = check_conditions([condition], smoke=False)
    if not status.available:  # (PyAV 18.1.0 would still code it)
        assert [name for name, _ in status.tried] == ["native", "pyav", "native+pyav", "ffmpeg+pyav", "ffmpeg"]
        assert status.install == ("apt-get install libopencore-amrnb0",)
        with pytest.raises(CodecError, match="no engine can run it here.*apt-get install libopencore-amrnb0"):
            apply_condition(np.zeros(1600, np.float32), 16000, condition, key="k")
        with pytest.raises(CodecError) as err:
            require_runnable(["none", "amr_nb_4k75", "amr_wb_12k65"])
        text = str(err.value)
        assert "\n" not in text and "amr_nb_4k75 (apt-get install libopencore-amrnb0)" in text
        assert "amr_wb_12k65" not in text and "spoofbench codecs check" in text


def test_codecs_check_lists_engines_tried_and_the_install_command(without_amrnb, capsys):
    from spoofbench.cli import main

    if select_engine(get_condition("amr_nb_12k2"))[0] is not None:
        pytest.skip("another engine (PyAV with libopencore_amrnb) codes AMR-NB here")
    assert main(["codecs", "check", "--matrix", "telephony"]) == 0
    out = capsys.readouterr().out
    assert "amr_nb_12k2 cannot run here. Engines tried:" in out and "  native " in out and "  ffmpeg " in out
    assert "to install: apt-get install libopencore-amrnb0" in out
    assert "cannot run: amr_nb_12k2, amr_nb_4k75, tel_amr_loss10" in out
    assert main(["codecs", "check", "--matrix", "telephony", "--strict"]) == 1


def test_run_refuses_a_config_it_cannot_code_before_any_work(without_amrnb, tmp_path, capsys):
    from tiny_corpus import write_tiny_bench

    from spoofbench.cli import main

    if select_engine(get_condition("amr_nb_4k75"))[0] is not None:
        pytest.skip("another engine (PyAV with libopencore_amrnb) codes AMR-NB here")
    path = write_tiny_bench(tmp_path, ["none", "amr_nb_4k75"])
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "amr_nb_4k75 (apt-get install libopencore-amrnb0)" in err
    assert not out.exists()  # no folder, no training
