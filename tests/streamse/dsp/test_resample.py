"""The two resamplers of `streamse.dsp.resample`: the live engine's streaming polyphase one
(chunking-independent, exact output count, time-aligned, band-limited) and the soxr one for
files (level and frequency kept)."""

from __future__ import annotations

import numpy as np
import pytest

from streamse.dsp.resample import StreamResampler, make_resampler, resample_hq, resample_stream


def _sine(n: int, fs: float, hz: float, start: float = 0.0) -> np.ndarray:
    t = (start + np.arange(n)) / fs
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("fs_in,fs_out", [(48000, 16000), (16000, 48000), (44100, 16000)])
def test_stream_output_does_not_depend_on_chunking_or_history(fs_in, fs_out):
    x = np.random.default_rng(0).standard_normal(fs_in // 2).astype(np.float32)
    rs = StreamResampler(fs_in, fs_out)
    whole = rs.feed(x)
    assert whole.size == rs.emitted(x.size)
    rs.reset()  # a reset is a fresh resampler
    cuts = np.cumsum(np.random.default_rng(1).integers(1, 700, size=200))
    parts = [rs.feed(c) for c in np.split(x, cuts[cuts < x.size])]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-6)


@pytest.mark.parametrize("fs_in,fs_out", [(48000, 16000), (16000, 48000), (44100, 16000)])
def test_stream_is_time_aligned_and_keeps_the_passband(fs_in, fs_out):
    """Output sample m is the input signal at time m / fs_out: a 1 kHz sine comes out as the
    same sine sampled at the new rate (no group delay), away from the start-up edge."""
    n_in = fs_in // 4
    y = resample_stream(_sine(n_in, fs_in, 1000.0), fs_in, fs_out)
    assert y.size == round(n_in * fs_out / fs_in)
    ref = _sine(y.size, fs_out, 1000.0)
    inner = slice(200, y.size - 200)
    err = y[inner] - ref[inner]
    assert 10 * np.log10(np.sum(ref[inner] ** 2) / np.sum(err**2)) > 50  # dB


def test_stream_removes_what_the_lower_rate_cannot_hold():
    """48 kHz -> 16 kHz: a 12 kHz tone (above the new Nyquist) must not alias into the band."""
    y = resample_stream(_sine(48000, 48000, 12000.0), 48000, 16000)[400:-400]
    assert np.sqrt(np.mean(y**2)) < 1e-3 * 0.5


def test_identity_when_the_rates_agree():
    x = _sine(1000, 16000, 440.0)
    rs = make_resampler(16000, 16000)
    assert rs.lookahead == 0.0 and rs.emitted(1000) == 1000
    np.testing.assert_array_equal(rs.feed(x), x)


@pytest.mark.parametrize("sr_out", [8000, 22050, 44100])
def test_hq_keeps_level_frequency_and_length(sr_out):
    x = _sine(16000, 16000, 1000.0)
    y = resample_hq(x, 16000, sr_out)
    assert y.dtype == np.float32 and abs(y.size - sr_out) <= 1
    ref = _sine(y.size, sr_out, 1000.0)
    inner = slice(sr_out // 50, y.size - sr_out // 50)
    err = y[inner] - ref[inner]
    assert 10 * np.log10(np.sum(ref[inner] ** 2) / np.sum(err**2)) > 40
