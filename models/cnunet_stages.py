"""The nested U-Net stages of the causal CNUNet (seeds.md §2.3).

`EncoderStage` (the seed's CMSFE-eL) is a residual complex U-Net of depth L inside one encoder
level; besides its output it returns every intermediate decoder feature ("two-level skips").
`DecoderStage` (MSFE-dL) is the real-valued U-Net of one decoder path (real or imaginary) that
takes those features back in at every inner level. B batch, C channels, T frames, F bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .streaming import ConvState, MeanState

from .cnunet_blocks import (
    CTFA,
    KERNEL,
    ComplexSubPixelConv,
    ConvNormAct,
    DenseBlock,
    DenseState,
    SubPixelConv,
    complex_cat,
    forward_or_step,
    states,
)


@dataclass(frozen=True)
class StageState:
    enc: tuple[ConvState, ...]  # per inner encoder conv
    dense: DenseState
    dec: tuple[ConvState, ...]  # per inner decoder conv
    attn: tuple[MeanState, ...]  # per CTFA (empty when the stage has none)


@dataclass(frozen=True)
class Attention:
    """CTFA settings: hidden channels and moving-average length in frames."""

    hidden: int
    frames: int


class _Stage(nn.Module):
    """What both stage kinds share: inner encoder convs `enc`, a dense block `dense`, inner
    decoder convs `dec` and CTFAs `attn` (set by the subclass), and so one state layout."""

    def init_state(self, batch: int, *, device=None, dtype=None) -> StageState:
        return StageState(
            tuple(c.init_state(batch, device=device, dtype=dtype) for c in self.enc),
            self.dense.init_state(batch, device=device, dtype=dtype),
            tuple(c.init_state(batch, device=device, dtype=dtype) for c in self.dec),
            tuple(a.init_state(batch, device=device, dtype=dtype) for a in self.attn),
        )


class EncoderStage(_Stage):
    """CMSFE-eL. x (B, cin, T, F) -> (y (B, cout, T, F), feats), where feats[k] (k = 0..L) is
    the complex inner feature at F / 2**k, [real | imag]: feats[0] the last inner decoder
    output (cout channels, before attention), feats[L] the inner bottleneck (mid channels)."""

    def __init__(
        self, cin: int, mid: int, cout: int, depth: int, freq: int, n_dense: int, attn: Attention | None
    ):
        super().__init__()
        self.inp = ConvNormAct(cin, cout, (1, 1), freq)
        fs = [freq // 2**k for k in range(depth + 1)]  # bins at each inner level
        self.enc = nn.ModuleList(
            ConvNormAct(cout if k == 0 else mid, mid, KERNEL, fs[k], 2) for k in range(depth)
        )
        self.dense = DenseBlock(mid, mid, n_dense, fs[depth])
        self.dec = nn.ModuleList(  # complex: mid/2 (up) + mid/2 (skip) per part in
            ComplexSubPixelConv(mid, cout // 2 if k == depth - 1 else mid // 2, fs[depth - k])
            for k in range(depth)
        )
        self.attn = nn.ModuleList(
            () if attn is None else [CTFA(cout // 2, attn.hidden, attn.frames, freq) for _ in range(2)]
        )

    def _run(self, x: torch.Tensor, state: StageState | None):
        x = self.inp(x)
        h, skips, s_enc = x, [], []
        for conv, s in zip(self.enc, states(state, "enc", len(self.enc))):
            h, s = forward_or_step(conv, h, s)
            skips.append(h)
            s_enc.append(s)
        h, s_dense = forward_or_step(self.dense, h, state and state.dense)
        feats, s_dec = [h], []
        for conv, skip, s in zip(self.dec, reversed(skips), states(state, "dec", len(self.dec))):
            h, s = forward_or_step(conv, self._join(h, skip), s)
            feats.insert(0, h)
            s_dec.append(s)
        h, s_attn = self._attend(h, states(state, "attn", len(self.attn)))
        nxt = None if state is None else StageState(tuple(s_enc), s_dense, tuple(s_dec), s_attn)
        return (h + x, tuple(feats)), nxt

    def _join(self, h: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """An inner decoder's input: the complex-ordered concatenation of h and the skip."""
        return complex_cat([h, skip])

    def _attend(self, h: torch.Tensor, attn_states: tuple):
        """Separate CTFAs on the real and the imaginary half (e6 only)."""
        if not len(self.attn):
            return h, ()
        parts = [forward_or_step(a, p, s) for a, p, s in zip(self.attn, h.chunk(2, dim=1), attn_states)]
        return torch.cat([p for p, _ in parts], dim=1), tuple(s for _, s in parts)

    def forward(self, x: torch.Tensor):
        return self._run(x, None)[0]

    def step(self, x: torch.Tensor, state: StageState):
        return self._run(x, state)


