"""Shared building blocks: residual 1-D blocks, masked attentive statistics pooling, frame masks."""
from __future__ import annotations

import torch
from torch import nn


def frame_mask(frame_lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B,) frame counts → (B, num_frames) bool mask, True on valid frames (at least one each)."""
    frame_lengths = frame_lengths.clamp(min=1, max=num_frames)
    return torch.arange(num_frames, device=frame_lengths.device)[None, :] < frame_lengths[:, None]


class ResBlock1d(nn.Module):
    """Pre-activation residual block: BN-SELU-conv3-BN-SELU-conv3 (+1x1 skip), then optional max-pool.

    ``x``: (B, C_in, T) → (B, C_out, T // pool).
    """

    def __init__(self, in_channels: int, out_channels: int, pool: int = 3):
        super().__init__()
        self.bn1 = nn.BatchNorm1d(in_channels)
        self.conv1 = nn.Conv1d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, 3, padding=1, bias=False)
        self.skip = (nn.Conv1d(in_channels, out_channels, 1, bias=False)
                     if in_channels != out_channels else nn.Identity())
        self.act = nn.SELU()
        self.pool = nn.MaxPool1d(pool) if pool > 1 else nn.Identity()
        self.pool_size = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(selu_fresh(self.bn1(x)))
        out = self.conv2(selu_fresh(self.bn2(out)))
        return self.pool(out + self.skip(x))


def selu_fresh(x: torch.Tensor) -> torch.Tensor:
    """SELU of a tensor nothing else holds: in place when no gradient is recorded (same values, no copy).

    With autograd on, the out-of-place op is kept: its backward formula differs from the in-place one
    in the last bits, and training must not change.
    """
    return torch.selu(x) if torch.is_grad_enabled() else torch.selu_(x)


class AttentiveStatsPool(nn.Module):
    """Masked attentive statistics pooling with global context (ECAPA-style).

    ``x``: (B, C, T), ``mask``: (B, T) bool → (B, 2C) weighted mean and standard deviation.
    """

    def __init__(self, channels: int, attention_channels: int = 128):
        super().__init__()
        self.attention = nn.Sequential(
            nn.Conv1d(channels * 3, attention_channels, 1), nn.Tanh(),
            nn.Conv1d(attention_channels, channels, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask[:, None, :].to(x.dtype)
        n = m.sum(-1, keepdim=True)
        mean = (x * m).sum(-1, keepdim=True) / n
        std = (((x - mean) ** 2 * m).sum(-1, keepdim=True) / n).clamp(min=1e-6).sqrt()
        context = torch.cat([x, mean.expand_as(x), std.expand_as(x)], dim=1)
        scores = self.attention(context).masked_fill(~mask[:, None, :], float("-inf"))
        w = torch.softmax(scores, dim=-1)
        mu = (w * x).sum(-1)
        sigma = ((w * x * x).sum(-1) - mu * mu).clamp(min=1e-6).sqrt()
        return torch.cat([mu, sigma], dim=1)
