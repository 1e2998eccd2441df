"""A delay line of whole frames: what a model with look-ahead uses to line what it computed at
frame t up with frame t - L, the frame its output belongs to.

Offline: x (B, C, T, ...) -> the same with `frames` zero frames in front along T (axis 2) and
the last `frames` dropped. Streaming: the last `frames` input frames are the state
(`ConvState.past`, as a causal conv caches its past), so any chunking gives the offline numbers.
"""

from __future__ import annotations

import torch
from torch import nn

from .conv import ConvState, extend_cache
from .state import state_zeros


def delay_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """x (B, C, T, ...) -> the same `frames` frames late along T: zeros first, the last dropped."""
    zeros = x.new_zeros(x.shape[0], x.shape[1], frames, *x.shape[3:])
    return torch.cat([zeros, x], dim=2)[:, :, : x.shape[2]]


class FrameDelay(nn.Module):
    """x (B, C, T, *rest) -> x delayed by `frames` >= 1 frames along T; state (B, C, frames,
    *rest) with rest = `rest` (e.g. (F,) for a spectrum, () for (B, C, T) features)."""

    def __init__(self, frames: int, channels: int, rest: tuple[int, ...] = ()):
        super().__init__()
        if frames < 1:
            raise ValueError(f"a frame delay needs frames >= 1, got {frames}")
        self.frames, self.channels, self.rest = frames, channels, tuple(rest)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return delay_frames(x, self.frames)

    def step(self, x: torch.Tensor, state: ConvState) -> tuple[torch.Tensor, ConvState]:
        """x (B, C, Tc, ...) new frames -> the Tc frames `frames` steps older, next state."""
        full, state = extend_cache(state.past, x)  # (B, C, frames + Tc, ...)
        return full[:, :, : x.shape[2]], state

    def init_state(self, batch: int, *, device=None, dtype=None) -> ConvState:
        shape = (batch, self.channels, self.frames) + self.rest
        return ConvState(state_zeros(shape, self, device, dtype))
