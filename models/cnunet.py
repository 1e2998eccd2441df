"""Causal CNUNet: complex nested U-Net with augmented two-level skip connections (after
Hwang et al., ICASSP 2023; topology in seeds.md §2), re-expressed as a streaming model.

Changes from the release, all for strict frame causality and one-hop streaming:
- every GroupNorm(1, C) (statistics of the whole utterance) -> `FrameNorm` (per frame, over
  (C, F)); same per-channel affine parameters;
- time kernels are causal (left padding; streaming keeps the past input frames: 1 for kernel-2
  convs, 2**i for dense layer i); CTFA's 32-frame average is a `RunningMean` state;
- STFT 320/160/512 (20 ms sqrt-Hann window, 10 ms hop, zero-padded to 512) instead of
  400/100/512: 20 ms algorithmic latency instead of 25 ms, and 100 instead of 160 network runs
  per second. The FFT stays 512 because the nested U-Nets need 256 bins (DC dropped), which
  six levels of halving divide down to 4 (and the inner U-Nets to 1);
- the input/output spectrum is power-compressed (|X|^0.3, noisy phase) rather than raw, so that
  input scale, output mapping and streamse's compressed-spectrum losses share one domain;
- the release's crossed skips (some imaginary-path stages fed real-path features) are not
  reproduced: each decoder path takes its own half everywhere.

Signal path per hop: Xc (B, 2, T, 257) -> drop DC -> INCONV 2 -> out -> 6 x (EncoderStage,
grouped stride-2 down-sampling in F) -> DenseBlock at F/64 -> split [real | imag] -> per path
6 x (grouped transposed-conv up-sampling, DecoderStage fed the matching encoder features) ->
1x1 conv (2*out/2 -> 2) = compressed clean spectrum (mapping) -> zero DC -> (B, 2, T, 257).
B batch, C channels, T frames, F bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .cnunet_blocks import ConvNormAct, DenseBlock, DenseState, forward_or_step, states
from .cnunet_stages import Attention, DecoderStage, EncoderStage, StageState
from .spectral import SpectralEnhancer


def nested_unet_bins(cfg) -> list[int]:
    """Bins at each encoder level (DC dropped) of a nested U-Net config (CNUNet, CNUNet-TB);
    raises unless every U-Net halves its bins exactly and the widths split into complex halves
    (the decoder's dense blocks split mid/4 channels into real and imaginary parts)."""
    if cfg.mid % 8 or cfg.out % 4:
        raise ValueError(f"need mid % 8 == 0 and out % 4 == 0, got {cfg.mid}, {cfg.out}")
    bins = [(cfg.n_fft // 2) // 2**k for k in range(len(cfg.stages) + 1)]
    for f, depth in zip(bins, cfg.stages):
        if f < 2**depth or f % 2**depth:
            raise ValueError(f"{f} bins cannot be halved {depth} times: "
                             f"n_fft {cfg.n_fft} does not fit stages {cfg.stages}")
    return bins


@dataclass(frozen=True)
class CNUNetConfig:
    """Architecture of the causal CNUNet. Window/hop in samples at `sample_rate`.

    mid / out: inner and outer channel widths (published 32 / 64); stages: inner U-Net depth of
    each encoder level (the decoder mirrors it); dense_layers: layers per dilated dense block
    (receptive field 2**n frames); attn_hidden / attn_frames: CTFA bottleneck width and the
    length of its causal moving average in frames (32 frames = 320 ms at a 10 ms hop).
    """

    sample_rate: int = 16000
    win: int = 320
    hop: int = 160
    n_fft: int = 512
    window: str = "sqrt_hann"
    compress: float = 0.3
    lead_gate: bool = False  # leading all-zero frames do not step the network
    mid: int = 32
    out: int = 64
    stages: tuple[int, ...] = (6, 5, 4, 4, 4, 3)
    dense_layers: int = 7
    attn_hidden: int = 16
    attn_frames: int = 32

    def __post_init__(self):
        nested_unet_bins(self)

    def level_bins(self) -> list[int]:
        return nested_unet_bins(self)


@dataclass(frozen=True)
class CNUNetState:
    enc: tuple[StageState, ...]  # per encoder level
    bottleneck: DenseState
    dec_re: tuple[StageState, ...]  # per decoder level, real path
    dec_im: tuple[StageState, ...]  # the same, imaginary path


def _down(channels: int) -> nn.Conv2d:
    """The seed's down_sampling_half: per channel half, kernel 3 stride 2 in F (grouped)."""
    return nn.Conv2d(channels, channels, (1, 3), stride=(1, 2), padding=(0, 1), groups=2)


def _up(channels: int) -> nn.ConvTranspose2d:
    """The seed's upsampling_half: per channel half, transposed kernel 3 stride 2 in F."""
    return nn.ConvTranspose2d(channels, channels, (1, 3), stride=(1, 2), padding=(0, 1),
                              output_padding=(0, 1), groups=2)


class CNUNet(SpectralEnhancer):
    def __init__(self, cfg: CNUNetConfig):
        super().__init__(cfg)
        bins, n, c = cfg.level_bins(), len(cfg.stages), cfg.out
        attn = Attention(cfg.attn_hidden, cfg.attn_frames)
        self.inp = ConvNormAct(2, c, (1, 1), bins[0])
        self.enc = nn.ModuleList(
            EncoderStage(c, cfg.mid, c, d, bins[k], cfg.dense_layers, attn if k == 0 else None)
            for k, d in enumerate(cfg.stages))
        self.down = nn.ModuleList(_down(c) for _ in range(n))
        self.bottleneck = DenseBlock(c, c, cfg.dense_layers, bins[n])
        self.up_re, self.up_im = (nn.ModuleList(_up(c // 2) for _ in range(n)) for _ in "ri")
        self.dec_re, self.dec_im = (nn.ModuleList(
            DecoderStage(c, cfg.mid // 2, c // 2, cfg.stages[k], bins[k], cfg.dense_layers,
                         attn if k == 0 else None)
            for k in reversed(range(n))) for _ in "ri")
        self.head = nn.Conv2d(c, 2, 1)

    def net_init_state(self, batch: int) -> CNUNetState:
        return CNUNetState(tuple(e.init_state(batch) for e in self.enc),
                           self.bottleneck.init_state(batch),
                           tuple(d.init_state(batch) for d in self.dec_re),
                           tuple(d.init_state(batch) for d in self.dec_im))

    def _run(self, xc: torch.Tensor, state: CNUNetState | None):
        """xc (B, 2, T, 257) -> (yc (B, 2, T, 257), next state or None offline)."""
        h = self.inp(xc[..., 1:])  # (B, out, T, 256): DC dropped
        skips, feats, s_enc = [], [], []
        for enc, down, s in zip(self.enc, self.down, states(state, "enc", len(self.enc))):
            (y, f), s = forward_or_step(enc, h, s)
            skips.append(y)
            feats.append(f)
            s_enc.append(s)
            h = down(y)  # (B, out, T, F/2)
        h, s_mid = forward_or_step(self.bottleneck, h, state and state.bottleneck)  # (B, out, T, 4)
        re, s_re = self._path(0, h, skips, feats, states(state, "dec_re", len(self.dec_re)))
        im, s_im = self._path(1, h, skips, feats, states(state, "dec_im", len(self.dec_im)))
        y = self.head(torch.cat([re, im], dim=1))  # (B, 2, T, 256)
        nxt = None if state is None else CNUNetState(tuple(s_enc), s_mid, s_re, s_im)
        return F.pad(y, (1, 0)), nxt  # zero DC bin back

    def _path(self, part: int, h: torch.Tensor, skips: list, feats: list, path_states: tuple):
        """One decoder path (0 real, 1 imaginary) from the bottleneck (B, out, T, F/64)."""
        ups, decs = (self.up_re, self.dec_re) if part == 0 else (self.up_im, self.dec_im)
        h, nxt = h.chunk(2, dim=1)[part], []  # (B, out/2, T, F/64)
        for k, (up, dec, s) in enumerate(zip(ups, decs, path_states)):
            level = len(skips) - 1 - k
            x = torch.cat([up(h), skips[level].chunk(2, dim=1)[part]], dim=1)  # (B, out, T, F')
            own = tuple(f.chunk(2, dim=1)[part] for f in feats[level])
            h, s = (dec(x, own), None) if s is None else dec.step(x, own, s)
            nxt.append(s)
        return h, tuple(nxt)

    def net_forward(self, xc: torch.Tensor) -> torch.Tensor:
        return self._run(xc, None)[0]

    def net_step(self, xc: torch.Tensor, state: CNUNetState) -> tuple[torch.Tensor, CNUNetState]:
        return self._run(xc, state)
