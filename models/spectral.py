"""Skeleton shared by the spectral models: STFT -> compress -> network -> decompress -> ISTFT.

A model subclasses `SpectralEnhancer` and fills three hooks over the power-compressed complex
spectrum Xc = |X|^p * e^{j angle X} laid out as (B, 2, T, F) [channel 0 real, 1 imaginary]:

- `net_forward(xc) -> yc`: the whole utterance (offline, training);
- `net_init_state(batch, *, device, dtype)`: the network's state tree (typed dataclasses, see
  `streaming.state`);
- `net_step(xc, state) -> (yc, state)`: k new frames, the same weights.

The skeleton gives `forward(wav)`, `estimate(wav)` (for spectral losses), `init_state`, `step`,
and the frame geometry (hop, window, latency), derived from the STFT settings.

Leading digital silence (config `lead_gate`): silent frames before the first sounding frame
of a stream do not step the network at all (its state stays at its initial value and the
output is zero), so a stream that starts with silence, as a sound card gives before audio
arrives, behaves exactly like one started at its first sound. Offline, each item is shifted to
start at its first sounding frame, run, and shifted back: the same numbers as streaming.
A frame is silent when it is all zeros, or, with config `silence_db`, when the mean square of
its windowed samples is at or below `silence_db` dBFS (`frame_mean_square`): a resampler's
pre-ringing, dither or a converter's idle noise ahead of the audio is silence too, not a
quiet start that the level normaliser would then measure the speech against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import torch
from torch import nn

from streamse.streamer import FrameGeometry

from .streaming.stft import window_pair
from .streaming import (
    ISTFT,
    STFT,
    ISTFTState,
    STFTState,
    batch_axes,
    select_state,
    state_placement,
)

_EPS = 1e-12


NetState = TypeVar("NetState")  # the network's own state tree (CRNNetState, CNUNetState, ...)


@dataclass(frozen=True)
class EnhancerState(Generic[NetState]):
    """The state of a whole spectral enhancer: its STFT, its network's (typed by the model
    family) and its overlap-add."""

    stft: STFTState
    net: NetState
    istft: ISTFTState
    started: torch.Tensor | None = None  # (B,) 1.0 once a sounding frame arrived (lead_gate)


def first_sound(silent: torch.Tensor) -> torch.Tensor:
    """silent (B, T) bool -> (B,) index of the first frame that is not silent (T if none)."""
    t = torch.arange(silent.shape[1], device=silent.device).expand_as(silent)
    return torch.where(silent, silent.shape[1], t).min(dim=1).values


def shift_frames(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """(B, C, T, F): item b moved `shift[b]` frames earlier (shift < 0: later), zero-filled."""
    t = x.shape[2]
    src = torch.arange(t, device=x.device)[None, :] + shift[:, None]  # (B, T)
    valid = (src >= 0) & (src < t)
    idx = src.clamp(0, t - 1)[:, None, :, None].expand(-1, x.shape[1], -1, x.shape[3])
    return torch.gather(x, 2, idx) * valid[:, None, :, None].to(x.dtype)


def mean_square_weights(cfg: "SpectralConfig") -> torch.Tensor:
    """(F,) Parseval weights: sum_k w_k |X_k|^2 = sum_n (window_n x_n)^2 / sum_n window_n^2."""
    window = window_pair(cfg.window, cfg.win, cfg.hop, cfg.synthesis_win)[0]
    w = torch.full((cfg.n_fft // 2 + 1,), 2.0 / cfg.n_fft, dtype=torch.float64)
    w[0] = 1.0 / cfg.n_fft
    if cfg.n_fft % 2 == 0:
        w[-1] = 1.0 / cfg.n_fft
    return (w / window.pow(2).sum()).float()


def compress(spec: torch.Tensor, power: float) -> torch.Tensor:
    """(B, 2, T, F) complex-as-channels -> |X|^power with the phase of X."""
    mag2 = spec.pow(2).sum(dim=1, keepdim=True)  # (B, 1, T, F)
    return spec * (mag2 + _EPS).pow((power - 1.0) / 2.0)


def decompress(spec_c: torch.Tensor, power: float) -> torch.Tensor:
    """Inverse of `compress`: |Y|^(1/power) with the phase of Y."""
    mag2 = spec_c.pow(2).sum(dim=1, keepdim=True)
    return spec_c * (mag2 + _EPS).pow((1.0 / power - 1.0) / 2.0)


@dataclass(frozen=True)
class SpectralConfig:
    """The fields every spectral model's config starts with (each family's config extends it
    and may change the defaults): STFT window/hop/DFT size in samples at `sample_rate`, the
    analysis window, the power-law compression of the spectrum, and the lead gate.
    `synthesis_win` S < win selects asymmetric windows (`models/streaming/stft.py`): the analysis
    frame keeps `win` samples of frequency resolution while the latency is that of an S-sample
    window; 0 = symmetric (S = win).

    INFERENCE_FIELDS names the fields that hold no weights and that training runs with their
    defaults while an export may set them (`streamse export --set`): `--init` takes them from
    the run, not from the checkpoint it starts from."""

    INFERENCE_FIELDS: ClassVar[tuple[str, ...]] = ("silence_db",)

    sample_rate: int = 16000
    win: int = 320
    hop: int = 160
    n_fft: int = 320
    window: str = "sqrt_hann"
    synthesis_win: int = 0
    compress: float = 0.3
    lead_gate: bool = False  # leading silent frames do not step the network
    silence_db: float | None = None  # frames at or below this dBFS are silent; None: all-zero only


class SpectralEnhancer(nn.Module):
    """Base for streamse's STFT-domain models. Subclasses set the three hooks; their config is
    a `SpectralConfig`."""

    # Set by the exporter only (`export/gate.py`): traced with the lead gate, a graph gates every
    # frame; this flag traces the branch taken once every stream has started instead (no gate).
    trace_as_started: bool = False

    def __init__(self, cfg: SpectralConfig):
        super().__init__()
        self.cfg = cfg
        self.stft = STFT(cfg.win, cfg.hop, cfg.n_fft, cfg.window, cfg.synthesis_win)
        self.istft = ISTFT(cfg.win, cfg.hop, cfg.n_fft, cfg.window, cfg.synthesis_win)
        self.register_buffer("_ms_weights", mean_square_weights(cfg), persistent=False)

    @property
    def n_bins(self) -> int:
        return self.cfg.n_fft // 2 + 1

    @property
    def lookahead_frames(self) -> int:
        """Frames the network's output trails its input by: its estimate of frame t comes with
        frame t + lookahead_frames (0: with frame t). Models with look-ahead override this."""
        return 0

    @property
    def geometry(self) -> FrameGeometry:
        """The latency's window is the synthesis window (the analysis frame may be longer);
        look-ahead frames add whole hops to delay and latency."""
        cfg = self.cfg
        synthesis = cfg.synthesis_win or cfg.win
        analysis = cfg.win if cfg.win != synthesis else 0
        return FrameGeometry(cfg.sample_rate, cfg.hop, synthesis, analysis, self.lookahead_frames * cfg.hop)

    # hooks ----------------------------------------------------------------------------------
    def net_forward(self, xc: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def net_init_state(self, batch: int, *, device=None, dtype=None) -> Any:
        raise NotImplementedError

    def net_step(self, xc: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def frame_mean_square(self, xc: torch.Tensor) -> torch.Tensor:
        """compressed spectrum (B, 2, T, F) -> (B, T) mean square of each frame's windowed
        samples re the window's power (Parseval): a frame of white noise of RMS s gives s^2."""
        mag2 = xc.detach().pow(2).sum(dim=1)  # (B, T, F) = |X|^(2 p)
        return (mag2.pow(1.0 / self.cfg.compress) * self._ms_weights).sum(dim=-1)

    def silent_frames(self, xc: torch.Tensor) -> torch.Tensor:
        """compressed spectrum (B, 2, T, F) -> (B, T) True where a frame is silent (module doc)."""
        if self.cfg.silence_db is None:
            return xc.detach().pow(2).sum(dim=(1, 3)) == 0
        return self.frame_mean_square(xc) <= 10.0 ** (self.cfg.silence_db / 10.0)

    # offline --------------------------------------------------------------------------------
    def analyse(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, N) -> compressed spectrum (B, 2, T, F), T = N // hop."""
        return compress(self.stft(wav), self.cfg.compress)

    def estimate(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, N) -> estimated clean compressed spectrum (B, 2, T, F); frame t estimates
        input frame t - lookahead_frames."""
        return self.gated(self.net_forward, self.analyse(wav))

    def gated(self, net, xc: torch.Tensor) -> torch.Tensor:
        """net(xc) with the lead gate (module doc): leading silent frames are skipped."""
        if not self.cfg.lead_gate:
            return net(xc)
        t0 = first_sound(self.silent_frames(xc))
        if not bool((t0 > 0).any()):
            return net(xc)
        return shift_frames(net(shift_frames(xc, t0)), -t0)

    def synthesise(self, yc: torch.Tensor) -> torch.Tensor:
        """compressed spectrum (B, 2, T, F) -> wav (B, T * hop), delayed by geometry.delay_samples
        (synthesis window - hop)."""
        return self.istft(decompress(yc, self.cfg.compress))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, N) -> enhanced (B, (N // hop) * hop); sample n estimates clean n - delay_samples."""
        return self.synthesise(self.estimate(wav))

    # streaming ------------------------------------------------------------------------------
    def init_state(
        self, batch: int = 1, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> EnhancerState:
        """The whole state tree for `batch` streams, every tensor on `device` with `dtype`
        (default: those of the model's parameters, so a model moved to a GPU or cast to
        float64 streams with matching states)."""
        at = state_placement(self, device, dtype)
        started = torch.zeros(batch, **at) if self.cfg.lead_gate else None
        net = self.net_init_state(batch, **at)
        return EnhancerState(
            self.stft.init_state(batch, **at), net, self.istft.init_state(batch, **at), started
        )

    def step(self, chunk: torch.Tensor, state: EnhancerState) -> tuple[torch.Tensor, EnhancerState]:
        """chunk (B, k * hop) -> enhanced (B, k * hop), next state. Only new frames are computed."""
        spec, s_stft = self.stft.step(chunk, state.stft)
        xc = compress(spec, self.cfg.compress)
        if state.started is None:
            yc, s_net, started = *self.net_step(xc, state.net), None
        elif self.trace_as_started and torch.jit.is_tracing():  # the exporter's started branch
            yc, s_net, started = *self.net_step(xc, state.net), state.started
        else:
            yc, s_net, started = self._gated_step(xc, state.net, state.started)
        out, s_istft = self.istft.step(decompress(yc, self.cfg.compress), state.istft)
        return out, EnhancerState(s_stft, s_net, s_istft, started)

    def _gated_step(self, xc: torch.Tensor, s_net: Any, started: torch.Tensor):
        """net_step under the lead gate: frame by frame while some stream has not started
        (its state is kept and its output zeroed), then the remaining frames at once."""
        if not hasattr(self, "_state_axes"):
            self._state_axes = batch_axes(self.net_init_state)
        outs, t, tracing = [], 0, torch.jit.is_tracing()  # an exported graph always gates
        while t < xc.shape[2] and (tracing or not bool(started.all())):
            frame = xc[:, :, t : t + 1]
            now = torch.maximum(started, (~self.silent_frames(frame)[:, 0]).to(xc.dtype))
            y, s_new = self.net_step(frame, s_net)
            s_net = select_state(now, s_new, s_net, self._state_axes)
            outs.append(y * now[:, None, None, None])
            started, t = now, t + 1
        if t < xc.shape[2]:
            y, s_net = self.net_step(xc[:, :, t:], s_net)
            outs.append(y)
        return torch.cat(outs, dim=2), s_net, started
