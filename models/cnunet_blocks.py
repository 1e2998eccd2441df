"""Building blocks of the causal CNUNet (seeds.md §2.2), each with `forward` and `step`.

Layout (B, C, T, F): B batch, C channels, T frames, F bins. Complex features are carried as
channel halves, [real | imag]. Every time kernel is 2 frames (current + 1 past, or + d past
frames with dilation d) and left-padded; every frequency op (stride-2 down-sampling, sub-pixel
up-sampling, 'same' padding) stays inside a frame. The seed's utterance-level GroupNorm(1, C)
is replaced by a per-frame norm (layer norm over (C, F) of each frame, same affine parameters;
`FusedFrameNorm`, the one-node form of `FrameNorm`).

Composite blocks run one code path for both modes: `_run(x, state)` is offline over the whole
sequence when `state` is None, otherwise one streaming step; `forward` and `step` wrap it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .streaming import CausalConv2d, ComplexCausalConv2d, ConvState, MeanState, RunningMean
from .streaming import FusedFrameNorm as FrameNorm

KERNEL = (2, 3)  # (time, frequency), as the seed's (3, 2) in its (F, T) layout


def forward_or_step(layer: nn.Module, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
    """Offline `layer(x)` when `state` is None (also right for stateless layers in a stream),
    else `layer.step(x, state)`."""
    if state is None:
        return layer(x), None
    return layer.step(x, state)


def states(state: Any, name: str, n: int) -> tuple:
    """The tuple field `name` of a composite state, or n Nones offline."""
    return getattr(state, name) if state is not None else (None,) * n


def complex_cat(parts: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate complex features: all real halves, then all imaginary halves (dim 1)."""
    halves = [p.chunk(2, dim=1) for p in parts]
    return torch.cat([h[0] for h in halves] + [h[1] for h in halves], dim=1)


