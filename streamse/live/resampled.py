"""A HopStreamer at the device rate: resample down -> HopStreamer -> resample up (the worker's
signal chain).

Units: `feed` takes and returns device-rate samples. The chain is time-aligned except for the
streamer: output sample m (counted from the last `reset`) reconstructs input sample m - `delay`,
where `delay` = streamer.delay_samples expressed at the device rate (an integer when the rates
and the delay allow it, e.g. 160 samples at 16 kHz -> 480 at 48 kHz or 441 at 44.1 kHz).
The number of output samples is a pure function of the number of input samples (`count`), which
is what lets the engine fix its buffering exactly.
"""

from __future__ import annotations

import numpy as np

from streamse.dsp.resample import make_resampler
from streamse.streamer import HopStreamer


class ResampledStreamer:
    def __init__(self, streamer: HopStreamer, device_rate: int):
        self.streamer = streamer
        self.device_rate = device_rate
        self.model_rate = streamer.sample_rate
        self.down = make_resampler(device_rate, self.model_rate)
        self.up = make_resampler(self.model_rate, device_rate)
        self.hops = 0  # model hops run since construction (not reset by `reset`)
        self.reset()

    @property
    def ratio(self) -> float:
        """Device samples per model sample."""
        return self.device_rate / self.model_rate

    @property
    def delay(self) -> int:
        """Streamer index delay in device samples (rounded when not an integer)."""
        return int(round(self.streamer.delay_samples * self.ratio))

    @property
    def hop(self) -> int:
        """Model hop in device samples, rounded up."""
        return -(-self.streamer.hop * self.device_rate // self.model_rate)

    def count(self, n_in: int) -> int:
        """Device samples out after n_in device samples in (since reset)."""
        n_model = self.down.emitted(n_in)
        hop = self.streamer.hop
        return self.up.emitted((n_model // hop) * hop)

    def reset(self) -> None:
        self.down.reset()
        self.up.reset()
        self.streamer.reset()

    def feed(self, x: np.ndarray) -> np.ndarray:
        """x: (n,) float32 device rate -> (k,) float32 device rate (k = count difference)."""
        y = self.streamer.feed(self.down.feed(x))
        self.hops += y.size // self.streamer.hop
        return self.up.feed(y) if y.size else np.zeros(0, dtype=np.float32)
