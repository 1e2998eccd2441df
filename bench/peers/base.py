"""The common shape of a peer denoiser in `streamse bench --peers`.

Every peer is driven at the bench rate (16 kHz, the rate of the quality metrics) and exposes
the same facts as a streamse model: native rate, native frame, and algorithmic latency.

- `FrameCore`: a peer's own frame-by-frame processor at its native rate (RNNoise, DFN3):
  `frame` samples in, `frame` samples out, output index j reconstructs input j - `delay`.
- `FramePeer`: a `HopStreamer` at 16 kHz around a core. For a 48 kHz core it runs the live
  engine's streaming resampler (`streamse.dsp.resample`) each way, as a 16 kHz stream would get
  it; the time spent resampling is counted separately (`resample_seconds`) and the look-ahead
  it adds shows up in `resample_latency`. `process(x)` is the delay-compensated whole utterance,
  aligned by this known delay (no lag search).
- `WholeFilePeer`: a peer that can only process a whole file (NSNet2 as shipped).

Units: samples at 16 kHz unless a name says native.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from streamse.dsp.resample import make_resampler
from streamse.streamer import FrameGeometry, HopStreamer

BENCH_RATE = 16000


class PeerUnavailable(Exception):
    """A peer cannot run here (package missing or broken); the message is one line."""


@dataclass(frozen=True)
class PeerInfo:
    """What the report says about a peer. latency_ms: algorithmic latency at 16 kHz (None for
    whole-file only), including `resample_latency_ms` for a peer run at another rate."""

    name: str
    package: str  # "pyrnnoise 0.4.5"
    native_rate: int
    frame_ms: float
    latency_ms: float | None
    resample_latency_ms: float
    streaming: bool
    note: str = ""


class FrameCore(ABC):
    """A peer's native frame processor. `frame`, `delay`: samples at `sample_rate`."""

    name: str
    package: str
    sample_rate: int
    frame: int
    delay: int  # output index j reconstructs input j - delay (native samples)

    @abstractmethod
    def process_frame(self, x: np.ndarray) -> np.ndarray:
        """x: (frame,) float32 in [-1, 1] -> (frame,) float32; advances the state."""

    @abstractmethod
    def reset(self) -> None:
        """Forget all state."""


class NativeHandle:
    """A C library's per-stream handle (RNNoise, DeepFilterNet): made by `reset`, freed by
    `close` and when the object goes; subclasses say how to create and destroy one."""

    _state = None  # class default keeps __del__ safe if __init__ fails

    def _create(self):
        raise NotImplementedError

    def _destroy(self, state) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        self.close()
        self._state = self._create()

    def close(self) -> None:
        if self._state is not None:
            self._destroy(self._state)
            self._state = None

    def __del__(self):
        self.close()


class SlidingBlocks:
    """Block-based STFT peers (DTLN, GTCRN): the last `size` input samples, advanced `hop` at a
    time, and the overlap-add of `size`-sample output blocks, `hop` samples out per block."""

    def __init__(self, size: int, hop: int):
        self.size, self.hop = size, hop
        self.reset()

    def reset(self) -> None:
        self.buf = np.zeros(self.size, np.float32)
        self._ola = np.zeros(self.size, np.float32)

    def push(self, x: np.ndarray) -> np.ndarray:
        """x (hop,) -> the input block (size,) ending with x."""
        self.buf = np.concatenate([self.buf[self.hop :], x])
        return self.buf

    def overlap_add(self, block: np.ndarray) -> np.ndarray:
        """block (size,) -> the next `hop` finished output samples."""
        self._ola = np.concatenate([self._ola[self.hop :], np.zeros(self.hop, np.float32)])
        self._ola += block.astype(np.float32)
        return self._ola[: self.hop].copy()


