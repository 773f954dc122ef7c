"""AASIST and AASIST-L (Jung et al., ICASSP 2022), written from the paper and the official configs.

Module names follow the released checkpoints so ``AASIST.pth`` / ``AASIST-L.pth`` load with strict key
matching (297,866 / 85,306 parameters). Pipeline, for ``x`` (B, 64600):

1. Fixed mel-spaced sinc band-pass filters (70 x 129 taps, Hamming window) → |.| → 2-D max-pool 3
   → BN → SELU: a spectro-temporal map (B, 1, 23, ~21490).
2. Residual 2-D encoder, six blocks with kernel (2, 3) and max-pool (1, 3): (B, C, 23, 29).
3. Spectral graph (max over time, + positional embedding, 23 nodes) and temporal graph (max over
   frequency) each go through graph attention and graph pooling.
4. Two parallel branches of two heterogeneous stacking graph attention layers (HS-GAL) with a
   learnable master node; their outputs are combined by an element-wise max (the "max graph
   operation"), then max(|.|)/mean read-out of both node types plus the master node → linear → 2.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import Detector, DetectorFamily
from .policy import InputPolicy


def mel_sinc_filters(num_filters: int, kernel_size: int, sample_rate: int, nfft: int = 512) -> torch.Tensor:
    """(num_filters, kernel_size) Hamming-windowed ideal band-pass filters between mel-spaced edges."""
    if kernel_size % 2 == 0:
        kernel_size += 1
    freqs = (sample_rate // 2) * np.linspace(0, 1, nfft // 2 + 1)
    mel = 2595 * np.log10(1 + freqs / 700)
    edges_mel = np.linspace(mel.min(), mel.max(), num_filters + 1)
    edges = 700 * (10 ** (edges_mel / 2595) - 1)
    taps = np.arange(-(kernel_size - 1) / 2, (kernel_size - 1) / 2 + 1, dtype=np.float32)
    window = np.hamming(kernel_size)
    bank = np.zeros((num_filters, kernel_size), dtype=np.float64)
    for i in range(num_filters):
        low, high = edges[i], edges[i + 1]
        ideal = (2 * high / sample_rate) * np.sinc(2 * high * taps / sample_rate) \
            - (2 * low / sample_rate) * np.sinc(2 * low * taps / sample_rate)
        bank[i] = window * ideal
    return torch.tensor(bank, dtype=torch.float32)


class SincFilterBank(nn.Module):
    """Fixed sinc filters: (B, 1, T) → (B, F, T - K + 1). No parameters (as in the release)."""

    def __init__(self, num_filters: int, kernel_size: int, sample_rate: int = 16000):
        super().__init__()
        self.register_buffer("filters", mel_sinc_filters(num_filters, kernel_size, sample_rate)[:, None, :],
                             persistent=False)

    @property
    def kernel_size(self) -> int:
        return self.filters.shape[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.filters)


class ResidualBlock2d(nn.Module):
    """AASIST encoder block: (B, C_in, F, T) → (B, C_out, F, T // 3).

    As in the released model, ``conv1`` reads the block input directly (the BN1-SELU branch of
    non-first blocks is computed but not used), so ``bn1`` only carries weights.
    """

    def __init__(self, in_channels: int, out_channels: int, first: bool = False, pool: tuple = (1, 3)):
        super().__init__()
        self.first = first
        if not first:
            self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, (2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, (2, 3), padding=(0, 1))
        if in_channels != out_channels:
            self.conv_downsample = nn.Conv2d(in_channels, out_channels, (1, 3), padding=(0, 1))
        else:
            self.conv_downsample = None
        self.act = nn.SELU()
        self.pool = nn.MaxPool2d(pool) if tuple(pool) != (1, 1) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.act(self.bn2(self.conv1(x))))
        skip = self.conv_downsample(x) if self.conv_downsample is not None else x
        return self.pool(out + skip)

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        """The eval forward for inference only (no autograd, BN with running statistics): ``bn2`` folded
        into ``conv1``, SELU and the residual sum in place. Same values as ``forward`` up to fp32
        rounding; fastest on channels-last inputs (the convolutions then avoid layout reorders)."""
        weight, bias = fold_batchnorm(self.conv1, self.bn2)
        down = self.conv_downsample
        if x.shape[1] == 1 and down is not None:
            # The first block: one input channel, so its two convolutions of ``x`` are matrix products;
            # the shortcut's is accumulated straight into conv2's output (its bias added with conv2's).
            out = torch.selu_(_one_channel_conv(x, weight, bias, self.conv1.padding))
            bias2 = self.conv2.bias + down.bias if down.bias is not None else self.conv2.bias
            out = F.conv2d(out, _channels_last(self.conv2.weight), bias2, padding=self.conv2.padding)
            _one_channel_conv(x, down.weight, None, down.padding, accumulate=out)
        else:
            out = torch.selu_(F.conv2d(x, _channels_last(weight), bias, padding=self.conv1.padding))
            out = F.conv2d(out, _channels_last(self.conv2.weight), self.conv2.bias, padding=self.conv2.padding)
            out += F.conv2d(x, _channels_last(down.weight), down.bias, padding=down.padding) if down is not None else x
        if isinstance(self.pool, nn.MaxPool2d):
            return _max_pool_time(out, self.pool.kernel_size)
        return self.pool(out)


def _channels_last(weight: torch.Tensor) -> torch.Tensor:
    """A convolution weight in channels-last layout, so the convolution runs (and returns) channels-last."""
    return weight.contiguous(memory_format=torch.channels_last)


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """``conv`` followed by eval-mode ``bn`` as one convolution's (weight, bias), computed on each call
    (nothing cached, so a forward stays pure and follows the current weights)."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    weight = conv.weight * scale.reshape(-1, 1, 1, 1)
    return weight, (bias - bn.running_mean) * scale + bn.bias


def _max_pool_time(x: torch.Tensor, kernel: tuple[int, int]) -> torch.Tensor:
    """``F.max_pool2d(x, (1, k))`` of a channels-last ``x`` (B, C, F, T) as a maximum over groups of ``k``
    neighbouring frames with the channels innermost (the same values; oneDNN-free max_pool2d on a
    channels-last map is several times slower). Returns channels-last."""
    if kernel[0] != 1:
        return F.max_pool2d(x, kernel)
    k = kernel[1]
    batch, channels, height, width = x.shape
    frames = width // k
    grouped = x.permute(0, 2, 3, 1)[:, :, :frames * k].reshape(batch, height, frames, k, channels)
    return grouped.amax(dim=3).permute(0, 3, 1, 2)


def _one_channel_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                      padding: tuple[int, int], accumulate: torch.Tensor | None = None) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=padding)`` (stride 1) for a one-channel ``x`` (B, 1, H, W), as one
    matrix product of the (kh * kw)-sample patches with the filters, returned channels-last. A convolution
    with a single input channel is slow in oneDNN, and its output's layout would be the contiguous one
    (a one-channel input's layout is ambiguous), which the next, channels-last convolution must reorder.
    ``accumulate``: a channels-last tensor of the output's shape to add the result to, in place (no
    output of its own is allocated); it is returned."""
    channels, _, kh, kw = weight.shape
    xp = F.pad(x[:, 0], (padding[1], padding[1], padding[0], padding[0]))
    patches = xp.unfold(1, kh, 1).unfold(2, kw, 1)  # (B, H', W', kh, kw), a view
    batch, height, width = patches.shape[:3]
    cols, flat = patches.reshape(-1, kh * kw), weight.reshape(channels, kh * kw).t()
    if accumulate is not None:
        target = accumulate.permute(0, 2, 3, 1)
        if tuple(accumulate.shape) != (batch, channels, height, width) or not target.is_contiguous():
            raise ValueError(f"accumulate: expected a channels-last {(batch, channels, height, width)} tensor, "
                             f"got {tuple(accumulate.shape)} with strides {accumulate.stride()}")
        target.view(-1, channels).addmm_(cols.to(target.dtype), flat.to(target.dtype))  # in place: no autocast
        if bias is not None:
            accumulate += bias.reshape(1, -1, 1, 1)
        return accumulate
    out = torch.addmm(bias, cols, flat) if bias is not None else cols @ flat
    return out.reshape(batch, height, width, channels).permute(0, 3, 1, 2)


def _pairwise(x: torch.Tensor) -> torch.Tensor:
    """(B, N, D) → (B, N, N, D) element-wise products of all node pairs."""
    return x[:, :, None, :] * x[:, None, :, :]


def _node_bn(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    shape = x.shape
    return bn(x.reshape(-1, shape[-1])).reshape(shape)


class GraphAttention(nn.Module):
    """Graph attention over a fully connected graph: (B, N, D_in) → (B, N, D_out)."""

    def __init__(self, in_dim: int, out_dim: int, temperature: float):
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = nn.Parameter(nn.init.xavier_normal_(torch.empty(out_dim, 1)))
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.drop = nn.Dropout(0.2)
        self.act = nn.SELU()
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(x)
        att = torch.tanh(self.att_proj(_pairwise(x))) @ self.att_weight  # (B, N, N, 1)
        att = torch.softmax(att / self.temperature, dim=-2).squeeze(-1)
        out = self.proj_with_att(att @ x) + self.proj_without_att(x)
        return self.act(_node_bn(self.bn, out))


class HeteroGraphAttention(nn.Module):
    """HS-GAL layer: two node types (temporal, spectral) plus a master node.

    ``x1`` (B, N1, D), ``x2`` (B, N2, D), ``master`` (B or 1, 1, D) → (B, N1, D'), (B, N2, D'), (B, 1, D').
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float):
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        for name in ("att_weight11", "att_weight22", "att_weight12", "att_weightM"):
            setattr(self, name, nn.Parameter(nn.init.xavier_normal_(torch.empty(out_dim, 1))))
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.drop = nn.Dropout(0.2)
        self.act = nn.SELU()
        self.temperature = temperature

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, master: torch.Tensor):
        n1, n2 = x1.shape[1], x2.shape[1]
        x = self.drop(torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1))
        # master node: attention over all nodes
        att_m = torch.tanh(self.att_projM(x * master)) @ self.att_weightM  # (B, N, 1)
        att_m = torch.softmax(att_m / self.temperature, dim=1)
        master = self.proj_with_attM(att_m.transpose(1, 2) @ x) + self.proj_without_attM(master)
        # node attention with a weight vector per pair of node types
        hidden = torch.tanh(self.att_proj(_pairwise(x)))  # (B, N, N, out)
        att = torch.cat([
            torch.cat([hidden[:, :n1, :n1] @ self.att_weight11, hidden[:, :n1, n1:] @ self.att_weight12], dim=2),
            torch.cat([hidden[:, n1:, :n1] @ self.att_weight12, hidden[:, n1:, n1:] @ self.att_weight22], dim=2),
        ], dim=1)
        att = torch.softmax(att / self.temperature, dim=-2).squeeze(-1)
        out = self.proj_with_att(att @ x) + self.proj_without_att(x)
        out = self.act(_node_bn(self.bn, out))
        return out[:, :n1], out[:, n1:n1 + n2], master


