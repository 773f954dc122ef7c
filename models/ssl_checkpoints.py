"""Loading self-supervised (SSL) speech models from local checkpoints, and format conversion.

Two formats load, both offline:

* the official s3prl / fairseq file (``WavLM-Base.pt``: ``{"cfg": {...}, "model": state_dict}``; for
  HuBERT / wav2vec 2.0 s3prl's converted ``{"task_cfg", "model_cfg", "model_weight", ...}``), through
  ``s3prl.upstream.<kind>.expert.UpstreamExpert``;
* a Hugging Face transformers directory (``config.json`` + weights), through
  ``transformers.AutoModel.from_pretrained(dir, local_files_only=True)``.

``s3prl_wavlm_to_hf`` converts the first into the second (used by the tests to check that both
paths give the same hidden states).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spoofbench.errors import CheckpointError

_S3PRL_KEYS = {"wavlm": ("cfg", "model"), "hubert": ("model_cfg", "model_weight"),
               "wav2vec2": ("model_cfg", "model_weight")}
DEFAULT_CHECKPOINT_DIR = Path(os.environ.get("SPOOFBENCH_CHECKPOINTS",
                                             Path.home() / ".cache" / "spoofbench" / "checkpoints"))


def parse_conv_layers(spec: str) -> list[tuple[int, int, int]]:
    """fairseq's ``"[(512,10,5)] + [(512,3,2)] * 4"`` → list of (dim, kernel, stride), without eval."""
    layers: list[tuple[int, int, int]] = []
    for term in spec.split("+"):
        m = re.fullmatch(r"\s*\[\s*\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)\s*\]\s*(?:\*\s*(\d+))?\s*", term)
        if not m:
            raise CheckpointError(f"conv_feature_layers: cannot parse {term!r} in {spec!r}; "
                                  "expected terms like [(512,3,2)] * 4")
        layers += [(int(m[1]), int(m[2]), int(m[3]))] * int(m[4] or 1)
    return layers


class Upstream(nn.Module):
    """An SSL encoder: ``hidden_states(waves (B, T))`` → list of L+1 tensors (B, T', D)."""

    kind: str
    fmt: str
    hidden_dim: int
    num_hidden: int
    conv_layers: list[tuple[int, int, int]]
    normalize_wave: bool

    def num_frames(self, num_samples: int) -> int:
        n = num_samples
        for _, kernel, stride in self.conv_layers:
            n = (n - kernel) // stride + 1
        return n

    def min_samples(self) -> int:
        n = 1
        for _, kernel, stride in reversed(self.conv_layers):
            n = (n - 1) * stride + kernel
        return n


class S3PRLUpstream(Upstream):
    fmt = "s3prl"

    def __init__(self, kind: str, path: Path):
        super().__init__()
        import importlib

        expert_module = importlib.import_module(f"s3prl.upstream.{kind}.expert")
        try:
            self.expert = expert_module.UpstreamExpert(str(path))
        except Exception as err:  # s3prl raises RuntimeError/KeyError/TypeError for foreign files
            raise CheckpointError(f"{path}: s3prl could not load it as a {kind} checkpoint: {err}") from err
        self.kind = kind
        model = self.expert.model
        if kind == "wavlm":
            cfg = self.expert.cfg
            self.normalize_wave = bool(cfg.normalize)
            self.conv_layers = parse_conv_layers(cfg.conv_feature_layers)
            self.hidden_dim = int(cfg.encoder_embed_dim)
        else:
            self.normalize_wave = bool(getattr(self.expert.task_cfg, "normalize", False))
            self.conv_layers = [(c.out_channels, c.kernel_size[0], c.stride[0])
                                for c in (m[0] for m in model.feature_extractor.conv_layers)]
            self.hidden_dim = int(model.encoder.layers[0].fc2.out_features)
        self.num_hidden = len(model.encoder.layers) + 1

    def set_trainable_frontend(self, trainable: bool) -> None:
        self.expert.model.feature_grad_mult = 1.0 if trainable else 0.0

    def hidden_states(self, waves: torch.Tensor) -> list[torch.Tensor]:
        out = self.expert([w for w in waves])  # the expert normalises the waves itself when cfg says so
        return list(out["hidden_states"])


