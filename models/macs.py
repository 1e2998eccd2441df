"""Multiply-accumulates per second of audio, counted with forward hooks on one second.

Counts convolutions (the STFT/ISTFT bases included), linear layers and recurrent layers
(input and hidden matmuls per step); elementwise ops and norms are not counted.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_macs(m: nn.Module, out: torch.Tensor) -> int:
    w = m.weight
    per_out = w.shape[1] * w[0, 0].numel()  # (C_in / groups) * kernel
    return out.numel() * per_out


def _rnn_macs(m: nn.RNNBase, x: torch.Tensor) -> int:
    gates = {"GRU": 3, "LSTM": 4}.get(m.mode, 1)
    steps = x.shape[0] * x.shape[1]  # B * T (batch_first)
    h, total, d_in = m.hidden_size, 0, m.input_size
    for _ in range(m.num_layers):
        total += steps * gates * (d_in * h + h * h)
        d_in = h
    return total


def count_macs(model: nn.Module, wav: torch.Tensor) -> int:
    """MACs of `model(wav)` (offline forward)."""
    total = [0]

    def hook(m, inputs, out):
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            total[0] += _conv_macs(m, out)
        elif isinstance(m, nn.Linear):
            total[0] += out.numel() * m.in_features
        elif isinstance(m, nn.RNNBase):
            total[0] += _rnn_macs(m, inputs[0])

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            model(wav)
    finally:
        for h in handles:
            h.remove()
    # STFT/ISTFT run as functional convs on fixed bases: 2F x W MACs per frame each way.
    frames = wav.shape[-1] // model.cfg.hop
    total[0] += 2 * frames * model.stft.basis.shape[0] * model.cfg.win
    return total[0]


def macs_per_second(model: nn.Module) -> float:
    sr = model.cfg.sample_rate
    return float(count_macs(model.eval(), torch.zeros(1, sr)))
