"""Normalisation that never looks at other frames.

The seed models' GroupNorm(1, C) over (C, F, T) normalises with statistics of the whole
utterance, so an output frame depends on future frames. `FrameNorm` computes mean and variance
over (C, F) of each frame alone: it is stateless, identical offline and streaming.
"""

from __future__ import annotations

import torch
from torch import nn


class FrameNorm(nn.Module):
    """Layer norm over channels and frequency of each frame. x: (B, C, T, F) -> same shape."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 3), keepdim=True)  # (B, 1, T, 1)
        var = (x - mean).pow(2).mean(dim=(1, 3), keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
