"""``hf_audio_classification``: any Hugging Face ``AutoModelForAudioClassification`` checkpoint.

Many published deepfake detectors are transformers audio-classification checkpoints (wav2vec 2.0,
WavLM, HuBERT or AST with a classification head). This detector wraps one from a **local directory**
(``config.json`` + weights + ``preprocessor_config.json``); a hub id is fetched only with
``allow_download=True`` (``--allow-download``).

* Input: the feature extractor of the checkpoint is applied to each clip as it is (its sample rate,
  its normalisation, e.g. wav2vec 2.0's per-utterance zero-mean / unit-variance, AST's filter banks),
  so the model sees what it was trained on. The input policy itself therefore normalises nothing.
* Labels: ``bonafide_label`` names the label (or its index) that means bona fide; a two-label model
  whose labels include ``bonafide``/``bona-fide``/``bona fide``/``real``/``genuine``/``human`` needs
  no mapping, anything else must be told (``--bonafide-label real``).
* Logits ``(B, 2)``: ``[logsumexp(other labels' logits), bona fide logit]``, so cross-entropy on them
  trains the binary decision. ``score`` (higher = bona fide) is ``score_mode``:
  ``"log_odds"`` (default): log p(bona fide) − log p(not bona fide), which for a two-label model is
  the difference of the two logits; ``"logit"``: the raw bona fide logit.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spoofbench.errors import CheckpointError, DetectorError

from .base import Detector, DetectorFamily
from .policy import InputPolicy

BONAFIDE_NAMES = ("bonafide", "bona-fide", "bona fide", "bona_fide", "real", "genuine", "human")
_SCORE_MODES = ("log_odds", "logit")
_FREEZE = ("none", "feature_encoder", "base")
#: A ~50 k-parameter wav2vec 2.0 classifier: tests and the ``tiny`` preset (random init).
TINY_WAV2VEC2 = {"model_type": "wav2vec2", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "intermediate_size": 64, "conv_dim": [16] * 7, "num_conv_pos_embeddings": 16,
                 "num_conv_pos_embedding_groups": 4, "classifier_proj_size": 16,
                 "id2label": {0: "spoof", 1: "bonafide"}, "label2id": {"spoof": 0, "bonafide": 1}}
TINY_EXTRACTOR = {"feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1,
                  "sampling_rate": 16000, "padding_value": 0.0, "do_normalize": True,
                  "return_attention_mask": True}


@dataclass(frozen=True)
class HFAudioConfig:
    """``model_path``: a local transformers directory (or a hub id with ``allow_download``).

    ``architecture`` / ``feature_extractor``: the model's config and extractor as dicts, recorded
    when a directory is loaded so that a saved spoofbench checkpoint rebuilds without it, and used
    with ``random_init`` (tests, parameter counts)."""

    model_path: str | None = None
    bonafide_label: str | None = None
    score_mode: str = "log_odds"
    allow_download: bool = False
    random_init: bool = False
    architecture: dict = field(default_factory=dict)
    feature_extractor: dict = field(default_factory=dict)
    num_samples: int | None = None
    freeze: str = "none"


def _load_pretrained(c: HFAudioConfig) -> tuple[nn.Module, Any]:
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    where = Path(c.model_path).expanduser()
    local = where.is_dir()
    if not local and not c.allow_download:
        raise CheckpointError(
            f"{c.model_path}: not a local transformers directory (config.json + weights + "
            "preprocessor_config.json); nothing is downloaded unless asked: pass --allow-download "
            "(allow_download: true) to fetch a hub id")
    from transformers.utils import logging as hf_logging

    source = str(where) if local else c.model_path
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "Loading weights" bar per build would flood run logs
    try:
        model = AutoModelForAudioClassification.from_pretrained(source, local_files_only=local)
        extractor = AutoFeatureExtractor.from_pretrained(source, local_files_only=local)
    except Exception as err:  # transformers raises OSError/ValueError/KeyError for foreign dirs
        raise CheckpointError(f"{c.model_path}: transformers could not load it as an audio-classification "
                              f"model with a feature extractor: {err}") from err
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return model, extractor


def _plain(record: dict) -> dict:
    """A JSON-plain copy (what ``torch.load(weights_only=True)`` reads back), without load-time keys."""
    plain = json.loads(json.dumps(record, default=str))
    for key in ("transformers_version", "architectures", "_name_or_path", "torch_dtype", "dtype",
                "processor_class"):
        plain.pop(key, None)
    return plain


def _random_init(c: HFAudioConfig) -> tuple[nn.Module, Any]:
    from transformers import AutoConfig, AutoModelForAudioClassification
    from transformers import FeatureExtractionMixin

    arch = dict(c.architecture)
    if "model_type" not in arch:
        raise DetectorError("hf_audio_classification: random_init needs architecture['model_type']")
    arch["id2label"] = {int(k): v for k, v in arch.get("id2label", {}).items()} or None
    if arch["id2label"] is None:
        arch.pop("id2label")
    config = AutoConfig.for_model(arch.pop("model_type"), **arch)
    model = AutoModelForAudioClassification.from_config(config)
    extractor_dict = dict(c.feature_extractor or TINY_EXTRACTOR)
    kind = extractor_dict.get("feature_extractor_type", "Wav2Vec2FeatureExtractor")
    import transformers

    extractor_cls = getattr(transformers, kind, None)
    if extractor_cls is None or not issubclass(extractor_cls, FeatureExtractionMixin):
        raise DetectorError(f"hf_audio_classification: unknown feature_extractor_type {kind!r}")
    return model, extractor_cls.from_dict(extractor_dict)


def bonafide_index(id2label: dict, wanted: str | int | None, source: str) -> int:
    """Index of the bona fide label in ``id2label`` (a name, an index, or found by its usual names)."""
    labels = {int(k): str(v) for k, v in id2label.items()}
    if wanted is not None:
        text = str(wanted)
        by_name = [i for i, name in labels.items() if name == text]
        if by_name:
            return by_name[0]
        if text.isdigit() and int(text) in labels:
            return int(text)
        raise DetectorError(f"{source}: bona fide label {text!r} is not one of the model's labels "
                            f"{sorted(labels.values())} (nor an index 0..{len(labels) - 1})")
    found = [i for i, name in labels.items() if name.strip().lower() in BONAFIDE_NAMES]
    if len(labels) == 2 and len(found) == 1:
        return found[0]
    raise DetectorError(f"{source}: which label means bona fide? The model's labels are "
                        f"{[labels[i] for i in sorted(labels)]}; pass --bonafide-label NAME "
                        "(bonafide_label: NAME in a config)")


class HFAudioClassifier(Detector):
    """``waves`` (B, T) float32 → logits (B, 2) ``[others, bona fide]`` through a transformers classifier."""

    def __init__(self, c: HFAudioConfig, name: str = "hf_audio_classification"):
        super().__init__()
        if c.score_mode not in _SCORE_MODES:
            raise DetectorError(f"{name}: score_mode={c.score_mode!r}; expected one of {_SCORE_MODES}")
        if c.freeze not in _FREEZE:
            raise DetectorError(f"{name}: freeze={c.freeze!r}; expected one of {_FREEZE}")
        if c.random_init:
            self.model, self.extractor = _random_init(c)
        elif c.model_path:
            self.model, self.extractor = _load_pretrained(c)
            c = dataclasses.replace(c, architecture=_plain(self.model.config.to_dict()),
                                    feature_extractor=_plain(self.extractor.to_dict()))
        else:
            raise CheckpointError(f"{name}: no model: pass the local transformers directory as --checkpoint "
                                  "DIR (build_detector(..., checkpoint=DIR)) or model_path in the overrides")
        self.name, self.config = name, c
        self.bonafide = bonafide_index(self.model.config.id2label, c.bonafide_label, c.model_path or name)
        self.sample_rate = int(getattr(self.extractor, "sampling_rate", 16000))
        mode = ("fixed", c.num_samples) if c.num_samples else ("full", None)
        self.input_policy = InputPolicy(mode[0], mode[1], "repeat", "none")
        norm = getattr(self.extractor, "do_normalize", None)
        self.frontend = (f"{self.model.config.model_type} (transformers {type(self.extractor).__name__}"
                         + (f", normalize={norm}" if norm is not None else "") + ")")
        kernels, strides = getattr(self.model.config, "conv_kernel", None), getattr(self.model.config, "conv_stride", None)
        if kernels and strides:
            n = 1
            for kernel, stride in reversed(list(zip(kernels, strides))):
                n = (n - 1) * stride + kernel
            self.min_samples = n
        self._apply_freeze(c.freeze)

    @property
    def frontend_module(self) -> nn.Module:
        """The transformer body (for the engine's SSL options: freeze_layers, gradient checkpointing)."""
        return self.model.base_model

    def _apply_freeze(self, freeze: str) -> None:
        if freeze == "base":
            self.model.base_model.requires_grad_(False)
        elif freeze == "feature_encoder":
            encoder = getattr(self.model.base_model, "feature_extractor", None)
            if encoder is None:
                raise DetectorError(f"{self.name}: freeze='feature_encoder' but "
                                    f"{self.model.config.model_type} has no convolutional feature encoder")
            encoder.requires_grad_(False)

    def _inputs(self, waves: torch.Tensor, lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        clips = [w[: int(n)].detach().cpu().float().numpy() for w, n in zip(waves, lengths)]
        extracted = self.extractor(clips, sampling_rate=self.sample_rate, return_tensors="pt", padding=True)
        return {k: v.to(waves.device) for k, v in extracted.items()}

    def logits(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = self.model(**self._inputs(waves, lengths)).logits  # (B, num_labels)
        others = torch.cat([out[:, : self.bonafide], out[:, self.bonafide + 1:]], dim=1)
        return torch.stack([torch.logsumexp(others, dim=1), out[:, self.bonafide]], dim=1)

    def score(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) bona fide scores: log-odds (default) or the raw bona fide logit (``score_mode``)."""
        two = self.forward(waves, lengths)
        return two[:, 1] if self.config.score_mode == "logit" else two[:, 1] - two[:, 0]


def _prepare(config: HFAudioConfig, checkpoint: Any) -> HFAudioConfig | None:
    """A transformers directory (or, with ``allow_download``, a hub id) becomes ``model_path``;
    a spoofbench checkpoint file returns None (loaded by the family)."""
    path = Path(checkpoint).expanduser()
    if path.is_dir() or (not path.exists() and config.allow_download):
        return dataclasses.replace(config, model_path=str(checkpoint), random_init=False)
    if not path.exists():
        raise CheckpointError(f"{checkpoint}: no such file or directory; a hub id is fetched only with "
                              "--allow-download (allow_download: true)")
    return None


def _from_saved(config: HFAudioConfig) -> HFAudioConfig:
    """A saved detector carries its architecture and extractor: rebuild the skeleton, no directory."""
    return dataclasses.replace(config, random_init=True, model_path=None) if config.architecture else config


FAMILY = DetectorFamily(
    name="hf_audio_classification", config_cls=HFAudioConfig,
    presets={"default": HFAudioConfig(),
             "tiny": HFAudioConfig(random_init=True, architecture=TINY_WAV2VEC2,
                                   feature_extractor=TINY_EXTRACTOR, num_samples=8000)},
    default_preset="default", make=HFAudioClassifier, frontend="transformers audio classification",
    prepare_checkpoint=_prepare, from_saved_config=_from_saved)
