"""Neural codecs (EnCodec, SNAC, DAC) through their pip packages, from local weights only.

spoofbench never downloads weights. A ``neural`` step finds them at

* its ``weights:`` field: a file (EnCodec's ``.th`` state dict) or a folder (SNAC's hub layout:
  ``config.json`` + ``pytorch_model.bin``; DAC's transformers layout: ``config.json`` +
  ``model.safetensors``, as in huggingface ``descript/dac_16khz``; or a folder holding EnCodec's
  checkpoint), else
* the neural weights folder ``$SPOOFBENCH_NEURAL_WEIGHTS`` (default
  ``$XDG_CACHE_HOME/spoofbench/neural_codecs``, i.e. ``~/.cache/spoofbench/neural_codecs``), in
  ``<model>/`` (e.g. ``encodec_24khz/encodec_24khz-d7cc33bc.th``, ``snac_24khz/config.json``,
  ``dac_16khz/model.safetensors``).

The architecture is built by the package itself (``EncodecModel.encodec_model_24khz(pretrained=False)``,
``SNAC.from_config``, transformers' ``DacModel(DacConfig)``) and the state dict loaded into it
strictly, so a state dict of the wrong shape fails with the file's name. The weights' sha256 is part
of the condition's provenance and therefore of the codec cache key. The clip is resampled (soxr) to
the model's rate, coded (encode → quantise → decode), cut to the input's length and resampled back.
None of the three has a look-ahead delay to remove: EnCodec and SNAC are frame-aligned; DAC's
strided convolutions map frame ``j`` back onto samples ``[j·hop, (j+1)·hop)`` but its decoder
returns a few samples fewer than it was given (the stride-5 transposed convolution), so the clip is
zero-padded at the end by one hop beyond a whole number of hops before coding. DAC's bitrate is its
number of codebooks (``bandwidth`` / (frame rate × log2 codebook size), 0.5 kbit/s each at 16 kHz).
SNAC's decoder adds noise: it is drawn from a seed of the clip key, so coding is deterministic per
clip on a CPU.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from spoofbench.errors import CodecError


@dataclass(frozen=True)
class NeuralModel:
    """One neural codec architecture: its package, rate, weights layout and bitrates."""

    name: str
    package: str            # pip distribution
    module: str             # import name
    rate: int
    files: tuple[str, ...]  # the weights files a folder must hold
    bandwidths: tuple[float, ...] = ()
    default_bandwidth: float | None = None
    hub: str = ""           # where a user gets the weights (said in errors; never fetched)


MODELS: dict[str, NeuralModel] = {
    "encodec_24khz": NeuralModel("encodec_24khz", "encodec", "encodec", 24000, ("encodec_24khz-d7cc33bc.th",),
                                 (1.5, 3.0, 6.0, 12.0, 24.0), 6.0,
                                 "https://dl.fbaipublicfiles.com/encodec/v0/encodec_24khz-d7cc33bc.th"),
    "snac_24khz": NeuralModel("snac_24khz", "snac", "snac", 24000, ("config.json", "pytorch_model.bin"),
                              hub="huggingface hubertsiuzdak/snac_24khz (config.json, pytorch_model.bin)"),
    "snac_32khz": NeuralModel("snac_32khz", "snac", "snac", 32000, ("config.json", "pytorch_model.bin"),
                              hub="huggingface hubertsiuzdak/snac_32khz (config.json, pytorch_model.bin)"),
    "snac_44khz": NeuralModel("snac_44khz", "snac", "snac", 44100, ("config.json", "pytorch_model.bin"),
                              hub="huggingface hubertsiuzdak/snac_44khz (config.json, pytorch_model.bin)"),
    # descript/dac_16khz: 12 codebooks of 1024 at 50 frames/s, 0.5 kbit/s each (transformers' port)
    "dac_16khz": NeuralModel("dac_16khz", "transformers", "transformers", 16000, ("config.json", "model.safetensors"),
                             tuple(0.5 * k for k in range(1, 13)), 6.0,
                             "huggingface descript/dac_16khz (config.json, model.safetensors)"),
}
_LOCK = threading.RLock()


def weights_root() -> Path:
    """The neural weights folder (``$SPOOFBENCH_NEURAL_WEIGHTS``, else the user cache)."""
    if os.environ.get("SPOOFBENCH_NEURAL_WEIGHTS"):
        return Path(os.environ["SPOOFBENCH_NEURAL_WEIGHTS"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spoofbench" / "neural_codecs"


def find_weights(step) -> tuple[Path | None, str]:
    """``(path, "")`` of the weights ``step`` uses (a file for EnCodec, a folder for SNAC and DAC), or
    ``(None, why)`` naming where they were looked for."""
    spec = MODELS[step.model]
    candidates = [Path(step.weights).expanduser()] if step.weights else [weights_root() / spec.name, weights_root()]
    for place in candidates:
        if spec.module == "encodec":
            if place.is_file():
                return place, ""
            if (place / spec.files[0]).is_file():
                return place / spec.files[0], ""
        elif place.is_dir() and all((place / f).is_file() for f in spec.files):
            return place, ""
    looked = " or ".join(str(c) for c in candidates)
    need = spec.files[0] if spec.module == "encodec" else "a folder with " + " and ".join(spec.files)
    return None, (f"no weights for {spec.name}: expected {need} at {looked}; download them yourself from "
                  f"{spec.hub} and give the path as `weights:` or put them in {weights_root() / spec.name}")


@lru_cache(maxsize=32)
def _sha_file(path: str, size: int, mtime_ns: int) -> str:
    from spoofbench.hashing import sha256_file
    return sha256_file(path)


def weights_sha256(path: Path) -> str:
    """sha256 of the weights file, or of ``name:sha256`` lines of a folder's weights files."""
    import hashlib

    def one(p: Path) -> str:
        st = p.stat()
        return _sha_file(str(p), st.st_size, st.st_mtime_ns)
    if path.is_file():
        return one(path)
    digest = hashlib.sha256()
    for name in sorted(f.name for f in path.iterdir() if f.is_file() and f.suffix in (".json", ".bin", ".th",
                                                                                      ".pt", ".safetensors")):
        digest.update(f"{name}:{one(path / name)}\n".encode())
    return digest.hexdigest()


