"""Convolutions that are causal along time, with a cached-past-frames streaming step.

Time is axis 2 in both layouts: (B, C, T) for Conv1d and (B, C, T, F) for Conv2d. A time
kernel kt with dilation dt sees the current frame and `context = (kt - 1) * dt` past frames;
the offline form left-pads `context` zero frames, the streaming form keeps the last `context`
input frames in `ConvState.past`. Frequency (Conv2d only) is handled within a frame: centred
'same' padding and an optional stride, so it never touches other frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .state import state_zeros


@dataclass(frozen=True)
class ConvState:
    past: torch.Tensor  # (B, C_in, context[, F_in]): the last `context` input frames


def extend_cache(past: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, ConvState]:
    """Cached frames `past` (B, C, P, ...) and new frames x (B, C, Tc, ...) -> (both along time
    (B, C, P + Tc, ...), the next cache: the last P of them)."""
    full = torch.cat([past, x], dim=2)
    # as many new frames as the cache holds: they are the cache (no Slice node in the graph)
    return full, ConvState(x if x.shape[2] == past.shape[2] else full[:, :, -past.shape[2] :])


class CausalTimeConv(nn.Module):
    conv: nn.Conv1d | nn.Conv2d
    context: int

    def _pad_time(self, x: torch.Tensor) -> torch.Tensor:
        if self.context == 0:  # a 1-frame kernel: nothing to pad (and no Pad node in a graph)
            return x
        pad = [0, 0] * (x.dim() - 3) + [self.context, 0]
        return F.pad(x, pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, T[, F]) -> (B, C_out, T[, F_out]); output t sees inputs <= t only."""
        return self.conv(self._pad_time(x))

    def step(self, x: torch.Tensor, state: ConvState | None) -> tuple[torch.Tensor, ConvState | None]:
        """x: (B, C_in, Tc[, F]) new frames, Tc >= 1 -> (B, C_out, Tc[, F_out]), next state."""
        if state is None:  # kernel 1 in time: nothing to remember
            return self.conv(x), None
        full, state = extend_cache(state.past, x)  # (B, C_in, context + Tc[, F])
        return self.conv(full), state

    def _zeros(self, shape: tuple[int, ...], device=None, dtype=None) -> ConvState | None:
        if self.context == 0:
            return None
        return ConvState(state_zeros(shape, self, device, dtype))


class CausalConv1d(CausalTimeConv):
    """Conv1d over (B, C, T), causal in T."""

    def __init__(
        self, cin: int, cout: int, kernel: int, dilation: int = 1, groups: int = 1, bias: bool = True
    ):
        super().__init__()
        self.context = (kernel - 1) * dilation
        self.conv = nn.Conv1d(cin, cout, kernel, dilation=dilation, groups=groups, bias=bias)

    def init_state(self, batch: int, *, device=None, dtype=None) -> ConvState | None:
        return self._zeros((batch, self.conv.in_channels, self.context), device, dtype)


class CausalConv2d(CausalTimeConv):
    """Conv2d over (B, C, T, F): causal in T, 'same'-padded (optionally strided) in F.

    kernel = (kt, kf), dilation = (dt, df). Output bins: floor((F + 2*pad_f - df*(kf-1) - 1) /
    stride_f) + 1 with pad_f = df * (kf - 1) // 2.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: tuple[int, int],
        in_freq: int,
        dilation: tuple[int, int] = (1, 1),
        stride_f: int = 1,
        groups: int = 1,
        bias: bool = True,
    ):
        super().__init__()
        kt, kf = kernel
        dt, df = dilation
        self.context = (kt - 1) * dt
        self.in_freq = in_freq
        pad_f = df * (kf - 1) // 2
        self.conv = nn.Conv2d(
            cin,
            cout,
            kernel,
            stride=(1, stride_f),
            dilation=dilation,
            padding=(0, pad_f),
            groups=groups,
            bias=bias,
        )
        self.out_freq = (in_freq + 2 * pad_f - df * (kf - 1) - 1) // stride_f + 1

    def init_state(self, batch: int, *, device=None, dtype=None) -> ConvState | None:
        return self._zeros((batch, self.conv.in_channels, self.context, self.in_freq), device, dtype)
