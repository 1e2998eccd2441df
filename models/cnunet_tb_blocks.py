"""Blocks of the causal CNUNet-TB (seeds.md §1.2-1.5) that the CNUNet blocks do not cover.

- `CausalCTFA`: the two-branch model's time-frequency attention with its symmetric 17-tap time
  convolutions (which looked 8 + 8 frames ahead, §1.8) made causal: the same 17 taps, all on
  the current and 16 past frames. Both gates keep 16 past frames per conv as `ConvState`.
- `TBEncoderStage` / `TBDecoderStage`: the CNUNet nested-U-Net stages with a `CausalCTFA` at
  every level (the seed has attention in every stage, CNUNet only in the outermost).
- `polar_mask`: the bounded polar complex mask on the compressed spectrum (DCCRN-E form).
- `BottleneckFusion`: stage 1's concat + 1x1 conv of a teacher embedding into the bottleneck.

Layout (B, C, T, F): B batch, C channels, T frames, F bins; complex features as channel halves.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .streaming import ConvState

from .cnunet_blocks import forward_or_step
from .cnunet_stages import DecoderStage, EncoderStage
from .streaming import CausalConv1d, CausalConv2d, MeanState, RunningMean

_EPS = 1e-8


@dataclass(frozen=True)
class GateConfig:
    """Attention settings: `kernel` frames per causal time conv (seed 17, all past now) and the
    moving average of the frequency gate in frames (seed 32 = 512 ms at a 16 ms hop)."""

    kernel: int = 17
    frames: int = 32


@dataclass(frozen=True)
class CTFAState:
    avg: MeanState
    time: tuple[ConvState, ConvState]  #: the time gate's two Conv1d
    freq: tuple[ConvState, ConvState]  #: the frequency gate's two (kernel x 1) Conv2d


class CausalCTFA(nn.Module):
    """x (B, C, T, F) -> x * time gate (B, 1, T, 1) * frequency gate (B, 1, T, F).

    Time gate: mean over F -> causal Conv1d C->1 (k taps), ReLU, Conv1d 1->1, sigmoid.
    Frequency gate: causal `frames`-frame mean per (C, F) bin -> causal Conv2d C->1 with
    kernel (k, 1), ReLU, (k, 1) 1->1, sigmoid. Output frame t sees frames t-(k-1)..t only.
    """

    def __init__(self, channels: int, freq: int, gate: GateConfig):
        super().__init__()
        k = gate.kernel
        self.t1, self.t2 = CausalConv1d(channels, 1, k), CausalConv1d(1, 1, k)
        self.avg = RunningMean(gate.frames, channels, freq)
        self.f1, self.f2 = CausalConv2d(channels, 1, (k, 1), freq), CausalConv2d(1, 1, (k, 1), freq)
        self.relu = nn.ReLU()

    def init_state(self, batch: int, *, device=None, dtype=None) -> CTFAState:
        return CTFAState(
            self.avg.init_state(batch, device=device, dtype=dtype),
            (
                self.t1.init_state(batch, device=device, dtype=dtype),
                self.t2.init_state(batch, device=device, dtype=dtype),
            ),
            (
                self.f1.init_state(batch, device=device, dtype=dtype),
                self.f2.init_state(batch, device=device, dtype=dtype),
            ),
        )

    def _run(self, x: torch.Tensor, state: CTFAState | None):
        st = (None, None) if state is None else state.time
        sf = (None, None) if state is None else state.freq
        h, s1 = forward_or_step(self.t1, x.mean(dim=3), st[0])  # (B, 1, T)
        tg, s2 = forward_or_step(self.t2, self.relu(h), st[1])
        avg, s_avg = forward_or_step(self.avg, x, state and state.avg)  # (B, C, T, F)
        h, s3 = forward_or_step(self.f1, avg, sf[0])  # (B, 1, T, F)
        fg, s4 = forward_or_step(self.f2, self.relu(h), sf[1])
        y = x * torch.sigmoid(tg)[..., None] * torch.sigmoid(fg)
        return y, None if state is None else CTFAState(s_avg, (s1, s2), (s3, s4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, None)[0]

    def step(self, x: torch.Tensor, state: CTFAState):
        return self._run(x, state)


class TBEncoderStage(EncoderStage):
    """CMSFE-eL with a `CausalCTFA` on each complex half of its output (seed's CCTFA as two
    real attentions, one per part)."""

    def __init__(self, cin: int, mid: int, cout: int, depth: int, freq: int, n_dense: int, gate: GateConfig):
        super().__init__(cin, mid, cout, depth, freq, n_dense, None)
        self.attn = nn.ModuleList(CausalCTFA(cout // 2, freq, gate) for _ in range(2))


class TBDecoderStage(DecoderStage):
    """MSFE-dL of one decoder path with a `CausalCTFA` on its output."""

    def __init__(self, cin: int, mid: int, cout: int, depth: int, freq: int, n_dense: int, gate: GateConfig):
        super().__init__(cin, mid, cout, depth, freq, n_dense, None)
        self.attn = nn.ModuleList([CausalCTFA(cout, freq, gate)])


def complex_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, 2, T, F) x (B, 2, T, F) -> (B, 2, T, F), channel 0 real, 1 imaginary."""
    ar, ai, br, bi = a[:, :1], a[:, 1:], b[:, :1], b[:, 1:]
    return torch.cat([ar * br - ai * bi, ar * bi + ai * br], dim=1)


def polar_mask(xc: torch.Tensor, m: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Bounded polar mask: tanh(|M|)^power |Xc| e^{j(angle Xc + angle M)}; both (B, 2, T, F).
    power < 1 softens every attenuation (a calibration, like the crn's `mask_power`)."""
    mag = torch.sqrt(m.pow(2).sum(dim=1, keepdim=True) + _EPS)  # (B, 1, T, F)
    gain = torch.tanh(mag) if power == 1.0 else torch.tanh(mag).pow(power)
    return complex_mul(xc, m * (gain / mag))


class BottleneckFusion(nn.Module):
    """Stage 1: h (B, C, T, F) [real | imag] and a teacher embedding e (B, T, D) -> (B, C, T, F).

    Per part: flatten (C/2, F) to C*F/2 channels, concatenate e, 1x1 conv back to C*F/2,
    per-frame LayerNorm (the seed's GroupNorm(1) looked at the whole utterance; the teacher is
    non-causal anyway, but the rest of stage 1 stays frame-wise), reshape. Separate weights for
    the real and the imaginary part; both see the same embedding.
    """

    def __init__(self, channels: int, freq: int, embed_dim: int):
        super().__init__()
        width = channels // 2 * freq
        self.mix = nn.ModuleList(nn.Conv1d(width + embed_dim, width, 1) for _ in range(2))
        self.norm = nn.ModuleList(nn.LayerNorm(width, eps=1e-8) for _ in range(2))

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        b, c, t, f = h.shape
        e = emb.transpose(1, 2)  # (B, D, T)
        out = []
        for part, mix, norm in zip(h.chunk(2, dim=1), self.mix, self.norm):
            flat = part.permute(0, 1, 3, 2).reshape(b, c // 2 * f, t)  # (B, C/2*F, T)
            y = norm(mix(torch.cat([flat, e], dim=1)).transpose(1, 2))  # (B, T, C/2*F)
            out.append(y.reshape(b, t, c // 2, f).permute(0, 2, 1, 3))  # (B, C/2, T, F)
        return torch.cat(out, dim=1)
