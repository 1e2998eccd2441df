"""Multiply-accumulates per second of audio, counted with forward hooks on one second.

Counts convolutions (transposed ones and the STFT/ISTFT bases included), linear layers,
recurrent layers (input and hidden matmuls per step) and any module that reports its own work
through a `count_macs(out)` method (e.g. the complex conv, which runs a functional conv);
elementwise ops, norms and moving averages are not counted.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_macs(m: nn.Module, out: torch.Tensor) -> int:
    w = m.weight
    per_out = w.shape[1] * w[0, 0].numel()  # (C_in / groups) * kernel
    return out.numel() * per_out


def _conv_transpose_macs(m: nn.Module, x: torch.Tensor) -> int:
    w = m.weight  # (C_in, C_out / groups, *kernel): every input element feeds C_out/g * k MACs
    return x.numel() * w[0].numel()


def _rnn_macs(m: nn.RNNBase, x: torch.Tensor) -> int:
    gates = {"GRU": 3, "LSTM": 4}.get(m.mode, 1)
    steps = x.shape[0] * x.shape[1]  # B * T (batch_first)
    h, total, d_in = m.hidden_size, 0, m.input_size
    dirs = 2 if m.bidirectional else 1
    for _ in range(m.num_layers):
        total += dirs * steps * gates * (d_in * h + h * h)
        d_in = dirs * h
    return total


def hooked_macs(model: nn.Module, call) -> int:
    """MACs of the layers of `model` that `call()` runs (functional ops are not seen)."""
    total = [0]

    def hook(m, inputs, out):
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            total[0] += _conv_macs(m, out)
        elif isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
            total[0] += _conv_transpose_macs(m, inputs[0])
        elif callable(getattr(m, "count_macs", None)):
            total[0] += m.count_macs(out)
        elif isinstance(m, nn.Linear):
            total[0] += out.numel() * m.in_features
        elif isinstance(m, nn.RNNBase):
            total[0] += _rnn_macs(m, inputs[0])

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            call()
    finally:
        for h in handles:
            h.remove()
    return total[0]


def count_macs(model: nn.Module, wav: torch.Tensor) -> int:
    """MACs of `model(wav)` (offline forward)."""
    # STFT/ISTFT run as functional convs on fixed bases: 2F x W MACs per frame each way.
    frames = wav.shape[-1] // model.cfg.hop
    stft = 2 * frames * model.stft.basis.shape[0] * model.cfg.win
    return hooked_macs(model, lambda: model(wav)) + stft


def macs_per_second(model: nn.Module) -> float:
    sr = model.cfg.sample_rate
    return float(count_macs(model.eval(), torch.zeros(1, sr)))
