"""One-directional recurrent layers with cached hidden state.

Offline: x (B, T, D) over the whole utterance from a zero state. Streaming: the same weights,
any number of new frames per call, hidden state carried in a typed dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .state import state_zeros


@dataclass(frozen=True)
class GRUState:
    h: torch.Tensor  # (layers, B, H)


@dataclass(frozen=True)
class LSTMState:
    h: torch.Tensor  # (layers, B, H)
    c: torch.Tensor  # (layers, B, H)


class StreamGRU(nn.Module):
    """Unidirectional GRU, batch-first: (B, T, D) -> (B, T, H)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1):
        super().__init__()
        self.rnn = nn.GRU(input_size, hidden_size, num_layers, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]

    def init_state(self, batch: int, *, device=None, dtype=None) -> GRUState:
        r = self.rnn
        return GRUState(state_zeros((r.num_layers, batch, r.hidden_size), self, device, dtype))

    def step(self, x: torch.Tensor, state: GRUState) -> tuple[torch.Tensor, GRUState]:
        """x: (B, Tc, D) -> (B, Tc, H), next state."""
        y, h = self.rnn(x, state.h)
        return y, GRUState(h)


class StreamLSTM(nn.Module):
    """Unidirectional LSTM, batch-first: (B, T, D) -> (B, T, H)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]

    def init_state(self, batch: int, *, device=None, dtype=None) -> LSTMState:
        r = self.rnn
        z = state_zeros((r.num_layers, batch, r.hidden_size), self, device, dtype)
        return LSTMState(z, z.clone())

    def step(self, x: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """x: (B, Tc, D) -> (B, Tc, H), next state."""
        y, (h, c) = self.rnn(x, (state.h, state.c))
        return y, LSTMState(h, c)
