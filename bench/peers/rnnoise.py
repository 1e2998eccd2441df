"""RNNoise through `pyrnnoise` (weights compiled into its librnnoise.so; no network).

Native: 48 kHz, 480-sample frames (10 ms). The C library takes float samples on the int16
scale. Its output lags its input by 960 samples (20 ms: the 960-sample analysis window, and the
gains of RNNoise v0.2 apply to the previous frame's spectrum), so the algorithmic latency is
10 ms frame + 20 ms = 30 ms before resampling.
"""

from __future__ import annotations

import ctypes
from importlib.metadata import version

import numpy as np

from .base import FrameCore, FramePeer, NativeHandle, PeerUnavailable

SCALE = 32768.0  # RNNoise works on int16-scaled floats
DELAY = 960  # native samples, checked by tests/bench/peers/test_peers_aligned.py


class RNNoiseCore(NativeHandle, FrameCore):
    name = "RNNoise"
    sample_rate = 48000
    delay = DELAY

    def __init__(self):
        try:
            from pyrnnoise import rnnoise
        except Exception as exc:  # ImportError, or OSError for a missing shared library
            raise PeerUnavailable(
                f"pyrnnoise not usable ({type(exc).__name__}: {exc}); pip install 'streamse[peers]'"
            ) from None
        self._lib = rnnoise.lib
        self.frame = int(rnnoise.FRAME_SIZE)
        self.package = f"pyrnnoise {version('pyrnnoise')}"
        self._buf = np.zeros(self.frame, dtype=np.float32)
        self._ptr = self._buf.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self.reset()

    def _create(self):
        return self._lib.rnnoise_create(None)

    def _destroy(self, state) -> None:
        self._lib.rnnoise_destroy(state)

    def process_frame(self, x: np.ndarray) -> np.ndarray:
        """x: (480,) float32 in [-1, 1] at 48 kHz -> (480,) float32; in place in one buffer."""
        np.multiply(x, SCALE, out=self._buf)
        self._lib.rnnoise_process_frame(self._state, self._ptr, self._ptr)
        return self._buf / SCALE


def load() -> FramePeer:
    return FramePeer(RNNoiseCore(), note="C library (ctypes), 1 thread")
