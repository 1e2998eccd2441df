"""Causal moving average over time as a streaming layer (CNUNet's CTFA frequency gate).

Output frame t is the mean of input frames t-N+1 .. t (N = `frames`), with zero frames before
the start of the stream, so the divisor is always N (as in the published causal CTFA). The
streaming state keeps the last N-1 input frames and every step re-sums the window of each new
frame, so a stream of any length never drifts (a running sum updated by +new -oldest would
accumulate float error over hours). Offline and multi-frame steps use a depthwise conv with a
constant 1/N kernel; the one-frame step (the ONNX hop graph) is a plain mean over the window,
about 5x cheaper per hop on CPU. Both agree to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .state import state_zeros


@dataclass(frozen=True)
class MeanState:
    past: torch.Tensor  # (B, C, N - 1, F): the last N - 1 input frames


class RunningMean(nn.Module):
    """x (B, C, T, F) -> (B, C, T, F): mean over the last `frames` frames, causal in T."""

    def __init__(self, frames: int, channels: int, freq: int):
        super().__init__()
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.frames, self.channels, self.freq = frames, channels, freq
        box = torch.full((channels, 1, frames, 1), 1.0 / frames)
        self.register_buffer("box", box, persistent=False)

    def _pool(self, padded: torch.Tensor) -> torch.Tensor:
        """padded (B, C, N - 1 + T, F) -> (B, C, T, F)."""
        if padded.shape[2] == self.frames:  # one output frame: the window mean
            return padded.mean(dim=2, keepdim=True)
        return F.conv2d(padded, self.box, groups=self.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._pool(F.pad(x, (0, 0, self.frames - 1, 0)))

    def init_state(self, batch: int, *, device=None, dtype=None) -> MeanState | None:
        if self.frames == 1:
            return None
        return MeanState(state_zeros((batch, self.channels, self.frames - 1, self.freq), self, device, dtype))

    def step(self, x: torch.Tensor, state: MeanState | None) -> tuple[torch.Tensor, MeanState | None]:
        """x (B, C, Tc, F) new frames -> (B, C, Tc, F), next state."""
        if state is None:
            return x, None
        full = torch.cat([state.past, x], dim=2)  # (B, C, N - 1 + Tc, F)
        return self._pool(full), MeanState(full[:, :, -(self.frames - 1) :])
