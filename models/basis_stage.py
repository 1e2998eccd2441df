"""A second stage over the first stage's estimate in a learned basis (after DTLN's second core).

DTLN refines its STFT-masked frame with a second recurrent core that masks the frame in a
learned basis (a linear encoder of the frame, instant layer norm, LSTMs, a sigmoid mask, a
linear decoder). Here the same idea runs on the crn's estimate Yc, the compressed complex
spectrum of the frame (B, 2, T, F), which is one linear map away from its samples:

    e = E vec(Yc_t)                       (B, T, N)  learned basis, no bias
    m = sigmoid(W GRU(LayerNorm(e)) + b)   (B, T, N)  one-directional GRU: causal
    Yc'_t = Yc_t + D (m * e)               (B, 2, T, F)

The correction is residual and D starts at zero, so a checkpoint without the stage is
fine-tuned with it from exactly its own output. E, D carry no bias and the layer norm hides the
frame's level from the GRU, so a gain g on the input (g^p on Yc) scales the correction by the
same g^p: the stage keeps the crn's level invariance. Per frame 2 (2F N) + 3 H (N + H) + H N
multiply-adds (F 257, N 256, H 128: 0.44 M, 44 M per second at a 10 ms hop).
"""

from __future__ import annotations

import torch
from torch import nn

from .streaming import GRUState, StreamGRU


class BasisStage(nn.Module):
    """Yc (B, 2, T, F) -> refined Yc (B, 2, T, F); `n_basis` = N, `hidden` = H."""

    def __init__(self, n_bins: int, n_basis: int, hidden: int):
        super().__init__()
        self.encode = nn.Linear(2 * n_bins, n_basis, bias=False)
        self.norm = nn.LayerNorm(n_basis)
        self.rnn = StreamGRU(n_basis, hidden, 1)
        self.mask = nn.Linear(hidden, n_basis)
        self.decode = nn.Linear(n_basis, 2 * n_bins, bias=False)
        nn.init.zeros_(self.decode.weight)

    @staticmethod
    def _flat(y: torch.Tensor) -> torch.Tensor:
        b, _, t, f = y.shape
        return y.permute(0, 2, 1, 3).reshape(b, t, 2 * f)  # (B, T, 2F): [re_0.., im_0..]

    def _correct(self, y: torch.Tensor, e: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        b, _, t, f = y.shape
        d = self.decode(torch.sigmoid(self.mask(h)) * e)  # (B, T, 2F)
        return y + d.reshape(b, t, 2, f).transpose(1, 2)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        e = self.encode(self._flat(y))
        return self._correct(y, e, self.rnn(self.norm(e)))

    def init_state(self, batch: int, *, device=None, dtype=None) -> GRUState:
        return self.rnn.init_state(batch, device=device, dtype=dtype)

    def step(self, y: torch.Tensor, state: GRUState) -> tuple[torch.Tensor, GRUState]:
        """y (B, 2, k, F) -> (B, 2, k, F), next state."""
        e = self.encode(self._flat(y))
        h, state = self.rnn.step(self.norm(e), state)
        return self._correct(y, e, h), state
