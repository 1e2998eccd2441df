"""Multi-frame complex filter over the lowest bins ("deep filtering", after DeepFilterNet),
causal: the output of bin f at frame t adds sum_{k=1..K-1} c_k(t, f) * X(t - k, f) to what
the one-frame mask made of it.

A 20 ms frame has 50 Hz bins and a main lobe of +-100 Hz, so a one-frame mask cannot take
noise out from between the harmonics of a voice; a complex filter over a few past frames of
the same bin can (it is a short filter along time per bin, i.e. a finer frequency response).
The coefficients c_k come from a (1, 3) convolution over per-frame features at full
resolution, bounded by tanh and initialised to zero, so a model trained without the filter
starts with exactly its own output.

Shapes: features (B, C, T, F), spectrum X (B, 2, T, F) [real, imaginary], K = `order` taps
(the current frame is the mask's), the lowest `bins` bins filtered. The streaming form keeps
the last K - 1 frames of X's lowest bins in `ConvState.past` (B, 2, K - 1, bins); offline,
those frames start as zeros, as in the stream's initial state.
"""

from __future__ import annotations

import torch
from torch import nn

from .conv import ConvState
from .state import state_zeros


class DeepFilter(nn.Module):
    def __init__(self, feat_channels: int, order: int, bins: int):
        super().__init__()
        if order < 2 or bins < 1:
            raise ValueError(f"deep filter needs order >= 2 and bins >= 1, got {order}, {bins}")
        self.order, self.bins = order, bins
        self.coef = nn.Conv2d(feat_channels, 2 * (order - 1), (1, 3), padding=(0, 1))
        nn.init.zeros_(self.coef.weight)
        nn.init.zeros_(self.coef.bias)

    def init_state(self, batch: int, *, device=None, dtype=None) -> ConvState:
        return ConvState(state_zeros((batch, 2, self.order - 1, self.bins), self, device, dtype))

    def forward(
        self, feats: torch.Tensor, x: torch.Tensor, y: torch.Tensor, state: ConvState
    ) -> tuple[torch.Tensor, ConvState]:
        """feats (B, C, T, F), x (B, 2, T, F) the input spectrum, y (B, 2, T, F) the masked one
        -> y with the filter's sum added on the lowest `bins` bins, next state."""
        b, _, t, _ = x.shape
        n, p = self.bins, self.order - 1
        # the (1, 3) conv over bins 0..n needs bin n for its last output; 'same' padding below 0
        c = torch.tanh(self.coef(feats[..., : n + 1])[..., :n]).reshape(b, p, 2, t, n)  # tap k at k - 1
        full = torch.cat([state.past, x[..., :n]], dim=2)  # (B, 2, P + T, n): frames t - P ...
        if t == 1:  # a stream's hop (the exported graph): the P past frames, newest first
            win = full[:, :, :p].flip(2).unsqueeze(3)  # (B, 2, P, 1, n)
        else:
            win = torch.stack([full[:, :, p - k : p - k + t] for k in range(1, p + 1)], dim=2)
        cr, ci, xr, xi = c[:, :, 0], c[:, :, 1], win[:, 0], win[:, 1]  # (B, P, T, n) each
        acc = torch.stack([(cr * xr - ci * xi).sum(1), (cr * xi + ci * xr).sum(1)], dim=1)
        low = y[..., :n] + acc  # (B, 2, T, n)
        return torch.cat([low, y[..., n:]], dim=-1), ConvState(full[:, :, t:])  # last P frames
