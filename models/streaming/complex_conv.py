"""Complex convolution, causal in time, on complex features carried as channel halves.

A complex tensor z = zr + j zi with C channels is laid out as (B, 2C, T, F): channels [0, C)
real, [C, 2C) imaginary. The layer holds two real kernels Wr, Wi (with biases br, bi) and
computes (Wr*zr - Wi*zi, Wi*zr + Wr*zi), which equals the seed's four real convolutions but
runs as one conv over the block kernel [[Wr, -Wi], [Wi, Wr]], so offline, streaming and ONNX
all see a single op with a single cached-past state.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .conv import ConvState, CausalTimeConv


class _ComplexKernel(nn.Module):
    """(B, 2*cin, T', F) -> (B, 2*cout, T' - context, F_out) with the block kernel."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: tuple[int, int],
        dilation: tuple[int, int],
        stride_f: int,
        pad_f: int,
    ):
        super().__init__()
        self.real = nn.Conv2d(cin, cout, kernel, dilation=dilation)
        self.imag = nn.Conv2d(cin, cout, kernel, dilation=dilation)
        self.stride, self.padding, self.dilation = (1, stride_f), (0, pad_f), dilation

    def block(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The real conv this layer is: weight (2cout, 2cin, kt, kf) and bias (2cout,)."""
        wr, wi = self.real.weight, self.imag.weight  # (cout, cin, kt, kf)
        w = torch.cat([torch.cat([wr, -wi], 1), torch.cat([wi, wr], 1)], 0)
        br, bi = self.real.bias, self.imag.bias
        return w, torch.cat([br - bi, bi + br])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.block()
        return F.conv2d(x, w, b, self.stride, self.padding, self.dilation)

    def count_macs(self, out: torch.Tensor) -> int:
        """Multiply-accumulates of one call producing `out` (the hook in `models.macs` asks)."""
        return out.numel() * 2 * self.real.weight[0].numel()


class ComplexCausalConv2d(CausalTimeConv):
    """Complex Conv2d over (B, 2*cin, T, F) -> (B, 2*cout, T, F_out): causal in T, 'same'-padded
    (optionally strided) in F, like `CausalConv2d`. State: the last (kt-1)*dt input frames."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: tuple[int, int],
        in_freq: int,
        dilation: tuple[int, int] = (1, 1),
        stride_f: int = 1,
    ):
        super().__init__()
        kt, kf = kernel
        dt, df = dilation
        self.context = (kt - 1) * dt
        self.in_freq, self.cin = in_freq, cin
        pad_f = df * (kf - 1) // 2
        self.conv = _ComplexKernel(cin, cout, kernel, dilation, stride_f, pad_f)
        self.out_freq = (in_freq + 2 * pad_f - df * (kf - 1) - 1) // stride_f + 1

    def init_state(self, batch: int, *, device=None, dtype=None) -> ConvState | None:
        return self._zeros((batch, 2 * self.cin, self.context, self.in_freq), device, dtype)
