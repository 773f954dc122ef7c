"""What the machine and its software were when a run ran: versions, kernels, threads, device.

:func:`collect_environment` returns a JSON-able dict recorded in ``manifest.json``. Everything that
can move a score on the same code is here: package versions, the CPU model and the kernel libraries
torch and numpy dispatch to (MKL / oneDNN / OpenBLAS and the instruction set they chose), thread
counts, the device and deterministic-mode flags, ffmpeg and the native codec libraries, the audio
decoders and the resampler, and the lock the environment was installed from (its sha256 and
whether the installed set matches it). Each probe is guarded: a missing package is recorded as None, never raised.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

#: Distributions whose versions are recorded (distribution name → key in the record).
PACKAGES = ("spoofbench", "torch", "torchaudio", "torchcodec", "numpy", "scipy", "scikit-learn", "librosa",
            "soundfile", "av", "soxr", "s3prl", "transformers", "pandas", "threadpoolctl", "ffmpeg-python")
#: Environment variables that change kernels, threads or hashing.
ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
            "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY",
            "OPENBLAS_CORETYPE", "CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES")


def _guard(probe: Callable[[], Any]) -> Any:
    try:
        return probe()
    except Exception as err:  # a probe must never stop a run
        return f"unavailable ({type(err).__name__}: {err})"[:200]


def package_versions() -> dict[str, str | None]:
    """Installed versions (from package metadata, nothing is imported)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_info() -> dict[str, Any]:
    """CPU model, vendor, instruction-set flags that pick kernels, logical CPUs and usable CPUs."""
    info: dict[str, Any] = {"machine": platform.machine(), "logical_cpus": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        info["model"] = platform.processor() or None
        return info
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "vendor_id", "flags") and key not in fields:
            fields[key] = value.strip()
    info["model"] = fields.get("model name")
    info["vendor"] = fields.get("vendor_id")
    flags = set(fields.get("flags", "").split())
    info["isa"] = sorted(f for f in flags if f in {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16",
                                                   "avx512_vnni", "avx512bw", "amx_tile", "amx_bf16"})
    return info


def torch_info() -> dict[str, Any]:
    """torch build, kernels, threads, device and deterministic flags (torch is imported here)."""
    try:
        import torch
    except ImportError:
        return {"installed": False}
    out: dict[str, Any] = {
        "version": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": _guard(lambda: torch.backends.cudnn.version()),
        "cuda_available": torch.cuda.is_available(),
        "cpu_capability": _guard(lambda: torch.backends.cpu.get_cpu_capability()),
        "num_threads": torch.get_num_threads(), "num_interop_threads": torch.get_num_interop_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "mkl": _guard(lambda: torch.backends.mkl.is_available()),
        "mkldnn": _guard(lambda: torch.backends.mkldnn.is_available()),
        "float32_matmul_precision": _guard(torch.get_float32_matmul_precision),
    }
    config = _guard(torch.__config__.show)
    out["blas"] = _first(r"BLAS_INFO=(\w+)", config)
    out["kernel_libraries"] = [line.strip(" -") for line in str(config).splitlines()
                               if any(k in line for k in ("Math Kernel", "MKL-DNN", "oneDNN", "OpenMP", "OpenBLAS"))]
    parallel = _guard(torch.__config__.parallel_info)
    out["parallel_backend"] = _first(r"ATen parallel backend: (.+)", parallel)
    if torch.cuda.is_available():
        out["devices"] = [_guard(lambda i=i: torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())]
    return out


def _first(pattern: str, text: Any) -> str | None:
    match = re.search(pattern, str(text))
    return match.group(1).strip() if match else None


def numpy_info() -> dict[str, Any]:
    """numpy's BLAS/LAPACK and, through threadpoolctl, the kernels every loaded BLAS chose."""
    out: dict[str, Any] = {}
    try:
        import numpy
    except ImportError:
        return out
    config = _guard(lambda: numpy.show_config(mode="dicts"))
    if isinstance(config, dict):
        deps = config.get("Build Dependencies", {})
        out["blas"] = {k: deps.get("blas", {}).get(k) for k in ("name", "version")}
        out["lapack"] = {k: deps.get("lapack", {}).get(k) for k in ("name", "version")}
        out["simd_found"] = config.get("SIMD Extensions", {}).get("found")
    try:
        from threadpoolctl import threadpool_info
        pools: dict[str, Any] = {}
        for pool in threadpool_info():  # keyed by library: the load order varies between processes
            if pool.get("user_api") != "blas":
                continue
            name = f"{pool.get('internal_api')}:{Path(pool.get('filepath') or '?').name}"
            pools[name] = {k: pool.get(k) for k in ("version", "architecture", "num_threads", "threading_layer")}
        out["threadpools"] = dict(sorted(pools.items()))
    except ImportError:
        out["threadpools"] = None
    return out


def media_info() -> dict[str, Any]:
    """ffmpeg, PyAV's FFmpeg, libsndfile, the native codec libraries and the resampler."""
    out: dict[str, Any] = {"ffmpeg": None, "ffmpeg_path": shutil.which("ffmpeg")}
    if out["ffmpeg_path"]:
        def version() -> str:
            text = subprocess.run([out["ffmpeg_path"], "-version"], capture_output=True, text=True,
                                  timeout=20).stdout
            return text.splitlines()[0].split(" Copyright")[0] if text else "unknown"
        out["ffmpeg"] = _guard(version)
    try:
        from .. import audio_io
        out["decoders"] = _guard(audio_io.decoder_versions)
        out["resampler"] = _guard(audio_io.resampler_name)
    except ImportError:
        out["decoders"], out["resampler"] = None, None
    out["native_codecs"] = _guard(_native_codecs)
    return out


def _native_codecs() -> str:
    from ..codecs.native import NativeEngine
    return NativeEngine().provenance()["version"]


def collect_environment(*, device: str | None = None) -> dict[str, Any]:
    """Everything above in one JSON-able dict; ``device`` is the device the run asked for."""
    return {
        "python": sys.version.split()[0], "implementation": platform.python_implementation(),
        "platform": platform.platform(), "kernel": platform.release(),
        "cpu": cpu_info(), "packages": package_versions(), "torch": torch_info(), "numpy": numpy_info(),
        "media": media_info(), "device": {"requested": device, "name": _device_name(device)},
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
        "lock": _guard(_lock_record),
    }


def _lock_record() -> dict[str, Any]:
    from ..lockfile import lock_record
    return lock_record()


def _device_name(device: str | None) -> str:
    try:
        import torch
        if device in (None, "auto", "cuda") and torch.cuda.is_available():
            return f"cuda: {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return f"cpu: {cpu_info().get('model') or platform.processor() or 'unknown'}"
