"""Hop buffering shared by every streamer: any number of samples in, whole hops out.

Units: everything here counts samples at the model's sample rate. A streamer consumes input in
hops of `hop` samples; the sample it returns at output index j reconstructs input sample
j - `delay_samples` (`delay_samples` = window - hop + lookahead for an STFT model).
`algorithmic_latency` (= window + lookahead) adds the time spent collecting one hop: it is what a
listener waits at best.

Verbs:
- `feed(x)`: append samples, run every complete hop, return the enhanced samples those hops made
  (a multiple of `hop` samples, possibly empty).
- `flush()`: end the utterance: push zeros through so that, counting everything returned since
  the last `reset`, exactly `n_fed + delay_samples` samples have come out. After `flush`, `feed`
  raises until `reset` is called.
- `reset()`: forget all state; the next sample fed starts a new utterance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from streamse.errors import StreamseError


@dataclass(frozen=True)
class FrameGeometry:
    """Frame geometry of a streaming model, in samples at `sample_rate`."""

    sample_rate: int
    hop: int
    window: int  # the synthesis window: the one that sets delay and latency
    analysis_window: int = 0  # samples one analysis frame spans, when longer (asymmetric windows)
    lookahead: int = 0  # samples of later input an output frame waits for (whole hops)

    @property
    def analysis(self) -> int:
        """Samples one analysis frame spans (frequency resolution): `window` unless longer."""
        return self.analysis_window or self.window

    @property
    def delay_samples(self) -> int:
        """Index delay between input and output streams: output j reconstructs input j - delay."""
        return self.window - self.hop + self.lookahead

    @property
    def algorithmic_latency(self) -> int:
        """Best-case wait for a sample: collect a hop, then the overlap of one window, then the
        look-ahead."""
        return self.window + self.lookahead

    def ms(self, samples: int) -> float:
        return 1000.0 * samples / self.sample_rate


class HasGeometry:
    """The frame geometry read-outs every streamer shares (single or batched): `geometry`
    is a FrameGeometry set by the subclass."""

    geometry: FrameGeometry

    @property
    def sample_rate(self) -> int:
        return self.geometry.sample_rate

    @property
    def hop(self) -> int:
        return self.geometry.hop

    @property
    def window(self) -> int:
        return self.geometry.window

    @property
    def delay_samples(self) -> int:
        return self.geometry.delay_samples

    @property
    def algorithmic_latency(self) -> int:
        return self.geometry.algorithmic_latency


class HopStreamer(HasGeometry, ABC):
    """Buffers samples to hop boundaries and calls `_process(hops)` on whole hops.

    Subclasses implement `_process(x)` for x of shape (k * hop,) float32 and `_reset_state()`.
    Non-finite input samples are replaced by zeros (and counted in `nonfinite_count`), since a
    NaN would poison the recurrent state for the rest of the stream.
    """

    def __init__(self, geometry: FrameGeometry):
        self.geometry = geometry
        self._pending = np.zeros(0, dtype=np.float32)
        self._n_in = 0
        self._n_out = 0
        self._flushed = False
        self.nonfinite_count = 0

    # verbs ----------------------------------------------------------------------------------
    def feed(self, x: np.ndarray) -> np.ndarray:
        """x: (n,) samples, any n >= 0. Returns (k * hop,) enhanced samples."""
        if self._flushed:
            raise StreamseError("streamer was flushed: call reset() before feeding a new utterance")
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        bad = ~np.isfinite(x)
        if bad.any():
            self.nonfinite_count += int(bad.sum())
            x = np.where(bad, np.float32(0.0), x)
        self._n_in += x.size
        buf = np.concatenate([self._pending, x]) if self._pending.size else x
        n_whole = (buf.size // self.hop) * self.hop
        self._pending = buf[n_whole:].copy()
        if n_whole == 0:
            return np.zeros(0, dtype=np.float32)
        out = self._process(buf[:n_whole])
        self._n_out += out.size
        return out

    def flush(self) -> np.ndarray:
        """Emit the tail: afterwards n_fed + delay_samples samples have come out in total."""
        if self._flushed or self._n_in == 0:
            self._flushed = True
            return np.zeros(0, dtype=np.float32)
        # Everything fed but not yet returned is the pending partial hop plus the delay line.
        want = self._n_in + self.delay_samples - self._n_out  # = pending + delay_samples
        total = -(-want // self.hop) * self.hop  # whole hops covering `want`
        pad = np.zeros(total - self._pending.size, dtype=np.float32)
        buf = np.concatenate([self._pending, pad])
        self._pending = np.zeros(0, dtype=np.float32)
        out = self._process(buf)[:want] if buf.size else np.zeros(0, dtype=np.float32)
        self._n_out += out.size
        self._flushed = True
        return out

    def reset(self) -> None:
        """Forget everything: state, pending samples, counters."""
        self._pending = np.zeros(0, dtype=np.float32)
        self._n_in = self._n_out = 0
        self._flushed = False
        self.nonfinite_count = 0
        self._reset_state()

    def process(self, x: np.ndarray) -> np.ndarray:
        """Whole utterance, delay-compensated: returns len(x) samples aligned with x.

        Resets first, so the result does not depend on anything fed before.
        """
        self.reset()
        y = np.concatenate([self.feed(x), self.flush()])
        return y[self.delay_samples :]

    # hooks ----------------------------------------------------------------------------------
    @abstractmethod
    def _process(self, x: np.ndarray) -> np.ndarray:
        """x: (k * hop,) float32 -> (k * hop,) float32, advancing the model state."""

    @abstractmethod
    def _reset_state(self) -> None:
        """Return the model state to its initial value."""
