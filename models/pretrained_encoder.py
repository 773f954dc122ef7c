"""``ge2e_speaker_head``: a frozen pretrained speech encoder + a small trained head.

The encoder is resemblyzer's GE2E **speaker** encoder (Wan et al., "Generalized End-to-End Loss for Speaker
Verification", ICASSP 2018; weights ``pretrained.pt`` shipped inside the ``resemblyzer`` wheel, trained by
its authors for speaker verification). It is *not* a self-supervised (SSL) model like WavLM: it stands in
for the "large pretrained encoder + small head" family of the demo because its weights are on this machine
offline. Only the head is trained; the encoder's weights never change (``requires_grad=False``, kept in
eval mode).

``waves`` (B, T) at 16 kHz → (increase-only volume normalisation to -30 dBFS RMS, as resemblyzer's
``preprocess_wav``) → 40-band mel power spectrogram, 25 ms / 10 ms (librosa's
``melspectrogram`` defaults, as resemblyzer's ``wav_to_mel_spectrogram``) → 3-layer LSTM (256) →

* ``features="embedding"``: the GE2E utterance embedding (ReLU(linear(last hidden state)), L2-normed), 256-d;
* ``features="frames"``: that embedding plus the mean and standard deviation over frames of the last LSTM
  layer's outputs (frame-level features), 768-d;

→ head: ``"logistic"`` (LayerNorm → linear → 2 logits) or ``"mlp"`` (LayerNorm → linear ``head_dim`` →
ReLU → linear → 2). The default preset: frames + mlp, 1,423,616 frozen and 50,882 trained parameters.

Weights come only from the installed package (``importlib.metadata`` locates the file; resemblyzer itself is
not imported) or from ``weights_path``; nothing is downloaded. The ``tiny`` preset is a random-init encoder
for fast tests.
"""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from spoofbench.errors import CheckpointError, DetectorError

from .base import Detector, DetectorFamily, count_parameters
from .policy import InputPolicy

#: What the encoder's weights file is called inside the resemblyzer wheel.
PACKAGE, WEIGHTS_FILE = "resemblyzer", "resemblyzer/pretrained.pt"
#: resemblyzer's ``audio_norm_target_dBFS`` (volume is only ever raised to it).
TARGET_DBFS = -30.0
_INT16_MAX = 2 ** 15 - 1


@dataclass(frozen=True)
class EncoderHeadConfig:
    """``weights_path``: the encoder weights (``None``: resemblyzer's ``pretrained.pt``, installed);
    ``random_init``: no weights (tests, meta-device counting); ``features``: "embedding" | "frames";
    ``head``: "logistic" | "mlp"."""

    weights_path: str | None = None
    random_init: bool = False
    features: str = "frames"
    head: str = "mlp"
    head_dim: int = 64
    n_mels: int = 40
    hidden: int = 256
    layers: int = 3
    embedding: int = 256
    num_samples: int = 64600
    sample_rate: int = 16000


