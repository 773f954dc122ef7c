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
            # the factory loads the weights; it still gets the overrides the checkpoint was trained with
            kwargs = {**self._accepted(_saved_overrides(checkpoint)), **kwargs, "checkpoint": checkpoint}
        elif checkpoint is not None:
            saved, state = _read_weights(checkpoint)
            kwargs = {**self._accepted(saved), **kwargs}  # a trained checkpoint remembers its overrides
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

    def _accepted(self, saved: dict) -> dict:
        """The saved overrides the factory can take (all of them when it takes ``**overrides``)."""
        if self._any_keyword:
            return {k: v for k, v in saved.items() if k not in ("preset", "checkpoint")}
        return {k: v for k, v in saved.items() if k in self._names and k not in ("preset", "checkpoint")}


def _saved_overrides(checkpoint: str | os.PathLike | None) -> dict:
    """The overrides recorded in a spoofbench checkpoint (``{}`` for none, a folder or any other file)."""
    if checkpoint is None or not os.path.isfile(checkpoint):
        return {}
    try:
        from .base import load_checkpoint_file

        payload = load_checkpoint_file(checkpoint)
    except Exception:  # not a torch file: the factory reads its own format
        return {}
    if isinstance(payload, dict) and "state_dict" in payload and isinstance(payload.get("config"), dict):
        return dict(payload["config"])
    return {}


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


class PluginCheckError(DetectorError):
    """A ``module:factory`` detector failed the check run before any training (one line, naming it)."""


def check_plugin(spec: str, preset: str | None = None, overrides: dict | None = None) -> dict[str, Any]:
    """Check a detector plugin the way a run will use it, in seconds, before any training.

    Builds ``spec`` with ``preset`` and ``overrides``; runs a probe batch of two clips through it in eval
    mode (logits ``(2, 2)``, finite) and, for a gradient-trained detector, in train mode with a backward
    pass that reaches its parameters; saves a spoofbench checkpoint and rebuilds it twice, as scoring does
    (from the checkpoint alone, and with the overrides again), requiring the same eval logits. Returns
    ``{"parameters", "probe_samples"}``; a failure is one :class:`PluginCheckError` line naming the plugin
    and the step. The global random state is left as it was.
    """
    import tempfile

    import torch

    from . import build_detector
    from .base import count_parameters, save_checkpoint

    overrides = dict(overrides or {})
    step = "build"
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            detector = build_detector(spec, preset, **overrides)
            step = "probe batch"
            waves, lengths = _probe_batch(detector)
            if detector.training_mode == "gradient":
                step = "probe batch (train mode, backward)"
                _train_probe(detector, waves, lengths)
            step = "probe batch (eval mode)"
            reference = _eval_probe(detector, waves, lengths)
            with tempfile.TemporaryDirectory(prefix="spoofbench-plugin-check-") as tmp:
                path = os.path.join(tmp, "probe.pt")
                step = "save checkpoint"
                save_checkpoint(detector, path)
                for how, again in (("reload checkpoint (as scoring a trained run does)", {}),
                                   ("reload checkpoint with the overrides", overrides)):
                    step = how
                    reloaded = build_detector(spec, preset, checkpoint=path, **again)
                    got = _eval_probe(reloaded, waves, lengths)
                    if not torch.allclose(got, reference, rtol=1e-4, atol=1e-5):
                        raise DetectorError("the reloaded detector gives other logits than the one saved "
                                            f"(max difference {float((got - reference).abs().max()):.3g}): "
                                            "does the factory rebuild the same architecture and load the "
                                            "weights?")
    except Exception as err:  # any failure of the user's code: one line, naming the plugin and the step
        text = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise PluginCheckError(f"detector plugin {spec!r}: plugin check failed at '{step}': "
                               f"{type(err).__name__}: {text[:300]}") from err
    return {"parameters": count_parameters(detector), "probe_samples": int(waves.shape[1])}


def _probe_batch(detector: Any):
    """Two seeded clips the detector accepts: its fixed window, else half a second (at least min_samples)."""
    import torch

    policy = detector.input_policy
    if policy.mode == "fixed":
        n = int(policy.num_samples)
    else:
        n = max(int(detector.min_samples), int(detector.sample_rate) // 2)
    generator = torch.Generator().manual_seed(0)
    waves = (torch.rand(2, n, generator=generator) * 2 - 1) * 0.5
    return waves, torch.full((2,), n, dtype=torch.int64)


def _eval_probe(detector: Any, waves: Any, lengths: Any):
    import torch

    detector.eval()
    with torch.no_grad():
        out = detector(waves, lengths)
    _check_logits(out, "eval")
    return out.detach().float()


def _train_probe(detector: Any, waves: Any, lengths: Any) -> None:
    import torch

    detector.train()
    out = detector(waves, lengths)
    _check_logits(out, "train")
    trainable = [p for p in detector.parameters() if p.requires_grad]
    if not trainable:
        raise DetectorError("training_mode is 'gradient' but the detector has no trainable parameters")
    loss = torch.nn.functional.cross_entropy(out, torch.tensor([0, 1]))
    loss.backward()
    if not any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in trainable):
        raise DetectorError("the loss does not reach any parameter (no gradient): is the output detached?")
    detector.zero_grad(set_to_none=True)


def _check_logits(out: Any, mode: str) -> None:
    import torch

    if not isinstance(out, torch.Tensor) or out.dim() != 2 or tuple(out.shape) != (2, 2):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise DetectorError(f"{mode} forward returned {shape}; expected logits (batch, 2), column 1 = bona fide")
    if not bool(torch.isfinite(out).all()):
        raise DetectorError(f"{mode} forward returned non-finite logits")
