"""Apply a :class:`~.channel.ChannelCondition` to one clip, in this process; its provenance.

Every step runs in-process on numpy arrays (no process per clip). Output: ``(T',)`` float32 at the
input rate; ``T' == T`` unless the chain holds ``vad_trim`` (shorter) or ``silence_pad`` (longer).
The scoring engine and training augmentation take clips of any length (the detector's input policy
crops, pads or repeats them), so a trimmed clip needs nothing else downstream.

Cache key (:meth:`.cache.CodecCache.make_key`): the input samples and rate, the condition record,
the provenance (every step's library and version; the weights' sha256 of neural codecs and of the
silero-vad model; the definition and engine of each composed codec) and, for random conditions,
the clip key. Classic :class:`~.condition.CodecCondition` keys are computed as before.
"""
from __future__ import annotations

import hashlib
from importlib import metadata
from typing import Any, Callable

import numpy as np

from spoofbench.errors import CodecError

from . import channel_dsp, neural, vad
from .channel import ChannelCondition

_LIBRARIES = {"resample": ("soxr", "scipy"), "loudness": ("pyloudnorm",), "noise": ("colorednoise",),
              "clip": ("numpy",), "band": ("scipy",), "reverb": ("pyroomacoustics", "scipy"),
              "replay": ("pyroomacoustics", "scipy", "colorednoise"), "silence_pad": ("numpy",)}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def step_seed(condition_id: str, index: int, step_seed_value: int, key: str) -> int:
    """A 64-bit seed from the condition, the step's position and seed, and the clip key."""
    text = f"{condition_id}\0{index}\0{step_seed_value}\0{key}"
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


#: How a composed codec step is coded and described: set by :mod:`.apply` when it is imported (it dispatches
#: channel conditions to this module, so this module does not import it back: no cycle).
_CODEC_FUNCTIONS: tuple[Callable[..., Any], Callable[..., dict]] | None = None


def use_codec_functions(apply_condition: Callable[..., Any], condition_provenance: Callable[..., dict]) -> None:
    """Register how a ``codec`` step codes a clip and names its engine (called by :mod:`.apply`)."""
    global _CODEC_FUNCTIONS
    _CODEC_FUNCTIONS = (apply_condition, condition_provenance)


def _codec_functions() -> tuple[Callable[..., Any], Callable[..., dict]]:
    if _CODEC_FUNCTIONS is None:  # pragma: no cover - importing spoofbench.codecs registers them
        raise CodecError("composed codec steps need spoofbench.codecs.apply: import spoofbench.codecs first")
    return _CODEC_FUNCTIONS


def step_provenance(step: Any) -> dict:
    """What runs ``step`` here: libraries and versions (plus weights / model hashes), ``available``."""
    if step.kind == "neural":
        return {"kind": "neural", **neural.provenance(step)}
    if step.kind == "vad_trim":
        return {"kind": "vad_trim", **vad.provenance()}
    if step.kind == "codec":
        from .catalog import get_condition
        condition_provenance = _codec_functions()[1]
        try:
            inner = get_condition(step.id)
        except Exception as err:  # an unknown id: reported, not raised, in listings
            return {"kind": "codec", "id": step.id, "available": False, "reason": str(err)}
        prov = condition_provenance(inner)
        return {"kind": "codec", "id": step.id, "definition": inner.to_dict(), **prov}
    libraries = _LIBRARIES[step.kind]
    if step.kind == "resample":
        libraries = (step.resampler,)
    versions = {lib: _version(lib) for lib in libraries}
    missing = [lib for lib, v in versions.items() if v is None]
    return {"kind": step.kind, "library": ", ".join(libraries),
            "version": ", ".join(f"{lib} {v}" for lib, v in versions.items()),
            "available": not missing, "reason": f"not installed: {', '.join(missing)}" if missing else ""}


def channel_provenance(condition: ChannelCondition) -> dict:
    """The condition-level record (the shape of ``condition_provenance``) plus one per step."""
    steps = [step_provenance(s) for s in condition.steps]
    bad = [f"step {i + 1} ({s['kind']}): {s['reason']}" for i, s in enumerate(steps) if not s["available"]]
    libraries = []
    for s in steps:
        lib = s.get("library") or s.get("engine")
        if lib and lib not in libraries:
            libraries.append(str(lib))
    return {"condition": condition.id, "codec": condition.codec, "encoder": "", "engine": "in-process",
            "library": ", ".join(libraries), "version": "; ".join(str(s.get("version")) for s in steps),
            "simulation": condition.is_simulation, "keeps_length": condition.keeps_length,
            "steps": steps, "available": not bad, "reason": "; ".join(bad)}