def packaged_weights() -> Path:
    """The path of ``pretrained.pt`` inside the installed resemblyzer distribution (no import of it)."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError as err:
        raise CheckpointError(f"ge2e_speaker_head needs the pretrained GE2E speaker encoder shipped in the "
                              f"{PACKAGE!r} wheel; install it with `pip install resemblyzer==0.1.4` (or give "
                              f"weights_path=...)") from err
    path = Path(str(dist.locate_file(WEIGHTS_FILE)))
    if not path.is_file():
        raise CheckpointError(f"{path}: the {PACKAGE} distribution is installed but its {WEIGHTS_FILE} is missing")
    return path


def load_encoder_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The encoder's ``lstm.*`` / ``linear.*`` tensors of a resemblyzer checkpoint (``{"model_state": ...}``).

    The file also holds GE2E's loss scale/bias (``similarity_weight``/``similarity_bias``) and the
    optimiser state: not part of the encoder, left out. Any other key is an error (another model's file)."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a foreign file
        raise CheckpointError(f"{path}: cannot read as a torch checkpoint: {err}") from err
    state = payload.get("model_state") if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected resemblyzer's {{'model_state': ...}} checkpoint, got "
                              f"{sorted(payload) if isinstance(payload, dict) else type(payload).__name__}")
    unknown = sorted(k for k in state if not k.startswith(("lstm.", "linear.", "similarity_")))
    if unknown:
        raise CheckpointError(f"{path}: keys {unknown[:4]} are not the GE2E speaker encoder's")
    return {k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))}


class GE2EEncoder(nn.Module):
    """Mel frames (B, F, n_mels) → last-layer frame outputs (B, F, hidden) and the embedding (B, embedding)."""

    def __init__(self, c: EncoderHeadConfig):
        super().__init__()
        self.lstm = nn.LSTM(c.n_mels, c.hidden, c.layers, batch_first=True)
        self.linear = nn.Linear(c.hidden, c.embedding)

    def forward(self, mels: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        packed = nn.utils.rnn.pack_padded_sequence(mels, frames.cpu(), batch_first=True, enforce_sorted=False)
        out, (hidden, _) = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=mels.shape[1])
        embed = torch.relu(self.linear(hidden[-1]))
        return out, embed / embed.norm(dim=1, keepdim=True).clamp_min(1e-12)


class EncoderHeadDetector(Detector):
    """``waves`` (B, T) → logits (B, 2) through the frozen GE2E encoder and a trained head."""

    concurrent_inference = True  # the eval forward keeps no state
    name = "ge2e_speaker_head"

    def __init__(self, config: EncoderHeadConfig):
        super().__init__()
        import torchaudio

        c = self.config = config
        if c.features not in ("embedding", "frames"):
            raise DetectorError(f"{self.name}: features={c.features!r}; expected 'embedding' or 'frames'")
        if c.head not in ("logistic", "mlp"):
            raise DetectorError(f"{self.name}: head={c.head!r}; expected 'logistic' or 'mlp'")
        self.sample_rate = c.sample_rate
        self.input_policy = InputPolicy("fixed", c.num_samples, "repeat", "none")
        self.n_fft, self.hop = c.sample_rate * 25 // 1000, c.sample_rate * 10 // 1000
        # librosa.feature.melspectrogram's defaults: periodic Hann, centred frames zero-padded, power 2, Slaney.
        # Built on the CPU even inside a meta-device context (counting): the Slaney scale indexes by mask.
        with torch.device("cpu"):
            self.mel = self._mel_transform(torchaudio, c)
        self.encoder = GE2EEncoder(c)
        if not c.random_init:
            path = Path(c.weights_path) if c.weights_path else packaged_weights()
            self.encoder.load_state_dict(load_encoder_state(path), strict=True)
            self.weights_file = str(path)
        self.encoder.requires_grad_(False)
        dim = c.embedding + (2 * c.hidden if c.features == "frames" else 0)
        if c.head == "logistic":
            self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2))
        else:
            self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, c.head_dim), nn.ReLU(),
                                      nn.Linear(c.head_dim, 2))
        self.min_samples = self.n_fft
        frozen, trained = self.parameter_split()
        self.frontend = (f"GE2E speaker encoder (resemblyzer, pretrained for speaker verification; not SSL), "
                         f"frozen: {frozen:,} frozen + {trained:,} trained parameters")

    def _mel_transform(self, torchaudio, c: EncoderHeadConfig) -> nn.Module:
        return torchaudio.transforms.MelSpectrogram(
            sample_rate=c.sample_rate, n_fft=self.n_fft, hop_length=self.hop, n_mels=c.n_mels, power=2.0,
            center=True, pad_mode="constant", norm="slaney", mel_scale="slaney")

    def parameter_split(self) -> tuple[int, int]:
        """(frozen, trained) parameter counts."""
        trained = count_parameters(self, trainable_only=True)
        return count_parameters(self) - trained, trained

    def train(self, mode: bool = True) -> "EncoderHeadDetector":
        super().train(mode)
        self.encoder.eval()  # frozen: never in training mode
        return self

    def describe(self) -> dict:
        frozen, trained = self.parameter_split()
        return {**super().describe(), "frozen_parameters": frozen, "trained_parameters": trained}

    def _mels(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) → mel power frames (B, F, n_mels) and the frames of each clip (B,)."""
        mask = torch.arange(waves.shape[1], device=waves.device)[None, :] < lengths[:, None]
        waves = waves * mask
        rms = (waves.square().sum(1) / lengths).sqrt() * _INT16_MAX
        change = TARGET_DBFS - 20.0 * torch.log10(rms.clamp_min(1e-8) / _INT16_MAX)
        gain = torch.where(change > 0, 10.0 ** (change / 20.0), torch.ones_like(change))
        mels = self.mel(waves * gain[:, None]).transpose(1, 2)  # (B, F, n_mels)
        frames = torch.div(lengths, self.hop, rounding_mode="floor") + 1
        return mels, frames.clamp(max=mels.shape[1])

    def features(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T) → (B, D) frozen features (no gradient)."""
        with torch.no_grad():
            mels, frames = self._mels(waves, lengths)
            out, embed = self.encoder(mels, frames)
            if self.config.features == "embedding":
                return embed
            valid = (torch.arange(out.shape[1], device=out.device)[None, :] < frames[:, None]).unsqueeze(-1)
            n = frames[:, None].to(out.dtype)
            mean = (out * valid).sum(1) / n
            std = (((out - mean[:, None]) * valid).square().sum(1) / n).clamp_min(1e-10).sqrt()
            return torch.cat([embed, mean, std], dim=1)

    def logits(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(waves, lengths))


_DEFAULT = EncoderHeadConfig()
FAMILY = DetectorFamily(
    name="ge2e_speaker_head", config_cls=EncoderHeadConfig,
    presets={"default": _DEFAULT,
             "logistic": EncoderHeadConfig(features="embedding", head="logistic"),
             "tiny": EncoderHeadConfig(random_init=True, hidden=16, layers=1, embedding=16, head_dim=8,
                                       num_samples=4000)},
    default_preset="default", make=EncoderHeadDetector,
    frontend="GE2E speaker encoder (pretrained, frozen; not SSL)")
