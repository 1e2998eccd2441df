"""Causal CNUNet-TB: a two-branch nested U-Net (after seorim0/SE-using-SRL-Model, seeds.md §1)
as a streaming model, with an optional stage-1 fusion of teacher embeddings at the bottleneck.

One encoder, two decoder branches with no shared weights: a masking branch (bounded polar
complex mask on the compressed noisy spectrum) and a mapping branch (the compressed clean
spectrum directly). Output = the mean of the two branch spectra *after* decompression, which
is what the seed's mean of the two branch waveforms is (the iSTFT is linear); it is
re-compressed only to fit the `SpectralEnhancer` hooks and the compressed-spectrum losses.

Changes from the release, for strict frame causality (every one is covered by the causality
test): GroupNorm(1, C) over the utterance -> per-frame norm over (C, F) (CNUNet blocks); the
attention's symmetric 17-tap time convs -> 17 causal taps (`CausalCTFA`); the decoder paths are
the CNUNet ones (one real-valued U-Net per part, fed both levels of encoder features) instead
of the seed's complex decoder stage; each head is a real 1x1 conv over [real | imag].

Signal path per hop: Xc (B, 2, T, 257) -> drop DC -> 1x1 conv -> 6 x (TBEncoderStage, F/2)
-> [stage 1: BottleneckFusion with the teacher embedding] -> DenseBlock = latent (B, out, T, 4)
-> mask branch, map branch -> mean or sum (`combine`) -> zero DC -> (B, 2, T, 257).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .cnunet_stages import StageState
from .streaming import ConvState

from .nested_unet import NestedUNet, NestedUNetConfig
from .cnunet_blocks import DenseState, SubPixelConv, forward_or_step, states
from .cnunet_tb_blocks import BottleneckFusion, GateConfig, TBDecoderStage, TBEncoderStage, polar_mask
from .spectral import SpectralEnhancer, compress, decompress


COMBINE = {"mean": 0.5, "sum": 1.0}  # weight of each branch's linear-domain spectrum


@dataclass(frozen=True)
class CNUNetTBConfig(NestedUNetConfig):
    """Architecture of the causal CNUNet-TB (the shared fields: `NestedUNetConfig`).

    Defaults are the published size: 512/256 Hamming STFT (32 ms window, 16 ms hop), power
    compression 0.2, mid 32 / out 64, inner depths (6, 5, 4, 4, 4, 3), 6 dilated dense layers
    (receptive field 64 frames). gate_kernel / attn_frames: the attention's causal time taps
    and moving-average length, in frames. embed_dim: width of a stage-1 teacher embedding fused
    at the bottleneck; 0 (stage 2, inference, export) builds no fusion layer.

    combine: how the two branch spectra make the output, in the linear domain: 'mean' (the
    seed's mean of the two waveforms) or 'sum' (the mapping branch adds to the masked
    spectrum). The mapping branch predicts a compressed spectrum, so its gradient through the
    decompression is 5|s|^4 (compression 0.2): once its output is small it recovers slowly
    (trained weights: -65 dB, then -26 dB after 3,000 more steps), and a near-silent mapping
    branch under 'mean' halves the output (-6 dB); docs/cnunet-tb-ts.md has the measurement.
    mask_power: the masking branch's gain tanh(|M|) is raised to this power (1 = as trained);
    below 1 it softens every attenuation, as the crn's `mask_power` does.
    """

    INFERENCE_FIELDS: ClassVar[tuple[str, ...]] = ("mask_power", "silence_db")

    win: int = 512
    hop: int = 256
    window: str = "hamming"
    compress: float = 0.2
    dense_layers: int = 6
    gate_kernel: int = 17
    embed_dim: int = 0
    combine: str = "mean"
    mask_power: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        if self.combine not in COMBINE:
            raise ValueError(f"combine must be one of {sorted(COMBINE)}, not {self.combine!r}")


@dataclass(frozen=True)
class BranchState:
    up_re: tuple[ConvState, ...]  # per up-sampler, real path (1 past frame)
    up_im: tuple[ConvState, ...]
    dec_re: tuple[StageState, ...]  # per decoder level, real path
    dec_im: tuple[StageState, ...]  # the same, imaginary path


@dataclass(frozen=True)
class CNUNetTBState:
    enc: tuple[StageState, ...]  # per encoder level
    bottleneck: DenseState
    mask: BranchState
    map: BranchState


class DecoderBranch(nn.Module):
    """One decoder branch: a real and an imaginary U-Net path from the bottleneck, then a 1x1
    head. h (B, out, T, F/64) + encoder skips/feats -> (B, 2, T, F) (head output).

    Each level of a path up-samples with a sub-pixel conv (the seed's CSPCONV role: causal
    (2, 3) conv out/2 -> 2*out, channels to 2F, giving out channels), concatenates the encoder
    skip half (out/2) and runs a `TBDecoderStage` (in 3*out/2 -> out/2)."""

    def __init__(self, cfg: CNUNetTBConfig, bins: list[int], gate: GateConfig):
        super().__init__()
        n, c = len(cfg.stages), cfg.out
        self.up_re, self.up_im = (
            nn.ModuleList(SubPixelConv(c // 2, c, bins[k + 1]) for k in reversed(range(n))) for _ in "ri"
        )
        self.dec_re, self.dec_im = (
            nn.ModuleList(
                TBDecoderStage(
                    3 * c // 2, cfg.mid // 2, c // 2, cfg.stages[k], bins[k], cfg.dense_layers, gate
                )
                for k in reversed(range(n))
            )
            for _ in "ri"
        )
        self.head = nn.Conv2d(c, 2, 1)

    def init_state(self, batch: int, *, device=None, dtype=None) -> BranchState:
        return BranchState(
            *(
                tuple(m.init_state(batch, device=device, dtype=dtype) for m in mods)
                for mods in (self.up_re, self.up_im, self.dec_re, self.dec_im)
            )
        )

    def _path(self, part: int, h: torch.Tensor, skips: list, feats: list, st: tuple):
        """st: (up states, stage states) of this path, or Nones offline."""
        ups, decs = (self.up_re, self.dec_re) if part == 0 else (self.up_im, self.dec_im)
        h, s_up, s_dec = h.chunk(2, dim=1)[part], [], []  # (B, out/2, T, F/64)
        for k, (up, dec, su, sd) in enumerate(zip(ups, decs, *st)):
            level = len(skips) - 1 - k
            u, su = forward_or_step(up, h, su)  # (B, out, T, F')
            x = torch.cat([u, skips[level].chunk(2, dim=1)[part]], dim=1)  # (B, 3out/2, T, F')
            own = tuple(f.chunk(2, dim=1)[part] for f in feats[level])
            h, sd = (dec(x, own), None) if sd is None else dec.step(x, own, sd)
            s_up.append(su)
            s_dec.append(sd)
        return h, tuple(s_up), tuple(s_dec)

    def decode(self, h: torch.Tensor, skips: list, feats: list, state: BranchState | None):
        n = len(self.dec_re)
        st_re = states(state, "up_re", n), states(state, "dec_re", n)
        st_im = states(state, "up_im", n), states(state, "dec_im", n)
        re, su_re, sd_re = self._path(0, h, skips, feats, st_re)
        im, su_im, sd_im = self._path(1, h, skips, feats, st_im)
        y = self.head(torch.cat([re, im], dim=1))  # (B, 2, T, F)
        return y, None if state is None else BranchState(su_re, su_im, sd_re, sd_im)


class CNUNetTB(NestedUNet):
    def __init__(self, cfg: CNUNetTBConfig):
        super().__init__(cfg)
        bins, n, c = cfg.level_bins(), len(cfg.stages), cfg.out
        gate = GateConfig(cfg.gate_kernel, cfg.attn_frames)
        self.build_encoder(
            cfg,
            (
                TBEncoderStage(c, cfg.mid, c, d, bins[k], cfg.dense_layers, gate)
                for k, d in enumerate(cfg.stages)
            ),
        )
        self.fusion = BottleneckFusion(c, bins[n], cfg.embed_dim) if cfg.embed_dim else None
        self.mask_branch = DecoderBranch(cfg, bins, gate)
        self.map_branch = DecoderBranch(cfg, bins, gate)

    def net_init_state(self, batch: int, *, device=None, dtype=None) -> CNUNetTBState:
        return CNUNetTBState(
            tuple(e.init_state(batch, device=device, dtype=dtype) for e in self.enc),
            self.bottleneck.init_state(batch, device=device, dtype=dtype),
            self.mask_branch.init_state(batch, device=device, dtype=dtype),
            self.map_branch.init_state(batch, device=device, dtype=dtype),
        )

    def _run(self, xc: torch.Tensor, state: CNUNetTBState | None, emb: torch.Tensor | None):
        """xc (B, 2, T, 257), emb (B, T, D) or None -> (yc, latent (B, out, T, 4), state)."""
        h, skips, feats, s_enc = self.encode(xc, state)
        if self.fusion is not None:
            if emb is None:
                raise ValueError("this CNUNet-TB has a stage-1 fusion layer: pass an embedding")
            h = self.fusion(h, emb)
        latent, s_mid = forward_or_step(self.bottleneck, h, state and state.bottleneck)
        m, s_mask = self.mask_branch.decode(latent, skips, feats, state and state.mask)
        s, s_map = self.map_branch.decode(latent, skips, feats, state and state.map)
        nxt = None if state is None else CNUNetTBState(s_enc, s_mid, s_mask, s_map)
        return self.combine(xc, m, s), latent, nxt

    def combine(self, xc: torch.Tensor, m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Noisy xc (B, 2, T, 257), mask-branch m and map-branch s (B, 2, T, 256) -> the
        compressed estimate (B, 2, T, 257), DC bin zero. A hook of the streaming form too."""
        return F.pad(self._join(polar_mask(xc[..., 1:], m, self.cfg.mask_power), s), (1, 0))

    def _join(self, masked: torch.Tensor, mapped: torch.Tensor) -> torch.Tensor:
        """The two branches weighted (`CNUNetTBConfig.combine`) and added in the linear
        (decompressed) domain, re-compressed."""
        p, w = self.cfg.compress, COMBINE[self.cfg.combine]
        return compress(w * (decompress(masked, p) + decompress(mapped, p)), p)

    def estimate_with_latent(self, wav: torch.Tensor, emb: torch.Tensor | None = None):
        """Training: wav (B, N), emb (B, T, D) -> (compressed estimate (B, 2, T, 257),
        bottleneck latent (B, out, T, n_fft/128)); T = N // hop."""
        yc, latent, _ = self._run(self.analyse(wav), None, emb)
        return yc, latent

    def net_forward(self, xc: torch.Tensor) -> torch.Tensor:
        return self._run(xc, None, None)[0]

    def net_step(self, xc: torch.Tensor, state: CNUNetTBState):
        yc, _, state = self._run(xc, state, None)
        return yc, state

    def streaming_form(self) -> SpectralEnhancer:
        """What the ONNX exporter traces (`export.graph.HopGraph`): the same network with the
        four decoder paths as one channel-grouped network (`cnunet_tb_fused.FusedBranches`, a
        copy of their current weights), a fraction of the hop graph's nodes. Same outputs;
        its own state tree."""
        from .cnunet_tb_fused import FusedCNUNetTB

        return FusedCNUNetTB(self)
