"""The hop-buffering contract shared by every streamer (feed / flush / reset / process)."""

from __future__ import annotations

import numpy as np
import pytest

from streamse.errors import StreamseError
from streamse.streamer import FrameGeometry, HopStreamer


class DelayLine(HopStreamer):
    """Reference model: output = input delayed by window - hop samples (a pure delay line)."""

    def __init__(self, hop=160, window=320):
        super().__init__(FrameGeometry(16000, hop, window))
        self._reset_state()

    def _reset_state(self):
        self._line = np.zeros(self.delay_samples, np.float32)

    def _process(self, x):
        assert x.size % self.hop == 0 and x.size > 0
        full = np.concatenate([self._line, x])
        self._line = full[x.size :]
        return full[: x.size]


@pytest.mark.parametrize("hop,window", [(160, 320), (128, 512), (100, 400)])
@pytest.mark.parametrize("pattern", [[1], [160], [7, 333, 2, 1000], [5000]])
def test_feed_flush_returns_input_delayed(hop, window, pattern):
    x = np.random.default_rng(0).standard_normal(2345).astype(np.float32)
    s = DelayLine(hop, window)
    outs, pos, k = [], 0, 0
    while pos < x.size:
        n = pattern[k % len(pattern)]
        y = s.feed(x[pos : pos + n])
        assert y.size % hop == 0
        outs.append(y)
        pos, k = pos + n, k + 1
    outs.append(s.flush())
    y = np.concatenate(outs)
    d = window - hop
    assert y.size == x.size + d
    np.testing.assert_array_equal(y[d:], x)
    np.testing.assert_array_equal(y[:d], 0)


def test_flush_twice_and_on_empty_and_feed_after_flush():
    s = DelayLine()
    assert s.flush().size == 0  # nothing fed: nothing to emit
    s.reset()
    s.feed(np.ones(200, np.float32))
    assert s.flush().size == 200 + 160 - 160  # pending 40 + delay 160
    assert s.flush().size == 0
    with pytest.raises(StreamseError, match="reset"):
        s.feed(np.ones(10, np.float32))
    s.reset()
    assert s.feed(np.ones(160, np.float32)).size == 160


def test_process_is_aligned_and_independent_of_history():
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    s = DelayLine()
    s.feed(np.ones(77, np.float32))
    np.testing.assert_array_equal(s.process(x), x)
    np.testing.assert_array_equal(s.process(x), x)


def test_nonfinite_input_is_zeroed_and_counted():
    s = DelayLine()
    x = np.ones(320, np.float32)
    x[[3, 10]] = [np.nan, np.inf]
    y = np.concatenate([s.feed(x), s.flush()])
    assert np.isfinite(y).all() and s.nonfinite_count == 2
    assert y[160 + 3] == 0 and y[160 + 4] == 1
    s.reset()
    assert s.nonfinite_count == 0


def test_geometry_in_ms():
    g = FrameGeometry(16000, 160, 320)
    assert (g.delay_samples, g.algorithmic_latency, g.ms(g.window)) == (160, 320, 20.0)