class HFUpstream(Upstream):
    fmt = "transformers"
    normalize_wave = False

    def __init__(self, kind: str, path: Path):
        super().__init__()
        import json

        from transformers import AutoConfig, AutoModel

        try:
            config = AutoConfig.from_pretrained(path, local_files_only=True)
        except Exception as err:
            raise CheckpointError(f"{path}: not a transformers model directory (config.json): {err}") from err
        model_type = getattr(config, "model_type", "?")
        expected = {"wavlm": ("wavlm",), "hubert": ("hubert",), "wav2vec2": ("wav2vec2",)}[kind]
        if model_type not in expected:
            raise CheckpointError(f"{path}: config.json model_type={model_type!r}; this detector needs {kind}")
        try:
            self.model = AutoModel.from_pretrained(path, local_files_only=True)
        except Exception as err:
            raise CheckpointError(f"{path}: transformers could not load the weights: {err}") from err
        self.kind = kind
        self.conv_layers = list(zip(config.conv_dim, config.conv_kernel, config.conv_stride))
        self.hidden_dim = int(config.hidden_size)
        self.num_hidden = int(config.num_hidden_layers) + 1
        prep = path / "preprocessor_config.json"
        if prep.is_file():
            self.normalize_wave = bool(json.loads(prep.read_text()).get("do_normalize", False))
        else:
            self.normalize_wave = config.feat_extract_norm == "layer"
        self.model.config.apply_spec_augment = False  # as s3prl's experts: no masking, no layer drop
        self.model.config.layerdrop = 0.0

    def set_trainable_frontend(self, trainable: bool) -> None:
        self.model.feature_extractor.requires_grad_(trainable)

    def hidden_states(self, waves: torch.Tensor) -> list[torch.Tensor]:
        if self.normalize_wave:  # as s3prl: layer norm over each whole clip
            waves = torch.nn.functional.layer_norm(waves, waves.shape[-1:])
        out = self.model(waves, output_hidden_states=True)
        # s3prl's convention: the last entry is the encoder output (after the final layer norm of
        # pre-LN models), which transformers returns as last_hidden_state
        return list(out.hidden_states[:-1]) + [out.last_hidden_state]


def load_upstream(kind: str, path: str | os.PathLike, detector: str) -> Upstream:
    """Load SSL weights of ``kind`` ("wavlm", "hubert", "wav2vec2") from a local file or directory."""
    path = Path(path).expanduser()
    if not path.exists():
        raise missing_checkpoint(detector, kind, path)
    if path.is_dir():
        return HFUpstream(kind, path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path}: cannot read as a torch checkpoint: {err}") from err
    needed = _S3PRL_KEYS[kind]
    if not isinstance(payload, dict) or not all(k in payload for k in needed):
        keys = sorted(payload)[:6] if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(
            f"{path}: not an s3prl/fairseq {kind} checkpoint: expected keys {list(needed)}, found {keys}"
            + ("; a spoofbench detector checkpoint goes to build_detector(checkpoint=...) of its own detector"
               if isinstance(payload, dict) and "detector" in payload else ""))
    del payload
    return S3PRLUpstream(kind, path)


def missing_checkpoint(detector: str, kind: str, path: Path | None) -> CheckpointError:
    where = f"{path} does not exist. " if path else ""
    return CheckpointError(
        f"{detector}: no pretrained {kind} weights. {where}Nothing is downloaded at run time: put the "
        f"official s3prl/fairseq checkpoint (e.g. {DEFAULT_CHECKPOINT_DIR / (detector + '.pt')}) or a "
        f"Hugging Face transformers directory (e.g. {DEFAULT_CHECKPOINT_DIR / detector}/ with config.json "
        "and the weights) there, or pass its path: --checkpoint PATH / build_detector(..., checkpoint=PATH)")


