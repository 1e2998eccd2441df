"""The live engine: an audio callback that only moves samples, and a worker that runs the model.

Timeline (all indices are absolute device samples since start): the callback stores input
sample i at index i of the input ring and plays index n of the output ring. The worker writes
the enhanced version of input i at output index i + `delay`, where `delay` = `buffer` +
pipeline delay is fixed at construction. Output the worker has not written by the time the
callback needs it is replaced by the dry input (or silence) at n - `delay` and counted as an
underrun; late output is simply never played. So the delay cannot creep: after any stall the
worker's output lands at the same indices as before. A worker more than `resync_after` samples
late restarts its chain at the newest input instead of grinding through the backlog.

`buffer` is the smallest output lead at which an instantly fast worker never underruns, given
the block size, hop and resampler look-ahead (computed exactly from `Pipeline.count`), plus a
compute margin that gives the worker at least one hop of time for each hop.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from streamse.live.pipeline import Pipeline
from streamse.live.ring import Ring
from streamse.live.stats import Latency, Stats
from streamse.streamer import HopStreamer


@dataclass(frozen=True)
class EngineConfig:
    """device_rate: Hz. blocksize: nominal callback frames (callbacks may use up to max_frames).
    fallback: what plays for missing output, "dry" (delayed input) or "silence".
    dry: 0..1 share of dry input mixed into the output. atten_lim_db: limit on the attenuation
    (None = unlimited). safety_hops: extra compute margin in model hops. ring_s: ring length."""

    device_rate: int
    blocksize: int
    fallback: str = "dry"
    dry: float = 0.0
    atten_lim_db: float | None = None
    safety_hops: float = 0.0
    ring_s: float = 2.0
    max_frames: int = 8192

    @property
    def mix(self) -> float:
        """Dry share of the output: dry + (1 - dry) * 10^(-atten_lim_db / 20)."""
        lim = 0.0 if self.atten_lim_db is None else 10.0 ** (-self.atten_lim_db / 20.0)
        return self.dry + (1.0 - self.dry) * lim


def min_buffer(pipe: Pipeline, blocksize: int, blocks: int = 4096) -> int:
    """Smallest output lead (device samples) with no underrun for an instant worker.

    Callback k plays indices [kB, (k+1)B) - delay.. and the worker has seen k*B input samples,
    so lead >= (k+1)B - count(kB) for every k (periodic in k; `blocks` covers the period).
    """
    return max((k + 1) * blocksize - pipe.count(k * blocksize) for k in range(blocks))


class Engine:
    def __init__(self, streamer: HopStreamer, config: EngineConfig):
        self.config = config
        self.pipe = Pipeline(streamer, config.device_rate)
        hop = self.pipe.hop
        margin = max(0, hop - config.blocksize) + int(round(config.safety_hops * hop))
        self.buffer = min_buffer(self.pipe, config.blocksize) + margin
        self.delay = self.buffer + self.pipe.delay
        self.resync_after = self.buffer + config.blocksize
        cap = int(config.ring_s * config.device_rate) + 2 * (self.delay + config.max_frames)
        self.inp, self.out = Ring(cap), Ring(cap)
        self.stats = Stats()
        self.recorder = None  # optional: .push(x_in, y_out) called by the worker
        self._mix = np.float32(config.mix)
        self._mono = np.zeros(config.max_frames, dtype=np.float32)
        self._play = np.zeros(config.max_frames, dtype=np.float32)
        self._ok = np.zeros(config.max_frames, dtype=bool)
        self.w_in = self.r_out = 0  # published by the callback
        self.r_in = self.w_out = 0  # published by the worker
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._start_segment(0)

    # latency --------------------------------------------------------------------------------
    def latency(self, device_latency_s: float = 0.0) -> Latency:
        s = self.pipe.streamer
        return Latency(self.config.device_rate, self.delay,
                       s.algorithmic_latency / s.sample_rate, device_latency_s)

    # callback (audio thread) ----------------------------------------------------------------
    def callback(self, indata, outdata, frames, time_info, status) -> None:
        """sounddevice Stream callback. indata (frames, ch_in), outdata (frames, ch_out) float32.
        Moves samples only; never blocks, never raises, no buffer allocation."""
        t0 = time.perf_counter()
        try:
            if status and (status.input_overflow or status.output_underflow):
                self.stats.device_xruns += 1
            done = 0
            while done < frames:
                n = min(frames - done, self.config.max_frames)
                self._move(indata[done : done + n], outdata[done : done + n], n)
                done += n
        except BaseException:  # noqa: BLE001 - an exception here would kill the stream
            self.stats.callback_errors += 1
            try:
                outdata.fill(0)
            except BaseException:  # noqa: BLE001
                pass
        dt = time.perf_counter() - t0
        st = self.stats
        st.callbacks += 1
        st.cb_time_sum_s += dt
        if dt > st.cb_time_max_s:
            st.cb_time_max_s = dt

    def _move(self, indata, outdata, n: int) -> None:
        mono = self._mono[:n]
        if indata.shape[1] == 1:
            mono[:] = indata[:, 0]
        else:
            np.mean(indata, axis=1, out=mono)
        ok = self._ok[:n]
        np.isfinite(mono, out=ok)
        if not ok.all():  # a NaN from the device must not reach the ring (fallback, dry mix)
            np.copyto(mono, 0.0, where=np.logical_not(ok, out=ok))
        w = self.w_in
        if w + n - self.r_in > self.inp.capacity:
            self.stats.overruns += 1
        self.inp.write(w, mono)
        self.w_in = w + n
        r = self.r_out
        play = self._play[:n]
        ready = min(n, max(0, self.w_out - r))
        if ready:
            self.out.read_into(r, play[:ready])
        if ready < n:
            self.stats.underruns += 1
            self.stats.missing += n - ready
            self._fallback(r + ready, play[ready:])
        self.r_out = r + n
        outdata[:] = play[:, None]

    def _fallback(self, start: int, out: np.ndarray) -> None:
        """Fill out (n,) for output indices start.. with the dry input (or silence)."""
        src = start - self.delay
        if self.config.fallback != "dry" or src + out.shape[0] <= 0:
            out.fill(0.0)
            return
        skip = max(0, -src)
        out[:skip] = 0.0
        self.inp.read_into(src + skip, out[skip:])

    # worker ---------------------------------------------------------------------------------
    def _start_segment(self, s: int) -> None:
        """Restart the chain at input index s; fill output up to s + delay with the fallback."""
        self.pipe.reset()
        self.r_in = s
        self._seg_out = s + self.buffer  # output index of the chain's next sample
        self._skip = self.pipe.delay     # first chain outputs reconstruct input before s
        start = max(self.w_out, self.r_out)
        end = s + self.delay
        buf = np.zeros(min(max(0, end - start), self.config.max_frames), dtype=np.float32)
        while start < end:
            n = min(end - start, buf.size)
            self._fallback(start, buf[:n])
            self.out.write(start, buf[:n])
            start += n
        self.w_out = max(self.w_out, end)

    def worker_step(self, max_input: int | None = None) -> int:
        """Process the input that is waiting (at most max_input samples). Returns samples taken."""
        cap = self.inp.capacity - self.config.max_frames
        if self.r_out - self.w_out > self.resync_after or self.w_in - self.r_in > cap:
            self.stats.resyncs += 1
            self._start_segment(self.w_in)
        n = self.w_in - self.r_in
        if max_input is not None:
            n = min(n, max_input)
        if n <= 0:
            return 0
        x = np.empty(n, dtype=np.float32)
        self.inp.read_into(self.r_in, x)
        if self.w_in - self.r_in > self.inp.capacity:  # overwritten while we copied
            return n
        self.r_in += n
        hops = self.pipe.hops
        t0 = time.perf_counter()
        y = self.pipe.feed(x)
        self._account(x, time.perf_counter() - t0, self.pipe.hops - hops)
        self._emit(y)
        if self.recorder is not None:
            self.recorder.push(x, y)
        return n

    def _account(self, x: np.ndarray, dt: float, new: int) -> None:
        """Worker stats for one step: dt seconds of chain time that ran `new` model hops."""
        st = self.stats
        hop = self.pipe.streamer.hop
        if new:
            st.hops += new
            st.model_time_s += dt
            st.audio_time_s += new * hop / self.pipe.model_rate
            st.model_time_max_s = max(st.model_time_max_s, dt / new)
        if x.size:
            st.peak_in = max(st.peak_in, float(np.abs(x).max()))

    def _emit(self, y: np.ndarray) -> None:
        """Write chain output y (k,) at its fixed output indices, mixing in the dry input."""
        drop = min(self._skip, y.size)
        self._skip -= drop
        self._seg_out += drop
        y = y[drop:]
        if y.size == 0:
            return
        start = self._seg_out
        self._seg_out += y.size
        if self._mix:
            dry = np.empty_like(y)
            self._fallback(start, dry)
            y = (1.0 - self._mix) * y + self._mix * dry
        self.stats.peak_out = max(self.stats.peak_out, float(np.abs(y).max()))
        self.out.write(start, y)
        self.w_out = start + y.size

    # thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Run worker_step in a thread, polling every quarter block/hop when idle."""
        fs = self.config.device_rate
        poll = min(self.config.blocksize, self.pipe.hop) / fs / 4
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(max(5e-4, poll),),
                                        name="streamse-worker", daemon=True)
        self._thread.start()

    def _run(self, poll: float) -> None:
        try:
            while not self._stop.is_set():
                if self.worker_step() == 0:
                    time.sleep(poll)
        except BaseException as exc:  # noqa: BLE001 - reported by the runner
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
