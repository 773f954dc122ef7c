"""The operator's own count of a wheel's weight files (spoofbench.submission.weights_count): honest files
are counted as safetensors / torch count them, hostile ones are refused cleanly and nothing in them runs."""
from __future__ import annotations

import io
import json
import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from spoofbench.submission.weights_count import (
    WeightLimits,
    WeightsCount,
    WeightsRefused,
    count_wheel_weights,
    safetensors_counts,
    torch_counts,
)


DUPLICATED = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32"}}'


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3), torch.nn.BatchNorm1d(4), torch.nn.Linear(5, 2))


def _parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _header(entries: dict, data: bytes = b"", length: int | None = None) -> bytes:
    raw = json.dumps(entries).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def _wheel(path: Path, members: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.external_attr = (0o120777 << 16)
            archive.writestr(info, data)
    return path


def test_safetensors_header_counts_agree_with_the_safetensors_library(tmp_path):
    model = _model()
    path = tmp_path / "m.safetensors"
    save_file(model.state_dict(), str(path))
    with open(path, "rb") as handle:
        floating, bare, tensors = safetensors_counts(handle, path.stat().st_size, WeightLimits())
    with safe_open(str(path), framework="pt") as opened:
        shapes = {k: opened.get_slice(k).get_shape() for k in opened.keys()}
        dtypes = {k: opened.get_slice(k).get_dtype() for k in opened.keys()}
    expected = sum(int(torch.Size(s).numel()) for k, s in shapes.items() if dtypes[k].startswith(("F", "BF")))
    assert tensors == len(shapes) and floating == expected
    assert bare == _parameters(model)          # running_mean / running_var left out, num_batches_tracked is int64
    assert floating == _parameters(model) + 2 * 4


@pytest.mark.parametrize("blob, reason", [
    (struct.pack("<Q", 1 << 62) + b"{}", "over the limit"),
    (struct.pack("<Q", 1000) + b"{}", "runs past the end"),
    (b"\x01\x02", "shorter than the 8-byte"),
    (_header({}, length=0)[:8] + b"", "not UTF-8 JSON"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "not UTF-8 JSON"),
    (struct.pack("<Q", 6000) + b"[" * 3000 + b"]" * 3000, "not UTF-8 JSON"),
    (_header([1, 2]), "not a JSON object"),
    (_header({"w": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "unknown dtype"),
    (_header({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4), "4 bytes for shape"),
    (_header({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4), "non-negative"),
    (_header({"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, b"\0" * 4), "non-negative"),
    (_header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8), "gap or overlap"),
    (_header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8), "data section"),
    (_header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "__metadata__": {"a": 1}},
             b"\0" * 4), "__metadata__"),
    (_header({"w": {"dtype": "F32", "shape": [1]}}), "exactly dtype"),
    (struct.pack("<Q", len(DUPLICATED)) + DUPLICATED, "names a tensor twice"),
])
def test_a_malformed_safetensors_header_is_refused_with_its_reason(blob, reason):
    with pytest.raises(WeightsRefused, match=reason):
        safetensors_counts(io.BytesIO(blob), len(blob), WeightLimits(max_header_bytes=1 << 20))


def test_a_huge_declared_header_allocates_nothing(tmp_path):
    blob = struct.pack("<Q", (8 << 20) + 1) + b"{" * 100
    wheel = _wheel(tmp_path / "h.whl", {"pkg/w.safetensors": blob + b"\0" * (9 << 20)})
    tracemalloc.start()
    try:
        count = count_wheel_weights(wheel, tmp_path / "scratch")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "over the limit of 8,388,608" in count.files[0].refused
    assert peak < 2 << 20


def test_a_checkpoint_whose_pickle_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran.txt"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(3), "x": Payload()}, path)
    with pytest.raises(WeightsRefused, match="not a weights-only torch checkpoint"):
        torch_counts(path, WeightLimits())
    wheel = _wheel(tmp_path / "e.whl", {"pkg/evil.pt": path.read_bytes()})
    count = count_wheel_weights(wheel, tmp_path / "scratch")
    assert "weights-only" in count.files[0].refused and count.candidates() == {}
    assert not marker.exists()
    assert not any((tmp_path / "scratch").iterdir())      # the extracted copy is removed


def test_a_state_dict_counts_tied_weights_once_and_leaves_out_integer_buffers(tmp_path):
    model = _model()
    state = model.state_dict()
    state["tied"] = state["2.weight"]                      # a second name for the same storage
    path = tmp_path / "m.pt"
    torch.save({"state_dict": state, "epoch": 3}, path)
    floating, bare, tensors = torch_counts(path, WeightLimits())
    assert (floating, bare) == (_parameters(model) + 8, _parameters(model))
    assert tensors == len(model.state_dict())


def test_a_legacy_pickle_over_the_limit_is_refused_before_loading(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.zeros(64)}, path, _use_new_zipfile_serialization=False)
    assert torch_counts(path, WeightLimits())[0] == 64
    with pytest.raises(WeightsRefused, match="a pickle of"):
        torch_counts(path, WeightLimits(max_pickle_bytes=16))


def test_unsafe_members_are_refused_before_reading(tmp_path):
    ok = _header({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8)
    wheel = _wheel(tmp_path / "u.whl", {"../up.safetensors": ok, "/abs.pt": b"x", "pkg/link.safetensors": b"/etc/x",
                                       "pkg/big.safetensors": b"\0" * 5000, "pkg/ok.safetensors": ok},
                   symlinks=("pkg/link.safetensors",))
    count = count_wheel_weights(wheel, tmp_path / "s", WeightLimits(max_file_bytes=4096))
    why = {f.name: f.refused for f in count.files}
    assert "climbing out" in why["../up.safetensors"] and "climbing out" in why["/abs.pt"]
    assert why["pkg/link.safetensors"] == "a symbolic link"
    assert "over the limit of 4,096" in why["pkg/big.safetensors"]
    assert why["pkg/ok.safetensors"] is None and count.candidates() == {"pkg/ok.safetensors": 2}


def test_duplicate_members_and_the_total_budget_are_refused(tmp_path):
    ok = _header({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8)
    with pytest.warns(UserWarning, match="Duplicate name"):
        wheel = _wheel(tmp_path / "d.whl", {"a.safetensors": ok})
        with zipfile.ZipFile(wheel, "a") as archive:
            archive.writestr("a.safetensors", ok)
    assert all("two members" in f.refused for f in count_wheel_weights(wheel, tmp_path / "s").files)
    many = _wheel(tmp_path / "m.whl", {f"w{i}.pt": b"\0" * 100 for i in range(3)})
    count = count_wheel_weights(many, tmp_path / "s", WeightLimits(max_total_bytes=250))
    assert "exceed the limit on bytes read" in count.files[2].refused


def test_the_reported_count_matches_one_file_or_all_together_exactly(tmp_path):
    def member(n: int) -> bytes:
        return _header({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}, b"\0" * (4 * n))

    wheel = _wheel(tmp_path / "w.whl", {"a.safetensors": member(10), "b.safetensors": member(5)})
    count = count_wheel_weights(wheel, tmp_path / "s")
    assert count.candidates() == {"a.safetensors": 10, "b.safetensors": 5, "all weight files together": 15}
    assert count.match(10) == "a.safetensors" and count.match(15) == "all weight files together"
    assert count.match(14) is None and count.match(True) is None and count.match("10") is None
    assert WeightsCount().match(0) is None


def test_an_unreadable_wheel_is_refused(tmp_path):
    bad = tmp_path / "x.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(WeightsRefused, match="not a readable wheel"):
        count_wheel_weights(bad, tmp_path / "s")


def test_a_corrupt_member_is_refused_not_raised(tmp_path):
    ok = _header({"w": {"dtype": "F32", "shape": [4096], "data_offsets": [0, 16384]}}, os.urandom(16384))
    wheel = _wheel(tmp_path / "c.whl", {"a.pt": ok, "b.safetensors": ok})
    data = bytearray(wheel.read_bytes())
    for name in (b"a.pt", b"b.safetensors"):
        start = data.index(name) + len(name) + 40          # inside the member's compressed bytes
        data[start:start + 64] = bytes(64)
    wheel.write_bytes(bytes(data))
    count = count_wheel_weights(wheel, tmp_path / "s")
    assert [f.name for f in count.files] == ["a.pt", "b.safetensors"]
    assert all(f.refused for f in count.files) and count.candidates() == {}
