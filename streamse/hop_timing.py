"""Timing a streamer hop by hop: the one measurement behind `bench --rtf`, the peers' speed
table and the live engine's start-up probe."""

from __future__ import annotations

import time

import numpy as np

from .streamer import HopStreamer


def hop_times(streamer: HopStreamer, x: np.ndarray) -> np.ndarray:
    """Seconds per hop for x (n,) fed one hop per call, (n // hop,). The stream continues from
    the streamer's state (no reset), so callers choose warm-up and reset."""
    hop, clock = streamer.hop, time.perf_counter
    times = np.empty(x.size // hop)
    for i in range(times.size):
        t0 = clock()
        streamer.feed(x[i * hop : (i + 1) * hop])
        times[i] = clock() - t0
    return times


def rtf_of(times: np.ndarray, hop_s: float) -> float:
    """Real-time factor of per-hop times: compute time / audio time."""
    return float(times.sum() / max(times.size * hop_s, 1e-12))
