"""Teacher frames land on the STFT frame grid by time (`FrameGrid`, `resample_frames`)."""

from __future__ import annotations

import torch

from streamse.models.teachers import FrameGrid, resample_frames, stft_grid


def test_resample_frames_follows_time():
    """A teacher signal linear in time stays the same line on the STFT grid."""
    src = FrameGrid(320.0, 199.5)
    emb = src.centre(50).float()[None, :, None]  # value = centre time in samples
    out = resample_frames(emb, src, stft_grid(512, 256), 40)
    expect = stft_grid(512, 256).centre(40).float().clamp(199.5, 199.5 + 49 * 320)
    torch.testing.assert_close(out[0, :, 0], expect)
