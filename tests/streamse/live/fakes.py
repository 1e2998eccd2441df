"""Fake HopStreamers for engine tests (no ONNX): cheap, vectorised, exactly predictable."""

from __future__ import annotations

import time

import numpy as np

from streamse.streamer import FrameGeometry, HopStreamer


class FirStreamer(HopStreamer):
    """Delay + 2-tap FIR: output j = g0 * x[j - d] + g1 * x[j - d - 1], d = window - hop.

    Has memory (like a real model) and a distinct, known delay; hop 160, window 320 at 16 kHz."""

    def __init__(
        self, hop: int = 160, window: int = 320, sample_rate: int = 16000, g0: float = 0.5, g1: float = -0.25
    ):
        super().__init__(FrameGeometry(sample_rate, hop, window))
        self.g0, self.g1 = np.float32(g0), np.float32(g1)
        self._reset_state()

    def _reset_state(self) -> None:
        self._hist = np.zeros(self.delay_samples + 1, dtype=np.float32)

    def _process(self, x: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._hist, x])
        self._hist = buf[-self._hist.size :]
        # y[j] uses buf index j + 1 (x[j - d]) and j (x[j - d - 1])
        return self.g0 * buf[1 : 1 + x.size] + self.g1 * buf[: x.size]


class SlowStreamer(FirStreamer):
    """FirStreamer that sleeps `seconds` per hop (a model too heavy for the callback)."""

    def __init__(self, seconds: float, **kw):
        super().__init__(**kw)
        self.seconds = seconds

    def _process(self, x: np.ndarray) -> np.ndarray:
        time.sleep(self.seconds * (x.size // self.hop))
        return super()._process(x)


class SpikyStreamer(FirStreamer):
    """FirStreamer whose hop k costs `spike` hop times when k % every == 0, else `base`
    (sleeping, so it frees the GIL like a real model in onnxruntime): near the real-time
    limit on average, late now and then."""

    def __init__(self, every: int = 4, spike: float = 1.6, base: float = 0.7, **kw):
        super().__init__(**kw)
        self.every, self.spike, self.base = every, spike, base
        self._k = 0

    def _reset_state(self) -> None:
        super()._reset_state()
        self._k = 0

    def _process(self, x: np.ndarray) -> np.ndarray:
        hop_s = self.hop / self.sample_rate
        for _ in range(x.size // self.hop):
            time.sleep((self.spike if self._k % self.every == 0 else self.base) * hop_s)
            self._k += 1
        return super()._process(x)
