"""SSL pipelines: WavLM / HuBERT / wav2vec 2.0 (XLS-R) front-end + back-end, via s3prl or transformers.

``waves`` (B, T) → upstream hidden states (L+1) x (B, T', D) → softmax-weighted sum of the
layer-normalised layers (s3prl's Featurizer idea) → back-end → logits (B, 2):

* ``linear``: mean over frames → linear.
* ``mlp``: mean and std over frames → linear 256 → SELU → dropout → linear.
* ``aasist``: the SSL+AASIST recipe (Tak et al., 2022): linear D → 128 per frame, the (128 x T')
  map → max-pool 3 → BN → SELU → residual 2-D encoder (no time pooling: SSL frames are 20 ms) →
  AASIST graph stages and read-out.

The upstream is frozen (``freeze=True``: eval mode, no gradient) or fine-tuned. Weights come only
from a local path (``checkpoint=``): an s3prl/fairseq ``.pt`` or a transformers directory; the
``tiny`` presets build a small random-init upstream for tests. Clips of different lengths in one batch
go through the upstream in groups of equal length, so no padding reaches it, and (in eval mode) through
the back-end one by one, so scores do not depend on batch composition. In training with mixed lengths
the AASIST back-end sees the whole batch with shorter feature sequences tiled (batch statistics).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spoofbench.errors import DetectorError

from .aasist import GraphStages, ResidualBlock2d
from .base import Detector, DetectorFamily
from .policy import InputPolicy
from .ssl_checkpoints import (DEFAULT_CHECKPOINT_DIR, load_upstream, missing_checkpoint, random_upstream,
                              upstream_architecture)

_BASE_WAVLM = {"extractor_mode": "default", "encoder_layers": 12, "encoder_embed_dim": 768,
               "encoder_ffn_embed_dim": 3072, "encoder_attention_heads": 12, "layer_norm_first": False,
               "normalize": False, "relative_position_embedding": True, "gru_rel_pos": True,
               "num_buckets": 320, "max_distance": 800, "conv_bias": False}
_LARGE_WAVLM = {**_BASE_WAVLM, "extractor_mode": "layer_norm", "encoder_layers": 24,
                "encoder_embed_dim": 1024, "encoder_ffn_embed_dim": 4096, "encoder_attention_heads": 16,
                "layer_norm_first": True, "normalize": True}
TINY_WAVLM = {**_BASE_WAVLM, "encoder_layers": 2, "encoder_embed_dim": 32, "encoder_ffn_embed_dim": 64,
              "encoder_attention_heads": 4, "conv_pos": 16, "conv_pos_groups": 4, "num_buckets": 32,
              "max_distance": 64, "conv_feature_layers": "[(16,10,5)] + [(16,3,2)] * 4 + [(16,2,2)] * 2"}
_LARGE_HF = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
             "intermediate_size": 4096, "feat_extract_norm": "layer", "do_stable_layer_norm": True,
             "conv_bias": True}
_TINY_HF = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
            "conv_dim": [16] * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4}


@dataclass(frozen=True)
class SSLConfig:
    """``upstream``: "wavlm" | "hubert" | "wav2vec2"; ``checkpoint_path``: local weights (file or dir);
    ``architecture``: the upstream's config, used only for ``random_init`` (tests, counting)."""

    upstream: str = "wavlm"
    checkpoint_path: str | None = None
    random_init: bool = False
    architecture: dict = field(default_factory=dict)
    upstream_format: str = "s3prl"
    freeze: bool = True
    backend: str = "linear"
    mlp_dim: int = 256
    aasist_dim: int = 128
    aasist_filts: tuple = ((1, 32), (32, 32), (32, 64), (64, 64))
    gat_dims: tuple[int, int] = (64, 32)
    pool_ratios: tuple[float, ...] = (0.5, 0.5, 0.5, 0.5)
    temperatures: tuple[float, ...] = (2.0, 2.0, 100.0, 100.0)
    num_samples: int = 64600
    sample_rate: int = 16000


class LayerWeightedSum(nn.Module):
    """Softmax-weighted sum of L layer-normalised hidden states: L x (B, T, D) → (B, T, D)."""

    def __init__(self, num_layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_layers))

    def forward(self, hidden: list[torch.Tensor]) -> torch.Tensor:
        if len(hidden) != self.weights.numel():
            raise DetectorError(f"upstream gave {len(hidden)} hidden layers, expected {self.weights.numel()}")
        stacked = torch.stack([F.layer_norm(h, h.shape[-1:]) for h in hidden], dim=0)
        w = torch.softmax(self.weights, dim=0)
        return (w[:, None, None, None] * stacked).sum(0)


