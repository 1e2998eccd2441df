"""`FrameNorm` computed by one layer-norm call, for small hop graphs.

Same parameters, same math (mean and variance over (C, F) of each frame, per-channel affine),
but the hop graph gets one LayerNormalization node instead of the nine elementwise nodes of the
spelled-out form: with one frame (T = 1, the streaming step of a one-frame hop) the frame's
(C, F) are the trailing (C, 1, F) axes, so no transposes are needed either. CNUNet runs ~330
norms per hop, and on one CPU core its ONNX step time is dominated by per-node dispatch, not
arithmetic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .norm import FrameNorm


class FusedFrameNorm(FrameNorm):
    """Layer norm over channels and frequency of each frame. x: (B, C, T, F) -> same shape.

    F (`freq`) is fixed at construction so that the graph's normalised shape is a constant.
    """

    def __init__(self, channels: int, freq: int, eps: float = 1e-5):
        super().__init__(channels, eps)
        self.channels, self.freq = channels, freq

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, f = self.channels, self.freq
        if x.shape[2] == 1:  # one frame: normalise (C, 1, F) in place, no transposes
            weight = self.weight.reshape(c, 1, 1).expand(c, 1, f)
            bias = self.bias.reshape(c, 1, 1).expand(c, 1, f)
            return F.layer_norm(x, (c, 1, f), weight, bias, self.eps)
        weight = self.weight.reshape(c, 1).expand(c, f)  # per channel, constant per bin
        bias = self.bias.reshape(c, 1).expand(c, f)
        y = F.layer_norm(x.transpose(1, 2), (c, f), weight, bias, self.eps)  # (B, T, C, F)
        return y.transpose(1, 2)
