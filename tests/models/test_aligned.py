"""Whole-utterance aligned enhancement equals the streaming path's delay-compensated output
(`HopStreamer.process`), sample for sample, for every length; batches are independent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamse.models.aligned import enhance_aligned, enhance_array
from streamse.models.torch_streamer import TorchStreamer
from streamse_testing import rel_err, tiny_crn


@pytest.mark.parametrize("n", [1600, 1601, 2345])
def test_aligned_equals_streaming_process(n):
    model = tiny_crn(seed=4).eval()
    x = (0.1 * np.random.default_rng(n).standard_normal(n)).astype(np.float32)
    y = enhance_array(model, x)
    assert y.shape == x.shape
    assert rel_err(y, TorchStreamer(model).process(x)) < 1e-4


def test_batch_items_are_independent_and_differentiable():
    model = tiny_crn(seed=5)
    wav = 0.1 * torch.randn(2, 3200, generator=torch.Generator().manual_seed(0))
    y = enhance_aligned(model, wav)
    assert y.shape == wav.shape and y.requires_grad
    alone = enhance_aligned(model, wav[1:])
    assert torch.allclose(y[1:], alone, atol=1e-6)
