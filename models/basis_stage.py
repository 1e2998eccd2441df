"""A second stage over the first stage's estimate in a learned basis (after DTLN's second core).

DTLN refines its STFT-masked frame with a second recurrent core that masks the frame in a
learned basis (a linear encoder of the frame, instant layer norm, LSTMs, a sigmoid mask, a
linear decoder). Here the same idea runs on the crn's estimate Yc, the compressed complex
spectrum of the frame (B, 2, T, F), where the crn's loss lives (DTLN's basis spans the frame's
samples; the compression keeps the gradients of quiet bins bounded):

    e = E vec(Yc_t)                       (B, T, N)  learned basis, no bias
    m = sigmoid(W GRU(LayerNorm(e)) + b)   (B, T, N)  one-directional GRU: causal
    Yc'_t = Yc_t + D (m * e)               (B, 2, T, F)

With `noisy`, the basis also spans the noisy input Xc: e = E [vec(Yc_t); vec(Xc_t)] (what the
first stage's mask lost is then still in view). The correction is residual and D starts at zero,
so a checkpoint without the stage is fine-tuned with it from exactly its own output. E, D carry
no bias and the layer norm hides the frame's level from the GRU, so a gain g on the input (g^p
on Yc) scales the correction by the same g^p: the stage keeps the crn's level invariance. Per
frame 2 (2F N) + 3 H (N + H) + H N multiply-adds (F 257, N 256, H 128: 0.44 M, 44 M per second
at a 10 ms hop; with `noisy` 2F N more).
"""

from __future__ import annotations

import torch
from torch import nn

from .streaming import GRUState, StreamGRU


class BasisStage(nn.Module):
    """Yc (B, 2, T, F) [, Xc (B, 2, T, F)] -> refined Yc (B, 2, T, F); `n_basis` = N,
    `hidden` = H; `noisy`: the basis spans Xc too."""

    def __init__(self, n_bins: int, n_basis: int, hidden: int, noisy: bool = False):
        super().__init__()
        self.noisy = noisy
        self.encode = nn.Linear((4 if noisy else 2) * n_bins, n_basis, bias=False)
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

    def _encode(self, y: torch.Tensor, x: torch.Tensor | None) -> torch.Tensor:
        """-> e (B, T, N)."""
        if self.noisy != (x is not None):
            raise ValueError(f"BasisStage(noisy={self.noisy}) needs the noisy input iff noisy")
        flat = self._flat(y) if x is None else torch.cat([self._flat(y), self._flat(x)], dim=-1)
        return self.encode(flat)

    def forward(self, y: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        e = self._encode(y, x)
        return self._correct(y, e, self.rnn(self.norm(e)))

    def init_state(self, batch: int, *, device=None, dtype=None) -> GRUState:
        return self.rnn.init_state(batch, device=device, dtype=dtype)

    def step(
        self, y: torch.Tensor, state: GRUState, x: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, GRUState]:
        """y (B, 2, k, F) [, x (B, 2, k, F)] -> (B, 2, k, F), next state."""
        e = self._encode(y, x)
        h, state = self.rnn.step(self.norm(e), state)
        return self._correct(y, e, h), state
