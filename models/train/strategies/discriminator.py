"""Complex convolutional patch discriminator on the power-compressed spectrum (training only).

Up-Cycle-SENet judges waveforms with a MelGAN-style 1-D discriminator; ours judges the same
(B, 2, T, F) compressed complex spectrum the generators produce, so the adversarial game needs
no ISTFT/STFT round trip. Complex layers are laid out as channel halves [real | imaginary]
(as in `models.streaming.complex_conv`) and compute (Wr*zr - Wi*zi, Wi*zr + Wr*zi); they need
not be causal. The output is a real patch map: one least-squares score per time-frequency patch.

What makes it work (measured, docs/unsupervised.md): strides on BOTH axes, so that the 4
layers' patches span 63 frames (0.63 s at a 10 ms hop) and include the pauses where noise
shows, and a per-utterance level normalisation of its input, so that it judges the noise floor,
not the loudness (the training sets have random levels). The first design (4/8/16 channels,
stride 1 in time, no normalisation) stayed near chance on clean vs noisy even when trained
alone, and the generator never left the identity; a MelGAN-style multi-scale waveform
discriminator (1.2 M parameters, the seed's kind at a CPU size) cost 1.9 s per step alone and
after 200 steps scored held-out clips right 74 % of the time (LSGAN loss 0.225); this one
reaches 84-91 % after 150-550 steps at 0.1 s per step.

Dimensions: B batch, T frames, F bins, C complex channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DiscriminatorConfig:
    channels: tuple[int, ...] = (8, 16, 32, 32)  # complex channels per strided layer
    kernel: tuple[int, int] = (3, 5)  # (time, frequency)
    stride: tuple[int, int] = (2, 2)  # each layer halves T and F: 63-frame patches
    level_norm: bool = True  # judge the spectrum scaled to unit RMS (level is not evidence)


class ComplexConv2d(nn.Module):
    """(B, 2*cin, T, F) -> (B, 2*cout, T', F'), 'same'-style padding, strides on both axes."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int], stride: tuple[int, int]):
        super().__init__()
        self.real = nn.Conv2d(cin, cout, kernel)
        self.imag = nn.Conv2d(cin, cout, kernel)
        self.stride, self.padding = stride, (kernel[0] // 2, kernel[1] // 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        wr, wi = self.real.weight, self.imag.weight  # (cout, cin, kt, kf)
        w = torch.cat([torch.cat([wr, -wi], 1), torch.cat([wi, wr], 1)], 0)  # (2cout, 2cin, ..)
        b = torch.cat([self.real.bias - self.imag.bias, self.imag.bias + self.real.bias])
        return F.conv2d(z, w, b, self.stride, self.padding)


class SpectrumDiscriminator(nn.Module):
    """Compressed spectrum (B, 2, T, F) -> patch scores (B, 1, T / st^L, F / sf^L), L layers."""

    def __init__(self, cfg: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.level_norm = cfg.level_norm
        layers, cin = [], 1
        for cout in cfg.channels:
            layers += [ComplexConv2d(cin, cout, cfg.kernel, cfg.stride), nn.LeakyReLU(0.2)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(2 * cin, 1, (3, 3), padding=1)  # real score from [re | im]

    def forward(self, spec_c: torch.Tensor) -> torch.Tensor:
        if self.level_norm:
            spec_c = spec_c * spec_c.pow(2).mean((1, 2, 3), keepdim=True).add(1e-12).rsqrt()
        return self.head(self.body(spec_c))


def lsgan_d_loss(d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """((D(real) - 1)^2 + D(fake)^2) / 2, fake detached (Up-Cycle-SENet's D objective)."""
    return 0.5 * ((d(real) - 1).pow(2).mean() + d(fake.detach()).pow(2).mean())


def lsgan_g_loss(d: nn.Module, fake: torch.Tensor) -> torch.Tensor:
    """(D(fake) - 1)^2: the generator wants its output scored as real."""
    return (d(fake) - 1).pow(2).mean()
