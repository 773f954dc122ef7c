"""Device, precision and distributed set-up, and the environment record a run leaves behind."""
from __future__ import annotations

import contextlib
import os
import platform
import socket
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from ..errors import ConfigError


@dataclass(frozen=True)
class Runtime:
    """Where and how the engine computes: device, autocast dtype, process group rank/size."""
    device: torch.device
    precision: str             # fp32 | bf16 | fp16
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast for the chosen precision (a no-op for fp32)."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``auto`` → CUDA when present, else CPU; ``cuda`` without a GPU is a clear error."""
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device {device!r}; expected auto, cpu or cuda", field="device")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but torch sees no CUDA GPU; use --device auto or cpu",
                          field="device")
    if device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU."""
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise ConfigError("precision 'fp16' needs a GPU; use bf16 or fp32 on CPU", field="precision")
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def distributed_env() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's environment (``(0, 1, 0)`` without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    return rank, world, local


def usable_cpus() -> int:
    """CPU cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def scoring_precision(precision: str, device: torch.device) -> str:
    """Scoring's precision: ``auto`` is fp32 on every device, since scores are the measured output and
    bf16 moves AASIST's by up to 0.05 (enough to move an EER's 4th decimal); bf16/fp16 are opt-in."""
    return "fp32" if precision == "auto" else resolve_precision(precision, device)


def setup_runtime(device: str = "auto", precision: str = "auto") -> Runtime:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on GPU)."""
    rank, world, local = distributed_env()
    dev = resolve_device(device, local)
    if world > 1:
        import torch.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo",
                                    rank=rank, world_size=world)
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
    return Runtime(dev, resolve_precision(precision, dev), rank, world, local)


def configure_backends(benchmark: bool, deterministic: bool) -> None:
    """cuDNN autotuning and deterministic algorithms (recorded by :func:`environment_record`)."""
    torch.backends.cudnn.benchmark = bool(benchmark) and not deterministic
    torch.backends.cudnn.deterministic = bool(deterministic)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def environment_record(runtime: Runtime) -> dict[str, Any]:
    """Versions, device and backend settings of this run (written to ``environment.json``)."""
    record: dict[str, Any] = {
        "host": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
        "torch": torch.__version__, "device": str(runtime.device), "precision": runtime.precision,
        "world_size": runtime.world_size, "cpu_threads": torch.get_num_threads(),
        "cudnn": {"available": torch.backends.cudnn.is_available(),
                  "version": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                  "benchmark": torch.backends.cudnn.benchmark,
                  "deterministic": torch.backends.cudnn.deterministic,
                  "allow_tf32": torch.backends.cudnn.allow_tf32},
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }
    if runtime.device.type == "cuda":
        record["cuda"] = {"version": torch.version.cuda, "gpu": torch.cuda.get_device_name(runtime.device),
                          "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32}
    return record


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch inside a forked RNG state, leaving the caller's global RNG untouched."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run with ``count`` torch intra-op threads (0 leaves the setting alone), then restore it."""
    if count <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
