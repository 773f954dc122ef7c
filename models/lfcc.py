"""LFCC baselines: ``lfcc_lcnn`` (LFCC + light CNN with max-feature-map) and ``lfcc_gmm`` (two GMMs).

Front-end (both): ``torchaudio.transforms.LFCC`` (log, not dB: no batch-wide top-dB clamp), 20 linear filters / 20 coefficients, 20 ms windows
every 10 ms (n_fft 512), plus deltas and delta-deltas → (B, 60, frames). Full-utterance input policy;
padded frames are excluded from every average.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio
from torch import nn

from spoofbench.errors import DetectorError

from .base import Detector, DetectorFamily
from .layers import frame_mask
from .policy import InputPolicy


@dataclass(frozen=True)
class LFCCConfig:
    n_filter: int = 20
    n_lfcc: int = 20
    win_length: int = 320
    hop_length: int = 160
    n_fft: int = 512
    channels: tuple[int, ...] = (32, 48, 64, 32, 32)
    gmm_components: int = 512
    gmm_max_frames: int = 200_000
    gmm_iterations: int = 100
    gmm_reg_covar: float = 1e-3  # variance floor: digital silence and duplicated frames collapse components
    seed: int = 0
    sample_rate: int = 16000


class LFCCFrontEnd(nn.Module):
    """(B, T) → (B, 3 * n_lfcc, frames) LFCC with deltas; ``frames(lengths)`` gives valid counts."""

    def __init__(self, c: LFCCConfig):
        super().__init__()
        self.hop, self.frame_span = c.hop_length, c.n_fft  # center=False: each frame spans n_fft samples
        self.lfcc = torchaudio.transforms.LFCC(
            sample_rate=c.sample_rate, n_filter=c.n_filter, n_lfcc=c.n_lfcc, log_lf=True,
            speckwargs={"n_fft": c.n_fft, "win_length": c.win_length, "hop_length": c.hop_length,
                        "center": False})

    def frames(self, lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(lengths - self.frame_span, self.hop, rounding_mode="floor") + 1

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        x = self.lfcc(waves)
        d1 = torchaudio.functional.compute_deltas(x)
        return torch.cat([x, d1, torchaudio.functional.compute_deltas(d1)], dim=1)


class MaxFeatureMap(nn.Module):
    """Split channels in two halves and keep the element-wise max: (B, 2C, ...) → (B, C, ...)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.maximum(a, b)


