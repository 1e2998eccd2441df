"""Validation during training: the offline model on the first N dev pairs, scored with the
same metrics as `streamse eval` (PESQ-WB, STOI, SI-SDR)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from streamse.audio_io import read_audio

from streamse.bench.pairs import load_pairs


def offline_enhance(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """1-D samples -> enhanced samples of the same length, aligned (the model's delay removed)."""
    geo = model.geometry
    d = geo.delay_samples
    padded = np.pad(x, (0, d + geo.hop)).astype(np.float32)
    device = next(model.parameters()).device
    with torch.no_grad():
        y = model(torch.from_numpy(padded)[None].to(device))[0].cpu().numpy()
    return y[d : d + x.size]


def validate(model: nn.Module, noisy_dir: str, clean_dir: str, max_files: int) -> dict[str, float]:
    """Mean PESQ-WB / STOI / SI-SDR of the enhanced first `max_files` pairs."""
    from streamse.bench.metrics import pesq_wb, si_sdr, stoi

    was_training = model.training
    model.eval()
    sr = model.geometry.sample_rate
    rows = []
    for noisy_path, clean_path in load_pairs(noisy_dir, clean_dir)[:max_files]:
        x, _ = read_audio(noisy_path, sr)
        s, _ = read_audio(clean_path, sr)
        y = offline_enhance(model, x)
        rows.append((pesq_wb(s, y, sr), stoi(s, y, sr), si_sdr(s, y)))
    model.train(was_training)
    if not rows:
        return {}
    arr = np.array(rows, dtype=np.float64)
    means = np.nanmean(arr, axis=0)
    return {"pesq_wb": float(means[0]), "stoi": float(means[1]), "si_sdr": float(means[2])}
