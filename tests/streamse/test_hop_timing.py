"""`hop_times`: one hop per call, the stream continues, one time per hop; `rtf_of`."""

from __future__ import annotations

import numpy as np

from streamse.hop_timing import hop_times, rtf_of
from streamse.streamer import FrameGeometry, HopStreamer


class Recorder(HopStreamer):
    """Counts how many samples each _process call got; output = input."""

    def __init__(self):
        super().__init__(FrameGeometry(16000, 160, 320))
        self.calls: list[int] = []

    def _reset_state(self):
        pass

    def _process(self, x):
        self.calls.append(x.size)
        return x


def test_one_hop_per_call_and_one_time_per_hop():
    s = Recorder()
    x = np.zeros(160 * 7 + 50, np.float32)  # a tail shorter than a hop is not timed
    t = hop_times(s, x)
    assert t.shape == (7,) and (t >= 0).all()
    assert s.calls == [160] * 7


def test_the_stream_continues_across_calls():
    s = Recorder()
    hop_times(s, np.zeros(160 * 3, np.float32))
    hop_times(s, np.zeros(160 * 2, np.float32))
    assert s.calls == [160] * 5  # no reset in between: callers choose


def test_rtf_of_is_compute_over_audio_time():
    assert abs(rtf_of(np.full(100, 0.002), 0.010) - 0.2) < 1e-12
