"""Every state tensor is made where it is asked for: each layer's and each model's
`init_state(batch, *, device, dtype)` follows its arguments, and by default the layer's own
parameters (a model cast to float64 gets float64 states). The "meta" device stands in for a GPU:
a state made on the CPU regardless would show up here."""

from __future__ import annotations

import pytest
import torch

from streamse.models.streaming import (
    ISTFT,
    STFT,
    CausalConv1d,
    CausalConv2d,
    ComplexCausalConv2d,
    LevelNorm,
    RunningMean,
    StreamGRU,
    StreamLSTM,
    flatten_state,
)
from streamse_testing import tiny_cnunet, tiny_crn, tiny_tb

LAYERS = {
    "conv1d": lambda: CausalConv1d(3, 5, kernel=3, dilation=2),
    "conv2d": lambda: CausalConv2d(2, 4, (2, 3), in_freq=17),
    "complex_conv": lambda: ComplexCausalConv2d(3, 4, (2, 3), in_freq=16),
    "gru": lambda: StreamGRU(6, 8, num_layers=2),
    "lstm": lambda: StreamLSTM(6, 8),
    "running_mean": lambda: RunningMean(4, 3, 9),
    "stft": lambda: STFT(320, 160, 512),
    "istft": lambda: ISTFT(320, 160, 512),
    "level_norm": lambda: LevelNorm(0.01, 1.0),
    "crn": lambda: tiny_crn(input_norm="level", lead_gate=True),
    "cnunet": lambda: tiny_cnunet(),
    "cnunet_tb": lambda: tiny_tb(),
}


def _tensors(state) -> list[torch.Tensor]:
    tensors = [t for _, t in flatten_state(state)]
    assert tensors, "the layer has no state to check"
    return tensors


@pytest.mark.parametrize("name", LAYERS)
def test_init_state_follows_device_and_dtype(name):
    layer = LAYERS[name]()
    for t in _tensors(layer.init_state(2, device="meta", dtype=torch.float64)):
        assert (t.device.type, t.dtype) == ("meta", torch.float64)


@pytest.mark.parametrize("name", [n for n in LAYERS if n != "level_norm"])  # it has no weights
def test_init_state_defaults_to_the_layers_own_dtype(name):
    layer = LAYERS[name]().double()
    assert all(t.dtype == torch.float64 for t in _tensors(layer.init_state(2)))
