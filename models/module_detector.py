"""Detectors from a ``"pkg.module:factory"`` spec: a researcher's file, no packaging, no entry point.

``factory`` is a callable (function or ``Detector`` subclass) returning a
:class:`~spoofbench.models.Detector`; it is called with the detector's overrides as keyword
arguments (and ``preset=`` when one is asked for). A factory that takes ``checkpoint`` loads weights
itself; for any other, spoofbench loads a spoofbench checkpoint (or a plain state dict) into what it
built, so a trained module detector is rebuilt by ``spoofbench score --run`` like a built-in one.
"""
from __future__ import annotations

import inspect
import os
from typing import Any, Callable

from spoofbench.errors import DetectorError


class ModuleDetectorFactory:
    """The registry's builder contract ``(preset=None, checkpoint=None, **overrides)`` over ``factory``."""

    presets = {None: None}

    def __init__(self, spec: str, factory: Callable[..., Any]):
        if not callable(factory):
            raise DetectorError(f"detector {spec!r} is a {type(factory).__name__}; expected a callable "
                                "returning a spoofbench.models.Detector")
        self.spec, self.factory = spec, factory
        try:
            params = inspect.signature(factory).parameters
        except (TypeError, ValueError):  # some builtins have no signature: pass what was given
            params = {}
        self._any_keyword = not params or any(p.kind is p.VAR_KEYWORD for p in params.values())
        self._names = set(params)

    def __call__(self, preset: str | None = None, checkpoint: str | os.PathLike | None = None,
                 **overrides: Any):
        kwargs = dict(overrides)
        if preset is not None:
            if "preset" not in self._names and not self._any_keyword:
                raise DetectorError(f"detector {self.spec!r} takes no preset (asked for {preset!r})")
            kwargs["preset"] = preset
        loads_itself = "checkpoint" in self._names
        state = None
        if loads_itself:
            kwargs["checkpoint"] = checkpoint
        elif checkpoint is not None:
            saved, state = _read_weights(checkpoint)
            kwargs = {**saved, **kwargs}  # a trained checkpoint remembers the overrides it was built with
        try:
            detector = self.factory(**kwargs)
        except TypeError as err:  # a wrong override name or a missing argument
            raise DetectorError(f"detector {self.spec!r}: calling it with {sorted(kwargs)} failed: {err}") from err
        from .base import Detector, load_state_strict

        if not isinstance(detector, Detector):
            raise DetectorError(f"detector {self.spec!r} (module) built a {type(detector).__name__}, "
                                "not a spoofbench.models.Detector")
        if detector.name == Detector.name:
            detector.name = self.spec  # recorded in checkpoints and results
        if detector.config is None:
            detector.config = {k: v for k, v in kwargs.items() if k not in ("preset", "checkpoint")}
        if state is not None:
            load_state_strict(detector, state, checkpoint)
        return detector


def _read_weights(checkpoint: str | os.PathLike) -> tuple[dict, dict]:
    """(saved overrides, state dict) of a spoofbench checkpoint or a plain state dict."""
    import torch

    from .base import load_checkpoint_file

    payload = load_checkpoint_file(checkpoint)
    if isinstance(payload, dict) and "state_dict" in payload:
        saved = payload.get("config")
        return (dict(saved) if isinstance(saved, dict) else {}), payload["state_dict"]
    if isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        return {}, payload
    raise DetectorError(f"{checkpoint}: neither a spoofbench checkpoint nor a state dict")
