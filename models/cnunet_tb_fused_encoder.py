"""CNUNet-TB's encoder stages and bottleneck with their complex halves fused, for small hop graphs.

The encoder of `CNUNetTB` carries complex features as channel halves [real | imag]. Unfused,
three things cost graph nodes per hop (one CPU core: the hop time is per-node dispatch):

- `complex_cat` (the dense layers' inputs, the inner decoders' [up, skip] inputs) splits every
  part into halves and concatenates them again: here the parts are concatenated whole and the
  conv's weight reads them in that order (its input channels permuted; no MAC added).
- `ComplexSubPixelConv` splits its output into real and imaginary halves, each with its own
  sub-pixel shuffle, FrameNorm and PReLU: here the two halves are two groups of one
  `FusedConvNormAct` (one shuffle, one grouped norm, one per-channel PReLU).
- the two `CausalCTFA`s (one per half) run as one `FusedCTFA` of two groups.

Same weights (copied at construction, read-only) and the same outputs as the stages they are
built from; only the streaming state's layout differs (one attention state per stage, and the
permuted convs cache their input in the plain order). Layout (B, C, T, F).
"""

from __future__ import annotations

import torch
from torch import nn

from .cnunet_blocks import ComplexSubPixelConv, DenseBlock, forward_or_step
from .cnunet_stages import EncoderStage
from .cnunet_tb_fused import (
    FusedCausalConv,
    FusedConvNormAct,
    fused_attention,
    GroupFrameNorm,
    _complex_order,
    _prelu,
)


def _complex_from_plain(widths: list[int]) -> list[int]:
    """Where each channel of `complex_cat(parts)` (all real halves, then all imaginary halves)
    lies in `torch.cat(parts)`, for parts of `widths` channels ([real | imag] each)."""
    starts = [sum(widths[:j]) for j in range(len(widths))]
    return [s + p * (w // 2) + c for p in range(2) for s, w in zip(starts, widths) for c in range(w // 2)]


@torch.no_grad()
def _plain_input_conv(layer, widths: list[int]) -> FusedCausalConv:
    """A `ComplexCausalConv2d` over `complex_cat(parts)` -> the same conv over `cat(parts)`."""
    kernel = layer.conv
    w, b = kernel.block()  # input channels in the complex order
    conv = nn.Conv2d(
        w.shape[1],
        w.shape[0],
        tuple(w.shape[2:]),
        stride=kernel.stride,
        padding=kernel.padding,
        dilation=kernel.dilation,
    ).to(w)
    conv.weight.zero_()
    conv.weight[:, _complex_from_plain(widths)] = w
    conv.bias.copy_(b)
    return FusedCausalConv(conv, layer.context, layer.in_freq)


def _complex_subpixel(mod: ComplexSubPixelConv, widths: list[int]) -> FusedConvNormAct:
    """`ComplexSubPixelConv` over `complex_cat(parts)` -> one over `cat(parts)` whose real and
    imaginary halves are two groups: its conv's output, [real (2C) | imag (2C)], is group-major."""
    norm = GroupFrameNorm([mod.norm_r, mod.norm_i])
    return FusedConvNormAct(
        _plain_input_conv(mod.conv, widths), norm, _prelu([mod.act_r, mod.act_i], norm.channels), True
    )


class PlainDenseBlock(DenseBlock):
    """A `DenseBlock` whose dilated layers read the plain concatenation of the earlier outputs
    (their weights scattered into the complex order); every other layer is the block's own."""

    def __init__(self, block: DenseBlock):
        nn.Module.__init__(self)  # the layers are the block's, not new ones from sizes
        h = block.inp.conv.out_channels
        self.inp, self.act_in, self.pointwise = block.inp, block.act_in, block.pointwise
        self.out, self.act_out = block.out, block.act_out
        self.dilated = nn.ModuleList(
            FusedCausalConv.build([d], index=_complex_order(h, i + 1, 1), cin=h * (i + 1))
            for i, d in enumerate(block.dilated)
        ).requires_grad_(False)  # read-only copies; the other layers stay the block's

    def _gather(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(feats, dim=1)


class FusedEncoderStage(EncoderStage):
    """An `EncoderStage` (CNUNet's or a `TBEncoderStage`) with fused complex halves. x (B, cin,
    T, F) -> (y, feats) as the stage's; state a `StageState` with at most one attention state
    (the two halves' together)."""

    def __init__(self, stage: EncoderStage):
        nn.Module.__init__(self)  # the layers are built from `stage`, not from sizes
        self.inp, self.enc = stage.inp, stage.enc
        self.dense = PlainDenseBlock(stage.dense)
        h = stage.dense.out.conv.out_channels  # the inner bottleneck's width
        self.dec = nn.ModuleList()
        for k, conv in enumerate(stage.dec):
            skip = stage.enc[len(stage.enc) - 1 - k].conv.conv.out_channels
            self.dec.append(_complex_subpixel(conv, [h, skip]))
            h = 2 * conv.norm_r.channels
        self.attn = nn.ModuleList([fused_attention(list(stage.attn))] if len(stage.attn) else [])
        for new in (self.dec, self.attn):  # read-only copies; `inp`, `enc` stay the stage's
            new.requires_grad_(False)

    def _join(self, h: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat([h, skip], dim=1)  # the permuted weights read the complex order

    def _attend(self, h: torch.Tensor, attn_states: tuple):
        """Both halves' attentions as one (at most one attention state)."""
        if not len(self.attn):
            return h, ()
        y, s = forward_or_step(self.attn[0], h, attn_states[0])
        return y, (s,)
