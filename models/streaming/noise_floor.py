"""Causal per-bin noise floor: how far each bin of a frame stands above the steady part.

A mask network that sees one frame at a time, and a recurrent summary of the past at a
coarse frequency resolution, cannot tell a steady tone from a voice harmonic in the same bin
(`docs/quality.md`, fifteenth round: the crn passes a 250 Hz test tone under speech at -2 to
-4 dB while removing it in the pauses). Classical enhancers answer with a noise estimate per
bin by minimum tracking; this layer computes one and hands the network the a-posteriori SNR:

    l_t = 10 log10(|X_t|^2)  per bin (from the compressed spectrum |Xc| = |X|^c),
    P_t = a P_{t-1} + (1 - a) |Xc_t|^2   (smoothed over ~`smooth_s`: a noise bin's periodogram
                                          dips 10-20 dB below its mean; the smoothed one does not),
    m_t = min(dB(P_t), m_{t-1} + rise)   (the floor falls at once, rises `rise` dB per frame),
    feature_t = clip(l_t - m_t, 0, span) / scale

A steady tone keeps its bin near its floor (feature ~0) under speech as in the pauses; a
harmonic rises above it. The floor starts at the first active frame; silent frames (digital
silence, or `active` from the caller) leave it unchanged, so leading zeros do not drag it
down to -inf. The feature depends on level differences only, so scaling the input does not
change it. No parameters; no gradient flows into it (a function of the input only).

Added to trained crn-32ms weights from a zero start (fifteenth round) the network barely used
it; a run that has it from the first step is the test not yet made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .level_norm import active_flags
from .state import state_zeros


@dataclass(frozen=True)
class FloorState:
    floor: torch.Tensor  # (B, 1, 1, F): per-bin floor in dB (0 before the first active frame)
    smooth: torch.Tensor  # (B, 1, 1, F): smoothed |Xc|^2 (0 before the first active frame)
    started: torch.Tensor  # (B, 1, 1, 1): 1.0 once an active frame has been seen


class NoiseFloor(nn.Module):
    """compressed spectrum xc (B, 2, T, F) -> (B, 1, T, F) dB above a causal per-bin floor,
    clipped to [0, span] and divided by `scale`."""

    def __init__(
        self,
        n_bins: int,
        frame_seconds: float,
        rise_db_per_s: float,
        compress: float,
        smooth_s: float = 0.064,
        span_db: float = 60.0,
        scale_db: float = 20.0,
        floor: float = 1e-10,
    ):
        super().__init__()
        if rise_db_per_s <= 0:
            raise ValueError(f"rise_db_per_s must be > 0, got {rise_db_per_s}")
        self.n_bins = n_bins
        self.rise = rise_db_per_s * frame_seconds  # dB per frame
        self.alpha = math.exp(-frame_seconds / smooth_s)
        self.db = 10.0 / compress / math.log(10.0)  # ln(|Xc|^2) -> dB of |X|^2
        self.span, self.scale, self.floor = span_db, scale_db, floor

    def init_state(self, batch: int, *, device=None, dtype=None) -> FloorState:
        bins = state_zeros((batch, 1, 1, self.n_bins), self, device, dtype)
        return FloorState(bins, bins.clone(), state_zeros((batch, 1, 1, 1), self, device, dtype))

    def forward(self, xc: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        return self.step(xc, self.init_state(xc.shape[0], device=xc.device, dtype=xc.dtype), active)[0]

    def step(
        self, xc: torch.Tensor, state: FloorState, active: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, FloorState]:
        """xc (B, 2, Tc, F) new frames, active (B, Tc) bool or None (mean |Xc|^2 above `floor`)
        -> (feature (B, 1, Tc, F), next state)."""
        mag2 = xc.detach().pow(2).sum(dim=1, keepdim=True)  # (B, 1, Tc, F) = |X|^(2c)
        level = self.db * torch.log(mag2 + 1e-12)  # dB; a bin of exact zero reads ~ -400 dB
        flags = active_flags(mag2.mean(dim=3, keepdim=True), self.floor, active).to(xc)  # (B, 1, Tc, 1)
        floor, smooth, started = state.floor.to(xc), state.smooth.to(xc), state.started.to(xc)
        a, floors = self.alpha, []
        for t in range(xc.shape[2]):
            pt, on = mag2[:, :, t : t + 1], flags[:, :, t : t + 1]
            smoothed = started * (a * smooth + (1 - a) * pt) + (1 - started) * pt
            st = self.db * torch.log(smoothed + 1e-12)
            tracked = started * torch.minimum(st, floor + self.rise) + (1 - started) * st
            floor = on * tracked + (1 - on) * floor
            smooth = on * smoothed + (1 - on) * smooth
            started = torch.maximum(started, on)
            floors.append(floor)
        above = (level - torch.cat(floors, dim=2)).clamp(0.0, self.span)
        return above * (flags / self.scale), FloorState(floor, smooth, started)
