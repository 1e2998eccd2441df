"""Across-frequency recurrent layer applied inside each frame (the intra-frame path of
DPCRN / GTCRN's dual-path blocks), causal by construction: it reads one frame's bins only.

x (B, C, T, F) -> every frame's F positions as a sequence of C-dim vectors -> bidirectional
GRU over frequency (hidden H per direction) -> linear 2H -> C -> LayerNorm over (F, C) of
that frame -> added to x. No state crosses frames, so streaming is the same code on one frame.
The LayerNorm gain starts at zero: the block begins as the identity, so it can be added to a
trained checkpoint and fine-tuned from exactly its output.
"""

from __future__ import annotations

import torch
from torch import nn


class IntraFrameGRU(nn.Module):
    def __init__(self, channels: int, freq: int, hidden: int):
        super().__init__()
        self.rnn = nn.GRU(channels, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, channels)
        self.norm = nn.LayerNorm((freq, channels))
        nn.init.zeros_(self.norm.weight)  # residual branch starts at zero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, T, F) -> (B, C, T, F)."""
        b, c, t, f = x.shape
        seq = x.permute(0, 2, 3, 1).reshape(b * t, f, c)  # (B*T, F, C)
        y = self.norm(self.proj(self.rnn(seq)[0]).reshape(b * t, f, c))
        return x + y.reshape(b, t, f, c).permute(0, 3, 1, 2)
