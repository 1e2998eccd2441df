"""Causal input level normalisation: divide each frame by a running level of the past.

Per-frame normalisation (`FrameNorm`) makes a network blind to how loud a frame is compared
with the frames before it, which is what tells speech from the noise floor; no normalisation
makes it depend on the absolute input level. `LevelNorm` divides the spectrum by the square
root of an exponential moving average of its frame power (mean over channels and bins):

    mu_t = a * mu_{t-1} + (1 - a) * p_t,   a = exp(-hop / tau),   y_t = x_t / sqrt(mu_t + eps)

so the output does not change when the input is scaled (the average starts at the first
frame's own power), while loud and quiet frames keep their contrast over ~tau seconds.
Frames whose power is at or below `floor` (digital silence) leave the average untouched; the
average starts at the first frame above the floor. A caller that knows better which frames are
silent (a threshold on the uncompressed frame level, `SpectralEnhancer.silent_frames`) passes
that as `active` instead. No parameters; no gradient flows into the statistics (they are
functions of the input only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .state import state_zeros


def active_flags(power: torch.Tensor, floor: float, active: torch.Tensor | None) -> torch.Tensor:
    """Which frames a running statistic measures: power (B, 1, Tc, 1), the mean square of each
    frame's spectrum over channels and bins, above `floor` (digital silence is not), unless the
    caller knows better (active (B, Tc) bool) -> (B, 1, Tc, 1) bool."""
    return (power > floor) if active is None else active[:, None, :, None]


@dataclass(frozen=True)
class LevelState:
    mean: torch.Tensor  # (B, 1, 1, 1): running mean frame power (0 before the first active frame)
    started: torch.Tensor  # (B, 1, 1, 1): 1.0 once a frame above the floor has been seen


class LevelNorm(nn.Module):
    """x (B, C, T, F) -> x / sqrt(running mean frame power), causal in T."""

    def __init__(self, frame_seconds: float, tau_seconds: float, floor: float = 1e-10, eps: float = 1e-8):
        super().__init__()
        if tau_seconds <= 0:
            raise ValueError(f"tau_seconds must be > 0, got {tau_seconds}")
        self.alpha = math.exp(-frame_seconds / tau_seconds)
        self.floor, self.eps = floor, eps

    def init_state(self, batch: int, *, device=None, dtype=None) -> LevelState:
        z = state_zeros((batch, 1, 1, 1), self, device, dtype)
        return LevelState(z, z.clone())

    def forward(self, x: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        return self.step(x, self.init_state(x.shape[0], device=x.device, dtype=x.dtype), active)[0]

    def step(
        self, x: torch.Tensor, state: LevelState, active: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, LevelState]:
        """x (B, C, Tc, F) new frames, active (B, Tc) bool or None (power above `floor`) ->
        (normalised (B, C, Tc, F), next state)."""
        mean, started = state.mean.to(x), state.started.to(x)
        power = x.detach().pow(2).mean(dim=(1, 3), keepdim=True)  # (B, 1, Tc, 1)
        flags = active_flags(power, self.floor, active).to(x)
        means = []
        for t in range(x.shape[2]):
            p = power[:, :, t : t + 1]
            active_t = flags[:, :, t : t + 1]
            updated = started * (self.alpha * mean + (1 - self.alpha) * p) + (1 - started) * p
            mean = active_t * updated + (1 - active_t) * mean
            started = torch.maximum(started, active_t)
            means.append(mean)
        scale = torch.rsqrt(torch.cat(means, dim=2) + self.eps)  # (B, 1, Tc, 1)
        return x * scale, LevelState(mean, started)
