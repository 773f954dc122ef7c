"""Count the tensor elements of a wheel's weight files in the operator's process, running nothing from them.

A wheel submission's parameter count comes from its own (sandboxed) code, so it is only *reported*.
What the operator can read without running submitted code is the weight files the wheel ships:

- ``.safetensors``: only the 8-byte length and the JSON header are read (straight from the wheel's zip
  member, never the tensor data): each tensor's dtype and shape, with the header validated as the
  format requires (known dtype, non-negative shape, byte ranges that match the shape and tile the data
  section exactly, no duplicate names). The header is capped at ``max_header_bytes`` (8 MiB holds
  about 100,000 tensors; the safetensors library itself allows 100 MB).
- ``.pt``, ``.pth``, ``.bin``, ``.ckpt``: extracted (at most ``max_file_bytes``) into the operator's
  scratch folder and read with ``torch.load(weights_only=True, mmap=True, map_location="cpu")``: the
  restricted unpickler builds only tensors and plain containers and refuses any other global (a pickle
  that would run code is refused, not run); storages are memory-mapped, never read in. The pickle part
  is capped at ``max_pickle_bytes``, which bounds the objects it can make.

Members of the zip are checked before anything is read: names that are absolute or climb out (``..``),
symlinks, encrypted members, duplicate names, more than ``max_files`` weight files, a declared size over
``max_file_bytes``, or more than ``max_total_bytes`` read over all of them are refused. A refused file is
reported with its reason and contributes no count; nothing here raises for a hostile file.

The rule (see :meth:`WeightsCount.match`): a file's count is the number of elements of its
floating-point (and complex) tensors, each storage view counted once (tied weights in a ``.pt`` share a
storage); integer and boolean tensors (``num_batches_tracked``, index tables) are not parameters. Because
a state dict also holds BatchNorm's running statistics (buffers, not parameters), each file has a second
count without tensors named ``*running_mean`` / ``*running_var``. Which file the detector loads is
unknowable without running it, so the reported count *matches* when it equals, exactly, one of these
counts for one file or for all readable files together. Exactly, because both sides count the same
integers; any tolerance would let a slightly-off claim pass. A match says the claim agrees with the
weights shipped, not that the detector loads them: the submitted code could still build something else.
"""
from __future__ import annotations

import json
import os
import stat
import struct
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

SAFETENSORS = ".safetensors"
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
#: Bits per element of every safetensors dtype (sub-byte floats included).
DTYPE_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16,
              "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "I64": 64, "U64": 64, "F64": 64,
              "C64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}
RUNNING_STATS = ("running_mean", "running_var")
MAX_DIMS = 64


class WeightsRefused(Exception):
    """One weight file is refused; its message is the reason (one line)."""


@dataclass(frozen=True)
class WeightLimits:
    """What the operator's process reads of a wheel's weight files, at most."""

    max_header_bytes: int = 8 << 20
    max_file_bytes: int = 2 << 30
    max_total_bytes: int = 4 << 30
    max_pickle_bytes: int = 64 << 20
    max_files: int = 32
    max_objects: int = 2_000_000


@dataclass(frozen=True)
class WeightFile:
    """One weight file of the wheel: its counts, or why it was refused."""

    name: str
    elements: int | None = None
    without_running_stats: int | None = None
    tensors: int = 0
    refused: str | None = None


@dataclass
class WeightsCount:
    files: list[WeightFile] = field(default_factory=list)

    def readable(self) -> list[WeightFile]:
        return [f for f in self.files if f.refused is None]

    def candidates(self) -> dict[str, int]:
        """``{what: count}``: each readable file's counts, and all readable files' together (if several)."""
        found: dict[str, int] = {}
        readable = self.readable()
        groups = [(f.name, [f]) for f in readable]
        if len(readable) > 1:
            groups.append(("all weight files together", readable))
        for what, files in groups:
            total = sum(int(f.elements or 0) for f in files)
            found[what] = total
            bare = sum(int(f.without_running_stats or 0) for f in files)
            if bare != total:
                found[f"{what}, BatchNorm running statistics left out"] = bare
        return found

    def match(self, reported: Any) -> str | None:
        """What the reported count equals (exactly), or None; a non-integer report matches nothing."""
        if not isinstance(reported, int) or isinstance(reported, bool):
            return None
        return next((what for what, count in self.candidates().items() if count == reported), None)

    def to_list(self) -> list[dict]:
        return [{k: v for k, v in vars(f).items() if v is not None} for f in self.files]