class GraphPool(nn.Module):
    """Keep the top ``ratio`` of nodes by a learned sigmoid score (nodes scaled by it): (B, N, D) → (B, N', D)."""

    def __init__(self, ratio: float, dim: int, dropout: float = 0.3):
        super().__init__()
        self.ratio = ratio
        self.proj = nn.Linear(dim, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        scores = torch.sigmoid(self.proj(self.drop(h)))  # (B, N, 1)
        keep = max(int(h.shape[1] * self.ratio), 1)
        _, idx = torch.topk(scores, keep, dim=1)
        return torch.gather(h * scores, 1, idx.expand(-1, -1, h.shape[-1]))


@dataclass(frozen=True)
class AASISTConfig:
    """The ``model_config`` of the official .conf files."""

    first_conv: int = 128
    filts: tuple = (70, (1, 32), (32, 32), (32, 64), (64, 64))
    gat_dims: tuple[int, int] = (64, 32)
    pool_ratios: tuple[float, ...] = (0.5, 0.7, 0.5, 0.5)
    temperatures: tuple[float, ...] = (2.0, 2.0, 100.0, 100.0)
    num_samples: int = 64600
    sample_rate: int = 16000


class GraphStages:
    """Mixin for an ``nn.Module``: everything after the encoder (graph attention, HS-GAL, read-out).

    The layers are attributes of the module itself, named as in the official release, so its
    checkpoints load without renaming. Shared with the SSL+AASIST back-end.
    ``graph_readout(e)``: (B, C, F, T') encoder map → (B, 5 * gat_dims[1]) hidden vector.
    """

    def init_graph(self, channels: int, num_freq_nodes: int, gat_dims, pool_ratios, temperatures) -> None:
        d0, d1 = gat_dims
        self.pos_S = nn.Parameter(torch.randn(1, num_freq_nodes, channels))
        self.master1 = nn.Parameter(torch.randn(1, 1, d0))
        self.master2 = nn.Parameter(torch.randn(1, 1, d0))
        self.GAT_layer_S = GraphAttention(channels, d0, temperatures[0])
        self.GAT_layer_T = GraphAttention(channels, d0, temperatures[1])
        self.HtrgGAT_layer_ST11 = HeteroGraphAttention(d0, d1, temperatures[2])
        self.HtrgGAT_layer_ST12 = HeteroGraphAttention(d1, d1, temperatures[2])
        self.HtrgGAT_layer_ST21 = HeteroGraphAttention(d0, d1, temperatures[2])
        self.HtrgGAT_layer_ST22 = HeteroGraphAttention(d1, d1, temperatures[2])
        self.pool_S = GraphPool(pool_ratios[0], d0)
        self.pool_T = GraphPool(pool_ratios[1], d0)
        self.pool_hS1 = GraphPool(pool_ratios[2], d1)
        self.pool_hT1 = GraphPool(pool_ratios[2], d1)
        self.pool_hS2 = GraphPool(pool_ratios[2], d1)
        self.pool_hT2 = GraphPool(pool_ratios[2], d1)
        self.drop_way = nn.Dropout(0.2)
        self.hidden_dim = 5 * d1

    def _branch(self, first: HeteroGraphAttention, second: HeteroGraphAttention, pool_s: GraphPool,
                pool_t: GraphPool, out_t: torch.Tensor, out_s: torch.Tensor, master: torch.Tensor):
        t, s, m = first(out_t, out_s, master)
        s, t = pool_s(s), pool_t(t)
        t_aug, s_aug, m_aug = second(t, s, m)
        return self.drop_way(t + t_aug), self.drop_way(s + s_aug), self.drop_way(m + m_aug)

    def graph_readout(self, e: torch.Tensor) -> torch.Tensor:
        e_abs = e.abs()
        out_s = self.pool_S(self.GAT_layer_S(e_abs.amax(dim=3).transpose(1, 2) + self.pos_S))
        out_t = self.pool_T(self.GAT_layer_T(e_abs.amax(dim=2).transpose(1, 2)))
        t1, s1, m1 = self._branch(self.HtrgGAT_layer_ST11, self.HtrgGAT_layer_ST12, self.pool_hS1,
                                  self.pool_hT1, out_t, out_s, self.master1)
        t2, s2, m2 = self._branch(self.HtrgGAT_layer_ST21, self.HtrgGAT_layer_ST22, self.pool_hS2,
                                  self.pool_hT2, out_t, out_s, self.master2)
        out_t, out_s, master = torch.maximum(t1, t2), torch.maximum(s1, s2), torch.maximum(m1, m2)
        return torch.cat([out_t.abs().amax(dim=1), out_t.mean(dim=1),
                          out_s.abs().amax(dim=1), out_s.mean(dim=1), master.squeeze(1)], dim=1)


class AASIST(Detector, GraphStages):
    """``waves`` (B, T ≥ ``min_samples``) → logits (B, 2) = [spoof, bona fide]."""

    concurrent_inference = True  # a pure eval forward: batches may be scored in parallel threads

    frontend = "sinc (fixed, mel-spaced)"

    def __init__(self, config: AASISTConfig, name: str = "aasist"):
        super().__init__()
        self.name = name
        self.config = config
        self.sample_rate = config.sample_rate
        self.input_policy = InputPolicy("fixed", config.num_samples, "repeat", "none")
        filts = config.filts
        self.conv_time = SincFilterBank(filts[0], config.first_conv, config.sample_rate)
        self.first_bn = nn.BatchNorm2d(1)
        self.act = nn.SELU()
        blocks = [filts[1], filts[2], filts[3], filts[4], filts[4], filts[4]]
        self.encoder = nn.Sequential(*[
            nn.Sequential(ResidualBlock2d(c_in, c_out, first=(i == 0)))
            for i, (c_in, c_out) in enumerate(blocks)])
        num_freq_nodes = filts[0] // 3 // 1  # max-pool 3 over the filter axis; blocks keep it
        self.init_graph(filts[-1][-1], num_freq_nodes, config.gat_dims, config.pool_ratios,
                        config.temperatures)
        self.drop = nn.Dropout(0.5)
        self.out_layer = nn.Linear(self.hidden_dim, 2)
        self.min_samples = (self.conv_time.kernel_size - 1) + 3 ** 7

    def embed(self, waves: torch.Tensor) -> torch.Tensor:
        """(B, T) → (B, 5 * gat_dims[1]) last hidden layer."""
        x = self.conv_time(waves[:, None, :])
        x = F.max_pool2d(x.abs()[:, None], (3, 3))
        x = self.act(self.first_bn(x))
        if torch.is_grad_enabled() or self.training:
            return self.graph_readout(self.encoder(x))
        # Inference: the encoder in channels-last layout (a one-channel map is already laid out so)
        # with each block's BN folded into its first convolution; see ResidualBlock2d.infer.
        x = x.contiguous(memory_format=torch.channels_last)
        for block in self.encoder:
            x = block[0].infer(x)
        return self.graph_readout(x.contiguous())

    def logits(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.out_layer(self.drop(self.embed(waves)))

    def activation_bytes_per_sample(self) -> float:
        """The inference path's peak is in the first encoder block: conv1's output (C, F + 1, T / 3) and
        conv2's (C, F, T / 3), both fp32, live at once; the front-end's sinc output and its magnitude
        (2 x filters per sample) come before it, the later blocks work on a third of the frames or less.
        25% on top for kernel workspace and allocator slack (measured: ~2,000 bytes per sample for the
        default preset, e.g. 123-146 MB per 64,600-sample clip)."""
        filters, channels = self.config.filts[0], self.config.filts[1][1]
        freq = filters // 3
        encoder = 4 * channels * (2 * freq + 1) / 3
        front = 4 * 2 * filters
        return 1.25 * max(encoder, front)


FAMILY = DetectorFamily(
    name="aasist", config_cls=AASISTConfig,
    presets={"default": AASISTConfig(),
             "tiny": AASISTConfig(filts=(70, (1, 4), (4, 4), (4, 8), (8, 8)), gat_dims=(8, 4),
                                  num_samples=4000)},
    default_preset="default", make=lambda c: AASIST(c, "aasist"), frontend=AASIST.frontend)

FAMILY_L = DetectorFamily(
    name="aasist_l", config_cls=AASISTConfig,
    presets={"default": AASISTConfig(filts=(70, (1, 32), (32, 32), (32, 24), (24, 24)), gat_dims=(24, 32),
                                     pool_ratios=(0.4, 0.5, 0.7, 0.5)),
             "tiny": AASISTConfig(filts=(70, (1, 4), (4, 4), (4, 6), (6, 6)), gat_dims=(6, 4),
                                  pool_ratios=(0.4, 0.5, 0.7, 0.5), num_samples=4000)},
    default_preset="default", make=lambda c: AASIST(c, "aasist_l"), frontend=AASIST.frontend)
