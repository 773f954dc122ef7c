"""`spoofbench codecs list | check | apply`."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from codec_signals import needs_ffmpeg, speech_like
from spoofbench.cli import main


def test_list_json(capsys):
    assert main(["codecs", "list", "--matrix", "telephony", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    ids = [r["id"] for r in rows]
    assert "tel_amr_loss10" in ids and "mp3_32k" not in ids
    row = rows[ids.index("amr_nb_12k2")]
    assert row["engine"] == "native" and row["available"] and row["bitrate"] == 12200 and row["sample_rate"] == 8000


def test_list_table(capsys):
    assert main(["codecs", "list"]) == 0
    out = capsys.readouterr().out
    assert "codec2_3200" in out and "available" in out


def test_apply_and_unknown(tmp_path, capsys):
    needs_ffmpeg()
    src, dst = tmp_path / "in é.wav", tmp_path / "out" / "coded.wav"
    x = speech_like(16000, 1.0)
    sf.write(src, x, 16000)
    assert main(["codecs", "apply", "gsm_fr", str(src), str(dst)]) == 0
    y, rate = sf.read(dst, dtype="float32")
    assert rate == 16000 and len(y) == len(x) and np.abs(y).max() > 0.01
    assert "gsm_fr via native" in capsys.readouterr().out
    assert main(["codecs", "apply", "gsm_frr", str(src), str(dst)]) == 2
    assert "did you mean 'gsm_fr'" in capsys.readouterr().err
    assert main(["codecs", "apply", "gsm_fr", str(tmp_path / "missing.wav"), str(dst)]) == 2


def test_check(capsys):
    needs_ffmpeg()
    assert main(["codecs", "check", "--matrix", "media"]) == 0
    assert "10/10 conditions run here" in capsys.readouterr().out