def _mfm_conv(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, 2 * c_out, kernel, padding=kernel // 2), MaxFeatureMap())


class LFCCLCNN(Detector):
    """LCNN: blocks of [1x1 MFM conv, BN, 3x3 MFM conv, max-pool 2] (first block 5x5), masked mean
    over time of the (channels x LFCC bins) map → dropout → linear 2."""

    concurrent_inference = True  # a pure eval forward: batches may be scored in parallel threads

    frontend = "LFCC (torchaudio)"

    def __init__(self, c: LFCCConfig, name: str = "lfcc_lcnn"):
        super().__init__()
        self.name, self.config = name, c
        self.sample_rate = c.sample_rate
        self.input_policy = InputPolicy("full", None, "repeat", "none")
        self.features = LFCCFrontEnd(c)
        layers: list[nn.Module] = [_mfm_conv(1, c.channels[0], 5), nn.MaxPool2d(2)]
        width = c.channels[0]
        for out in c.channels[1:]:
            layers += [_mfm_conv(width, width, 1), nn.BatchNorm2d(width), _mfm_conv(width, out, 3),
                       nn.MaxPool2d(2)]
            width = out
        self.cnn = nn.Sequential(*layers)
        self.num_pools = len(c.channels)
        freq = 3 * c.n_lfcc
        for _ in range(self.num_pools):
            freq //= 2
        if freq < 1:
            raise DetectorError(f"{name}: {len(c.channels)} pooling blocks leave no LFCC bins; use fewer")
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(width * freq, 2))
        self.min_samples = c.n_fft + c.hop_length * (2 ** self.num_pools - 1)

    def logits(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.cnn(self.features(waves)[:, None])  # (B, C, F', T')
        frames = torch.div(self.features.frames(lengths), 2 ** self.num_pools, rounding_mode="floor")
        mask = frame_mask(frames, x.shape[-1])[:, None, None, :].to(x.dtype)
        pooled = (x * mask).sum(-1) / mask.sum(-1)  # (B, C, F')
        return self.head(pooled.flatten(1))


class LFCCGMM(Detector):
    """Two diagonal GMMs on LFCC frames (bona fide, spoof), fitted with scikit-learn.

    ``logits`` = [0, mean frame log-likelihood ratio], so ``score`` is the LLR (higher = bona fide).
    The mixtures are kept as buffers, so a fitted model saves and loads like any other detector.
    """

    concurrent_inference = True  # a pure eval forward: batches may be scored in parallel threads

    frontend = "LFCC (torchaudio)"
    training_mode = "fit"

    def __init__(self, c: LFCCConfig, name: str = "lfcc_gmm"):
        super().__init__()
        self.name, self.config = name, c
        self.sample_rate = c.sample_rate
        self.input_policy = InputPolicy("full", None, "repeat", "none")
        self.features = LFCCFrontEnd(c)
        k, d = c.gmm_components, 3 * c.n_lfcc
        for cls in ("bonafide", "spoof"):
            self.register_buffer(f"{cls}_log_weights", torch.zeros(k))
            self.register_buffer(f"{cls}_means", torch.zeros(k, d))
            self.register_buffer(f"{cls}_precisions", torch.ones(k, d))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.min_samples = c.n_fft  # one LFCC frame

    def fitted_parameters(self) -> int:
        """Mixture weights, means and precisions of both GMMs (2 x (K + 2 K D))."""
        return sum(getattr(self, f"{cls}_{part}").numel() for cls in ("bonafide", "spoof")
                   for part in ("log_weights", "means", "precisions"))

    def _frames(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for w in waves:
            x = torch.as_tensor(np.asarray(w, dtype=np.float32))[None]
            if x.shape[1] < self.min_samples:
                raise DetectorError(f"{self.name}: a clip of {x.shape[1]} samples is shorter than "
                                    f"{self.min_samples}")
            with torch.no_grad():
                out.append(self.features(x)[0].T.numpy())
        return out

    def fit(self, waves: list[np.ndarray], labels: np.ndarray, seed: int | None = None) -> "LFCCGMM":
        """Fit both GMMs: ``waves`` 1-D float arrays at ``sample_rate``, ``labels`` 1 = bona fide, 0 = spoof.

        ``seed`` (default: the config's) seeds frame subsampling and the EM initialisation."""
        seed = self.config.seed if seed is None else seed
        from sklearn.mixture import GaussianMixture

        labels = np.asarray(labels)
        if len(waves) != len(labels):
            raise DetectorError(f"{self.name}.fit: {len(waves)} waves but {len(labels)} labels")
        frames = self._frames(waves)
        rng = np.random.default_rng(seed)
        for cls, value in (("bonafide", 1), ("spoof", 0)):
            chosen = [f for f, y in zip(frames, labels) if y == value]
            if not chosen:
                raise DetectorError(f"{self.name}.fit: no {cls} clips (labels must be 1 = bona fide, 0 = spoof)")
            data = np.concatenate(chosen).astype(np.float64)  # float32 EM collapses components
            if len(data) > self.config.gmm_max_frames:
                data = data[rng.choice(len(data), self.config.gmm_max_frames, replace=False)]
            if len(data) < self.config.gmm_components:
                raise DetectorError(f"{self.name}.fit: {len(data)} {cls} frames for "
                                    f"{self.config.gmm_components} components")
            gmm = GaussianMixture(self.config.gmm_components, covariance_type="diag",
                                  max_iter=self.config.gmm_iterations, random_state=seed,
                                  reg_covar=self.config.gmm_reg_covar)
            try:
                gmm.fit(data)
            except ValueError as err:
                raise DetectorError(f"{self.name}.fit: the {cls} GMM ({self.config.gmm_components} components, "
                                    f"{len(data)} frames) did not fit: {err} Raise gmm_reg_covar "
                                    f"(now {self.config.gmm_reg_covar}) or lower gmm_components.") from err
            getattr(self, f"{cls}_log_weights").copy_(torch.as_tensor(np.log(gmm.weights_)))
            getattr(self, f"{cls}_means").copy_(torch.as_tensor(gmm.means_))
            getattr(self, f"{cls}_precisions").copy_(torch.as_tensor(gmm.precisions_cholesky_))
        self.fitted.fill_(True)
        return self

    def _loglik(self, x: torch.Tensor, cls: str) -> torch.Tensor:
        """(B, T', D) frames → (B, T') log-likelihood under the ``cls`` mixture (diagonal Gaussians)."""
        prec = getattr(self, f"{cls}_precisions")
        means = getattr(self, f"{cls}_means")
        p2 = prec * prec  # (K, D); sum_d (x - mu)^2 p^2 expanded into matrix products, not (B, T', K, D)
        quad = (x * x) @ p2.T - 2 * x @ (means * p2).T + (means * means * p2).sum(-1)  # (B, T', K)
        log_det = prec.log().sum(-1)
        log_n = -0.5 * quad + log_det - 0.5 * x.shape[-1] * np.log(2 * np.pi)
        return torch.logsumexp(log_n + getattr(self, f"{cls}_log_weights"), dim=-1)

    def logits(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if not bool(self.fitted):
            raise DetectorError(f"{self.name}: not fitted; call fit(waves, labels) or load a fitted checkpoint")
        x = self.features(waves).transpose(1, 2)  # (B, T', D)
        llr = self._loglik(x, "bonafide") - self._loglik(x, "spoof")
        mask = frame_mask(self.features.frames(lengths), x.shape[1])
        # where(), not a product: padded frames of digital silence may hold -inf features → NaN LLRs
        score = torch.where(mask, llr, torch.zeros_like(llr)).sum(1) / mask.sum(1).to(llr.dtype)
        return torch.stack([torch.zeros_like(score), score], dim=1)


LCNN_FAMILY = DetectorFamily(
    name="lfcc_lcnn", config_cls=LFCCConfig,
    presets={"default": LFCCConfig(), "tiny": LFCCConfig(channels=(4, 4, 4))},
    default_preset="default", make=LFCCLCNN, frontend=LFCCLCNN.frontend)

GMM_FAMILY = DetectorFamily(
    name="lfcc_gmm", config_cls=LFCCConfig,
    presets={"default": LFCCConfig(), "tiny": LFCCConfig(gmm_components=4, gmm_iterations=20)},
    default_preset="default", make=LFCCGMM, frontend=LFCCGMM.frontend)
