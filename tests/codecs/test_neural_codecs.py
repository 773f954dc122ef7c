"""Neural codecs offline: the real architectures (built by encodec / snac themselves) with random
weights written to a temporary folder, loaded through spoofbench's loading code."""
from __future__ import annotations

import json

import numpy as np
import pytest

from codec_signals import speech_like
from neural_weights import ENCODEC_FILE, assert_weights_key_the_cache, encodec_24khz_state
from spoofbench.cli import main
from spoofbench.codecs import CodecCache, apply_condition, condition_provenance
from spoofbench.codecs.channel import channel_from_dict
from spoofbench.errors import CodecError

torch = pytest.importorskip("torch")
pytest.importorskip("encodec")
RATE = 16000
#: hubertsiuzdak/snac_24khz's config.json (the architecture; the weights here are random).
SNAC_24K = {"sampling_rate": 24000, "encoder_dim": 48, "encoder_rates": [2, 4, 8, 8], "decoder_dim": 1024,
            "decoder_rates": [8, 8, 4, 2], "attn_window_size": None, "codebook_size": 4096, "codebook_dim": 8,
            "vq_strides": [4, 2, 1], "noise": True, "depthwise": True}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _perturbed(state: dict) -> dict:
    """Another checkpoint of the same architecture (different weights, different sha256)."""
    return {k: (v + 0.01 * torch.randn_like(v) if k.endswith("._codebook.embed") else v) for k, v in state.items()}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Two random EnCodec 24 kHz checkpoints (file names as published) and a random SNAC folder."""
    root = tmp_path_factory.mktemp("neural")
    state = encodec_24khz_state(seed=1)
    for name, weights_ in (("a", state), ("b", _perturbed(state))):
        (root / name).mkdir()
        torch.save(weights_, root / name / ENCODEC_FILE)
    snac_mod = pytest.importorskip("snac")
    torch.manual_seed(3)
    (root / "snac_24khz").mkdir()
    (root / "snac_24khz" / "config.json").write_text(json.dumps(SNAC_24K))
    torch.save(snac_mod.SNAC(**SNAC_24K).state_dict(), root / "snac_24khz" / "pytorch_model.bin")
    return root


def _encodec(path, bandwidth=6.0, cid="t_encodec"):
    return channel_from_dict({"id": cid, "steps": [{"kind": "neural", "model": "encodec_24khz",
                                                     "bandwidth": bandwidth, "weights": str(path)}]})


def test_encodec_length_determinism_and_bitrates(weights):
    x = speech_like(RATE, 0.73)  # not a whole number of 320-sample frames at 24 kHz
    cond = _encodec(weights / "a" / "encodec_24khz-d7cc33bc.th")
    y1 = apply_condition(x, RATE, cond, key="k1")
    y2 = apply_condition(x, RATE, cond, key="k1")
    assert len(y1) == len(x) and y1.dtype == np.float32 and np.all(np.isfinite(y1))
    assert np.array_equal(y1, y2) and np.abs(y1).max() > 0
    low = apply_condition(x, RATE, _encodec(weights / "a", bandwidth=1.5), key="k1")  # a folder works too
    assert len(low) == len(x) and not np.array_equal(low, y1)  # 2 codebooks against 8
    prov = condition_provenance(cond)["steps"][0]
    assert prov["library"] == "encodec" and prov["version"] and prov["bandwidth_kbps"] == 6.0
    assert len(prov["weights_sha256"]) == 64 and prov["available"]


def test_weights_hash_is_in_the_cache_key(weights, tmp_path):
    x = speech_like(RATE, 0.3)
    cache = CodecCache(tmp_path / "cache")
    a, b = _encodec(weights / "a"), _encodec(weights / "b")
    pa, pb = condition_provenance(a)["steps"][0], condition_provenance(b)["steps"][0]
    assert pa["weights_sha256"] != pb["weights_sha256"]
    assert_weights_key_the_cache(a, b, x, RATE, cache)


def test_batch_matches_one_clip_for_causal_encodec(weights):
    from spoofbench.codecs import neural

    step = _encodec(weights / "a").steps[0]
    short, long_ = speech_like(RATE, 0.3, seed=1).astype(np.float64), speech_like(RATE, 0.5, seed=2).astype(np.float64)
    batch = neural.code_batch([short, long_], RATE, step, [0, 0])
    np.testing.assert_allclose(batch[0], neural.code(short, RATE, step, 0), atol=1e-4)
    np.testing.assert_allclose(batch[1], neural.code(long_, RATE, step, 0), atol=1e-4)


def test_snac_random_weights_from_config(weights):
    x = speech_like(RATE, 0.5)
    cond = channel_from_dict({"id": "t_snac", "steps": [{"kind": "neural", "model": "snac_24khz",
                                                          "weights": str(weights / "snac_24khz")}]})
    y1 = apply_condition(x, RATE, cond, key="k1")
    assert len(y1) == len(x) and np.all(np.isfinite(y1))
    assert np.array_equal(y1, apply_condition(x, RATE, cond, key="k1"))  # its decoder noise is seeded
    assert not np.array_equal(y1, apply_condition(x, RATE, cond, key="k2"))


def test_absent_and_wrong_weights_are_clear_errors(weights, tmp_path, monkeypatch):
    monkeypatch.setenv("SPOOFBENCH_NEURAL_WEIGHTS", str(tmp_path / "empty"))
    x = speech_like(RATE, 0.3)
    prov = condition_provenance("encodec_6k")
    assert not prov["available"] and "no weights for encodec_24khz" in prov["reason"]
    assert str(tmp_path / "empty") in prov["reason"]
    with pytest.raises(CodecError, match=r"condition 'encodec_6k', clip 'k': step 1 \(neural\): no weights"):
        apply_condition(x, RATE, "encodec_6k", key="k")
    bad = tmp_path / "bad.th"
    torch.save({"not": torch.zeros(1)}, bad)
    with pytest.raises(CodecError, match="bad.th: not encodec_24khz weights"):
        apply_condition(x, RATE, _encodec(bad, cid="t_bad"))
    with pytest.raises(CodecError, match="not one of"):
        apply_condition(x, RATE, _encodec(weights / "a", bandwidth=2.0, cid="t_bw"))
    # the weights folder: <root>/<model>/<checkpoint>
    monkeypatch.setenv("SPOOFBENCH_NEURAL_WEIGHTS", str(tmp_path / "root"))
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "encodec_24khz").symlink_to(weights / "a")
    assert condition_provenance("encodec_1k5")["available"]


def test_codecs_check_reports_neural_weights(weights, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPOOFBENCH_NEURAL_WEIGHTS", str(tmp_path / "nothing"))
    assert main(["codecs", "check", "--matrix", "neural", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert not rows["encodec_6k"]["available"] and "no weights" in rows["encodec_6k"]["reason"]
    assert main(["codecs", "check", "--matrix", "neural"]) == 0  # the table, then each reason in words
    text = capsys.readouterr().out
    assert "encodec_6k cannot run here: step 1 (neural): no weights for encodec_24khz" in text
    monkeypatch.setenv("SPOOFBENCH_NEURAL_WEIGHTS", str(weights / "a"))
    assert main(["codecs", "check", "--matrix", "neural", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["encodec_6k"]["available"] and rows["encodec_6k"]["works"]
    assert not rows["snac_24khz"]["available"]
