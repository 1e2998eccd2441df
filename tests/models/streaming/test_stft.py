"""STFT/ISTFT: identity framing (analysis + synthesis = delay of S - H samples, S the synthesis
window: W for symmetric windows), and the streaming twins match the offline forms over several
chunkings and across a reset; the asymmetric pair's windows and what it costs in latency."""

from __future__ import annotations

import pytest
import torch

from streamse.models.streaming import ISTFT, STFT
from streamse.models.streaming.stft import make_window, window_pair

# (win, hop, n_fft, window, synthesis window; 0 = win)
GEOMETRIES = [
    (320, 160, 320, "sqrt_hann", 0),
    (512, 256, 512, "hamming", 0),
    (512, 128, 512, "hann", 0),
    (400, 100, 512, "hamming", 0),
    (512, 160, 512, "sqrt_hann", 320),  # the asymmetric pair: 32 ms analysis, 20 ms latency
    (512, 128, 512, "sqrt_hann", 256),
    (480, 160, 512, "sqrt_hann", 480),  # S = W: the symmetric window again
]


@pytest.mark.parametrize("win,hop,n_fft,window,syn", GEOMETRIES)
def test_identity_is_pure_delay(win, hop, n_fft, window, syn):
    torch.manual_seed(0)
    x = torch.randn(2, 50 * hop)
    y = ISTFT(win, hop, n_fft, window, syn)(STFT(win, hop, n_fft, window, syn)(x))
    d = (syn or win) - hop
    assert y.shape == x.shape
    torch.testing.assert_close(y[:, d:], x[:, :-d], atol=2e-5, rtol=0)
    assert y[:, :d].abs().max() < 1e-5  # the delay line starts silent


@pytest.mark.parametrize("win,hop,n_fft,window,syn", GEOMETRIES)
@pytest.mark.parametrize("pattern", [[1], [2], [7], [3, 1, 4, 1, 5]])
def test_streaming_matches_offline(win, hop, n_fft, window, syn, pattern):
    torch.manual_seed(1)
    stft, istft = STFT(win, hop, n_fft, window, syn), ISTFT(win, hop, n_fft, window, syn)
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


def test_asymmetric_pair_shapes_and_product():
    """The analysis window spans W and ends in the falling half of a sqrt-Hann of S; the
    synthesis window spans S; their product on the frame's last S samples is a Hann of S
    (scaled to overlap-add to 1 at hop H); and it differs from the symmetric pair."""
    w, g = window_pair("sqrt_hann", 512, 160, 320)
    assert w.shape == (512,) and g.shape == (320,)
    assert float(w.min()) >= 0 and abs(float(w.max()) - 1) < 1e-12
    n = torch.arange(320, dtype=torch.float64)
    hann = 0.5 - 0.5 * torch.cos(2 * torch.pi * n / 320)
    torch.testing.assert_close(w[-320:] * g, hann / hann.reshape(2, 160).sum(0).repeat(2))
    torch.testing.assert_close(w[-160:], hann[160:].sqrt())
    assert (w - make_window("sqrt_hann", 512)).abs().max() > 0.1


def test_asymmetric_output_depends_on_the_last_synthesis_window_only():
    """One frame's synthesis reaches S output samples, not W: the delay line is S - H long."""
    win, hop, syn = 512, 160, 320
    stft, istft = STFT(win, hop, 512, "sqrt_hann", syn), ISTFT(win, hop, 512, "sqrt_hann", syn)
    x = torch.randn(1, 30 * hop)
    spec = stft(x)
    spec2 = spec.clone()
    spec2[:, :, 10] *= 0.5  # change frame 10 only
    a, b = istft(spec), istft(spec2)
    changed = torch.nonzero((a - b).abs()[0] > 1e-7)[:, 0]
    assert int(changed.min()) >= 10 * hop and int(changed.max()) < 10 * hop + syn


@pytest.mark.parametrize("args", [(512, 160, 300), (512, 160, 640), (512, 160, 160)])
def test_window_pair_rejects_bad_geometry(args):
    with pytest.raises(ValueError):
        window_pair("sqrt_hann", *args)
    with pytest.raises(ValueError):
        window_pair("hamming", 512, 160, 320)