def weight_members(archive: zipfile.ZipFile, limits: WeightLimits) -> tuple[list[zipfile.ZipInfo], list[WeightFile]]:
    """The wheel's weight-file members that may be read, and those refused before reading (with why)."""
    duplicated = {n for n, k in Counter(archive.namelist()).items() if k > 1}
    members, refused = [], []
    for info in archive.infolist():
        if not info.filename.lower().endswith((SAFETENSORS, *TORCH_SUFFIXES)):
            continue
        problem = _member_problem(info, limits)
        if info.filename in duplicated:
            problem = "the wheel holds two members of this name"
        if problem is None and len(members) >= limits.max_files:
            problem = f"more than {limits.max_files} weight files in the wheel"
        if problem:
            refused.append(WeightFile(info.filename, refused=problem))
        else:
            members.append(info)
    return members, refused


def _member_problem(info: zipfile.ZipInfo, limits: WeightLimits) -> str | None:
    name = info.filename
    parts = PurePosixPath(name).parts
    if name.startswith("/") or "\\" in name or "\0" in name or ".." in parts or ":" in (parts[0] if parts else ""):
        return "an unsafe member name (absolute, or climbing out with ..)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if info.flag_bits & 0x1:
        return "an encrypted member"
    if info.file_size > limits.max_file_bytes:
        return f"{info.file_size:,} bytes, over the limit of {limits.max_file_bytes:,}"
    return None


def count_wheel_weights(wheel: str | os.PathLike, scratch: str | os.PathLike,
                        limits: WeightLimits = WeightLimits()) -> WeightsCount:
    """Count every weight file in ``wheel`` (see the module docstring); ``.pt`` files are extracted into
    ``scratch`` (a folder of the operator's). Raises :class:`WeightsRefused` only for an unreadable wheel."""
    count = WeightsCount()
    budget = [limits.max_total_bytes]
    try:
        with zipfile.ZipFile(wheel) as archive:
            members, count.files = weight_members(archive, limits)
            for i, info in enumerate(members):
                count.files.append(_count_member(archive, info, Path(scratch) / f"weights-{i}", limits, budget))
    except (zipfile.BadZipFile, OSError) as err:
        raise WeightsRefused(f"{Path(wheel).name}: not a readable wheel ({err})") from err
    count.files.sort(key=lambda f: f.name)
    return count


def _count_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, scratch: Path, limits: WeightLimits,
                  budget: list[int]) -> WeightFile:
    try:
        if info.filename.lower().endswith(SAFETENSORS):
            with archive.open(info) as stream:
                counts = safetensors_counts(stream, info.file_size, limits, budget)
        else:
            scratch.parent.mkdir(parents=True, exist_ok=True)
            _extract(archive, info, scratch, budget)
            try:
                counts = torch_counts(scratch, limits)
            finally:
                scratch.unlink(missing_ok=True)
    except WeightsRefused as err:
        return WeightFile(info.filename, refused=str(err))
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError, ValueError) as err:
        return WeightFile(info.filename, refused=f"unreadable member ({type(err).__name__}: {_line(err)})")
    return WeightFile(info.filename, *counts)


def _take(budget: list[int], n: int) -> None:
    if n > budget[0]:
        raise WeightsRefused("the wheel's weight files exceed the limit on bytes read over all of them")
    budget[0] -= n


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: list[int]) -> None:
    """Copy one member to ``target`` in chunks, never more than its declared size or the budget."""
    _take(budget, info.file_size)
    written = 0
    with archive.open(info) as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > info.file_size:
                raise WeightsRefused("the member is longer than its declared size")
            dst.write(chunk)


def safetensors_counts(stream: Any, size: int, limits: WeightLimits,
                       budget: list[int] | None = None) -> tuple[int, int, int]:
    """``(floating elements, the same without running statistics, tensors)`` from a safetensors file of
    ``size`` bytes open as ``stream``; reads the 8-byte length and the header only."""
    budget = budget if budget is not None else [limits.max_total_bytes]
    head = stream.read(8)
    if len(head) < 8:
        raise WeightsRefused("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", head)
    if n > limits.max_header_bytes:
        raise WeightsRefused(f"a header of {n:,} bytes, over the limit of {limits.max_header_bytes:,}")
    if 8 + n > size:
        raise WeightsRefused(f"the header ({n:,} bytes) runs past the end of the file ({size:,} bytes)")
    _take(budget, 8 + n)
    raw = stream.read(n)
    if len(raw) != n:
        raise WeightsRefused("the file ends inside its header")
    return _header_counts(raw, size - 8 - n)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise WeightsRefused("the header names a tensor twice")
    return dict(pairs)


