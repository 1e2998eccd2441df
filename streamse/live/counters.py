"""Counters the engine updates and the status line reads, and the latency breakdown.

Counters are plain attributes written by one thread each (callback or worker) and only read by
others, so no lock is needed (and none may be: the callback must never wait on the worker).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_EVENTS = 4096
MAX_STEPS = 4096  # worker steps whose timing is kept (a ring): ~40 s of 10 ms hops


class Stats:
    """Written by the callback: callbacks, underruns, missing, overruns, device_xruns,
    callback_errors, cb_time_max_s, cb_time_sum_s. Written by the worker: hops, model_time_s,
    model_time_max_s, audio_time_s (model audio processed), resyncs, peak_in, peak_out."""

    def __init__(self) -> None:
        self.callbacks = 0
        self.underruns = 0  # callbacks that found output missing (worker late)
        self.missing = 0  # device samples replaced by the fallback
        self.overruns = 0  # callbacks that overwrote input the worker had not read
        self.device_xruns = 0  # PortAudio status flags (input_overflow / output_underflow)
        self.callback_errors = 0
        self.cb_time_max_s = 0.0
        self.cb_time_sum_s = 0.0
        self.hops = 0
        self.model_time_s = 0.0
        self.model_time_max_s = 0.0
        self.audio_time_s = 0.0
        self.resyncs = 0  # worker restarts after falling too far behind
        self.peak_in = 0.0  # linear peak since the status line last read it
        self.peak_out = 0.0
        self.degraded_samples = 0  # output samples played from the fallback (model late)
        self.delay_growths = 0  # times the worker raised the delay by a model hop
        # event log, preallocated (the callback appends without allocating): kind, output
        # index, fade length in samples; kinds are the engine's TO_DRY, TO_WET, DELAY_UP, ...
        self._ev = np.zeros((MAX_EVENTS, 3), dtype=np.int64)
        self.n_events = 0
        # worker steps that ran model hops, a ring: compute seconds, audio seconds
        self._steps = np.zeros((MAX_STEPS, 2), dtype=np.float64)
        self.n_steps = 0

    def log(self, kind: int, index: int, fade: int) -> None:
        """Append an event (dropped silently once MAX_EVENTS are logged; n_events still counts)."""
        k = self.n_events
        if k < MAX_EVENTS:
            row = self._ev[k]
            row[0], row[1], row[2] = kind, index, fade
        self.n_events = k + 1

    def log_step(self, compute_s: float, audio_s: float) -> None:
        """Worker: one step's compute time for audio_s seconds of model audio (ring of the
        last MAX_STEPS)."""
        row = self._steps[self.n_steps % MAX_STEPS]
        row[0], row[1] = compute_s, audio_s
        self.n_steps += 1

    def trimmed_rtf(self, trim: float = 0.02) -> float:
        """RTF over the logged steps without the slowest `trim` share of them (by compute per
        audio second): the sustained speed, which one stall (another process, a garbage
        collection) does not move; 0 before the first step."""
        steps = self._steps[: min(self.n_steps, MAX_STEPS)]
        if not steps.size:
            return 0.0
        keep = np.argsort(steps[:, 0] / steps[:, 1])[: max(1, int(round(len(steps) * (1.0 - trim))))]
        return float(steps[keep, 0].sum() / steps[keep, 1].sum())

    def step_ratio(self, q: float) -> float:
        """The q-quantile of one logged step's compute time / audio time (q = 0.98: the
        slowest step that `trimmed_rtf(0.02)` keeps); 0 before the first step."""
        steps = self._steps[: min(self.n_steps, MAX_STEPS)]
        return float(np.quantile(steps[:, 0] / steps[:, 1], q)) if steps.size else 0.0

    def events(self, kind: int | None = None) -> np.ndarray:
        """Logged events (k, 3) [kind, output index, fade samples], optionally of one kind."""
        ev = self._ev[: min(self.n_events, MAX_EVENTS)].copy()
        return ev if kind is None else ev[ev[:, 0] == kind]

    def switches(self) -> int:
        """Enhanced <-> fallback switches so far (each is one event)."""
        ev = self.events()
        return int(np.isin(ev[:, 0], (1, 2)).sum())

    @property
    def rtf(self) -> float:
        """Model compute time / audio time (chain incl. resampling); 0 before the first hop."""
        return self.model_time_s / self.audio_time_s if self.audio_time_s else 0.0

    @property
    def ms_per_hop(self) -> float:
        return 1000.0 * self.model_time_s / self.hops if self.hops else 0.0

    @property
    def xruns(self) -> int:
        return self.underruns + self.overruns + self.device_xruns


@dataclass(frozen=True)
class Latency:
    """Mic-to-speaker latency, seconds. `engine_samples`: output index - input index at the
    device rate (exact); `device`: PortAudio's input + output latency (as the stream states it)."""

    device_rate: int
    engine_samples: int
    algorithmic: float
    device: float = 0.0

    @property
    def engine(self) -> float:
        return self.engine_samples / self.device_rate

    @property
    def buffering(self) -> float:
        """Engine buffering beyond the model's algorithmic latency (hop/block alignment,
        resampler look-ahead, compute margin)."""
        return self.engine - self.algorithmic

    @property
    def total(self) -> float:
        return self.engine + self.device

    @property
    def total_samples(self) -> float:
        return self.total * self.device_rate

    def describe(self) -> str:
        return (
            f"latency {1e3 * self.total:.1f} ms = algorithmic {1e3 * self.algorithmic:.1f}"
            f" + buffering {1e3 * self.buffering:.1f} + device {1e3 * self.device:.1f}"
        )
