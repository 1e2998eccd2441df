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

from .cnunet_blocks import DenseState, forward_or_step, states
from .cnunet_stages import Attention, DecoderStage, EncoderStage, StageState
from .nested_unet import NestedUNet, NestedUNetConfig, nested_unet_bins  # noqa: F401 (re-export)
from .spectral import SpectralEnhancer


@dataclass(frozen=True)
class CNUNetConfig(NestedUNetConfig):
    """Architecture of the causal CNUNet (the shared fields: `NestedUNetConfig`; defaults are
    the published size on a 20 ms sqrt-Hann window, 10 ms hop). attn_hidden: CTFA bottleneck
    width; attn_frames = 32 is 320 ms at a 10 ms hop."""

    attn_hidden: int = 16


@dataclass(frozen=True)
class CNUNetState:
    enc: tuple[StageState, ...]  # per encoder level
    bottleneck: DenseState
    dec_re: tuple[StageState, ...]  # per decoder level, real path
    dec_im: tuple[StageState, ...]  # the same, imaginary path


def _up(channels: int) -> nn.ConvTranspose2d:
    """The seed's upsampling_half: per channel half, transposed kernel 3 stride 2 in F."""
    return nn.ConvTranspose2d(
        channels, channels, (1, 3), stride=(1, 2), padding=(0, 1), output_padding=(0, 1), groups=2
    )


class CNUNet(NestedUNet):
    def __init__(self, cfg: CNUNetConfig):
        super().__init__(cfg)
        bins, n, c = cfg.level_bins(), len(cfg.stages), cfg.out
        attn = Attention(cfg.attn_hidden, cfg.attn_frames)
        self.build_encoder(
            cfg,
            (
                EncoderStage(c, cfg.mid, c, d, bins[k], cfg.dense_layers, attn if k == 0 else None)
                for k, d in enumerate(cfg.stages)
            ),
        )
        self.up_re, self.up_im = (nn.ModuleList(_up(c // 2) for _ in range(n)) for _ in "ri")
        self.dec_re, self.dec_im = (
            nn.ModuleList(
                DecoderStage(
                    c,
                    cfg.mid // 2,
                    c // 2,
                    cfg.stages[k],
                    bins[k],
                    cfg.dense_layers,
                    attn if k == 0 else None,
                )
                for k in reversed(range(n))
            )
            for _ in "ri"
        )
        self.head = nn.Conv2d(c, 2, 1)

    def net_init_state(self, batch: int, *, device=None, dtype=None) -> CNUNetState:
        return CNUNetState(
            tuple(e.init_state(batch, device=device, dtype=dtype) for e in self.enc),
            self.bottleneck.init_state(batch, device=device, dtype=dtype),
            tuple(d.init_state(batch, device=device, dtype=dtype) for d in self.dec_re),
            tuple(d.init_state(batch, device=device, dtype=dtype) for d in self.dec_im),
        )

    def _run(self, xc: torch.Tensor, state: CNUNetState | None):
        """xc (B, 2, T, 257) -> (yc (B, 2, T, 257), next state or None offline)."""
        h, skips, feats, s_enc = self.encode(xc, state)
        h, s_mid = forward_or_step(self.bottleneck, h, state and state.bottleneck)  # (B, out, T, 4)
        re, s_re = self._path(0, h, skips, feats, states(state, "dec_re", len(self.dec_re)))
        im, s_im = self._path(1, h, skips, feats, states(state, "dec_im", len(self.dec_im)))
        y = self.head(torch.cat([re, im], dim=1))  # (B, 2, T, 256)
        nxt = None if state is None else CNUNetState(s_enc, s_mid, s_re, s_im)
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

    def streaming_form(self) -> SpectralEnhancer:
        """What the ONNX exporter traces (`export.graph.HopGraph`): the same network with the two
        decoder paths as one channel-grouped network and the encoder's complex halves fused
        (`cnunet_fused.FusedCNUNet`, a copy of the current weights), a fraction of the hop
        graph's nodes. Same outputs; its own state tree."""
        from .cnunet_fused import FusedCNUNet

        return FusedCNUNet(self)