class AASISTBackend(nn.Module, GraphStages):
    """(B, T', D) SSL features → (B, 5 * gat_dims[1]) via the AASIST encoder and graph stages."""

    def __init__(self, in_dim: int, c: SSLConfig):
        super().__init__()
        self.proj = nn.Linear(in_dim, c.aasist_dim)
        self.first_bn = nn.BatchNorm2d(1)
        self.act = nn.SELU()
        filts = c.aasist_filts
        blocks = [filts[0], filts[1], filts[2], filts[3], filts[3], filts[3]]
        self.encoder = nn.Sequential(*[ResidualBlock2d(a, b, first=(i == 0), pool=(1, 1))
                                       for i, (a, b) in enumerate(blocks)])
        self.init_graph(filts[-1][-1], c.aasist_dim // 3, c.gat_dims, c.pool_ratios, c.temperatures)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = self.proj(feats).transpose(1, 2)[:, None]  # (B, 1, 128, T')
        x = self.act(self.first_bn(F.max_pool2d(x, (3, 3))))
        return self.graph_readout(self.encoder(x))


class SSLDetector(Detector):
    """``waves`` (B, T) → logits (B, 2) through an SSL upstream and a back-end."""

    def __init__(self, config: SSLConfig, name: str):
        super().__init__()
        self.name, self.config = name, config
        self.sample_rate = config.sample_rate
        self.input_policy = InputPolicy("fixed", config.num_samples, "repeat", "none")
        if config.random_init:
            self.upstream = random_upstream(config.upstream, dict(config.architecture), config.upstream_format)
        elif config.checkpoint_path:
            self.upstream = load_upstream(config.upstream, config.checkpoint_path, name)
            arch, fmt = upstream_architecture(self.upstream)
            if arch:  # record what was loaded, so a saved pipeline rebuilds without the backbone file
                config = dataclasses.replace(config, architecture=arch, upstream_format=fmt)
                self.config = config
        else:
            raise missing_checkpoint(name, config.upstream, None)
        up = self.upstream
        self.frontend = f"{config.upstream} SSL, {'frozen' if config.freeze else 'fine-tuned'}"
        self.checkpoint_format = "random-init" if config.random_init else up.fmt
        if config.freeze:
            up.requires_grad_(False)
        else:
            up.set_trainable_frontend(True)
            for pname, param in up.named_parameters():  # pre-training only (masked prediction)
                if pname.endswith(("mask_emb", "masked_spec_embed")):
                    param.requires_grad_(False)
        self.featurizer = LayerWeightedSum(up.num_hidden)
        d = up.hidden_dim
        if config.backend == "linear":
            self.backend = nn.Linear(d, 2)
        elif config.backend == "mlp":
            self.backend = nn.Sequential(nn.Linear(2 * d, config.mlp_dim), nn.SELU(), nn.Dropout(0.2),
                                         nn.Linear(config.mlp_dim, 2))
        elif config.backend == "aasist":
            self.aasist = AASISTBackend(d, config)
            self.backend = nn.Sequential(nn.Dropout(0.5), nn.Linear(self.aasist.hidden_dim, 2))
        else:
            raise DetectorError(f"{name}: backend={config.backend!r}; expected linear, mlp or aasist")
        self.min_samples = up.min_samples()
        if config.backend == "aasist":
            self.min_samples = up.min_samples() + 2 * 320  # max-pool 3 needs three frames

    def train(self, mode: bool = True) -> "SSLDetector":
        super().train(mode)
        if self.config.freeze:
            self.upstream.eval()
        return self

    def _features(self, waves: torch.Tensor) -> torch.Tensor:
        """(B, T) equal-length clips → (B, T', D) weighted-sum SSL features."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.freeze):
            hidden = self.upstream.hidden_states(waves)
        return self.featurizer(hidden)

    def _pool(self, feats: torch.Tensor) -> torch.Tensor:
        if self.config.backend == "linear":
            return feats.mean(1)
        if self.config.backend == "mlp":
            return torch.cat([feats.mean(1), feats.std(1, unbiased=False)], dim=1)
        return self.aasist(feats)

    def logits(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        groups = [(lengths == n).nonzero().flatten() for n in torch.unique(lengths).tolist()]
        if len(groups) == 1:
            return self.backend(self._pool(self._features(waves[:, : int(lengths[0])])))
        feats = [None] * waves.shape[0]
        for idx in groups:
            out = self._features(waves[idx, : int(lengths[idx[0]])])
            for j, i in enumerate(idx.tolist()):
                feats[i] = out[j]
        if self.config.backend == "aasist" and self.training:
            # batch statistics need the whole batch: tile shorter feature sequences to the longest
            longest = max(f.shape[0] for f in feats)
            tiled = [f.repeat(-(-longest // f.shape[0]), 1)[:longest] for f in feats]
            return self.backend(self._pool(torch.stack(tiled)))
        return self.backend(torch.stack([self._pool(f[None])[0] for f in feats]))


def _prepare(config: SSLConfig, checkpoint) -> SSLConfig | None:
    """A backbone weight file/dir becomes ``checkpoint_path``; a spoofbench checkpoint returns None."""
    from pathlib import Path

    path = Path(checkpoint).expanduser()
    if path.is_dir():
        return dataclasses.replace(config, checkpoint_path=str(path), random_init=False)
    if path.is_file():
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(payload, dict) and "detector" in payload and "state_dict" in payload:
            return None
        return dataclasses.replace(config, checkpoint_path=str(path), random_init=False)
    raise missing_checkpoint("ssl", config.upstream, path)


def _from_saved(config: SSLConfig) -> SSLConfig:
    """A saved pipeline holds every upstream weight: rebuild the skeleton, skip the backbone file
    (except HuBERT/wav2vec 2.0 loaded from s3prl's format, whose skeleton needs that file)."""
    if config.upstream_format == "transformers" or config.upstream == "wavlm":
        return dataclasses.replace(config, random_init=True)
    return config


def _family(name: str, upstream: str, arch: dict, backend: str, tiny_arch: dict, **extra: Any) -> DetectorFamily:
    fmt = "s3prl" if upstream == "wavlm" else "transformers"
    default = SSLConfig(upstream=upstream, architecture=arch, backend=backend, upstream_format=fmt, **extra)
    default_path = DEFAULT_CHECKPOINT_DIR / f"{name}.pt"
    if default_path.exists():
        default = dataclasses.replace(default, checkpoint_path=str(default_path))
    presets = {"default": default,
               "finetune": dataclasses.replace(default, freeze=False),
               "mlp": dataclasses.replace(default, backend="mlp"),
               "aasist": dataclasses.replace(default, backend="aasist", freeze=False),
               "tiny": dataclasses.replace(default, architecture=tiny_arch, random_init=True, checkpoint_path=None,
                                           aasist_dim=24, aasist_filts=((1, 4), (4, 4), (4, 8), (8, 8)),
                                           gat_dims=(8, 4), num_samples=4000)}
    if backend == "aasist":
        presets.pop("aasist")
    return DetectorFamily(name=name, config_cls=SSLConfig, presets=presets, default_preset="default",
                          make=lambda c: SSLDetector(c, name), frontend=upstream,
                          prepare_checkpoint=_prepare, from_saved_config=_from_saved)


FAMILIES = {
    "wavlm_base": _family("wavlm_base", "wavlm", _BASE_WAVLM, "linear", TINY_WAVLM),
    "wavlm_base_plus": _family("wavlm_base_plus", "wavlm", _BASE_WAVLM, "linear", TINY_WAVLM),
    "wavlm_large": _family("wavlm_large", "wavlm", _LARGE_WAVLM, "linear", TINY_WAVLM),
    "wavlm_large_aasist": _family("wavlm_large_aasist", "wavlm", _LARGE_WAVLM, "aasist", TINY_WAVLM,
                                  freeze=False),
    "hubert_base": _family("hubert_base", "hubert", {}, "linear", _TINY_HF),
    "hubert_large": _family("hubert_large", "hubert", _LARGE_HF, "linear", _TINY_HF),
    "xlsr_300m": _family("xlsr_300m", "wav2vec2", _LARGE_HF, "linear", _TINY_HF),
    "xlsr_300m_aasist": _family("xlsr_300m_aasist", "wav2vec2", _LARGE_HF, "aasist", _TINY_HF, freeze=False),
}
# module attributes, so that registry entries read "spoofbench.models.ssl:wavlm_base"
globals().update(FAMILIES)
