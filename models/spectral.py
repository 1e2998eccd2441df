"""Skeleton shared by the spectral models: STFT -> compress -> network -> decompress -> ISTFT.

A model subclasses `SpectralEnhancer` and fills three hooks over the power-compressed complex
spectrum Xc = |X|^p * e^{j angle X} laid out as (B, 2, T, F) [channel 0 real, 1 imaginary]:

- `net_forward(xc) -> yc`: the whole utterance (offline, training);
- `net_init_state(batch)`: the network's state tree (typed dataclasses, see `streaming.state`);
- `net_step(xc, state) -> (yc, state)`: k new frames, the same weights.

The skeleton gives `forward(wav)`, `estimate(wav)` (for spectral losses), `init_state`, `step`,
and the frame geometry (hop, window, latency), derived from the STFT settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from streamse.streamer import FrameGeometry

from .streaming import ISTFT, STFT, ISTFTState, STFTState

_EPS = 1e-12


@dataclass(frozen=True)
class EnhancerState:
    stft: STFTState
    net: Any
    istft: ISTFTState


def compress(spec: torch.Tensor, power: float) -> torch.Tensor:
    """(B, 2, T, F) complex-as-channels -> |X|^power with the phase of X."""
    mag2 = spec.pow(2).sum(dim=1, keepdim=True)  # (B, 1, T, F)
    return spec * (mag2 + _EPS).pow((power - 1.0) / 2.0)


def decompress(spec_c: torch.Tensor, power: float) -> torch.Tensor:
    """Inverse of `compress`: |Y|^(1/power) with the phase of Y."""
    mag2 = spec_c.pow(2).sum(dim=1, keepdim=True)
    return spec_c * (mag2 + _EPS).pow((1.0 / power - 1.0) / 2.0)


class SpectralEnhancer(nn.Module):
    """Base for streamse's STFT-domain models. Subclasses set `self.cfg` and the three hooks.

    The config must have: sample_rate, win, hop, n_fft, window, compress.
    """

    def __init__(self, cfg: Any):
        super().__init__()
        self.cfg = cfg
        self.stft = STFT(cfg.win, cfg.hop, cfg.n_fft, cfg.window)
        self.istft = ISTFT(cfg.win, cfg.hop, cfg.n_fft, cfg.window)

    @property
    def n_bins(self) -> int:
        return self.cfg.n_fft // 2 + 1

    @property
    def geometry(self) -> FrameGeometry:
        return FrameGeometry(self.cfg.sample_rate, self.cfg.hop, self.cfg.win)

    # hooks ----------------------------------------------------------------------------------
    def net_forward(self, xc: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def net_init_state(self, batch: int) -> Any:
        raise NotImplementedError

    def net_step(self, xc: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    # offline --------------------------------------------------------------------------------
    def analyse(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, N) -> compressed spectrum (B, 2, T, F), T = N // hop."""
        return compress(self.stft(wav), self.cfg.compress)

    def estimate(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, N) -> estimated clean compressed spectrum (B, 2, T, F)."""
        return self.net_forward(self.analyse(wav))

    def synthesise(self, yc: torch.Tensor) -> torch.Tensor:
        """compressed spectrum (B, 2, T, F) -> wav (B, T * hop), delayed by win - hop."""
        return self.istft(decompress(yc, self.cfg.compress))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, N) -> enhanced (B, (N // hop) * hop); sample n estimates clean n - (win-hop)."""
        return self.synthesise(self.estimate(wav))

    # streaming ------------------------------------------------------------------------------
    def init_state(self, batch: int = 1) -> EnhancerState:
        return EnhancerState(self.stft.init_state(batch), self.net_init_state(batch),
                             self.istft.init_state(batch))

    def step(self, chunk: torch.Tensor, state: EnhancerState) -> tuple[torch.Tensor, EnhancerState]:
        """chunk (B, k * hop) -> enhanced (B, k * hop), next state. Only new frames are computed."""
        spec, s_stft = self.stft.step(chunk, state.stft)
        yc, s_net = self.net_step(compress(spec, self.cfg.compress), state.net)
        out, s_istft = self.istft.step(decompress(yc, self.cfg.compress), state.istft)
        return out, EnhancerState(s_stft, s_net, s_istft)
