"""A tiny random-init WavLM written in the s3prl/fairseq format and as a transformers directory loads
back through both real code paths (s3prl's UpstreamExpert, transformers' from_pretrained), offline,
with the same hidden states and scores."""
from __future__ import annotations

import pytest
import torch

from spoofbench.errors import CheckpointError
from spoofbench.models import build_detector
from spoofbench.models.base import save_checkpoint
from spoofbench.models.ssl import TINY_WAVLM
from spoofbench.models.ssl_checkpoints import s3prl_wavlm_to_hf

pytest.importorskip("s3prl")
pytest.importorskip("transformers")

ARCHS = {"base": TINY_WAVLM,  # post-LN, group-norm CNN, like WavLM Base / Base+
         "large": {**TINY_WAVLM, "extractor_mode": "layer_norm", "layer_norm_first": True, "normalize": True}}


def _write_s3prl(arch: dict, path):
    from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = WavLM(WavLMConfig(arch))
    torch.save({"cfg": dict(arch), "model": model.state_dict()}, path)


@pytest.mark.parametrize("kind", list(ARCHS))
def test_s3prl_file_and_transformers_dir_agree(kind, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _write_s3prl(ARCHS[kind], tmp_path / "wavlm.pt")
    s3prl_wavlm_to_hf(tmp_path / "wavlm.pt", tmp_path / "wavlm_hf")
    assert (tmp_path / "wavlm_hf" / "config.json").is_file()
    from_s3prl = build_detector("wavlm_base", preset="tiny", checkpoint=tmp_path / "wavlm.pt", backend="mlp").eval()
    from_hf = build_detector("wavlm_base", preset="tiny", checkpoint=tmp_path / "wavlm_hf", backend="mlp").eval()
    assert from_s3prl.checkpoint_format == "s3prl" and from_hf.checkpoint_format == "transformers"
    from_hf.featurizer.load_state_dict(from_s3prl.featurizer.state_dict())
    from_hf.backend.load_state_dict(from_s3prl.backend.state_dict())
    x = 0.1 * torch.randn(2, 6000, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        for a, b in zip(from_s3prl.upstream.hidden_states(x), from_hf.upstream.hidden_states(x)):
            torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)
        torch.testing.assert_close(from_s3prl.score(x), from_hf.score(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("fmt", ["s3prl", "transformers"])
def test_fine_tuned_pipeline_checkpoint_round_trip(fmt, tmp_path):
    import shutil

    _write_s3prl(TINY_WAVLM, tmp_path / "wavlm.pt")
    backbone = tmp_path / "wavlm.pt"
    if fmt == "transformers":
        backbone = s3prl_wavlm_to_hf(backbone, tmp_path / "wavlm_hf")
    detector = build_detector("wavlm_large_aasist", preset="tiny", checkpoint=backbone).eval()
    assert detector.config.upstream_format == fmt
    save_checkpoint(detector, tmp_path / "pipeline.pt")
    (tmp_path / "wavlm.pt").unlink()  # the spoofbench checkpoint must not need the backbone again
    shutil.rmtree(tmp_path / "wavlm_hf", ignore_errors=True)
    loaded = build_detector("wavlm_large_aasist", checkpoint=tmp_path / "pipeline.pt").eval()
    x = 0.1 * torch.randn(2, 6000, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        torch.testing.assert_close(loaded.score(x), detector.score(x))


def test_missing_backbone_weights_say_where_to_put_them(tmp_path):
    with pytest.raises(CheckpointError, match="Nothing is downloaded.*--checkpoint PATH"):
        build_detector("wavlm_large", preset="default", checkpoint_path=None)
    with pytest.raises(CheckpointError, match="does not exist"):
        build_detector("wavlm_large", checkpoint=tmp_path / "WavLM-Large.pt")


def test_foreign_files_are_refused(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an s3prl/fairseq wavlm checkpoint"):
        build_detector("wavlm_base", preset="tiny", checkpoint=tmp_path / "other.pt")
    _write_s3prl(TINY_WAVLM, tmp_path / "wavlm.pt")
    s3prl_wavlm_to_hf(tmp_path / "wavlm.pt", tmp_path / "wavlm_hf")
    with pytest.raises(CheckpointError, match="model_type='wavlm'; this detector needs hubert"):
        build_detector("hubert_base", preset="tiny", checkpoint=tmp_path / "wavlm_hf")


def test_hubert_in_s3prl_converted_format_loads(tmp_path):
    from s3prl.upstream.hubert.hubert_model import HubertConfig, HubertModel, HubertPretrainingConfig

    model_cfg = {"label_rate": 50.0, "encoder_layers": 2, "encoder_embed_dim": 32, "encoder_ffn_embed_dim": 64,
                 "encoder_attention_heads": 4, "conv_pos": 16, "conv_pos_groups": 4, "final_dim": 16,
                 "conv_feature_layers": TINY_WAVLM["conv_feature_layers"]}
    task_cfg = {"sample_rate": 16000, "normalize": False, "label_rate": 50.0}
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = HubertModel(HubertConfig(**model_cfg), HubertPretrainingConfig(**task_cfg), [list("abc")])
    torch.save({"task_cfg": task_cfg, "model_cfg": model_cfg, "model_weight": model.state_dict(),
                "dictionaries_symbols": [list("abc")]}, tmp_path / "hubert.pt")
    detector = build_detector("hubert_base", preset="tiny", checkpoint=tmp_path / "hubert.pt").eval()
    assert detector.checkpoint_format == "s3prl" and detector.upstream.num_hidden == 3
    x = 0.1 * torch.randn(2, 6000, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        assert torch.isfinite(detector.score(x)).all()
    with pytest.raises(CheckpointError, match="not an s3prl/fairseq wavlm checkpoint"):
        build_detector("wavlm_base", preset="tiny", checkpoint=tmp_path / "hubert.pt")