def device(step) -> str:
    """Where ``step`` codes: its ``device``, or with ``auto`` CUDA when torch sees a GPU, else the CPU."""
    return _device(step)


def _device(step) -> str:
    if step.device != "auto":
        return step.device
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def _version(package: str) -> str | None:
    from importlib import metadata
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _bandwidth(step) -> float | None:
    spec = MODELS[step.model]
    if not spec.bandwidths:
        if step.bandwidth is not None:
            raise CodecError(f"{spec.name} has a fixed bitrate; remove `bandwidth` ({step.bandwidth})")
        return None
    bandwidth = step.bandwidth if step.bandwidth is not None else spec.default_bandwidth
    if bandwidth not in spec.bandwidths:
        raise CodecError(f"{spec.name}: bandwidth {bandwidth} kbit/s is not one of {list(spec.bandwidths)}")
    return bandwidth


def provenance(step) -> dict:
    """Library, version, model, bandwidth, weights path and sha256, device; ``available`` and
    ``reason`` (package missing, weights absent, bad bandwidth)."""
    spec = MODELS[step.model]
    out = {"library": spec.package, "version": _version(spec.package), "model": spec.name,
           "model_rate": spec.rate, "bandwidth_kbps": step.bandwidth, "weights": None, "weights_sha256": None}
    if out["version"] is None:
        return {**out, "available": False, "reason": f"the {spec.package} package is not installed "
                                                     f"(pip install {spec.package})"}
    try:
        out["bandwidth_kbps"] = _bandwidth(step)
    except CodecError as err:
        return {**out, "available": False, "reason": str(err)}
    path, why = find_weights(step)
    if path is None:
        return {**out, "available": False, "reason": why}
    import torch
    return {**out, "weights": str(path), "weights_sha256": weights_sha256(path), "device": _device(step),
            "torch": torch.__version__, "available": True, "reason": ""}


