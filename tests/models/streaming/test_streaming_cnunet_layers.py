"""Per-layer tests of the streaming layers added for CNUNet (RunningMean, ComplexCausalConv2d,
FusedFrameNorm):
chunked step == offline for chunks of 1, 2 and 7 frames and ragged chunks, prefix causality,
reset, and the complex conv equal to the four real convolutions it stands for."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from streamse.models.streaming import ComplexCausalConv2d, FrameNorm, FusedFrameNorm, RunningMean

T = 40
CHUNKINGS = {"1": [1], "2": [2], "7": [7], "ragged": [3, 1, 5, 2, 8, 1, 4]}
TOL = dict(atol=1e-5, rtol=1e-5)


def _layers():
    torch.manual_seed(0)
    return {
        "mean32": (RunningMean(32, 3, 9), torch.randn(2, 3, T, 9)),
        "mean4": (RunningMean(4, 3, 9), torch.randn(2, 3, T, 9)),
        "mean1": (RunningMean(1, 3, 9), torch.randn(2, 3, T, 9)),
        "cconv_k2x3": (ComplexCausalConv2d(3, 4, (2, 3), in_freq=16), torch.randn(2, 6, T, 16)),
        "cconv_d4_s2": (
            ComplexCausalConv2d(3, 4, (2, 3), in_freq=16, dilation=(4, 2), stride_f=2),
            torch.randn(2, 6, T, 16),
        ),
    }


def _stream(layer, x, pattern):
    state, outs, pos, i = layer.init_state(x.shape[0]), [], 0, 0
    while pos < x.shape[2]:
        n = min(pattern[i % len(pattern)], x.shape[2] - pos)
        y, state = layer.step(x[:, :, pos : pos + n], state)
        outs.append(y)
        pos, i = pos + n, i + 1
    return torch.cat(outs, dim=2)


@pytest.mark.parametrize("name", list(_layers()))
@pytest.mark.parametrize("chunking", list(CHUNKINGS))
def test_chunked_equals_offline(name, chunking):
    layer, x = _layers()[name]
    with torch.no_grad():
        torch.testing.assert_close(_stream(layer, x, CHUNKINGS[chunking]), layer(x), **TOL)


@pytest.mark.parametrize("name", list(_layers()))
def test_prefix_causal_and_reset(name):
    """Changing frames >= t0 leaves outputs < t0 untouched; a fresh state after a stream
    reproduces the first run (nothing is left behind)."""
    layer, x = _layers()[name]
    t0 = 23
    x2 = x.clone()
    x2[:, :, t0:] += torch.randn_like(x2[:, :, t0:])
    with torch.no_grad():
        y1, y2 = layer(x), layer(x2)
        torch.testing.assert_close(y1[:, :, :t0], y2[:, :, :t0], atol=0, rtol=0)
        assert not torch.allclose(y1[:, :, t0:], y2[:, :, t0:])
        first = _stream(layer, x, [3])
        _stream(layer, x2, [5])  # a different utterance in between
        torch.testing.assert_close(_stream(layer, x, [3]), first, atol=0, rtol=0)


def test_running_mean_values():
    """Frame t is the mean of frames t-N+1..t with zeros before the start (divisor always N)."""
    x = torch.arange(1.0, 7.0).reshape(1, 1, 6, 1)
    y = RunningMean(3, 1, 1)(x).flatten()
    torch.testing.assert_close(y, torch.tensor([1 / 3, 1.0, 2.0, 3.0, 4.0, 5.0]))


def test_complex_conv_is_four_real_convs():
    torch.manual_seed(1)
    layer = ComplexCausalConv2d(3, 4, (2, 3), in_freq=10)
    x = torch.randn(2, 6, 12, 10)
    re, im = x.chunk(2, dim=1)
    pad = lambda z: F.pad(z, (0, 0, 1, 0))  # noqa: E731 - causal: one past frame
    conv_r = lambda z: F.conv2d(pad(z), layer.conv.real.weight, layer.conv.real.bias, padding=(0, 1))  # noqa: E731
    conv_i = lambda z: F.conv2d(pad(z), layer.conv.imag.weight, layer.conv.imag.bias, padding=(0, 1))  # noqa: E731
    want = torch.cat([conv_r(re) - conv_i(im), conv_i(re) + conv_r(im)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), want, **TOL)


def test_fused_frame_norm_equals_frame_norm():
    """Same parameters (so checkpoints load either way) and the same values."""
    torch.manual_seed(2)
    ref, fused = FrameNorm(5), FusedFrameNorm(5, 9)
    with torch.no_grad():
        ref.weight.normal_()
        ref.bias.normal_()
    fused.load_state_dict(ref.state_dict())
    x = 3 * torch.randn(2, 5, 7, 9) + 1
    with torch.no_grad():
        torch.testing.assert_close(fused(x), ref(x), **TOL)
