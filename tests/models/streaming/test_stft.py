"""STFT/ISTFT: identity framing (analysis + synthesis = delay of W - H samples), and the
streaming twins match the offline forms over several chunkings and across a reset."""

from __future__ import annotations

import pytest
import torch

from streamse.models.streaming import ISTFT, STFT

GEOMETRIES = [
    (320, 160, 320, "sqrt_hann"),
    (512, 256, 512, "hamming"),
    (512, 128, 512, "hann"),
    (400, 100, 512, "hamming"),
]


@pytest.mark.parametrize("win,hop,n_fft,window", GEOMETRIES)
def test_identity_is_pure_delay(win, hop, n_fft, window):
    torch.manual_seed(0)
    x = torch.randn(2, 50 * hop)
    y = ISTFT(win, hop, n_fft, window)(STFT(win, hop, n_fft, window)(x))
    d = win - hop
    assert y.shape == x.shape
    torch.testing.assert_close(y[:, d:], x[:, :-d], atol=2e-5, rtol=0)
    assert y[:, :d].abs().max() < 1e-5  # the delay line starts silent


@pytest.mark.parametrize("win,hop,n_fft,window", GEOMETRIES)
@pytest.mark.parametrize("pattern", [[1], [2], [7], [3, 1, 4, 1, 5]])
def test_streaming_matches_offline(win, hop, n_fft, window, pattern):
    torch.manual_seed(1)
    stft, istft = STFT(win, hop, n_fft, window), ISTFT(win, hop, n_fft, window)
    x = torch.randn(2, 40 * hop)
    spec_off, y_off = stft(x), istft(stft(x))
    for _ in range(2):  # second pass: fresh states again = reset
        s, i = stft.init_state(2), istft.init_state(2)
        specs, outs, pos, k = [], [], 0, 0
        while pos < x.shape[1]:
            n = min(pattern[k % len(pattern)] * hop, x.shape[1] - pos)
            spec, s = stft.step(x[:, pos : pos + n], s)
            y, i = istft.step(spec, i)
            specs.append(spec), outs.append(y)
            pos, k = pos + n, k + 1
        torch.testing.assert_close(torch.cat(specs, 2), spec_off, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(torch.cat(outs, 1), y_off, atol=1e-5, rtol=0)


def test_frame_t_sees_only_samples_up_to_its_hop():
    win, hop = 320, 160
    stft = STFT(win, hop, 320, "sqrt_hann")
    x = torch.randn(1, 20 * hop)
    x2 = x.clone()
    x2[:, 7 * hop :] += 1.0  # change hop 7 onwards
    a, b = stft(x), stft(x2)
    torch.testing.assert_close(a[:, :, :7], b[:, :, :7], atol=0, rtol=0)
    assert not torch.allclose(a[:, :, 7], b[:, :, 7])
