"""``spoofbench.models.collate`` (pad_sequence) gives the tensors the hand-written zero-pad loop gave."""
from __future__ import annotations

import pytest
import torch

from spoofbench.errors import DetectorError
from spoofbench.models import InputPolicy, collate


def _loop_collate(waves):
    """The former hand-written collate, kept here as the reference."""
    lengths = torch.tensor([w.numel() for w in waves], dtype=torch.int64)
    out = torch.zeros(len(waves), int(lengths.max()), dtype=torch.float32)
    for i, w in enumerate(waves):
        out[i, : w.numel()] = w
    return out, lengths


def _same(got, want):
    assert got[0].dtype == want[0].dtype == torch.float32 and got[1].dtype == want[1].dtype == torch.int64
    assert got[0].device == want[0].device
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def _ragged(dtype=torch.float32, lengths=(7, 1, 16, 3, 16)):
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(n, generator=generator, dtype=torch.float64).to(dtype) for n in lengths]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_ragged_batches_match_the_loop(dtype):
    waves = _ragged(dtype)
    _same(collate(waves), _loop_collate(waves))


@pytest.mark.parametrize("lengths", [(5,), (4, 4, 4), (0, 3), (9, 0, 2)])
def test_single_equal_and_empty_clips_match_the_loop(lengths):
    waves = _ragged(lengths=lengths)
    got = collate(waves)
    _same(got, _loop_collate(waves))
    assert got[0].shape == (len(lengths), max(lengths))


@pytest.mark.parametrize("pad", ["repeat", "zero"])
@pytest.mark.parametrize("mode", ["full", "fixed"])
def test_policy_outputs_collate_as_before(pad, mode):
    policy = InputPolicy(mode=mode, num_samples=12 if mode == "fixed" else None, pad=pad, normalize="peak")
    waves = [policy.apply(w) for w in _ragged(lengths=(5, 12, 20, 1))]
    _same(collate(waves), _loop_collate(waves))


def test_a_leading_singleton_wave_counts_as_one_dimensional():
    waves = [torch.arange(4.0).reshape(1, 4), torch.arange(2.0)]
    _same(collate(waves), _loop_collate(waves))


def test_other_shapes_are_a_clear_error():
    with pytest.raises(DetectorError, match=r"wave 1 has shape \(2, 3\)"):
        collate([torch.zeros(3), torch.zeros(2, 3)])
