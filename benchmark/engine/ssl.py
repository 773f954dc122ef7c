"""Training options for self-supervised (SSL) front-ends: freezing and gradient checkpointing.

The Detector interface exposes no split between front-end and back-end, so the options act on
the front-end sub-module when the detector has one under a known attribute (``ssl``,
``upstream``, ``frontend_module``). Frozen-feature caching (``cache_features``) is set up by
the trainer after these options, in :mod:`.ssl_cache`.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from .config import SSLConfig

FRONTEND_ATTRIBUTES = ("ssl", "upstream", "frontend_module")


def find_frontend(detector: nn.Module) -> nn.Module | None:
    """The SSL front-end sub-module of ``detector``, or None."""
    for name in FRONTEND_ATTRIBUTES:
        module = getattr(detector, name, None)
        if isinstance(module, nn.Module):
            return module
    return None


def transformer_layers(module: nn.Module) -> nn.ModuleList | None:
    """The longest ``ModuleList`` named ``layers``/``layer`` inside ``module`` (the encoder stack)."""
    best = None
    for name, child in module.named_modules():
        if isinstance(child, nn.ModuleList) and name.rsplit(".", 1)[-1] in ("layers", "layer"):
            if best is None or len(child) > len(best):
                best = child
    return best


def apply_ssl_options(detector: nn.Module, cfg: SSLConfig) -> list[str]:
    """Apply ``cfg`` to ``detector``; returns notes on what was done (recorded in the run dir)."""
    wanted = cfg.freeze_frontend or cfg.freeze_layers > 0 or cfg.gradient_checkpointing
    if not wanted:
        return []
    frontend = find_frontend(detector)
    name = getattr(detector, "name", type(detector).__name__)
    if frontend is None:
        raise ConfigError(f"ssl options given but detector {name!r} has no SSL front-end (looked for "
                          f"attributes {', '.join(FRONTEND_ATTRIBUTES)})", field="ssl")
    notes: list[str] = []
    if cfg.freeze_frontend:
        for p in frontend.parameters():
            p.requires_grad_(False)
        notes.append("froze the whole front-end")
    elif cfg.freeze_layers > 0:
        layers = transformer_layers(frontend)
        if layers is None:
            raise ConfigError(f"no transformer layer stack found in {name!r}",
                              field="ssl.freeze_layers")
        for layer in list(layers)[: cfg.freeze_layers]:
            for p in layer.parameters():
                p.requires_grad_(False)
        notes.append(f"froze {min(cfg.freeze_layers, len(layers))} of {len(layers)} transformer layers")
    if cfg.gradient_checkpointing:
        enable: Any = getattr(frontend, "gradient_checkpointing_enable", None)
        if enable is None:
            enable = getattr(getattr(frontend, "model", None), "gradient_checkpointing_enable", None)
        if enable is not None:  # transformers models have their own switch
            enable()
            notes.append("enabled the front-end's own gradient checkpointing")
        else:
            layers = transformer_layers(frontend)
            if layers is None:
                raise ConfigError(f"the front-end of {name!r} has neither gradient_checkpointing_enable() "
                                  "nor a transformer layer stack to checkpoint", field="ssl.gradient_checkpointing")
            for layer in layers:
                checkpoint_layer(layer)
            notes.append(f"checkpointed {len(layers)} transformer layers (torch.utils.checkpoint)")
    return notes


def checkpoint_layer(layer: nn.Module) -> None:
    """Recompute ``layer``'s activations in the backward pass instead of storing them.

    Forward hooks on the layer (s3prl reads hidden states through them) still run, since only
    ``forward`` is wrapped. Active only while training with gradients enabled.
    """
    import functools

    from torch.utils.checkpoint import checkpoint

    original = layer.forward

    @functools.wraps(original)
    def forward(*args: Any, **kwargs: Any) -> Any:
        if layer.training and torch.is_grad_enabled():
            return checkpoint(original, *args, use_reentrant=False, **kwargs)
        return original(*args, **kwargs)

    layer.forward = forward
