"""Small seeded models and helpers for fast tests of the streaming machinery."""

from __future__ import annotations

import numpy as np
import torch

from streamse.models.crn import CRNConfig, MaskCRN

TINY_CRN = CRNConfig(channels=(4, 8), rnn_hidden=32, rnn_layers=2, fc_hidden=32)


def tiny_crn(seed: int = 0, **overrides) -> MaskCRN:
    """A randomly initialised CRN small enough for per-test export and streaming runs."""
    import dataclasses

    torch.manual_seed(seed)
    return MaskCRN(dataclasses.replace(TINY_CRN, **overrides)).eval()


def tiny_cnunet(seed: int = 0, **overrides):
    """A randomly initialised causal CNUNet with the shipped STFT (320/160/512) but two shallow
    encoder levels and narrow channels; it still has every block kind (CTFA included)."""
    import dataclasses

    from streamse.models.cnunet import CNUNet, CNUNetConfig

    cfg = CNUNetConfig(mid=8, out=8, stages=(2, 1), dense_layers=3, attn_hidden=2, attn_frames=4)
    torch.manual_seed(seed)
    return CNUNet(dataclasses.replace(cfg, **overrides)).eval()


def offline(model, x: np.ndarray) -> np.ndarray:
    """The offline PyTorch forward of a 1-D signal (output delayed by win - hop)."""
    with torch.no_grad():
        return model(torch.from_numpy(x)[None])[0].numpy()


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| relative to the peak of b."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def feed_pattern(streamer, x: np.ndarray, pattern: list[int]) -> np.ndarray:
    """Feed `x` to a HopStreamer in chunks of pattern[0], pattern[1], ... samples (cycled)."""
    outs, pos, k = [], 0, 0
    while pos < x.size:
        n = pattern[k % len(pattern)]
        outs.append(streamer.feed(x[pos : pos + n]))
        pos, k = pos + n, k + 1
    return np.concatenate(outs)
