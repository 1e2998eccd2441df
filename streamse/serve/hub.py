"""The streams of a server, stepped together: one onnxruntime call per hop tick for every stream
that has a full hop (`BatchedStreamer.step_some`), so a slow or silent client neither delays
the others nor gets padding.

Per stream (a `Slot`), at the client's rate R and the model's rate M:
input bytes -> float32 -> streaming resampler R->M -> pending model samples -> (tick) one hop
-> enhanced hop -> streaming resampler M->R -> encoded -> the slot's bounded output queue,
drained by the connection's writer. Output sample j reconstructs input sample j - delay, with
delay = the model's delay at rate R (the resamplers are time-aligned, as in the live engine).

Bounds (a client is told and dropped when it breaks one): audio received at most `max_ahead_s`
ahead of the wall clock since its first sample (a client sending faster than real time); input
waiting for the model at most `max_backlog_s` (a server too starved of CPU to keep up: the
stream is dropped rather than let its memory and delay grow); output queue at most `max_queue`
chunks (a client that does not read).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np

from streamse.batched import BatchedStreamer
from streamse.dsp.resample import make_resampler

from .protocol import ProtocolError, encode

DONE = object()  # end of a slot's output queue


class Dropped(ProtocolError):
    """A client broke a bound (too fast, not reading); it is told why and disconnected."""


@dataclass
class Slot:
    id: int
    rate: int
    fmt: str
    delay: int  # samples at `rate`
    in_rs: object
    out_rs: object
    out: asyncio.Queue
    pending: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    n_in: int = 0  # client samples received
    t0: float | None = None  # monotonic time of the first sample
    ending: bool = False
    error: str | None = None


class Hub:
    def __init__(
        self,
        model: str = "crn",
        threads: int = 1,
        max_streams: int = 64,
        max_ahead_s: float = 1.0,
        max_queue: int = 400,
        max_hops_per_tick: int = 4,
        max_backlog_s: float = 10.0,
    ):
        self.batch = BatchedStreamer(model, threads=threads)
        self.model_rate, self.hop = self.batch.sample_rate, self.batch.hop
        self.max_streams, self.max_queue = max_streams, max_queue
        self.max_ahead_s = max_ahead_s
        self.max_pending = int(max_backlog_s * self.model_rate)
        self.max_hops_per_tick = max_hops_per_tick
        self.slots: dict[int, Slot] = {}
        self.step_ms: list[float] = []  # recent tick compute times
        self.dropped = 0
        self.served = 0

    @property
    def hop_seconds(self) -> float:
        return self.hop / self.model_rate

    def join(self, rate: int, fmt: str) -> Slot:
        if len(self.slots) >= self.max_streams:
            raise ProtocolError(f"server full ({self.max_streams} streams); try later")
        sid = self.batch.add_stream()
        delay = int(round(self.batch.delay_samples * rate / self.model_rate))
        slot = Slot(
            sid,
            rate,
            fmt,
            delay,
            make_resampler(rate, self.model_rate),
            make_resampler(self.model_rate, rate),
            asyncio.Queue(self.max_queue),
        )
        self.slots[sid] = slot
        self.served += 1
        return slot

    def leave(self, slot: Slot) -> None:
        if self.slots.pop(slot.id, None) is not None:
            self.batch.remove_stream(slot.id)

    def push(self, slot: Slot, x: np.ndarray) -> None:
        """Client samples in (float32 at the client's rate)."""
        now = time.monotonic()
        slot.t0 = now if slot.t0 is None else slot.t0
        slot.n_in += x.size
        self._append(slot, slot.in_rs.feed(x))
        ahead = slot.n_in / slot.rate - (now - slot.t0)
        if ahead > self.max_ahead_s:
            raise Dropped(
                f"sending faster than real time ({ahead:.1f} s of audio ahead of the "
                f"clock; at most {self.max_ahead_s:.1f} s)"
            )
        if slot.pending.size > self.max_pending:
            raise Dropped(
                f"the server fell {slot.pending.size / self.model_rate:.1f} s behind "
                "(out of CPU); the stream is dropped"
            )

    def end(self, slot: Slot) -> None:
        """The client is done: pad with silence so that its last sample comes back."""
        need = slot.delay + 2 * int(np.ceil(self.hop * slot.rate / self.model_rate)) + 64
        self._append(slot, slot.in_rs.feed(np.zeros(need, np.float32)))
        slot.ending = True

    @staticmethod
    def _append(slot: Slot, y: np.ndarray) -> None:
        if y.size:
            slot.pending = np.concatenate([slot.pending, y]) if slot.pending.size else y

    def tick(self) -> int:
        """Step every slot that has a full hop (up to max_hops_per_tick rounds); returns hops."""
        t0, hops = time.perf_counter(), 0
        for _ in range(self.max_hops_per_tick):
            ready = {
                sid: s for sid, s in self.slots.items() if s.error is None and s.pending.size >= self.hop
            }
            if not ready:
                break
            out = self.batch.step_some({sid: s.pending[: self.hop] for sid, s in ready.items()})
            for sid, s in ready.items():
                s.pending = s.pending[self.hop :]
                self._emit(s, out[sid])
            hops += len(ready)
        for s in self.slots.values():
            if s.ending and s.error is None and s.pending.size < self.hop:
                s.ending = False
                self._put(s, DONE)
        if hops:
            self.step_ms = (self.step_ms + [1e3 * (time.perf_counter() - t0)])[-1000:]
        return hops

    def _emit(self, slot: Slot, hop_out: np.ndarray) -> None:
        y = slot.out_rs.feed(hop_out)
        if y.size:
            self._put(slot, encode(y, slot.fmt))

    def _put(self, slot: Slot, item) -> None:
        try:
            slot.out.put_nowait(item)
        except asyncio.QueueFull:
            self.fail(slot, "not reading fast enough: the output queue is full")

    def fail(self, slot: Slot, reason: str) -> None:
        if slot.error is None:
            slot.error = reason
            self.dropped += 1

    def health(self) -> dict:
        ms = np.array(self.step_ms) if self.step_ms else np.zeros(1)
        return {
            "streams": len(self.slots),
            "served": self.served,
            "dropped": self.dropped,
            "hop_ms": 1e3 * self.hop_seconds,
            "tick_ms_p50": float(np.percentile(ms, 50)),
            "tick_ms_p99": float(np.percentile(ms, 99)),
            "max_streams": self.max_streams,
        }
