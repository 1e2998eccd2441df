"""STFT analysis and weighted overlap-add synthesis, offline and streaming.

The DFT is a strided Conv1d with a fixed (windowed) Fourier basis and the synthesis is the
matching ConvTranspose1d, so the same ops run in PyTorch and inside the ONNX graph.

Framing (W = window, H = hop; the synthesis window a multiple of H): frame t covers input
samples [t*H - (W-H), t*H + H), i.e. the signal is left-padded with W - H zeros, and frame t is
complete as soon as hop t has arrived. Synthesis uses g[n] = w[n] / sum_k w[n + kH]^2, so
analysis + synthesis is the identity delayed by W - H samples: output sample n reconstructs
input sample n - (W - H).

Asymmetric windows (`synthesis` S < W, S % H == 0; after Mauler & Martin): the analysis window
rises over its first W - S/2 samples (the first half of a sqrt-Hann of twice that length) and
falls over its last S/2 (the second half of a sqrt-Hann of S); the synthesis window lives on the
frame's last S samples only, where analysis x synthesis is a Hann of S (scaled to overlap-add to
1 at hop H). The analysis keeps the long frame's frequency resolution; the overlap-add spans S
samples, so output sample n reconstructs input n - (S - H): the latency of an S-sample window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .state import state_zeros


def make_window(kind: str, length: int) -> torch.Tensor:
    """Periodic window of `length` samples: 'hann', 'sqrt_hann' or 'hamming'."""
    n = torch.arange(length, dtype=torch.float64)
    hann = 0.5 - 0.5 * torch.cos(2 * math.pi * n / length)
    if kind == "hann":
        return hann
    if kind == "sqrt_hann":
        return hann.sqrt()
    if kind == "hamming":
        return 0.54 - 0.46 * torch.cos(2 * math.pi * n / length)
    raise ValueError(f"unknown window {kind!r}")


def window_pair(kind: str, win: int, hop: int, synthesis: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(analysis (W,), synthesis (S,)) windows, float64; S = `synthesis` or W when 0. The
    synthesis window is scaled so that analysis[-S:] x synthesis overlap-adds to 1 at hop H.
    S < W: the asymmetric pair of the module doc (`kind` must be 'sqrt_hann')."""
    s = synthesis or win
    if s % hop or s > win or s < 2 * hop:
        raise ValueError(f"need synthesis % hop == 0 and 2 hop <= synthesis <= window, got {win}/{hop}/{s}")
    if s == win:
        analysis = g0 = make_window(kind, win)
    elif kind != "sqrt_hann":
        raise ValueError(f"asymmetric windows are built from sqrt_hann, got {kind!r}")
    else:
        rise = win - s // 2
        fall = make_window("sqrt_hann", s)[s // 2 :]
        analysis = torch.cat([make_window("sqrt_hann", 2 * rise)[:rise], fall])
        g0 = make_window("hann", s) / analysis[-s:]  # positive: analysis[-s:] > 0
    prod = analysis[-s:] * g0
    denom = prod.reshape(s // hop, hop).sum(0).repeat(s // hop)  # periodic in H
    return analysis, g0 / denom


def _bases(
    win: int, hop: int, n_fft: int, window: str, synthesis: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Analysis (2F, 1, W) and synthesis (2F, 1, S) kernels; rows [re_0..re_F-1, im_0..]."""
    if n_fft < win:
        raise ValueError(f"need n_fft >= window, got {win}/{n_fft}")
    w, g = window_pair(window, win, hop, synthesis)
    n_bins = n_fft // 2 + 1
    k = torch.arange(n_bins, dtype=torch.float64)[:, None]
    n = torch.arange(win, dtype=torch.float64)[None, :]
    phase = 2 * math.pi * k * n / n_fft  # (F, W)
    analysis = torch.cat([torch.cos(phase) * w, -torch.sin(phase) * w])  # X = sum x w e^{-j..}
    phase = phase[:, win - g.shape[0] :]  # synthesis: the frame's last S samples
    scale = torch.full((n_bins, 1), 2.0 / n_fft, dtype=torch.float64)
    scale[0] = 1.0 / n_fft
    if n_fft % 2 == 0:
        scale[-1] = 1.0 / n_fft
    synthesis = torch.cat([torch.cos(phase) * scale * g, -torch.sin(phase) * scale * g])
    return analysis.float().unsqueeze(1), synthesis.float().unsqueeze(1)


@dataclass(frozen=True)
class STFTState:
    past: torch.Tensor  # (B, W - H) last input samples


@dataclass(frozen=True)
class ISTFTState:
    tail: torch.Tensor  # (B, W - H) overlap-add accumulator beyond the emitted samples


class STFT(nn.Module):
    """wav (B, N) -> spec (B, 2, T, F) with T = N // H, channel 0 real and 1 imaginary.
    `synthesis` (0 = W) selects the asymmetric analysis window (module doc)."""

    def __init__(self, win: int, hop: int, n_fft: int, window: str = "hann", synthesis: int = 0):
        super().__init__()
        self.win, self.hop, self.n_fft = win, hop, n_fft
        self.n_bins = n_fft // 2 + 1
        self.register_buffer("basis", _bases(win, hop, n_fft, window, synthesis)[0], persistent=False)

    def _frames(self, padded: torch.Tensor) -> torch.Tensor:
        spec = F.conv1d(padded.unsqueeze(1), self.basis, stride=self.hop)  # (B, 2F, T)
        b, _, t = spec.shape
        return spec.reshape(b, 2, self.n_bins, t).transpose(2, 3)  # (B, 2, T, F)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        n = (wav.shape[-1] // self.hop) * self.hop
        return self._frames(F.pad(wav[..., :n], (self.win - self.hop, 0)))

    def init_state(self, batch: int, *, device=None, dtype=None) -> STFTState:
        return STFTState(state_zeros((batch, self.win - self.hop), self, device, dtype))

    def step(self, chunk: torch.Tensor, state: STFTState) -> tuple[torch.Tensor, STFTState]:
        """chunk (B, k*H) -> spec (B, 2, k, F), next state."""
        full = torch.cat([state.past, chunk], dim=1)  # (B, W - H + k*H)
        return self._frames(full), STFTState(full[:, -(self.win - self.hop) :])


class ISTFT(nn.Module):
    """spec (B, 2, T, F) -> wav (B, T*H); output n reconstructs input n - (S - H), S the
    synthesis window (`synthesis`, 0 = the analysis window W)."""

    def __init__(self, win: int, hop: int, n_fft: int, window: str = "hann", synthesis: int = 0):
        super().__init__()
        self.hop, self.n_fft = hop, n_fft
        self.win = synthesis or win  # the samples one frame overlap-adds
        self.n_bins = n_fft // 2 + 1
        self.register_buffer("basis", _bases(win, hop, n_fft, window, synthesis)[1], persistent=False)

    def _overlap_add(self, spec: torch.Tensor) -> torch.Tensor:
        b, _, t, f = spec.shape
        flat = spec.transpose(2, 3).reshape(b, 2 * f, t)  # (B, 2F, T)
        return F.conv_transpose1d(flat, self.basis, stride=self.hop).squeeze(1)  # (B, (T-1)H + S)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        t = spec.shape[2]
        return self._overlap_add(spec)[:, : t * self.hop]

    def init_state(self, batch: int, *, device=None, dtype=None) -> ISTFTState:
        return ISTFTState(state_zeros((batch, self.win - self.hop), self, device, dtype))

    def step(self, spec: torch.Tensor, state: ISTFTState) -> tuple[torch.Tensor, ISTFTState]:
        """spec (B, 2, k, F) -> wav (B, k*H), next state."""
        n = spec.shape[2] * self.hop
        ola = self._overlap_add(spec)  # (B, n + S - H)
        ola = torch.cat([ola[:, : self.win - self.hop] + state.tail, ola[:, self.win - self.hop :]], 1)
        return ola[:, :n], ISTFTState(ola[:, n:])