def _apply_step(x: np.ndarray, rate: int, step: Any, seed: int, key: str, cache) -> np.ndarray:
    kind = step.kind
    if kind == "resample":
        return channel_dsp.resample_chain(x, rate, step)
    if kind == "loudness":
        return channel_dsp.loudness(x, rate, step)
    if kind == "noise":
        return channel_dsp.add_noise(x, rate, step, seed, key)
    if kind == "clip":
        return channel_dsp.clip(x, step)
    if kind == "band":
        return channel_dsp.band(x, rate, step.low, step.high, step.order)
    if kind == "reverb":
        return channel_dsp.reverb(x, rate, step)
    if kind == "replay":
        return channel_dsp.replay(x, rate, step, seed)
    if kind == "vad_trim":
        return vad.vad_trim(x, rate, step)
    if kind == "silence_pad":
        return channel_dsp.silence_pad(x, rate, step)
    if kind == "neural":
        return neural.code(x, rate, step, seed)
    if kind == "codec":
        apply_condition = _codec_functions()[0]
        # composed codecs use the same cache; their own keys are the ones they have alone
        return np.asarray(apply_condition(x.astype(np.float32), rate, step.id, key=key, cache=cache),
                          dtype=np.float64)
    raise CodecError(f"unknown step kind {kind!r}")  # pragma: no cover - the union type forbids it


def run_chain(x: np.ndarray, rate: int, condition: ChannelCondition, key: str, cache=None) -> np.ndarray:
    """The steps in order on ``x`` (float64); errors name the step."""
    y = x
    for i, step in enumerate(condition.steps):
        try:
            y = _apply_step(y, rate, step, step_seed(condition.id, i, getattr(step, "seed", 0), key), key, cache)
        except CodecError as err:
            raise CodecError(f"step {i + 1} ({step.kind}): {err}") from err
        if len(y) == 0:
            raise CodecError(f"step {i + 1} ({step.kind}) left an empty clip")
    if not np.all(np.isfinite(y)):
        raise CodecError("the chain produced NaN or infinite samples")
    return y


def run_chain_batch(xs: list[np.ndarray], rate: int, condition: ChannelCondition, keys: list[str],
                    cache=None) -> list[np.ndarray]:
    """:func:`run_chain` on several clips: each ``neural`` step codes all of them with one
    :func:`.neural.code_batch` call (each clip with the seed :func:`run_chain` gives it), every other
    step runs per clip. A failure of any clip raises (errors name the step); callers that need one
    result per clip fall back to :func:`run_chain` clip by clip."""
    ys = list(xs)
    for i, step in enumerate(condition.steps):
        seeds = [step_seed(condition.id, i, getattr(step, "seed", 0), key) for key in keys]
        try:
            if step.kind == "neural":
                ys = neural.code_batch(ys, rate, step, seeds)
            else:
                ys = [_apply_step(y, rate, step, seed, key, cache) for y, seed, key in zip(ys, seeds, keys)]
        except CodecError as err:
            raise CodecError(f"step {i + 1} ({step.kind}): {err}") from err
        empty = [key for key, y in zip(keys, ys) if len(y) == 0]
        if empty:
            raise CodecError(f"step {i + 1} ({step.kind}) left an empty clip ({empty[0]!r})")
    bad = [key for key, y in zip(keys, ys) if not np.all(np.isfinite(y))]
    if bad:
        raise CodecError(f"the chain produced NaN or infinite samples ({bad[0]!r})")
    return ys


def batches_well(condition: ChannelCondition) -> bool:
    """True when :func:`run_chain_batch` codes several clips per forward pass: a ``neural`` step of a
    model that batches (EnCodec, DAC; SNAC codes one clip per pass, so it gains nothing)."""
    return any(step.kind == "neural" and neural.batches(step) for step in condition.steps)


def is_random(condition: ChannelCondition) -> bool:
    """True when the output depends on the clip key: a seeded step, or a composed random codec."""
    if condition.is_random:
        return True
    from .catalog import get_condition
    return any(get_condition(cid).is_random for cid in condition.codec_ids)


def cache_key(cache, wave: np.ndarray, rate: int, condition: ChannelCondition, key: str) -> str:
    """The codec-cache key of one clip through ``condition`` (see the module docstring)."""
    prov = channel_provenance(condition)
    return cache.make_key(wave, rate, condition.to_dict(), prov, key if is_random(condition) else "")