def _header_counts(raw: bytes, data_size: int) -> tuple[int, int, int]:
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise WeightsRefused(f"the header is not UTF-8 JSON ({_line(err)})") from None
    if not isinstance(header, dict):
        raise WeightsRefused("the header is not a JSON object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise WeightsRefused("__metadata__ is not a map of strings")
    spans, floating, bare = [], 0, 0
    for name, entry in header.items():
        dtype, numel, span = _tensor_entry(name, entry)
        spans.append((span, name))
        if dtype.startswith(("F", "BF", "C")):
            floating += numel
            bare += 0 if name.endswith(RUNNING_STATS) else numel
    end = 0
    for (begin, stop), name in sorted(spans):
        if begin != end:
            raise WeightsRefused(f"tensor {name!r}: data_offsets leave a gap or overlap (at byte {begin})")
        end = stop
    if end != data_size:
        raise WeightsRefused(f"the tensors cover {end:,} bytes of a {data_size:,}-byte data section")
    return floating, bare, len(spans)


def _tensor_entry(name: str, entry: Any) -> tuple[str, int, tuple[int, int]]:
    """``(dtype, elements, (begin, end))`` of one header entry, checked."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise WeightsRefused(f"tensor {name!r}: expected exactly dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPE_BITS:
        raise WeightsRefused(f"tensor {name!r}: unknown dtype {str(dtype)[:20]!r}")
    if not _ints(shape) or len(shape) > MAX_DIMS or not _ints(offsets) or len(offsets) != 2:
        raise WeightsRefused(f"tensor {name!r}: shape or data_offsets is not a list of non-negative integers")
    numel = 1
    for dim in shape:
        numel *= dim
    begin, end = offsets
    if end < begin or numel * DTYPE_BITS[dtype] != (end - begin) * 8:
        raise WeightsRefused(f"tensor {name!r}: {end - begin} bytes for shape {shape} of {dtype}")
    return dtype, numel, (begin, end)


def _ints(values: Any) -> bool:
    return isinstance(values, list) and all(type(v) is int and v >= 0 for v in values)


def torch_counts(path: Path, limits: WeightLimits) -> tuple[int, int, int]:
    """The counts of a torch checkpoint read with ``weights_only=True`` (see the module docstring)."""
    import pickle

    import torch

    _check_pickle_size(path, limits)
    try:
        loaded = torch.load(path, weights_only=True, mmap=zipfile.is_zipfile(path), map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError,
            KeyError, IndexError, OverflowError, MemoryError, zipfile.BadZipFile) as err:
        raise WeightsRefused(f"not a weights-only torch checkpoint ({type(err).__name__}: {_line(err)})") from None
    return _walk(loaded, limits, torch.Tensor)


def _check_pickle_size(path: Path, limits: WeightLimits) -> None:
    """The pickle (what ``torch.load`` unpickles) is at most ``max_pickle_bytes``: the ``data.pkl`` record
    of a zip checkpoint, the whole file of a legacy one."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as inner:
            sizes = [i.file_size for i in inner.infolist() if i.filename.endswith("data.pkl")]
        size = max(sizes, default=0)
    else:
        size = path.stat().st_size
    if size > limits.max_pickle_bytes:
        raise WeightsRefused(f"a pickle of {size:,} bytes, over the limit of {limits.max_pickle_bytes:,}")


def _walk(loaded: Any, limits: WeightLimits, tensor_type: type) -> tuple[int, int, int]:
    """Walk dicts, lists and tuples (each container once, at most ``max_objects`` nodes); count each
    floating tensor view once."""
    stack: list[tuple[str, Any]] = [("", loaded)]
    seen_containers: set[int] = set()
    seen_views: set[tuple] = set()
    floating = bare = tensors = nodes = 0
    while stack:
        name, value = stack.pop()
        nodes += 1
        if nodes > limits.max_objects:
            raise WeightsRefused(f"more than {limits.max_objects:,} objects in the checkpoint")
        if isinstance(value, tensor_type):
            view = (value.untyped_storage().data_ptr(), value.storage_offset(), tuple(value.shape),
                    tuple(value.stride()), str(value.dtype))
            if view in seen_views:
                continue
            seen_views.add(view)
            tensors += 1
            if value.is_floating_point() or value.is_complex():
                floating += value.numel()
                bare += 0 if name.endswith(RUNNING_STATS) else value.numel()
        elif isinstance(value, (dict, list, tuple)) and id(value) not in seen_containers:
            seen_containers.add(id(value))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((str(k), v) for k, v in items)
    return floating, bare, tensors


def _line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]
