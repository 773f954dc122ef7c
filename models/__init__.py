"""The ``Detector`` interface and the detector zoo.

``import spoofbench.models`` does not import torch: the registry holds lazy ``"module:attr"`` entries
and ``Detector``/``InputPolicy`` are loaded on first access. Third parties add detectors through the
``spoofbench.detectors`` entry-point group, or as a ``"module:factory"`` spec; the contract (factory,
``Detector.logits``, metadata) is stated once in README.md, "Bring your own detector".
"""
from __future__ import annotations

import os
from typing import Any

from spoofbench.registry import Registry, load_object

#: Builders: a DetectorFamily, a Detector subclass or a callable returning a Detector (checked when built).
DETECTORS: Registry = Registry("detector", "spoofbench.detectors", base="spoofbench.models.base:Detector",
                               factories=True)
for _name, _target in {
    "rawcnn_2m": "spoofbench.models.rawcnn:FAMILY",
    "aasist": "spoofbench.models.aasist:FAMILY",
    "aasist_l": "spoofbench.models.aasist:FAMILY_L",
    "rawnet2": "spoofbench.models.rawnet2:FAMILY",
    "lfcc_lcnn": "spoofbench.models.lfcc:LCNN_FAMILY",
    "lfcc_gmm": "spoofbench.models.lfcc:GMM_FAMILY",
    "hf_audio_classification": "spoofbench.models.hf:FAMILY",
    "ge2e_speaker_head": "spoofbench.models.pretrained_encoder:FAMILY",
    **{name: f"spoofbench.models.ssl:{name}" for name in (
        "wavlm_base", "wavlm_base_plus", "wavlm_large", "wavlm_large_aasist", "hubert_base",
        "hubert_large", "xlsr_300m", "xlsr_300m_aasist")},
}.items():
    DETECTORS.register(_name, _target)
DETECTORS.mark_builtins()

__all__ = ["DETECTORS", "Detector", "DetectorFamily", "InputPolicy", "build_detector", "check_plugin",
           "count_parameters", "resolve_detector", "save_checkpoint"]


def resolve_detector(name_or_spec: str) -> Any:
    """The builder of a registered detector name, or of a ``"pkg.module:factory"`` spec (see
    :mod:`spoofbench.models.module_detector`); unknown names raise ``UnknownPluginError``."""
    if name_or_spec not in DETECTORS and ":" in name_or_spec:
        from .base import DetectorFamily
        from .module_detector import ModuleDetectorFactory

        factory = load_object(name_or_spec, what="detector")
        return factory if isinstance(factory, DetectorFamily) else ModuleDetectorFactory(name_or_spec, factory)
    return DETECTORS.get(name_or_spec)


def build_detector(name: str, preset: str | None = None, checkpoint: str | os.PathLike | None = None,
                   **overrides: Any):
    """Build detector ``name`` (preset, optional checkpoint: spoofbench, official or backbone weights).

    ``name`` is a registered detector or a ``"pkg.module:factory"`` spec (``--model-module``)."""
    from .base import Detector

    builder = resolve_detector(name)
    detector = builder(preset=preset, checkpoint=checkpoint, **overrides)
    if not isinstance(detector, Detector):
        from spoofbench.errors import DetectorError
        source = DETECTORS.source(name) if name in DETECTORS else "module"
        raise DetectorError(f"detector {name!r} ({source}) built a "
                            f"{type(detector).__name__}, not a spoofbench.models.Detector")
    return detector


def presets(name: str) -> list[str]:
    """Preset names of detector ``name`` (``[None]`` for a plugin without presets)."""
    builder = resolve_detector(name)
    return list(getattr(builder, "presets", {None: None}))


def __getattr__(attr: str) -> Any:
    if attr in ("Detector", "count_parameters", "DetectorFamily", "save_checkpoint"):
        from . import base
        return getattr(base, attr)
    if attr in ("InputPolicy", "collate"):
        from . import policy
        return getattr(policy, attr)
    if attr in ("check_plugin", "PluginCheckError"):
        from . import module_detector
        return getattr(module_detector, attr)
    raise AttributeError(f"module 'spoofbench.models' has no attribute {attr!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
