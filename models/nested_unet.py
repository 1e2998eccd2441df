"""What CNUNet and CNUNet-TB share: the nested U-Net configuration, the bin count per level, and
the encoder skeleton (input conv -> per level an encoder stage and a grouped stride-2
down-sampler -> dense bottleneck). Each model adds its own encoder stages and decoders.
B batch, C channels, T frames, F bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn

from .cnunet_blocks import ConvNormAct, DenseBlock, forward_or_step, states
from .spectral import SpectralConfig, SpectralEnhancer


def nested_unet_bins(cfg: "NestedUNetConfig") -> list[int]:
    """Bins at each encoder level (DC dropped) of a nested U-Net config (CNUNet, CNUNet-TB);
    raises unless every U-Net halves its bins exactly and the widths split into complex halves
    (the decoder's dense blocks split mid/4 channels into real and imaginary parts)."""
    if cfg.mid % 8 or cfg.out % 4:
        raise ValueError(f"need mid % 8 == 0 and out % 4 == 0, got {cfg.mid}, {cfg.out}")
    bins = [(cfg.n_fft // 2) // 2**k for k in range(len(cfg.stages) + 1)]
    for f, depth in zip(bins, cfg.stages):
        if f < 2**depth or f % 2**depth:
            raise ValueError(
                f"{f} bins cannot be halved {depth} times: n_fft {cfg.n_fft} does not fit stages {cfg.stages}"
            )
    return bins


@dataclass(frozen=True)
class NestedUNetConfig(SpectralConfig):
    """The fields both nested U-Nets have beyond `SpectralConfig`; mid / out:
    inner and outer channel widths (published 32 / 64); stages: inner U-Net depth of each
    encoder level (the decoder mirrors it); dense_layers: layers per dilated dense block
    (receptive field 2**n frames); attn_frames: the attention's causal moving average, frames."""

    n_fft: int = 512  # 256 bins without DC: six halvings down to 4
    mid: int = 32
    out: int = 64
    stages: tuple[int, ...] = (6, 5, 4, 4, 4, 3)
    dense_layers: int = 7
    attn_frames: int = 32

    def __post_init__(self):
        nested_unet_bins(self)

    def level_bins(self) -> list[int]:
        return nested_unet_bins(self)


def down_sampler(channels: int) -> nn.Conv2d:
    """The seed's down_sampling_half: per channel half, kernel 3 stride 2 in F (grouped)."""
    return nn.Conv2d(channels, channels, (1, 3), stride=(1, 2), padding=(0, 1), groups=2)


class NestedUNet(SpectralEnhancer):
    """The shared encoder skeleton. Subclasses call `build_encoder` with their encoder stages
    (one per level) and decode what `encode` returns."""

    def build_encoder(self, cfg: NestedUNetConfig, stages: Iterable[nn.Module]) -> None:
        bins, n, c = cfg.level_bins(), len(cfg.stages), cfg.out
        self.inp = ConvNormAct(2, c, (1, 1), bins[0])
        self.enc = nn.ModuleList(stages)
        self.down = nn.ModuleList(down_sampler(c) for _ in range(n))
        self.bottleneck = DenseBlock(c, c, cfg.dense_layers, bins[n])

    def encode(self, xc: torch.Tensor, state):
        """xc (B, 2, T, 257) -> (bottleneck input (B, out, T, F/64), skips, feats, encoder
        states). Offline when state is None. The fused streaming forms (`cnunet_fused`,
        `cnunet_tb_fused`) call it on themselves: their own `enc`, the model's `inp` and `down`."""
        h = self.inp(xc[..., 1:])  # (B, out, T, 256): DC dropped
        skips, feats, s_enc = [], [], []
        for enc, down, s in zip(self.enc, self.down, states(state, "enc", len(self.enc))):
            (y, f), s = forward_or_step(enc, h, s)
            skips.append(y)
            feats.append(f)
            s_enc.append(s)
            h = down(y)  # (B, out, T, F/2)
        return h, skips, feats, tuple(s_enc)