def subpixel(x: torch.Tensor, r: int = 2) -> torch.Tensor:
    """(B, r*C, T, F) -> (B, C, T, r*F): channel r*c + j goes to channel c, bin r*f + j."""
    b, c, t, f = x.shape
    return x.reshape(b, c // r, r, t, f).permute(0, 1, 3, 4, 2).reshape(b, c // r, t, f * r)


class ConvNormAct(nn.Module):
    """Causal conv -> FrameNorm -> PReLU (one slope). The seed's INCONV with kernel (1, 1);
    its CONV with kernel (2, 3) and stride_f 2 (halves F)."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int], in_freq: int, stride_f: int = 1):
        super().__init__()
        self.conv = CausalConv2d(cin, cout, kernel, in_freq, stride_f=stride_f)
        self.norm = FrameNorm(cout, self.conv.out_freq)
        self.act = nn.PReLU()
        self.out_freq = self.conv.out_freq

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))

    def init_state(self, batch: int, *, device=None, dtype=None) -> ConvState | None:
        return self.conv.init_state(batch, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, state: ConvState | None):
        y, state = self.conv.step(x, state)
        return self.act(self.norm(y)), state


class SubPixelConv(nn.Module):
    """SPCONV: causal conv (2, 3) to 2*cout, sub-pixel to (cout, 2F), FrameNorm, PReLU."""

    def __init__(self, cin: int, cout: int, in_freq: int):
        super().__init__()
        self.conv = CausalConv2d(cin, 2 * cout, KERNEL, in_freq)
        self.norm = FrameNorm(cout, 2 * in_freq)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(subpixel(self.conv(x))))

    def init_state(self, batch: int, *, device=None, dtype=None) -> ConvState:
        return self.conv.init_state(batch, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, state: ConvState):
        y, state = self.conv.step(x, state)
        return self.act(self.norm(subpixel(y))), state


class ComplexSubPixelConv(nn.Module):
    """CSPCONV: complex causal conv (2, 3), cin -> 2*cout per part, then per part sub-pixel,
    FrameNorm and PReLU. x (B, 2*cin, T, F) -> (B, 2*cout, T, 2F), [real | imag]."""

    def __init__(self, cin: int, cout: int, in_freq: int):
        super().__init__()
        self.conv = ComplexCausalConv2d(cin, 2 * cout, KERNEL, in_freq)
        self.norm_r, self.norm_i = FrameNorm(cout, 2 * in_freq), FrameNorm(cout, 2 * in_freq)
        self.act_r, self.act_i = nn.PReLU(), nn.PReLU()

    def _post(self, y: torch.Tensor) -> torch.Tensor:
        re, im = y.chunk(2, dim=1)  # (B, 2*cout, T, F) each
        re = self.act_r(self.norm_r(subpixel(re)))  # (B, cout, T, 2F)
        im = self.act_i(self.norm_i(subpixel(im)))
        return torch.cat([re, im], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._post(self.conv(x))

    def init_state(self, batch: int, *, device=None, dtype=None) -> ConvState:
        return self.conv.init_state(batch, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, state: ConvState):
        y, state = self.conv.step(x, state)
        return self._post(y), state


@dataclass(frozen=True)
class DenseState:
    inp: ConvState
    layers: tuple[ConvState, ...]  # per dense layer (layer i keeps 2**i past frames)
    out: ConvState


class DenseBlock(nn.Module):
    """Dilated dense block: causal conv (2, 3) cin -> h = cin/2, PReLU; n dense layers, layer i
    a grouped (groups h) causal conv with dilation 2**i in T and F over the complex-ordered
    concatenation of all earlier outputs, then 1x1 conv, FrameNorm, PReLU; causal conv (2, 3)
    h -> cout, PReLU. x (B, cin, T, F) -> (B, cout, T, F)."""

    def __init__(self, cin: int, cout: int, n_layers: int, freq: int):
        super().__init__()
        h = cin // 2
        self.inp, self.act_in = CausalConv2d(cin, h, KERNEL, freq), nn.PReLU()
        self.dilated = nn.ModuleList(
            CausalConv2d(h * (i + 1), h, KERNEL, freq, dilation=(2**i, 2**i), groups=h)
            for i in range(n_layers)
        )
        self.pointwise = nn.ModuleList(ConvNormAct(h, h, (1, 1), freq) for _ in range(n_layers))
        self.out, self.act_out = CausalConv2d(h, cout, KERNEL, freq), nn.PReLU()

    def init_state(self, batch: int, *, device=None, dtype=None) -> DenseState:
        return DenseState(
            self.inp.init_state(batch, device=device, dtype=dtype),
            tuple(d.init_state(batch, device=device, dtype=dtype) for d in self.dilated),
            self.out.init_state(batch, device=device, dtype=dtype),
        )

    def _run(self, x: torch.Tensor, state: DenseState | None):
        y, s_in = forward_or_step(self.inp, x, state and state.inp)
        feats, s_layers = [self.act_in(y)], []  # newest first
        for dil, pw, s in zip(self.dilated, self.pointwise, states(state, "layers", len(self.dilated))):
            y, s = forward_or_step(dil, self._gather(feats), s)
            feats.insert(0, pw(y))
            s_layers.append(s)
        y, s_out = forward_or_step(self.out, feats[0], state and state.out)
        nxt = None if state is None else DenseState(s_in, tuple(s_layers), s_out)
        return self.act_out(y), nxt

    def _gather(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """A dilated layer's input: the complex-ordered concatenation of the earlier outputs."""
        return complex_cat(feats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, None)[0]

    def step(self, x: torch.Tensor, state: DenseState):
        return self._run(x, state)


class CTFA(nn.Module):
    """Causal time-frequency attention, x (B, C, T, F) -> x * time gate * frequency gate.

    Time gate (B, C, T, 1): mean over F of each frame -> 1x1 C -> hidden, ReLU, -> C, sigmoid.
    Frequency gate (B, C, T, F): causal `frames`-frame moving average per (C, F) bin (the only
    state, a `RunningMean`) -> 1x1 C -> hidden, ReLU, -> C, sigmoid.
    """

    def __init__(self, channels: int, hidden: int, frames: int, freq: int):
        super().__init__()
        self.time_gate = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1), nn.Sigmoid()
        )
        self.avg = RunningMean(frames, channels, freq)
        self.freq_gate = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1), nn.Sigmoid()
        )

    def _gate(self, x: torch.Tensor, avg: torch.Tensor) -> torch.Tensor:
        tg = self.time_gate(x.mean(dim=3, keepdim=True))  # (B, C, T, 1)
        return x * tg * self.freq_gate(avg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._gate(x, self.avg(x))

    def init_state(self, batch: int, *, device=None, dtype=None) -> MeanState | None:
        return self.avg.init_state(batch, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, state: MeanState | None):
        avg, state = self.avg.step(x, state)
        return self._gate(x, avg), state