def _pipeline_offsets(core: FrameCore, hop: int) -> tuple[int, int]:
    """(pre, hold) for a resampled core: `pre` native zeros put ahead of the first frame so a
    frame completes exactly when its last hop has been resampled, and `hold` = the most 16 kHz
    samples the output side is ever short of the input (resampler look-ahead)."""
    up = make_resampler(BENCH_RATE, core.sample_rate)
    down = make_resampler(core.sample_rate, BENCH_RATE)
    ratio = core.sample_rate // BENCH_RATE
    short = max(k * core.frame - up.emitted(k * hop) for k in range(1, 8))
    pre = -(-short // ratio) * ratio  # whole 16 kHz samples, so the alignment stays integer
    hold = max(
        k * hop - down.emitted((up.emitted(k * hop) + pre) // core.frame * core.frame) for k in range(1, 8)
    )
    return pre, hold


class FramePeer(HopStreamer):
    """A `FrameCore` as a 16 kHz hop streamer (hop = one native frame), resampling if needed.

    delay_samples = pre/ratio + hold + core.delay/ratio; all of it is known up front.
    """

    def __init__(self, core: FrameCore, note: str = ""):
        if core.sample_rate % BENCH_RATE or core.frame * BENCH_RATE % core.sample_rate:
            raise ValueError(f"{core.name}: {core.sample_rate} Hz is not a multiple of 16 kHz")
        self.core, self.note = core, note
        ratio = core.sample_rate // BENCH_RATE
        hop = core.frame // ratio
        self._pre, self._hold = _pipeline_offsets(core, hop) if ratio > 1 else (0, 0)
        self.resample_latency = self._pre // ratio + self._hold
        delay = self.resample_latency + core.delay // ratio
        super().__init__(FrameGeometry(BENCH_RATE, hop, hop + delay))
        self._up = make_resampler(BENCH_RATE, core.sample_rate)
        self._down = make_resampler(core.sample_rate, BENCH_RATE)
        self._reset_state()

    @property
    def info(self) -> PeerInfo:
        ms = 1000.0 / BENCH_RATE
        return PeerInfo(
            self.core.name,
            self.core.package,
            self.core.sample_rate,
            1000.0 * self.core.frame / self.core.sample_rate,
            self.algorithmic_latency * ms,
            self.resample_latency * ms,
            True,
            self.note,
        )

    def _reset_state(self) -> None:
        self.core.reset()
        self._up.reset()
        self._down.reset()
        self._native = np.zeros(self._pre, dtype=np.float32)  # native input not yet framed
        self._out = np.zeros(self._hold, dtype=np.float32)  # 16 kHz output not yet returned
        self.resample_seconds = 0.0

    def _process(self, x: np.ndarray) -> np.ndarray:
        """x: (k * hop,) at 16 kHz -> (k * hop,), one native frame per hop."""
        out = []
        for i in range(0, x.size, self.hop):
            out.append(self._one_hop(x[i : i + self.hop]))
        return np.concatenate(out)

    def _one_hop(self, x: np.ndarray) -> np.ndarray:
        clock = time.perf_counter
        t0 = clock()
        self._native = np.concatenate([self._native, self._up.feed(x)])
        t_up = clock() - t0
        frames = []
        while self._native.size >= self.core.frame:
            frames.append(self.core.process_frame(self._native[: self.core.frame]))
            self._native = self._native[self.core.frame :]
        t1 = clock()
        y = self._down.feed(np.concatenate(frames)) if frames else np.zeros(0, np.float32)
        self._out = np.concatenate([self._out, y])
        self.resample_seconds += t_up + (clock() - t1)
        out, self._out = self._out[: self.hop], self._out[self.hop :]
        return out


class WholeFilePeer(ABC):
    """A peer that only processes whole files. `process(x)`: (n,) at 16 kHz -> (n,) aligned."""

    info: PeerInfo

    @abstractmethod
    def process(self, x: np.ndarray) -> np.ndarray:
        """x: (n,) float32 at 16 kHz -> (n,) float32, sample-aligned with x."""
