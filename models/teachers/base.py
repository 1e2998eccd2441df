"""What a stage-1 teacher is, and how its frames are put on the STFT frame grid.

A teacher maps waveforms (B, N) at 16 kHz to frame-level embeddings (B, T_t, D) at its own
rate; `embed_frames` resamples them to the enhancer's T = N // hop frames by linear
interpolation in *time*: teacher frame j is centred at sample `offset + j * stride`, enhancer
frame t (streamse's STFT: window W, hop H, frame t covers [t*H - (W-H), t*H + H)) at
`t*H + H - W/2`. Interpolation looks up to one teacher frame ahead, like the seed's
`F.interpolate`; the teacher is non-causal anyway and is used only in stage 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class FrameGrid:
    """Frame centres in samples: centre(j) = offset + j * stride."""

    stride: float
    offset: float

    def centre(self, n: int) -> torch.Tensor:
        return self.offset + self.stride * torch.arange(n, dtype=torch.float64)


def stft_grid(win: int, hop: int) -> FrameGrid:
    """Centres of streamse's STFT frames (see `models.streaming.stft`)."""
    return FrameGrid(float(hop), float(hop - win / 2))


def resample_frames(emb: torch.Tensor, src: FrameGrid, dst: FrameGrid, n: int) -> torch.Tensor:
    """emb (B, T_src, D) on grid `src` -> (B, n, D) on grid `dst`, linear in time, held
    constant beyond the first/last source frame."""
    pos = ((dst.centre(n) - src.offset) / src.stride).clamp(0, emb.shape[1] - 1)  # (n,)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=emb.shape[1] - 1)
    w = (pos - lo).to(emb.dtype)[None, :, None]  # (1, n, 1)
    return emb[:, lo] * (1 - w) + emb[:, hi] * w


class Teacher(nn.Module):
    """Frozen frame-level speech embedder. Subclasses set `dim`, `grid` and `frames(wav)`."""

    dim: int
    grid: FrameGrid
    sample_rate: int = 16000

    def frames(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, N) -> embeddings (B, T_t, D) on `self.grid`."""
        raise NotImplementedError

    @torch.no_grad()
    def embed_frames(self, wav: torch.Tensor, win: int, hop: int) -> torch.Tensor:
        """wav (B, N) -> (B, N // hop, D) on the enhancer's STFT frame grid."""
        self.eval()
        emb = self.frames(wav).float()
        return resample_frames(emb, self.grid, stft_grid(win, hop), wav.shape[-1] // hop)
