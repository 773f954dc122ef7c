"""RawNet2, the ASVspoof 2021 baseline (Tak et al., ICASSP 2021), from the paper and its config.

``waves`` (B, T) → fixed mel-spaced sinc filters (20 x 1025 taps) → |.| → max-pool 3 → BN → SELU →
six residual 1-D blocks (widths 20, 20, 128, 128, 128, 128; BN-LeakyReLU(0.3)-conv3-BN-LeakyReLU-conv3,
max-pool 3) each followed by filter-wise feature map scaling (FMS: ``x * s + s`` with
``s = sigmoid(fc(avgpool(x)))``) → BN → SELU → 3-layer GRU (1024) → last valid frame → FC 1024 → FC 2.
17,621,410 parameters in the default preset (counted from the built module, asserted in the tests).
No official weights ship with spoofbench; the module names are this project's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .aasist import SincFilterBank
from .base import Detector, DetectorFamily
from .policy import InputPolicy


class FMSResBlock(nn.Module):
    """(B, C_in, T) → (B, C_out, T // 3), residual block then feature map scaling."""

    def __init__(self, in_channels: int, out_channels: int, first: bool = False):
        super().__init__()
        self.bn1 = nn.Identity() if first else nn.BatchNorm1d(in_channels)
        self.act1 = nn.Identity() if first else nn.LeakyReLU(0.3)
        self.conv1 = nn.Conv1d(in_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.act2 = nn.LeakyReLU(0.3)
        self.conv2 = nn.Conv1d(out_channels, out_channels, 3, padding=1)
        self.downsample = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        self.pool = nn.MaxPool1d(3)
        self.fms = nn.Linear(out_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.act1(self.bn1(x)))
        out = self.conv2(self.act2(self.bn2(out)))
        out = self.pool(out + self.downsample(x))
        scale = torch.sigmoid(self.fms(out.mean(-1)))[:, :, None]
        return out * scale + scale


@dataclass(frozen=True)
class RawNet2Config:
    sinc_filters: int = 20
    sinc_kernel: int = 1024
    block_channels: tuple[int, ...] = (20, 20, 128, 128, 128, 128)
    gru_hidden: int = 1024
    gru_layers: int = 3
    fc_dim: int = 1024
    num_samples: int = 64600
    sample_rate: int = 16000


class RawNet2(Detector):
    concurrent_inference = True  # a pure eval forward: batches may be scored in parallel threads
    frontend = "sinc (fixed, mel-spaced)"

    def __init__(self, config: RawNet2Config, name: str = "rawnet2"):
        super().__init__()
        self.name, self.config = name, config
        self.sample_rate = config.sample_rate
        self.input_policy = InputPolicy("fixed", config.num_samples, "repeat", "none")
        self.sinc = SincFilterBank(config.sinc_filters, config.sinc_kernel, config.sample_rate)
        self.first_bn = nn.BatchNorm1d(config.sinc_filters)
        self.act = nn.SELU()
        blocks, width = [], config.sinc_filters
        for i, out in enumerate(config.block_channels):
            blocks.append(FMSResBlock(width, out, first=(i == 0)))
            width = out
        self.blocks = nn.Sequential(*blocks)
        self.bn_before_gru = nn.BatchNorm1d(width)
        self.gru = nn.GRU(width, config.gru_hidden, config.gru_layers, batch_first=True)
        self.fc1 = nn.Linear(config.gru_hidden, config.fc_dim)
        self.fc2 = nn.Linear(config.fc_dim, 2)
        self.total_pool = 3 ** (1 + len(config.block_channels))
        self.min_samples = (self.sinc.kernel_size - 1) + self.total_pool

    def logits(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.sinc(waves[:, None, :])
        x = self.act(self.first_bn(F.max_pool1d(x.abs(), 3)))
        x = self.act(self.bn_before_gru(self.blocks(x)))
        out, _ = self.gru(x.transpose(1, 2))  # (B, T', H)
        frames = torch.div(lengths - self.sinc.kernel_size + 1, self.total_pool, rounding_mode="floor")
        last = (frames.clamp(min=1, max=out.shape[1]) - 1).to(out.device)
        h = out[torch.arange(out.shape[0], device=out.device), last]
        return self.fc2(self.fc1(h))


FAMILY = DetectorFamily(
    name="rawnet2", config_cls=RawNet2Config,
    presets={"default": RawNet2Config(),
             "tiny": RawNet2Config(sinc_filters=4, sinc_kernel=64, block_channels=(4, 8), gru_hidden=8,
                                   gru_layers=1, fc_dim=8, num_samples=4000)},
    default_preset="default", make=RawNet2, frontend=RawNet2.frontend)
