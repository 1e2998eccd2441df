"""The causal CNUNet in the fused form its ONNX hop graph is traced from, for small hop graphs.

`CNUNet` decodes the real and the imaginary part in two U-Net paths of identical topology, and
its encoder carries complex features as channel halves. On one CPU core a hop's time is
per-node dispatch, not arithmetic, so the export runs:

- the two decoder paths as one channel-grouped network of two groups (`FusedDecoderStage`,
  the CNUNet-TB decoder's fusion with G = 2; the up-samplers as one grouped transposed conv);
- the encoder stages and the bottleneck with their complex halves fused (`FusedEncoderStage`,
  `PlainDenseBlock`).

Same weights (copied at construction, read-only) and outputs; its own state tree. Layout
(B, C, T, F); the group-major [real path | imaginary path] tensors are what the unfused model
concatenates before its head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .cnunet_blocks import DenseState
from .cnunet_stages import StageState
from .cnunet_tb_fused import FusedDecoderStage, _fuse
from .cnunet_tb_fused_encoder import FusedEncoderStage, PlainDenseBlock
from .nested_unet import NestedUNet
from .spectral import SpectralEnhancer

if TYPE_CHECKING:  # the model imports this module (streaming_form), not the reverse
    from .cnunet import CNUNet


@dataclass(frozen=True)
class FusedCNUNetState:
    enc: tuple[StageState, ...]  # per encoder level
    bottleneck: DenseState
    dec: tuple[StageState, ...]  # per decoder level, both paths as groups


class FusedCNUNet(SpectralEnhancer):
    """A `CNUNet` for streaming export (`CNUNet.streaming_form`): the model's input layer,
    down-samplers and head (shared), everything else fused. Offline `net_forward` is the
    model's own."""

    def __init__(self, model: CNUNet):
        super().__init__(model.cfg)
        self.base = model
        self.inp, self.down, self.head = model.inp, model.down, model.head
        self.enc = nn.ModuleList(FusedEncoderStage(s) for s in model.enc)
        self.bottleneck = PlainDenseBlock(model.bottleneck)
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for up_re, up_im, dec_re, dec_im in zip(model.up_re, model.up_im, model.dec_re, model.dec_im):
            self.up.append(_fuse([up_re, up_im]))  # one grouped transposed conv
            width = up_re.out_channels
            segs = [("g", width), ("g", dec_re.inp.conv.conv.in_channels - width)]  # [up | skip]
            self.dec.append(FusedDecoderStage([dec_re, dec_im], segs))
        for new in (self.up, self.dec):  # read-only copies (shared layers keep their flags)
            new.requires_grad_(False)
        self.train(model.training)

    def net_forward(self, xc: torch.Tensor) -> torch.Tensor:
        return self.base.net_forward(xc)

    def net_init_state(self, batch: int, *, device=None, dtype=None) -> FusedCNUNetState:
        return FusedCNUNetState(
            tuple(e.init_state(batch, device=device, dtype=dtype) for e in self.enc),
            self.bottleneck.init_state(batch, device=device, dtype=dtype),
            tuple(d.init_state(batch, device=device, dtype=dtype) for d in self.dec),
        )

    def net_step(self, xc: torch.Tensor, state: FusedCNUNetState):
        """xc (B, 2, T, 257) -> (yc (B, 2, T, 257), next state)."""
        h, skips, feats, s_enc = NestedUNet.encode(self, xc, state)  # the fused stages
        h, s_mid = self.bottleneck.step(h, state.bottleneck)  # (B, out, T, F/64): [re | im]
        s_dec = []
        for k, (up, dec, s) in enumerate(zip(self.up, self.dec, state.dec)):
            level = len(skips) - 1 - k
            x = torch.cat([up(h), skips[level]], dim=1)  # group-major [up | skip] per path
            h, s = dec.step(x, feats[level], s)
            s_dec.append(s)
        y = self.head(h)  # (B, 2, T, 256): h is [real path | imaginary path]
        return F.pad(y, (1, 0)), FusedCNUNetState(s_enc, s_mid, tuple(s_dec))


__all__ = ["FusedCNUNet", "FusedCNUNetState"]
