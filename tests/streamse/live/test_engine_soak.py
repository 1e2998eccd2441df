"""One hour of audio through one engine + streamer on the simulated clock (about 10 s of CPU)."""

import numpy as np

from fakes import FirStreamer
from streamse.live.engine import Engine, EngineConfig


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_one_hour_no_nan_no_drift_flat_memory():
    fs, block, hours = 16000, 1024, 1.0
    streamer = FirStreamer()
    eng = Engine(streamer, EngineConfig(fs, block))
    d, g0, g1 = eng.delay, streamer.g0, streamer.g1
    n_blocks = int(hours * 3600 * fs) // block
    rng = np.random.default_rng(7)
    hist = np.zeros(d + 1 + block, np.float32)  # input history to form the expected output
    out = np.zeros((block, 1), np.float32)
    worst, rss = 0.0, []
    for k in range(n_blocks):
        x = rng.standard_normal((block, 1), dtype=np.float32) * np.float32(0.1)
        if k % 5000 == 2500:
            x[::97] = np.nan  # a broken device now and then: must not poison the stream
        while eng.worker_step():
            pass
        eng.callback(x, out, block, None, None)
        hist = np.concatenate([hist[block:], np.nan_to_num(x[:, 0], nan=0.0)])
        if k * block > d + 1:
            # played index n = input index n - d (delay of the engine) with the fake's 2 taps
            src = hist[-block - d - 1 : -d]
            expect = g0 * src[1:] + g1 * src[:-1]
            worst = max(worst, float(np.max(np.abs(out[:, 0] - expect))))
        if not np.all(np.isfinite(out)):
            raise AssertionError(f"non-finite output in block {k}")
        if k % (n_blocks // 10) == 0:
            rss.append(_rss_mb())
    assert worst < 1e-6, worst  # no drift: still the offline output at the same delay
    assert eng.stats.underruns == eng.stats.overruns == eng.stats.resyncs == 0
    assert streamer.nonfinite_count == 0  # the callback already zeroed the device's NaNs
    assert rss[-1] - rss[1] < 16, rss  # flat memory (MB)
