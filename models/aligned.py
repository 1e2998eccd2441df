"""Whole-utterance offline enhancement, aligned: the model's output with its window - hop delay
removed, same length as the input. The one implementation behind validation, the IDDP
strategy's two passes and the diagnostics; `HopStreamer.process` is its streaming twin."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def enhance_aligned(model: nn.Module, wav: torch.Tensor) -> torch.Tensor:
    """wav (B, N) -> the model's offline output (B, N), with its win - hop delay removed.

    The input is padded by delay + hop zeros so the last samples are synthesised too.
    Differentiable (training uses it); wrap in no_grad to infer."""
    geo = model.geometry
    d, n = geo.delay_samples, wav.shape[-1]
    y = model(F.pad(wav, (0, d + geo.hop)))  # (B, >= N + d), sample k estimates input k - d
    return y[:, d : d + n]


def enhance_array(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """1-D float samples (N,) -> enhanced samples (N,), aligned, on the model's device."""
    device = next(model.parameters()).device
    with torch.no_grad():
        wav = torch.from_numpy(np.asarray(x, np.float32))[None].to(device)
        return enhance_aligned(model, wav)[0].cpu().numpy()
