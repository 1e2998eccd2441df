"""Frame-by-frame low-latency mask CRN (after Google's arXiv 1811.07030), truly causal.

Signal chain per 10 ms hop (16 kHz, 20 ms sqrt-Hann window, no look-ahead):
compressed complex spectrum Xc (|X|^0.3, noisy phase) -> causal conv encoder over frequency
(time kernel 2 = current + 1 past frame, stride 2 in frequency, per-frame norm, PReLU) ->
one-directional GRU over time -> fully connected layers -> sigmoid real and imaginary masks ->
mask applied to Xc -> decompress -> overlap-add.

Dimensions: B batch, T frames, F = n_fft/2 + 1 bins, C channels, H GRU units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .basis_stage import BasisStage
from .intra_frame import IntraFrameGRU
from .lookahead import Lookahead, LookaheadState, widen_for_lookahead
from .spectral import SpectralConfig, SpectralEnhancer
from .streaming import (
    CausalConv2d,
    ConvState,
    DeepFilter,
    FloorState,
    FrameNorm,
    GRUState,
    LevelNorm,
    LevelState,
    LSTMState,
    NoiseFloor,
    StreamGRU,
    StreamLSTM,
)


@dataclass(frozen=True)
class CRNConfig(SpectralConfig):
    """Architecture of the mask CRN (the STFT and lead-gate fields: `SpectralConfig`).

    mask: 'crm' multiplies Xc by a complex mask whose real and imaginary parts are
    `mask_max * (2 * sigmoid(z) - 1)` (can rotate phase, sign and gain up to mask_max);
    'elementwise' scales real and imaginary parts separately by sigmoid(z) in [0, 1], as the
    unofficial port of the paper does.

    input_norm: 'none' feeds Xc as it is; 'level' divides it by the square root of a causal
    running mean of its frame power (`LevelNorm`, time constant `level_tau_s`), so the
    network's input does not change when the input level does and the mask (applied to the
    un-normalised Xc) scales the output with the input.
    enc_norm: 'frame' normalises every encoder frame over channels and bins (`FrameNorm`:
    hides each frame's level from the network); 'none' leaves the level contrast between
    frames visible.
    mask_power: 'crm' only: the complex mask's magnitude r is raised to this power where r < 1,
    its phase kept (1 = as trained). Below 1 it softens every attenuation: a calibration of the
    shrinkage that the compressed-spectrum loss puts on doubtful bins (docs/quality.md).
    head_skip: the encoder keeps 1 value in 8 along frequency, so a mask made from the GRU
    state alone cannot follow harmonics; with head_skip the head's first layer also gets the
    current frame's compressed magnitudes at full resolution (after input_norm), a skip
    connection around the encoder and GRU.
    decoder: a per-frame frequency decoder (`MaskDecoder`) mirrors the encoder with transposed
    convolutions and skip connections from every encoder layer and from the normalised input,
    and adds its output to the head's mask logits. Its last layer starts at zero, so a
    checkpoint trained without it can be fine-tuned with it from exactly its own output.
    intra: hidden units per direction of an across-frequency bidirectional GRU
    (`IntraFrameGRU`, per frame, so causal) after each encoder layer, 0 = none there; () = none
    at all. It relates a frame's bins to each other (harmonics, a tone under a voice) at that
    layer's resolution; residual, zero at the start like the decoder.
    df_order, df_bins: with df_order K > 1 (needs the decoder), a multi-frame complex filter
    (`DeepFilter`) adds K - 1 past frames of Xc, weighted by complex coefficients from the
    decoder's last features, to the masked lowest df_bins bins; zero at the start, like the
    decoder, so it too can be added to a trained checkpoint. 1 = the one-frame mask alone.
    noise_floor: the network also gets, per bin, how many dB the frame stands above a causal
    noise floor (`NoiseFloor`: minimum tracking that rises `floor_rise_db_s` dB per second): a
    steady tone under a voice sits at its floor, a harmonic above it. It enters the first
    encoder layer and the mask logits through two convolutions that start at zero, so it too
    can be added to a trained checkpoint.
    stage2_basis, stage2_hidden: with stage2_basis N > 0, a second stage refines the masked
    estimate in a learned basis of N functions with a GRU of stage2_hidden units
    (`BasisStage`, after DTLN's second core); residual and zero at the start, like the decoder.
    stage2_noisy: the second stage's basis spans the noisy input as well as the estimate.
    lookahead: L frames of look-ahead: the mask of frame t is made when frame t + L arrives
    (L hops more delay and latency, reported in the frame geometry), from what the network
    computed at frame t and the GRU's output at t + L (`models/lookahead.py`); a checkpoint
    without look-ahead loads as itself, L frames later.
    """

    INFERENCE_FIELDS: ClassVar[tuple[str, ...]] = ("mask_power", "silence_db")

    channels: tuple[int, ...] = (16, 32, 32)
    kernel: tuple[int, int] = (2, 5)
    stride_f: int = 2
    rnn: str = "gru"
    rnn_hidden: int = 256
    rnn_layers: int = 2
    fc_hidden: int = 256
    mask: str = "crm"
    mask_max: float = 1.25
    input_norm: str = "none"
    level_tau_s: float = 1.0
    enc_norm: str = "frame"
    head_skip: bool = False  # the mask head also sees the frame's own (normalised) magnitudes
    mask_power: float = 1.0  # 'crm': |mask| -> |mask|^mask_power where |mask| < 1
    decoder: bool = False  # a per-frame U-Net decoder adds a full-resolution mask correction
    df_order: int = 1  # taps of the low-band multi-frame filter, the current frame's included
    df_bins: int = 0  # bins it filters, from 0 Hz
    intra: tuple[int, ...] = ()  # per encoder layer: across-frequency biGRU units, 0 = none
    noise_floor: bool = False  # feed each bin's dB above a causal noise floor (`NoiseFloor`)
    floor_rise_db_s: float = 5.0  # how fast that floor may rise, dB per second
    stage2_basis: int = 0  # learned-basis second stage (`BasisStage`): basis size, 0 = none
    stage2_hidden: int = 128  # its GRU units
    stage2_noisy: bool = False  # its basis spans the noisy input too
    lookahead: int = 0  # frames of later input each estimate waits for (whole hops)


@dataclass(frozen=True)
class CRNNetState:
    enc: tuple[ConvState | None, ...]  # per conv layer
    rnn: GRUState | LSTMState
    level: LevelState | None = None  # input_norm 'level' only
    df: ConvState | None = None  # df_order > 1 only: the last df_order - 1 input frames
    floor: FloorState | None = None  # noise_floor only
    stage2: GRUState | None = None  # stage2_basis > 0 only
    lookahead: LookaheadState | None = None  # lookahead > 0 only: the delay lines


class _EncoderLayer(nn.Module):
    def __init__(
        self, cin: int, cout: int, kernel: tuple[int, int], in_freq: int, stride_f: int, norm: str = "frame"
    ):
        super().__init__()
        self.conv = CausalConv2d(cin, cout, kernel, in_freq, stride_f=stride_f)
        self.norm = {"frame": lambda: FrameNorm(cout), "none": nn.Identity}[norm]()
        self.act = nn.PReLU(cout)
        self.out_freq = self.conv.out_freq

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, C_in, T, F) -> (B, C_out, T, F_out); extra (B, C_out, T, F_out) or None is
        added before the norm."""
        return self._post(self.conv(x), extra)

    def step(self, x: torch.Tensor, state, extra: torch.Tensor | None = None):
        y, state = self.conv.step(x, state)
        return self._post(y, extra), state

    def _post(self, y: torch.Tensor, extra: torch.Tensor | None) -> torch.Tensor:
        return self.act(self.norm(y if extra is None else y + extra))


class MaskDecoder(nn.Module):
    """Per-frame U-Net decoder over frequency (no state: time kernel 1).

    h (B, T, H) -> linear -> (B, C_L, T, F_L); then for each encoder layer i from the last:
    concatenate its output (B, C_i, T, F_i), transposed conv stride `stride_f` up to F_{i-1}
    bins, PReLU; finally concatenate the normalised input (B, 2, T, F_0) and a (1, 3) conv to
    (B, 2, T, F_0) mask-logit corrections, initialised to zero.
    freqs = [F_0, F_1, ..., F_L]: bins at the input and after every encoder layer.
    """

    def __init__(self, hidden: int, channels: tuple[int, ...], freqs: list[int], kf: int, stride_f: int):
        super().__init__()
        self.shape = (channels[-1], freqs[-1])
        self.proj = nn.Linear(hidden, channels[-1] * freqs[-1])
        pad = (kf - 1) // 2
        ups, acts = [], []
        for i in reversed(range(len(channels))):
            cout = channels[max(i - 1, 0)]
            extra = freqs[i] - ((freqs[i + 1] - 1) * stride_f - 2 * pad + kf)
            if not 0 <= extra < stride_f:
                raise ValueError(f"decoder cannot map {freqs[i + 1]} bins back to {freqs[i]}")
            ups.append(
                nn.ConvTranspose2d(
                    2 * channels[i],
                    cout,
                    (1, kf),
                    stride=(1, stride_f),
                    padding=(0, pad),
                    output_padding=(0, extra),
                )
            )
            acts.append(nn.PReLU(cout))
        self.ups, self.acts = nn.ModuleList(ups), nn.ModuleList(acts)
        self.out = nn.Conv2d(channels[0] + 2, 2, (1, 3), padding=(0, 1))
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def features(self, h: torch.Tensor, skips: list[torch.Tensor], xn: torch.Tensor) -> torch.Tensor:
        """-> (B, C_0 + 2, T, F_0): what the last layer sees (also the deep filter's input)."""
        b, t, _ = h.shape
        y = self.proj(h).reshape(b, t, *self.shape).transpose(1, 2)  # (B, C_L, T, F_L)
        for up, act, skip in zip(self.ups, self.acts, reversed(skips)):
            y = act(up(torch.cat([y, skip], dim=1)))
        return torch.cat([y, xn], dim=1)

    def forward(self, h: torch.Tensor, skips: list[torch.Tensor], xn: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(h, skips, xn))  # (B, 2, T, F_0)


class MaskCRN(SpectralEnhancer):
    def __init__(self, cfg: CRNConfig):
        super().__init__(cfg)
        layers, cin, freq = [], 2, self.n_bins
        for cout in cfg.channels:
            layers.append(_EncoderLayer(cin, cout, cfg.kernel, freq, cfg.stride_f, cfg.enc_norm))
            cin, freq = cout, layers[-1].out_freq
        self.encoder = nn.ModuleList(layers)
        if cfg.intra and len(cfg.intra) != len(cfg.channels):
            raise ValueError(
                f"intra needs one entry per encoder layer ({len(cfg.channels)}), got {cfg.intra}"
            )
        self.intra = nn.ModuleList(  # one per encoder layer; Identity where there is none
            IntraFrameGRU(layer.conv.conv.out_channels, layer.out_freq, h) if h > 0 else nn.Identity()
            for layer, h in zip(layers, cfg.intra or (0,) * len(layers))
        )
        if cfg.input_norm not in ("none", "level"):
            raise ValueError(f"input_norm must be 'none' or 'level', got {cfg.input_norm!r}")
        self.level = (
            LevelNorm(cfg.hop / cfg.sample_rate, cfg.level_tau_s) if cfg.input_norm == "level" else None
        )
        rnn_cls = {"gru": StreamGRU, "lstm": StreamLSTM}[cfg.rnn]
        self.rnn = rnn_cls(cin * freq, cfg.rnn_hidden, cfg.rnn_layers)
        if cfg.lookahead < 0:
            raise ValueError(f"lookahead must be >= 0 frames, got {cfg.lookahead}")
        late = cfg.rnn_hidden if cfg.lookahead > 0 else 0  # the head and decoder also read h(t + L)
        skip = self.n_bins if cfg.head_skip else 0
        self.head = nn.Sequential(
            nn.Linear(cfg.rnn_hidden + skip + late, cfg.fc_hidden),
            nn.ReLU(),
            nn.Linear(cfg.fc_hidden, 2 * self.n_bins),
        )
        self._init_identity_mask()
        freqs = [self.n_bins] + [layer.out_freq for layer in self.encoder]
        self.decoder = None
        if cfg.decoder:
            hidden = cfg.rnn_hidden + late
            self.decoder = MaskDecoder(hidden, cfg.channels, freqs, cfg.kernel[1], cfg.stride_f)
        self.df = None
        if cfg.df_order > 1:
            if self.decoder is None or cfg.mask != "crm" or not 0 < cfg.df_bins <= self.n_bins:
                raise ValueError(
                    f"df_order > 1 needs decoder = true, mask 'crm' and 0 < df_bins <= {self.n_bins}"
                )
            self.df = DeepFilter(cfg.channels[0] + 2, cfg.df_order, cfg.df_bins)
        self.floor = self.floor_enc = self.floor_out = None
        if cfg.noise_floor:
            kf = cfg.kernel[1]
            self.floor = NoiseFloor(self.n_bins, cfg.hop / cfg.sample_rate, cfg.floor_rise_db_s, cfg.compress)
            self.floor_enc = nn.Conv2d(
                1, cfg.channels[0], (1, kf), stride=(1, cfg.stride_f), padding=(0, (kf - 1) // 2)
            )
            self.floor_out = nn.Conv2d(1, 2, (1, 3), padding=(0, 1))
            for conv in (self.floor_enc, self.floor_out):  # start at the network without it
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)
        self.stage2 = None
        if cfg.stage2_basis > 0:
            self.stage2 = BasisStage(self.n_bins, cfg.stage2_basis, cfg.stage2_hidden, cfg.stage2_noisy)
        self.lookahead = None
        if cfg.lookahead > 0:
            signals = 2 + (2 if self.level is not None else 0) + (1 if self.floor is not None else 0)
            shapes = [(c, f) for c, f in zip(cfg.channels, freqs[1:])]
            self.lookahead = Lookahead(cfg.lookahead, signals, self.n_bins, shapes, cfg.rnn_hidden)
            with torch.no_grad():  # the weights on h(t + L) start at zero
                self.head[0].weight[:, -late:].zero_()
                if self.decoder is not None:
                    self.decoder.proj.weight[:, -late:].zero_()
            wide = {"head.0.weight": self.head[0].in_features}
            if self.decoder is not None:
                wide["decoder.proj.weight"] = self.decoder.proj.in_features
            self._register_load_state_dict_pre_hook(lambda sd, pre, *_: widen_for_lookahead(sd, pre, wide))

    @property
    def lookahead_frames(self) -> int:
        return self.cfg.lookahead

    def _late(self, xc, xn, floor, skips, h, state: LookaheadState | None = None):
        """What the mask of frame t - L is made from, at input frame t: (xc, xn, floor, skips,
        h) of frame t - L, h(t) itself (None without look-ahead) and the delay lines' state."""
        if self.lookahead is None:
            return xc, xn, floor, skips, h, None, None
        parts = [xc] + ([xn] if self.level is not None else []) + ([floor] if floor is not None else [])
        args = (torch.cat(parts, dim=1), skips, h)
        if state is None:
            sig, skips_l, h_l = self.lookahead(*args)
        else:
            sig, skips_l, h_l, state = self.lookahead.step(*args, state)
        xc_l = sig[:, :2]
        xn_l = sig[:, 2:4] if self.level is not None else xc_l
        floor_l = sig[:, -1:] if floor is not None else None
        return xc_l, xn_l, floor_l, skips_l, h_l, h, state

    def _init_identity_mask(self) -> None:
        """Start as (almost) the identity: real mask ~1, imaginary ~0, so training learns what
        to remove instead of first learning to pass speech through."""
        last = self.head[-1]
        target = 0.9 if self.cfg.mask == "elementwise" else (1.0 / self.cfg.mask_max + 1.0) / 2.0
        with torch.no_grad():
            last.weight.mul_(0.1)
            last.bias.zero_()
            last.bias[: self.n_bins] = torch.logit(torch.tensor(target))
            if self.cfg.mask == "elementwise":
                last.bias[self.n_bins :] = torch.logit(torch.tensor(target))

    def _apply_mask(
        self,
        xc: torch.Tensor,
        h: torch.Tensor,
        xn: torch.Tensor,
        skips: list[torch.Tensor],
        s_df: ConvState | None = None,
        floor: torch.Tensor | None = None,
        h_next: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ConvState | None]:
        """xc (B, 2, T, F) input, h (B, T, H) GRU output, xn (B, 2, T, F) the network's
        (normalised) input, skips the encoder layers' outputs (B, C_i, T, F_i), s_df the deep
        filter's state (None: its initial state), floor (B, 1, T, F) the noise-floor feature
        (noise_floor only), h_next (B, T, H) the GRU output L frames later (look-ahead only)
        -> masked (B, 2, T, F), next deep-filter state."""
        b, _, t, f = xc.shape
        g = h
        if self.cfg.head_skip:
            mag = torch.sqrt(xn.pow(2).sum(dim=1) + 1e-8)  # (B, T, F)
            g = torch.cat([h, mag], dim=-1)
        if h_next is not None:  # read last, so its weights are the columns a widening appends
            g, h = torch.cat([g, h_next], dim=-1), torch.cat([h, h_next], dim=-1)
        z = self.head(g).reshape(b, t, 2, f).transpose(1, 2)  # (B, 2, T, F)
        feats = None
        if self.decoder is not None:
            feats = self.decoder.features(h, skips, xn)
            z = z + self.decoder.out(feats)
        if self.floor_out is not None:
            z = z + self.floor_out(floor)
        if self.cfg.mask == "elementwise":
            return xc * torch.sigmoid(z), None
        m = self.cfg.mask_max * (2.0 * torch.sigmoid(z) - 1.0)
        if self.cfg.mask_power != 1.0:
            m = m * self._power_gain(m)
        re = m[:, 0] * xc[:, 0] - m[:, 1] * xc[:, 1]
        im = m[:, 0] * xc[:, 1] + m[:, 1] * xc[:, 0]
        y = torch.stack([re, im], dim=1)
        if self.df is None:
            return y, None
        if s_df is None:
            s_df = self.df.init_state(b, device=xc.device, dtype=xc.dtype)
        return self.df(feats, xc, y, s_df)

    def _power_gain(self, m: torch.Tensor) -> torch.Tensor:
        """m (B, 2, T, F) complex mask -> (B, 1, T, F) factor taking |m| to |m|^p below 1."""
        r = torch.sqrt(m.pow(2).sum(dim=1, keepdim=True) + 1e-12)  # >= 1e-6: finite powers
        return torch.where(r < 1.0, r.pow(self.cfg.mask_power - 1.0), torch.ones_like(r))

    @staticmethod
    def _flatten(x: torch.Tensor) -> torch.Tensor:
        b, c, t, f = x.shape
        return x.permute(0, 2, 1, 3).reshape(b, t, c * f)  # (B, T, C*F')

    def net_forward(self, xc: torch.Tensor) -> torch.Tensor:
        sounding = self._sounding(xc)
        x = xn = xc if self.level is None else self.level(xc, sounding)
        floor = None if self.floor is None else self.floor(xc, sounding)  # (B, 1, T, F)
        skips = []
        for layer, intra, extra in zip(self.encoder, self.intra, self._encoder_extras(floor)):
            x = intra(layer(x, extra))  # (B, C, T, F')
            skips.append(x)
        xc, xn, floor, skips, h, h_next, _ = self._late(xc, xn, floor, skips, self.rnn(self._flatten(x)))
        y = self._apply_mask(xc, h, xn, skips, floor=floor, h_next=h_next)[0]
        if self.stage2 is None:
            return y
        return self.stage2(y, xc if self.cfg.stage2_noisy else None)

    def _encoder_extras(self, floor: torch.Tensor | None) -> list[torch.Tensor | None]:
        """noise-floor feature (B, 1, T, F) or None -> per encoder layer what is added to its
        conv output: (B, C_0, T, F_1) for the first, None for the others."""
        first = None if floor is None else self.floor_enc(floor)
        return [first] + [None] * (len(self.encoder) - 1)

    def _sounding(self, xc: torch.Tensor) -> torch.Tensor | None:
        """(B, T) frames the level normaliser and the noise floor measure: None (their own
        floor) without silence_db, and not computed for a network that has neither."""
        if self.cfg.silence_db is None or (self.level is None and self.floor is None):
            return None
        return ~self.silent_frames(xc)

    def net_init_state(self, batch: int, *, device=None, dtype=None) -> CRNNetState:
        enc = tuple(layer.conv.init_state(batch, device=device, dtype=dtype) for layer in self.encoder)
        level = None if self.level is None else self.level.init_state(batch, device=device, dtype=dtype)
        df = None if self.df is None else self.df.init_state(batch, device=device, dtype=dtype)
        fl = None if self.floor is None else self.floor.init_state(batch, device=device, dtype=dtype)
        s2 = None if self.stage2 is None else self.stage2.init_state(batch, device=device, dtype=dtype)
        dl = None if self.lookahead is None else self.lookahead.init_state(batch, device=device, dtype=dtype)
        return CRNNetState(enc, self.rnn.init_state(batch, device=device, dtype=dtype), level, df, fl, s2, dl)

    def net_step(self, xc: torch.Tensor, state: CRNNetState) -> tuple[torch.Tensor, CRNNetState]:
        x, enc, level, floor, s_floor = xc, [], None, None, None
        sounding = self._sounding(xc)
        if self.level is not None:
            x, level = self.level.step(xc, state.level, sounding)
        if self.floor is not None:
            floor, s_floor = self.floor.step(xc, state.floor, sounding)
        xn, skips = x, []
        for layer, intra, s, extra in zip(self.encoder, self.intra, state.enc, self._encoder_extras(floor)):
            x, s = layer.step(x, s, extra)
            x = intra(x)
            enc.append(s)
            skips.append(x)
        h, s_rnn = self.rnn.step(self._flatten(x), state.rnn)
        xc, xn, floor, skips, h, h_next, s_late = self._late(xc, xn, floor, skips, h, state.lookahead)
        y, s_df = self._apply_mask(xc, h, xn, skips, state.df, floor, h_next)
        s2 = None
        if self.stage2 is not None:
            y, s2 = self.stage2.step(y, state.stage2, xc if self.cfg.stage2_noisy else None)
        return y, CRNNetState(tuple(enc), s_rnn, level, s_df, s_floor, s2, s_late)
