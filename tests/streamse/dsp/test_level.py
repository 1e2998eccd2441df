"""Signal levels (`streamse.dsp.level`): pauses and padding do not lower the active level,
gain shifts it by exactly the gain, silence is -inf."""

from __future__ import annotations

import numpy as np

from streamse.dsp.level import active_level_db, active_power, frame_power, power


def test_active_level_ignores_pauses_and_follows_gain():
    fs = 16000
    tone = (0.1 * np.sin(2 * np.pi * 300 * np.arange(fs) / fs)).astype(np.float32)
    gappy = np.concatenate([tone, np.zeros(2 * fs, np.float32), tone])
    expect = 10 * np.log10(0.1**2 / 2)
    assert abs(active_level_db(tone, fs) - expect) < 0.05
    assert abs(active_level_db(gappy, fs) - expect) < 0.05  # 2 s of silence change nothing
    assert abs(10 * np.log10(power(gappy)) - (expect + 10 * np.log10(0.5))) < 0.05  # all samples
    assert abs(active_level_db(0.01 * gappy, fs) - (expect - 40)) < 0.05


def test_silence_and_empty_signals():
    assert active_power(np.zeros(16000, np.float32), 16000) == 0.0
    assert active_level_db(np.zeros(16000, np.float32), 16000) == -np.inf
    assert power(np.zeros(0, np.float32)) == 0.0


def test_frame_power_whole_frames_only_and_short_signals():
    x = np.concatenate([np.full(4, 2.0), np.full(4, 0.5), np.ones(3)])  # 2 whole frames of 4 + 3
    np.testing.assert_allclose(frame_power(x, 4), [4.0, 0.25])
    assert frame_power(x[:3], 4).shape == (0,)
    short = np.full(100, 0.1)  # under one 20 ms frame: the whole signal is the one frame
    assert abs(active_power(short, 16000) - 0.01) < 1e-12
