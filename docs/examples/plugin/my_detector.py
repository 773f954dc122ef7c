"""A log-mel CNN as a spoofbench detector plugin: copy this file beside your benchmark YAML.

The contract (README, "Bring your own detector"): a factory ``build(**overrides)`` returning a
``spoofbench.models.Detector`` whose ``logits(waves, lengths)`` maps ``waves (batch, samples) float32``
and ``lengths (batch,) int64`` to logits ``(batch, 2)``, column 1 = bona fide.
"""
import torch
import torchaudio
from torch import nn

from spoofbench.models import Detector, InputPolicy


class LogMelCNN(Detector):
    sample_rate = 16000
    input_policy = InputPolicy(mode="fixed", num_samples=16000, pad="repeat")  # 1 s per clip
    frontend = "log-mel"
    min_samples = 400  # one STFT window

    def __init__(self, channels: int = 16, n_mels: int = 40, dropout: float = 0.0):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(self.sample_rate, n_fft=400, hop_length=160,
                                                        n_mels=n_mels)
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.BatchNorm2d(2 * channels), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * channels, 2))

    def logits(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        features = torch.log(self.mel(waves) + 1e-6).unsqueeze(1)  # (batch, 1, n_mels, frames)
        return self.net(features)                                  # (batch, 2)


def build(channels: int = 16, n_mels: int = 40, dropout: float = 0.0) -> LogMelCNN:
    """Every keyword is a hyperparameter a benchmark YAML can set under ``overrides:``."""
    return LogMelCNN(channels=channels, n_mels=n_mels, dropout=dropout)
