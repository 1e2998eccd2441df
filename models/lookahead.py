"""Look-ahead for the mask CRN: the mask of frame t is made when frame t + L has arrived.

The network runs on every input frame as it would without look-ahead (encoder, GRU: the same
numbers). What the mask of frame t is made from is then taken L frames late through delay lines
(`FrameDelay`): the GRU output h(t), the encoder outputs that the decoder skips over, and the
frame's own signals (the noisy spectrum the mask multiplies, the normalised input, the
noise-floor feature). The look-ahead itself enters as the GRU's *current* output h(t + L),
which has heard frames t + 1 .. t + L: the mask head and the decoder's input layer read
[h(t), h(t + L)]. Their weights on h(t + L) start at zero (`widen_for_lookahead` pads a
checkpoint trained without look-ahead), so such a checkpoint loads as itself, L frames later.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .streaming import ConvState, FrameDelay


@dataclass(frozen=True)
class LookaheadState:
    signals: ConvState  # the last L frames of [xc, xn, floor] (B, 2..5, L, F)
    skips: tuple[ConvState, ...]  # per encoder layer: its last L outputs (B, C_i, L, F_i)
    hidden: ConvState  # the GRU's last L outputs (B, H, L)


class Lookahead(nn.Module):
    """Delay lines of L frames for: signals (B, S, T, F), skips [(B, C_i, T, F_i)], h (B, T, H).
    forward / step -> (signals, skips, h) of frame t - L, (and the next state)."""

    def __init__(self, frames: int, signals: int, n_bins: int, skips: list[tuple[int, int]], hidden: int):
        super().__init__()
        self.signals = FrameDelay(frames, signals, (n_bins,))
        self.skips = nn.ModuleList(FrameDelay(frames, c, (f,)) for c, f in skips)
        self.hidden = FrameDelay(frames, hidden)

    def forward(self, signals: torch.Tensor, skips: list[torch.Tensor], h: torch.Tensor):
        late = [d(s) for d, s in zip(self.skips, skips)]
        return self.signals(signals), late, self.hidden(h.transpose(1, 2)).transpose(1, 2)

    def step(self, signals: torch.Tensor, skips: list[torch.Tensor], h: torch.Tensor, state: LookaheadState):
        sig, s_sig = self.signals.step(signals, state.signals)
        late, s_skips = [], []
        for d, s, st in zip(self.skips, skips, state.skips):
            y, st = d.step(s, st)
            late.append(y)
            s_skips.append(st)
        hl, s_h = self.hidden.step(h.transpose(1, 2), state.hidden)
        return sig, late, hl.transpose(1, 2), LookaheadState(s_sig, tuple(s_skips), s_h)

    def init_state(self, batch: int, *, device=None, dtype=None) -> LookaheadState:
        at = dict(device=device, dtype=dtype)
        return LookaheadState(
            self.signals.init_state(batch, **at),
            tuple(d.init_state(batch, **at) for d in self.skips),
            self.hidden.init_state(batch, **at),
        )


def widen_for_lookahead(state_dict: dict, prefix: str, keys: dict[str, int]) -> None:
    """A checkpoint without look-ahead: each 2-D weight named in `keys` (name -> the input
    width it has with look-ahead) gets zero columns at its end for h(t + L), so it computes
    what it did. Weights already that wide are left alone."""
    for name, width in keys.items():
        w = state_dict.get(prefix + name)
        if w is not None and w.shape[1] < width:
            state_dict[prefix + name] = torch.cat([w, w.new_zeros(w.shape[0], width - w.shape[1])], 1)