_HF_RENAMES = [
    (r"^mask_emb$", "masked_spec_embed"),
    (r"^layer_norm\.", "feature_projection.layer_norm."),
    (r"^post_extract_proj\.", "feature_projection.projection."),
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.", r"feature_extractor.conv_layers.\1.conv."),
    (r"^feature_extractor\.conv_layers\.(\d+)\.2\.(1\.)?", r"feature_extractor.conv_layers.\1.layer_norm."),
    (r"^encoder\.pos_conv\.0\.weight_g$", "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    (r"^encoder\.pos_conv\.0\.weight_v$", "encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    (r"^encoder\.pos_conv\.0\.bias$", "encoder.pos_conv_embed.conv.bias"),
    (r"\.self_attn\.grep_a$", ".attention.gru_rel_pos_const"),
    (r"\.self_attn\.grep_linear\.", ".attention.gru_rel_pos_linear."),
    (r"\.self_attn\.relative_attention_bias\.", ".attention.rel_attn_embed."),
    (r"\.self_attn\.", ".attention."),
    (r"\.self_attn_layer_norm\.", ".layer_norm."),
    (r"\.fc1\.", ".feed_forward.intermediate_dense."),
    (r"\.fc2\.", ".feed_forward.output_dense."),
]


def hf_wavlm_config(cfg: dict[str, Any]):
    """transformers ``WavLMConfig`` equivalent to an s3prl/fairseq WavLM ``cfg`` dict."""
    from transformers import WavLMConfig

    defaults = {"extractor_mode": "default", "encoder_layers": 12, "encoder_embed_dim": 768,
                "encoder_ffn_embed_dim": 3072, "encoder_attention_heads": 12, "activation_fn": "gelu",
                "layer_norm_first": False, "conv_bias": False, "conv_pos": 128, "conv_pos_groups": 16,
                "num_buckets": 320, "max_distance": 1280,
                "conv_feature_layers": "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"}
    c = {**defaults, **cfg}
    conv = parse_conv_layers(c["conv_feature_layers"])
    return WavLMConfig(
        hidden_size=c["encoder_embed_dim"], num_hidden_layers=c["encoder_layers"],
        num_attention_heads=c["encoder_attention_heads"], intermediate_size=c["encoder_ffn_embed_dim"],
        hidden_act=c["activation_fn"], conv_dim=[d for d, _, _ in conv], conv_kernel=[k for _, k, _ in conv],
        conv_stride=[s for _, _, s in conv], conv_bias=c["conv_bias"],
        feat_extract_norm="layer" if c["extractor_mode"] == "layer_norm" else "group",
        do_stable_layer_norm=c["layer_norm_first"], num_conv_pos_embeddings=c["conv_pos"],
        num_conv_pos_embedding_groups=c["conv_pos_groups"], num_buckets=c["num_buckets"],
        max_bucket_distance=c["max_distance"], apply_spec_augment=False)


def s3prl_wavlm_to_hf(checkpoint: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Convert an s3prl/fairseq WavLM ``.pt`` into a transformers directory (written atomically)."""
    from transformers import Wav2Vec2FeatureExtractor, WavLMModel

    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "cfg" not in payload or "model" not in payload:
        raise CheckpointError(f"{checkpoint}: expected an s3prl WavLM checkpoint {{'cfg', 'model'}}")
    cfg = dict(payload["cfg"])
    model = WavLMModel(hf_wavlm_config(cfg))
    state = {}
    for key, value in payload["model"].items():
        for pattern, repl in _HF_RENAMES:
            key = re.sub(pattern, repl, key)
        state[key] = value
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{checkpoint}: cannot map onto transformers WavLM: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    model.save_pretrained(tmp)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                             do_normalize=bool(cfg.get("normalize", False)),
                             return_attention_mask=True).save_pretrained(tmp)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir


def random_upstream(kind: str, arch: dict[str, Any], fmt: str = "s3prl") -> Upstream:
    """A randomly initialised upstream of architecture ``arch`` (s3prl cfg dict for ``fmt="s3prl"``,
    transformers config dict for ``fmt="transformers"``): tests, parameter counts, and the skeleton
    into which a saved fine-tuned pipeline loads. Not a detector anyone should score with untrained."""
    from transformers import AutoConfig, AutoModel

    on_meta = torch.empty(0).device.type == "meta"
    if fmt == "s3prl":
        if kind != "wavlm":
            raise CheckpointError(f"a random-init {kind} upstream in s3prl format is not supported; "
                                  "use the transformers format (upstream_format='transformers')")
        if not on_meta:
            return S3PRLUpstream.random(arch)
        # s3prl's WavLM initialisation cannot run on the meta device (used to count parameters without
        # allocating them); transformers' WavLM has the same parameters one for one (s3prl_wavlm_to_hf)
        config = hf_wavlm_config(arch)
    else:
        config = AutoConfig.for_model(kind, **arch)
    config.apply_spec_augment = False  # no SpecAugment masking inside the upstream, as for loaded ones
    config.layerdrop = 0.0  # every layer runs, so the weighted sum always sees L+1 hidden states
    up = HFUpstream.__new__(HFUpstream)
    nn.Module.__init__(up)
    up.model = AutoModel.from_config(config)
    up.kind = kind
    up.conv_layers = list(zip(config.conv_dim, config.conv_kernel, config.conv_stride))
    up.hidden_dim, up.num_hidden = int(config.hidden_size), int(config.num_hidden_layers) + 1
    up.normalize_wave = bool(arch.get("normalize", config.feat_extract_norm == "layer"))
    return up


def upstream_architecture(up: Upstream) -> tuple[dict[str, Any], str]:
    """(architecture dict, format) of a loaded upstream, enough to rebuild its skeleton."""
    if isinstance(up, S3PRLUpstream):
        if up.kind == "wavlm":
            return dict(vars(up.expert.cfg)), "s3prl"
        return {}, "s3prl"
    arch = up.model.config.to_diff_dict()
    for key in ("model_type", "transformers_version", "architectures", "_name_or_path", "torch_dtype", "dtype"):
        arch.pop(key, None)
    arch["normalize"] = up.normalize_wave
    return arch, "transformers"


#: The s3prl release whose UpstreamExpert internals ``_random_wavlm_expert`` mirrors (tested).
S3PRL_TESTED = "0.4.18"


def _random_wavlm_expert(cfg: dict[str, Any]):
    # Why we reach into s3prl: its WavLM UpstreamExpert can only be built from a checkpoint file, and a
    # random-init skeleton (tiny test presets, rebuilding a saved fine-tuned pipeline) must not need one;
    # so this subclass skips UpstreamExpert.__init__ and re-adds its hooks (checked against S3PRL_TESTED).
    from s3prl.upstream.interfaces import UpstreamBase
    from s3prl.upstream.wavlm import expert as wavlm_expert
    from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

    class RandomInitWavLMExpert(wavlm_expert.UpstreamExpert):
        """s3prl's WavLM expert with its hooks, but weights from random init instead of a file."""

        def __init__(self, cfg: dict[str, Any]):
            UpstreamBase.__init__(self)
            self.cfg = WavLMConfig(cfg)
            self.model = WavLM(self.cfg)
            self.model.feature_grad_mult = 0.0
            self.model.encoder.layerdrop = 0.0
            for i in range(len(self.model.encoder.layers)):
                self.add_hook(f"self.model.encoder.layers[{i}]", lambda input, output: input[0].transpose(0, 1))
            self.add_hook("self.model.encoder", lambda input, output: output[0])
            self._init_layerdrop = 0.0

    return RandomInitWavLMExpert(cfg)


def _s3prl_random(cls, cfg: dict[str, Any]) -> "S3PRLUpstream":
    up = cls.__new__(cls)
    nn.Module.__init__(up)
    up.expert = _random_wavlm_expert(cfg)
    up.kind = "wavlm"
    wcfg = up.expert.cfg
    up.normalize_wave = bool(wcfg.normalize)
    up.conv_layers = parse_conv_layers(wcfg.conv_feature_layers)
    up.hidden_dim = int(wcfg.encoder_embed_dim)
    up.num_hidden = len(up.expert.model.encoder.layers) + 1
    return up


S3PRLUpstream.random = classmethod(_s3prl_random)  # on our class; s3prl's own classes are not patched
