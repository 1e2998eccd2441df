"""Per-layer streaming tests: prefix causality, and chunked step == offline forward for chunks
of 1, 2 and 7 frames, ragged chunks, and again after a reset (fresh state)."""

from __future__ import annotations

import pytest
import torch

from streamse.models.streaming import (
    CausalConv1d,
    CausalConv2d,
    FrameNorm,
    StreamGRU,
    StreamLSTM,
)

T = 40
CHUNKINGS = {"1": [1], "2": [2], "7": [7], "ragged": [3, 1, 5, 2, 8, 1, 4]}
TOL = dict(atol=1e-5, rtol=1e-5)


def _chunks(total: int, pattern: list[int]):
    pos, i = 0, 0
    while pos < total:
        n = min(pattern[i % len(pattern)], total - pos)
        yield pos, n
        pos, i = pos + n, i + 1


def _layers():
    torch.manual_seed(0)
    return {
        # name: (layer, input (B, ..., T along `time_dim`), time_dim)
        "conv1d_k3_d2": (CausalConv1d(3, 5, kernel=3, dilation=2), torch.randn(2, 3, T), 2),
        "conv1d_k1": (CausalConv1d(3, 5, kernel=1), torch.randn(2, 3, T), 2),
        "conv2d_k2x3": (CausalConv2d(2, 4, (2, 3), in_freq=17), torch.randn(2, 2, T, 17), 2),
        "conv2d_k3x5_d4_s2": (
            CausalConv2d(2, 4, (3, 5), in_freq=17, dilation=(4, 1), stride_f=2),
            torch.randn(2, 2, T, 17),
            2,
        ),
        "gru": (StreamGRU(6, 8, num_layers=2), torch.randn(2, T, 6), 1),
        "lstm": (StreamLSTM(6, 8), torch.randn(2, T, 6), 1),
    }


def _stream(layer, x, time_dim, pattern, state=None):
    state = layer.init_state(x.shape[0]) if state is None else state
    outs = []
    for pos, n in _chunks(x.shape[time_dim], pattern):
        y, state = layer.step(x.narrow(time_dim, pos, n), state)
        outs.append(y)
    return torch.cat(outs, dim=time_dim), state


@pytest.mark.parametrize("name", list(_layers()))
@pytest.mark.parametrize("chunking", list(CHUNKINGS))
def test_chunked_equals_offline(name, chunking):
    layer, x, tdim = _layers()[name]
    with torch.no_grad():
        full = layer(x)
        streamed, _ = _stream(layer, x, tdim, CHUNKINGS[chunking])
    torch.testing.assert_close(streamed, full, **TOL)


@pytest.mark.parametrize("name", list(_layers()))
def test_reset_gives_fresh_state(name):
    """A second utterance after re-initialising the state matches a fresh run of it alone."""
    layer, x, tdim = _layers()[name]
    other = torch.randn_like(x)
    with torch.no_grad():
        _, dirty = _stream(layer, other, tdim, [3])
        after_reset, _ = _stream(layer, x, tdim, [3])  # init_state again = reset
        carried, _ = _stream(layer, x, tdim, [3], state=dirty)
        fresh = layer(x)
    torch.testing.assert_close(after_reset, fresh, **TOL)
    if layer.init_state(1) is not None:  # state really carries information
        assert not torch.allclose(carried, fresh, atol=1e-4)


@pytest.mark.parametrize("name", list(_layers()) + ["framenorm"])
@pytest.mark.parametrize("t0", [0, 11, T - 1])
def test_causal(name, t0):
    """Changing frames >= t0 changes no output before t0, and does change output at t0."""
    if name == "framenorm":
        layer, x, tdim = FrameNorm(3), torch.randn(2, 3, T, 9), 2
    else:
        layer, x, tdim = _layers()[name]
    x2 = x.clone()
    x2.narrow(tdim, t0, T - t0).add_(torch.randn_like(x2.narrow(tdim, t0, T - t0)))
    with torch.no_grad():
        y1, y2 = layer(x), layer(x2)
    torch.testing.assert_close(y1.narrow(tdim, 0, t0), y2.narrow(tdim, 0, t0), atol=0, rtol=0)
    assert not torch.allclose(y1.narrow(tdim, t0, 1), y2.narrow(tdim, t0, 1))


def test_conv_state_holds_exactly_the_context():
    layer = CausalConv2d(2, 4, (3, 5), in_freq=17, dilation=(4, 1), stride_f=2)
    assert layer.context == 8
    assert layer.init_state(3).past.shape == (3, 2, 8, 17)
    assert layer.out_freq == 9
    assert CausalConv1d(3, 5, kernel=1).init_state(2) is None