class DecoderStage(_Stage):
    """MSFE-dL of one decoder path. x (B, cin, T, F) and feats (this path's half of the
    matching `EncoderStage` feats: feats[k] at F / 2**k) -> (B, cout, T, F).

    Inner encoder level k takes a 1x1 conv of cat(previous, feats[k]); inner decoder level k
    a 1x1 conv of cat(previous, own skip, feats[k + 1]) to 2*mid, then a sub-pixel conv."""

    def __init__(
        self, cin: int, mid: int, cout: int, depth: int, freq: int, n_dense: int, attn: Attention | None
    ):
        super().__init__()
        self.inp = ConvNormAct(cin, cout, (1, 1), freq)
        fs = [freq // 2**k for k in range(depth + 1)]
        self.mix_enc = nn.ModuleList(
            nn.Conv2d(2 * cout if k == 0 else 2 * mid, cout if k == 0 else mid, 1) for k in range(depth)
        )
        self.enc = nn.ModuleList(
            ConvNormAct(cout if k == 0 else mid, mid, KERNEL, fs[k], 2) for k in range(depth)
        )
        self.dense = DenseBlock(mid, mid, n_dense, fs[depth])
        self.mix_dec = nn.ModuleList(nn.Conv2d(3 * mid, 2 * mid, 1) for _ in range(depth))
        self.dec = nn.ModuleList(
            SubPixelConv(2 * mid, cout if k == depth - 1 else mid, fs[depth - k]) for k in range(depth)
        )
        self.attn = nn.ModuleList(() if attn is None else [CTFA(cout, attn.hidden, attn.frames, freq)])

    def _run(self, x: torch.Tensor, feats: tuple, state: StageState | None):
        x = self.inp(x)
        h, skips, s_enc = x, [], []
        for k, (mix, conv, s) in enumerate(zip(self.mix_enc, self.enc, states(state, "enc", len(self.enc)))):
            h, s = forward_or_step(conv, mix(torch.cat([h, feats[k]], dim=1)), s)
            skips.append(h)
            s_enc.append(s)
        h, s_dense = forward_or_step(self.dense, h, state and state.dense)
        depth, s_dec = len(self.dec), []
        for k, (mix, conv, s) in enumerate(zip(self.mix_dec, self.dec, states(state, "dec", depth))):
            x_k = mix(torch.cat([h, skips[depth - 1 - k], feats[depth - k]], dim=1))
            h, s = forward_or_step(conv, x_k, s)
            s_dec.append(s)
        s_attn = ()
        if len(self.attn):
            h, s_a = forward_or_step(self.attn[0], h, states(state, "attn", 1)[0])
            s_attn = (s_a,)
        nxt = None if state is None else StageState(tuple(s_enc), s_dense, tuple(s_dec), s_attn)
        return h + x, nxt

    def forward(self, x: torch.Tensor, feats: tuple) -> torch.Tensor:
        return self._run(x, feats, None)[0]

    def step(self, x: torch.Tensor, feats: tuple, state: StageState):
        return self._run(x, feats, state)
