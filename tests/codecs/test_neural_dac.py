"""DAC 16 kHz offline: transformers' ``DacModel`` (the real architecture, a small width) with random
weights saved by ``save_pretrained`` in the hub layout, loaded and applied through spoofbench."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from codec_signals import speech_like
from neural_weights import assert_weights_key_the_cache
from spoofbench.cli import main
from spoofbench.codecs import CodecCache, apply_condition, condition_provenance
from spoofbench.codecs.channel import channel_from_dict
from spoofbench.errors import CodecError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
RATE = 16000
#: descript/dac_16khz's config.json as published on the hub (the full-size architecture).
HUB_CONFIG = {"architectures": ["DacModel"], "codebook_dim": 8, "codebook_loss_weight": 1.0, "codebook_size": 1024,
              "commitment_loss_weight": 0.25, "decoder_hidden_size": 1536, "downsampling_ratios": [2, 4, 5, 8],
              "encoder_hidden_size": 64, "hidden_size": 1024, "hop_length": 320, "model_type": "dac",
              "n_codebooks": 12, "quantizer_dropout": 0.0, "sampling_rate": 16000, "torch_dtype": "float32",
              "upsampling_ratios": [8, 5, 4, 2]}
#: The same strides, codebooks and rate, narrow layers (fast on a CPU).
SMALL = {"encoder_hidden_size": 4, "downsampling_ratios": [2, 4, 5, 8], "decoder_hidden_size": 32, "n_codebooks": 12,
         "codebook_size": 1024, "codebook_dim": 8, "sampling_rate": 16000}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _save(folder, seed=0, **changes):
    """A random DAC saved as the hub has it; its biases (zeros at initialisation, not in a trained
    model) random too, so that silence is not coded as silence by construction."""
    torch.manual_seed(seed)
    net = transformers.DacModel(transformers.DacConfig(**{**SMALL, **changes}))
    with torch.no_grad():
        for name, value in net.named_parameters():
            if name.endswith(".bias"):
                value.normal_(0.0, 0.05)
    net.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Two random DAC 16 kHz folders (config.json + model.safetensors) of one architecture."""
    root = tmp_path_factory.mktemp("dac")
    _save(root / "a", seed=1)
    _save(root / "b", seed=2)
    assert sorted(p.name for p in (root / "a").iterdir()) == ["config.json", "model.safetensors"]
    return root


def _dac(path, bandwidth=6.0, cid="t_dac"):
    return channel_from_dict({"id": cid, "steps": [{"kind": "neural", "model": "dac_16khz", "bandwidth": bandwidth,
                                                     "weights": str(path)}]})


def test_published_config_gives_the_bitrate_table():
    from spoofbench.codecs import neural

    config = transformers.DacConfig.from_dict(HUB_CONFIG)
    assert config.hop_length == 320 and config.frame_rate == 50
    net = SimpleNamespace(config=config)
    assert neural.dac_quantizers(net, 6.0, "w") == 12 and neural.dac_quantizers(net, 1.5, "w") == 3
    spec = neural.MODELS["dac_16khz"]
    assert [neural.dac_quantizers(net, b, "w") for b in spec.bandwidths] == list(range(1, 13))
    assert spec.default_bandwidth == 6.0 and spec.rate == config.sampling_rate
    with pytest.raises(CodecError, match="not a whole number of codebooks between 1 and 12"):
        neural.dac_quantizers(net, 6.5, "w")


def test_dac_length_determinism_and_bitrates(weights):
    for seconds in (0.73, 1.0):  # 0.73 s is not a whole number of 320-sample hops; 1.0 s is
        x = speech_like(RATE, seconds)
        y1 = apply_condition(x, RATE, _dac(weights / "a"), key="k1")
        assert len(y1) == len(x) and y1.dtype == np.float32 and np.all(np.isfinite(y1))
        assert np.array_equal(y1, apply_condition(x, RATE, _dac(weights / "a"), key="k2"))  # no noise: same
        # the decoder's last samples are coded ones, not the zeros a short decoder output would leave
        assert np.count_nonzero(y1[-16:]) == 16
        low = apply_condition(x, RATE, _dac(weights / "a", bandwidth=1.5), key="k1")
        assert len(low) == len(x) and not np.array_equal(low, y1)  # 3 codebooks against 12
    prov = condition_provenance(_dac(weights / "a"))["steps"][0]
    assert prov["library"] == "transformers" and prov["version"] == transformers.__version__
    assert prov["bandwidth_kbps"] == 6.0 and prov["model_rate"] == 16000
    assert len(prov["weights_sha256"]) == 64 and prov["available"]


def test_weights_hash_is_in_the_cache_key(weights, tmp_path):
    x = speech_like(RATE, 0.4)
    cache = CodecCache(tmp_path / "cache")
    assert_weights_key_the_cache(_dac(weights / "a"), _dac(weights / "b"), x, RATE, cache)


