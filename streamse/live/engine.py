"""The live engine: an audio callback that only moves samples, and a worker that runs the model.

Timeline (all indices are absolute device samples since start): the callback stores input
sample i at index i of the input ring and plays index n of the output ring. The worker writes
the enhanced version of input i at output index i + `delay`. Output the worker has not written
by the time the callback needs it is replaced by the dry input (or silence) at n - `delay`;
late output is simply never played. So the delay cannot creep: after any stall the worker's
output lands at the same indices as before. A worker more than `resync_after` samples late
restarts its chain at the newest input instead of grinding through the backlog.

`buffer` is the smallest output lead at which an instantly fast worker never underruns, given
the block size, hop and resampler look-ahead (computed exactly from
`ResampledStreamer.count`), plus a compute margin that gives the worker at least one hop of time for each hop.

When the model is late, the output never flaps between enhanced and dry block by block:

- the callback switches to the fallback (dry input or silence) at the first missing sample,
  de-clicked (the step from the last played sample decays over `fade_s`), and then HOLDS the
  fallback for at least `hold_s` seconds, even if enhanced output is back sooner;
- meanwhile the worker raises the delay by one model hop (at most `max_extra_hops` times in a
  run), so the model gets that much more time from then on; the fallback path follows the new
  delay through a crossfade;
- after the hold, at the first block whose enhanced output is complete, the callback crossfades
  back to it over `fade_s`. Each hold lasts twice as long as the previous one (up to 16 x `hold_s`), so
  a model that cannot keep up settles on the fallback instead of toggling.

Every switch is counted and logged (`Stats.events`) with its fade length, and so is the time
spent degraded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from streamse.live.resampled import ResampledStreamer
from streamse.live.ring import Ring
from streamse.live.counters import Latency, Stats
from streamse.streamer import HopStreamer

WET, DRY = 0, 1
# event kinds in Stats.events
TO_DRY, TO_WET, DELAY_UP, DEVICE_XRUN_EVENT = 1, 2, 3, 4


@dataclass(frozen=True)
class OutputMix:
    """What the output holds, shared by the engine and the live options.
    fallback: what plays for missing output, "dry" (delayed input) or "silence".
    dry: 0..1 share of dry input mixed into the output. atten_lim_db: limit on the attenuation
    (None = unlimited)."""

    fallback: str = "dry"
    dry: float = 0.0
    atten_lim_db: float | None = None

    @property
    def dry_share(self) -> float:
        """Dry share of the output: dry + (1 - dry) * 10^(-atten_lim_db / 20)."""
        lim = 0.0 if self.atten_lim_db is None else 10.0 ** (-self.atten_lim_db / 20.0)
        return self.dry + (1.0 - self.dry) * lim


@dataclass(frozen=True)
class EngineConfig:
    """device_rate: Hz. blocksize: nominal callback frames (callbacks may use up to max_frames).
    mix: the output's dry share and fallback (`OutputMix`). safety_hops: extra compute margin
    in model hops. ring_s: ring length. input_channel: 0-based channel of a multichannel
    input to use, None = mean of all. hold_s, fade_s, max_extra_hops: the late-model policy
    (module doc)."""

    device_rate: int
    blocksize: int
    mix: OutputMix = OutputMix()
    safety_hops: float = 0.0
    ring_s: float = 2.0
    max_frames: int = 8192
    input_channel: int | None = None
    hold_s: float = 1.0
    fade_s: float = 0.01
    max_extra_hops: int = 4


def min_buffer(chain: ResampledStreamer, blocksize: int, blocks: int = 4096) -> int:
    """Smallest output lead (device samples) with no underrun for an instant worker.

    Callback k plays indices [kB, (k+1)B) - delay.. and the worker has seen k*B input samples,
    so lead >= (k+1)B - count(kB) for every k (periodic in k; `blocks` covers the period).
    """
    return max((k + 1) * blocksize - chain.count(k * blocksize) for k in range(blocks))


class Engine:
    def __init__(self, streamer: HopStreamer, config: EngineConfig):
        self.config = config
        self.chain = ResampledStreamer(streamer, config.device_rate)
        hop = self.chain.hop
        margin = max(0, hop - config.blocksize) + int(round(config.safety_hops * hop))
        self.buffer = min_buffer(self.chain, config.blocksize) + margin
        self.delay = self.buffer + self.chain.delay
        self.nominal_delay = self.delay
        self.resync_after = self.buffer + config.blocksize
        extra = config.max_extra_hops * hop
        cap = int(config.ring_s * config.device_rate) + 2 * (self.delay + extra + config.max_frames)
        self.inp, self.out = Ring(cap), Ring(cap)
        self.stats = Stats()
        self.recorder = None  # optional: .push(x_in, y_out) called by the worker
        self._mix = np.float32(config.mix.dry_share)
        frames = config.max_frames
        self._mono, self._play = np.zeros(frames, np.float32), np.zeros(frames, np.float32)
        self._wet, self._alt = np.zeros(frames, np.float32), np.zeros(frames, np.float32)
        self._ok = np.zeros(frames, dtype=bool)
        fade = max(1, int(round(config.fade_s * config.device_rate)))
        self._ramp = (np.arange(fade, dtype=np.float32) + 0.5) / fade  # 0 -> 1
        self._decay = 1.0 - self._ramp  # 1 -> 0: how much of a de-click offset is left
        self._hold = int(config.hold_s * config.device_rate)
        # callback-side late-model state
        self.mode = WET
        self._cb_delay = self.delay  # the delay the fallback path plays at
        self._hold_until = 0  # output index before which the fallback is held
        self._hold_len = self._hold
        self._xfade = 0  # samples of a fallback -> enhanced crossfade still to play
        self._old_delay = self.delay  # the fallback delay being faded out after a raise
        self._dfade = 0  # samples of that fade still to play
        self._dc_offset = np.float32(0.0)  # de-click: step to smooth after a cut to fallback
        self._dc_left = 0  # samples of the de-click still to play
        self._last = np.float32(0.0)  # last sample played (de-click reference)
        self.w_in = self.r_out = 0  # published by the callback
        self.r_in = self.w_out = 0  # published by the worker
        self._seen_underruns = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._start_segment(0)

    def set_atten_lim(self, db: float | None) -> None:
        """Change the attenuation limit while running (None = unlimited); the worker reads
        the new dry share from its next hop on (one attribute store: no lock needed)."""
        self._mix = np.float32(replace(self.config.mix, atten_lim_db=db).dry_share)

    # latency --------------------------------------------------------------------------------
    def latency(self, device_latency_s: float = 0.0) -> Latency:
        s = self.chain.streamer
        return Latency(
            self.config.device_rate, self.delay, s.algorithmic_latency / s.sample_rate, device_latency_s
        )

    # callback (audio thread) ----------------------------------------------------------------
    def callback(self, indata, outdata, frames, time_info, status) -> None:
        """sounddevice Stream callback. indata (frames, ch_in), outdata (frames, ch_out) float32.
        Moves samples only; never blocks, never raises, no buffer allocation."""
        t0 = time.perf_counter()
        try:
            if status and (status.input_overflow or status.output_underflow):
                self.stats.device_xruns += 1
                self.stats.log(DEVICE_XRUN_EVENT, self.r_out, 0)
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
        ch = self.config.input_channel
        if indata.shape[1] == 1:
            mono[:] = indata[:, 0]
        elif ch is not None:
            mono[:] = indata[:, min(ch, indata.shape[1] - 1)]
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
        self._fallback_path(r, play)
        ready = min(n, max(0, self.w_out - r))
        if self.mode == WET:
            self._play_wet(r, play, ready, n)
        else:
            self._declick(play)
            self.stats.degraded_samples += n
            if r >= self._hold_until and ready == n:
                self.mode, self._xfade = WET, self._ramp.size  # back, through a crossfade
                self.stats.log(TO_WET, r, self._ramp.size)
                self._play_wet(r, play, ready, n)
        self._last = play[n - 1]
        self.r_out = r + n
        outdata[:] = play[:, None]

    def _play_wet(self, r: int, play: np.ndarray, ready: int, n: int) -> None:
        """play (n,) holds the fallback; put the enhanced output over it (crossfading in while
        a fade is on), and switch to the fallback, de-clicked, where enhanced output is missing."""
        wet = self._wet[:ready]
        if ready:
            self.out.read_into(r, wet)
            k = min(self._xfade, ready)
            if k:  # crossfade fallback -> enhanced; ramp position = fade length - remaining
                pos = self._ramp.size - self._xfade
                w = self._ramp[pos : pos + k]
                play[:k] += w * (wet[:k] - play[:k])
                self._xfade -= k
            play[k:ready] = wet[k:]
        if ready < n:
            st = self.stats
            st.underruns += 1
            st.missing += n - ready
            before = play[ready - 1] if ready else self._last
            self._dc_offset, self._dc_left = before - play[ready], self._decay.size
            self._declick(play[ready:])
            self.mode, self._xfade = DRY, 0
            self._hold_until = r + ready + self._hold_len
            self._hold_len = min(16 * self._hold, 2 * self._hold_len)
            st.degraded_samples += n - ready
            st.log(TO_DRY, r + ready, self._decay.size)

    def _declick(self, play: np.ndarray) -> None:
        """Add what is left of the de-click offset (decaying to 0 over fade_s) to play."""
        k = min(play.shape[0], self._dc_left)
        if k:
            pos = self._decay.size - self._dc_left
            play[:k] += self._dc_offset * self._decay[pos : pos + k]
            self._dc_left -= k

    def _fallback_path(self, start: int, out: np.ndarray) -> None:
        """out (n,) = the fallback for output indices start.., crossfaded over fade_s from the
        old delay to the new one after the worker raised it."""
        target = self.delay  # read once: the worker may raise it at any time
        if self._cb_delay != target:
            self._old_delay, self._cb_delay, self._dfade = self._cb_delay, target, self._ramp.size
            self.stats.log(DELAY_UP, start, self._ramp.size)
        self._fallback(start, out, self._cb_delay)
        k = min(out.shape[0], self._dfade)
        if k:
            old = self._alt[:k]
            self._fallback(start, old, self._old_delay)
            pos = self._ramp.size - self._dfade
            out[:k] = old + self._ramp[pos : pos + k] * (out[:k] - old)
            self._dfade -= k

    def _fallback(self, start: int, out: np.ndarray, delay: int | None = None) -> None:
        """Fill out (n,) for output indices start.. with the dry input (or silence)."""
        src = start - (self.delay if delay is None else delay)
        if self.config.mix.fallback != "dry" or src + out.shape[0] <= 0:
            out.fill(0.0)
            return
        skip = max(0, -src)
        out[:skip] = 0.0
        self.inp.read_into(src + skip, out[skip:])

    # worker ---------------------------------------------------------------------------------
    def _start_segment(self, s: int) -> None:
        """Restart the chain at input index s; fill output up to s + delay with the fallback."""
        self.chain.reset()
        self.r_in = s
        self._seg_out = s + self.buffer  # output index of the chain's next sample
        self._skip = self.chain.delay  # first chain outputs reconstruct input before s
        self._fill_to(s + self.delay)

    def _fill_to(self, end: int) -> None:
        """Write the fallback from the written end of the output up to `end`."""
        start = max(self.w_out, self.r_out)
        buf = np.zeros(min(max(0, end - start), self.config.max_frames), dtype=np.float32)
        while start < end:
            n = min(end - start, buf.size)
            self._fallback(start, buf[:n])
            self.out.write(start, buf[:n])
            start += n
        self.w_out = max(self.w_out, end)

    def _grow(self) -> None:
        """The model was late: raise the delay by one model hop (the callback holds the
        fallback meanwhile, so the jump is not heard in the enhanced path)."""
        if self.delay - self.nominal_delay >= self.config.max_extra_hops * self.chain.hop:
            return
        d = self.chain.hop
        self.buffer += d
        self.delay += d
        self.resync_after = self.buffer + self.config.blocksize
        self._fill_to(self._seg_out + d)
        self._seg_out += d
        self.stats.delay_growths += 1

    def worker_step(self, max_input: int | None = None) -> int:
        """Process the input that is waiting (at most max_input samples). Returns samples taken."""
        if self.stats.underruns != self._seen_underruns:
            self._seen_underruns = self.stats.underruns
            self._grow()
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
        hops = self.chain.hops
        t0 = time.perf_counter()
        y = self.chain.feed(x)
        self._account(x, time.perf_counter() - t0, self.chain.hops - hops)
        self._emit(y)
        if self.recorder is not None:
            self.recorder.push(x, y)
        return n

    def _account(self, x: np.ndarray, dt: float, new: int) -> None:
        """Worker stats for one step: dt seconds of chain time that ran `new` model hops."""
        st = self.stats
        hop = self.chain.streamer.hop
        if new:
            audio = new * hop / self.chain.model_rate
            st.hops += new
            st.model_time_s += dt
            st.audio_time_s += audio
            st.model_time_max_s = max(st.model_time_max_s, dt / new)
            st.log_step(dt, audio)
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
        poll = min(self.config.blocksize, self.chain.hop) / fs / 4
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(max(5e-4, poll),), name="streamse-worker", daemon=True
        )
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