def _load_state(path: Path):
    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file: torch raises many kinds
        raise CodecError(f"cannot read neural-codec weights {path}: {type(err).__name__}: {err}") from err


def build_model(model: str, path: Path, sha: str, device: str):
    """The architecture built by its package with the weights at ``path`` loaded (cached per sha)."""
    return _build(model, str(path), sha, device)


@lru_cache(maxsize=4)
def _build(model: str, path_text: str, sha: str, device: str):
    import warnings

    spec = MODELS[model]
    path = Path(path_text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the packages' weight_norm / jit.script notices
        if spec.module == "transformers":
            return _build_dac(spec, path).to(device).eval()
        if spec.module == "encodec":
            from encodec import EncodecModel
            net = EncodecModel.encodec_model_24khz(pretrained=False)  # the architecture, no download
            state, where = _load_state(path), path
        else:
            from snac import SNAC
            try:
                net = SNAC.from_config(str(path / "config.json"))
            except (OSError, ValueError, TypeError) as err:
                raise CodecError(f"{path / 'config.json'}: not a SNAC config: {err}") from err
            state, where = _load_state(path / "pytorch_model.bin"), path / "pytorch_model.bin"
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise CodecError(f"{where}: not {spec.name} weights: {str(err).splitlines()[0]}") from err
    if spec.module == "snac" and int(net.sampling_rate) != spec.rate:
        raise CodecError(f"{path / 'config.json'}: sampling_rate {net.sampling_rate}, expected {spec.rate} "
                         f"for {spec.name}")
    return net.to(device).eval()


def _dac_config(spec: NeuralModel, path: Path):
    """The folder's ``config.json`` as a transformers ``DacConfig`` (checked: a DAC config at the model's rate)."""
    import json

    from transformers import DacConfig

    where = path / "config.json"
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CodecError(f"{where}: not a DAC config: {type(err).__name__}: {err}") from err
    if not isinstance(data, dict) or data.get("model_type") != "dac":
        kind = data.get("model_type") if isinstance(data, dict) else type(data).__name__
        raise CodecError(f"{where}: model_type {kind!r}, expected 'dac' (a transformers DacModel folder "
                         f"such as {spec.hub})")
    try:
        config = DacConfig.from_dict(data)
    except Exception as err:  # huggingface_hub's strict dataclass validation raises its own kinds
        raise CodecError(f"{where}: not a valid DAC config: {str(err).splitlines()[0]}") from err
    if int(config.sampling_rate) != spec.rate:
        raise CodecError(f"{where}: sampling_rate {config.sampling_rate}, expected {spec.rate} for {spec.name}")
    return config


def _build_dac(spec: NeuralModel, path: Path):
    """transformers' ``DacModel`` built from the folder's config, its ``model.safetensors`` loaded
    strictly (no hub code path: nothing can be downloaded)."""
    from safetensors.torch import load_file
    from transformers import DacModel

    config = _dac_config(spec, path)
    where = path / "model.safetensors"
    try:
        net = DacModel(config)
    except (ValueError, RuntimeError) as err:  # e.g. a codebook size that is not a power of 2
        raise CodecError(f"{path / 'config.json'}: cannot build {spec.name}: {err}") from err
    try:
        state = load_file(str(where))
    except Exception as err:  # a truncated or foreign file: safetensors raises its own kinds
        raise CodecError(f"cannot read neural-codec weights {where}: {type(err).__name__}: {err}") from err
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as err:
        why = " ".join(line.strip() for line in str(err).splitlines()[:2])
        raise CodecError(f"{where}: not {spec.name} weights: {why[:300]}") from err
    return net


def dac_quantizers(net, bandwidth: float, where: Path) -> int:
    """How many of DAC's codebooks give ``bandwidth`` kbit/s (frame rate × log2 codebook size each)."""
    config = net.config
    per_codebook = config.sampling_rate / config.hop_length * np.log2(config.codebook_size) / 1000.0
    count = bandwidth / per_codebook
    if abs(count - round(count)) > 1e-6 or not 1 <= round(count) <= config.n_codebooks:
        raise CodecError(f"{where}: {bandwidth} kbit/s is not a whole number of codebooks between 1 and "
                         f"{config.n_codebooks} ({per_codebook:g} kbit/s each)")
    return int(round(count))


def code(x: np.ndarray, rate: int, step, seed: int) -> np.ndarray:
    """``x`` (n,) at ``rate`` → the neural codec's reconstruction, (n,) float64 at ``rate``."""
    return code_batch([x], rate, step, [seed])[0]


def _padded_length(spec: NeuralModel, net, n: int) -> int:
    """The length a clip of ``n`` samples (at the model's rate) is coded at: DAC's whole hops plus one
    (its decoder returns a few samples fewer than it is given); EnCodec and SNAC pad themselves."""
    if spec.module != "transformers":
        return n
    hop = int(net.config.hop_length)
    return (-(-n // hop) + 1) * hop


def _groups(spec: NeuralModel, lengths: list[int]) -> list[list[int]]:
    """Which clips share one forward pass. EnCodec is causal: all of them (the zeros after a short
    clip do not reach it). DAC's convolutions look both ways: only clips of one padded length, whose
    rows are then exactly their one-clip input. SNAC draws decoder noise per call: one clip each."""
    if spec.module == "encodec":
        return [list(range(len(lengths)))]
    if spec.module == "snac":
        return [[i] for i in range(len(lengths))]
    by_length: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        by_length.setdefault(n, []).append(i)
    return list(by_length.values())


def batches(step) -> bool:
    """True when :func:`code_batch` can put more than one clip of ``step``'s model in a forward pass."""
    return MODELS[step.model].module != "snac"


def _forward(spec: NeuralModel, net, x, bandwidth: float | None, where: Path):
    """Encode → quantise → decode ``x`` (batch, 1, T): the reconstruction (batch, T')."""
    if spec.module == "encodec":
        net.set_target_bandwidth(float(bandwidth))
        return net.decode(net.encode(x))[:, 0, :]
    if spec.module == "snac":
        return net.decode(net.encode(x))[:, 0, :]
    encoded = net.encode(x, n_quantizers=dac_quantizers(net, float(bandwidth), where))
    return net.decode(encoded.quantized_representation).audio_values


def code_batch(waves: list[np.ndarray], rate: int, step, seeds: list[int]) -> list[np.ndarray]:
    """Code several clips, as few forward passes as keep each clip's output its one-clip output (see
    :func:`_groups`; a group is zero-padded at the end to its longest clip and seeded by its first)."""
    import torch

    from spoofbench.audio_io import resample

    spec = MODELS[step.model]
    prov = provenance(step)
    if not prov["available"]:
        raise CodecError(prov["reason"])
    device = prov["device"]
    net = build_model(spec.name, Path(prov["weights"]), prov["weights_sha256"], device)
    at_rate = [np.asarray(resample(np.asarray(w, dtype=np.float32), rate, spec.rate), dtype=np.float32)
               for w in waves]
    padded = [_padded_length(spec, net, len(w)) for w in at_rate]
    coded: list[np.ndarray | None] = [None] * len(waves)
    for group in _groups(spec, padded):
        batch = np.zeros((len(group), 1, max(padded[i] for i in group)), np.float32)
        for row, i in enumerate(group):
            batch[row, 0, :len(at_rate[i])] = at_rate[i]
        with _LOCK, torch.inference_mode(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seeds[group[0]]) % (2 ** 63))
            y = _forward(spec, net, torch.from_numpy(batch).to(device), prov["bandwidth_kbps"], Path(prov["weights"]))
            y = y.float().cpu().numpy().astype(np.float64)
        for row, i in enumerate(group):
            coded[i] = y[row, :len(at_rate[i])]
    out = []
    for w, y_i in zip(waves, coded):
        back = resample(y_i, spec.rate, rate)
        back = back[:len(w)] if len(back) >= len(w) else np.concatenate([back, np.zeros(len(w) - len(back))])
        out.append(back)
    return out