def _junk_folders(root, weights):
    """(folder, the error it must give) for folders that are not DAC 16 kHz weights."""
    (root / "text").mkdir()
    (root / "text" / "config.json").write_text("not json")
    (root / "text" / "model.safetensors").write_bytes(b"junk")
    (root / "snac").mkdir()
    (root / "snac" / "config.json").write_text(json.dumps({"sampling_rate": 24000, "encoder_dim": 48}))
    (root / "snac" / "model.safetensors").write_bytes(b"junk")
    (root / "bytes").mkdir()
    (root / "bytes" / "config.json").write_text((weights / "a" / "config.json").read_text())
    (root / "bytes" / "model.safetensors").write_bytes(b"\x00" * 64)
    (root / "shape").mkdir()
    (root / "shape" / "config.json").write_text((weights / "a" / "config.json").read_text())
    _save(root / "wide", decoder_hidden_size=64)
    (root / "shape" / "model.safetensors").write_bytes((root / "wide" / "model.safetensors").read_bytes())
    _save(root / "r24k", sampling_rate=24000)
    return [("text", r"text/config.json: not a DAC config"),
            ("snac", r"snac/config.json: model_type None, expected 'dac'"),
            ("bytes", r"cannot read neural-codec weights .*bytes/model.safetensors"),
            ("shape", r"shape/model.safetensors: not dac_16khz weights: .*size mismatch"),
            ("r24k", r"r24k/config.json: sampling_rate 24000, expected 16000")]


def test_absent_and_foreign_weights_are_clear_errors(weights, tmp_path, monkeypatch):
    monkeypatch.setenv("SPOOFBENCH_NEURAL_WEIGHTS", str(tmp_path / "empty"))
    x = speech_like(RATE, 0.3)
    prov = condition_provenance("dac_16khz")
    assert not prov["available"] and "no weights for dac_16khz" in prov["reason"]
    assert "config.json and model.safetensors" in prov["reason"] and "descript/dac_16khz" in prov["reason"]
    with pytest.raises(CodecError, match=r"condition 'dac_16khz', clip 'k': step 1 \(neural\): no weights"):
        apply_condition(x, RATE, "dac_16khz", key="k")
    for i, (name, message) in enumerate(_junk_folders(tmp_path, weights)):
        with pytest.raises(CodecError, match=message):
            apply_condition(x, RATE, _dac(tmp_path / name, cid=f"t_junk{i}"))
    with pytest.raises(CodecError, match="not one of"):
        apply_condition(x, RATE, _dac(weights / "a", bandwidth=2.25, cid="t_bw"))
    _save(tmp_path / "four", n_codebooks=4)  # fewer codebooks than 6 kbit/s needs
    with pytest.raises(CodecError, match="four: 6.0 kbit/s is not a whole number of codebooks between 1 and 4"):
        apply_condition(x, RATE, _dac(tmp_path / "four", cid="t_four"))
    assert len(apply_condition(x, RATE, _dac(tmp_path / "four", bandwidth=2.0, cid="t_four2"))) == len(x)


def test_batches_only_clips_whose_one_clip_output_they_keep(weights):
    from spoofbench.codecs import neural

    step = _dac(weights / "a").steps[0]
    a, b = speech_like(RATE, 0.49, seed=1), speech_like(RATE, 0.50, seed=2)  # one padded length: 26 hops
    c = speech_like(RATE, 0.9, seed=3)
    batch = neural.code_batch([a, c, b], RATE, step, [0, 0, 0])
    for clip, coded in zip((a, c, b), batch):
        np.testing.assert_allclose(coded, neural.code(clip, RATE, step, 0), atol=1e-6)
    spec = neural.MODELS["dac_16khz"]
    assert neural._groups(spec, [8320, 14720, 8320]) == [[0, 2], [1]]
    # why: DAC looks ahead, so a short clip padded to a longer one's length codes differently at its end
    prov = neural.provenance(step)
    net = neural.build_model("dac_16khz", weights / "a", prov["weights_sha256"], "cpu")
    alone = np.zeros((1, 1, 8320), np.float32)
    alone[0, 0, :len(a)] = a
    padded = np.zeros((1, 1, 14720), np.float32)
    padded[0, 0, :len(a)] = a
    with torch.inference_mode():
        y_alone = neural._forward(spec, net, torch.from_numpy(alone), 6.0, weights / "a")[0, :len(a)].numpy()
        y_padded = neural._forward(spec, net, torch.from_numpy(padded), 6.0, weights / "a")[0, :len(a)].numpy()
    assert np.abs(y_alone - y_padded)[-400:].max() > 1e-3 * np.abs(y_alone).max()


def test_codecs_check_reports_dac_weights(weights, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPOOFBENCH_NEURAL_WEIGHTS", str(tmp_path / "nothing"))
    assert main(["codecs", "check", "--matrix", "neural", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert not rows["dac_16khz"]["available"] and "no weights for dac_16khz" in rows["dac_16khz"]["reason"]
    assert not rows["dac_16khz_1k5"]["available"]
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "dac_16khz").symlink_to(weights / "a")
    monkeypatch.setenv("SPOOFBENCH_NEURAL_WEIGHTS", str(tmp_path / "root"))
    assert main(["codecs", "check", "--matrix", "neural", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["dac_16khz"]["available"] and rows["dac_16khz"]["works"]
    assert rows["dac_16khz_1k5"]["available"] and rows["dac_16khz_1k5"]["works"]
    assert not rows["encodec_6k"]["available"]
