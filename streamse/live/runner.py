"""Open the duplex stream, run the engine with a status line, stop cleanly, summarise."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, TextIO

import numpy as np

from streamse.errors import StreamseError
from streamse.live import devices
from streamse.live.engine import Engine, EngineConfig, OutputMix
from streamse.live.record import Recorder
from streamse.live.report import status_line, summary
from streamse.hop_timing import hop_times, rtf_of
from streamse.streamer import HopStreamer


DEVICE_TIMEOUT_S = 1.0  # no callback for this long (and 4 blocks): the device is gone
CLOSE_TIMEOUT_S = 0.5  # a stream that does not stop within this is abandoned
DEGRADED_WARN = 0.10  # share of the run on the fallback above which the run counts as failed
STRENGTH_DB = 0.5  # --strength S limits the attenuation to S * 0.5 dB (100 = no limit)
STRENGTH_STEP = 10  # SIGUSR1 / SIGUSR2 raise / lower the strength by this much


def strength_to_atten_lim(strength: float) -> float | None:
    """--strength 0..100 -> attenuation limit in dB (None = unlimited at 100): 0 passes the
    input through, 50 removes up to 25 dB of noise, 100 removes all it can."""
    return None if strength >= 100 else max(0.0, strength) * STRENGTH_DB


DEFAULT_BLOCKSIZE = 480  # device frames per callback: 10 ms at 48 kHz, one model hop of crn


@dataclass(frozen=True)
class LiveOptions:
    """Device choice (index or name part; None = default), rate in Hz (None = the input
    device's), blocksize in samples, latency as PortAudio takes it ('low', 'high' or seconds),
    the output mix (`OutputMix`, as the engine takes it), optional record folder, duration in
    seconds (None = until Ctrl-C), input channel (0-based, as the engine takes it; None = the
    mean of all channels), strength 0..100 (replaces mix.atten_lim_db; SIGUSR1/2 move it)."""

    input: str | None = None
    output: str | None = None
    samplerate: int | None = None
    blocksize: int = DEFAULT_BLOCKSIZE
    latency: str | float = "low"
    mix: OutputMix = OutputMix()
    record: str | None = None
    duration: float | None = None
    max_channels: int = 8
    input_channel: int | None = 0
    strength: float | None = None


@dataclass(frozen=True)
class ProbeSpeed:
    """The model's speed under the conditions of a run (`probe_running`), as compute time /
    audio time: `rtf` over the steps without the slowest 2 % (the sustained speed), `tail` of
    the slowest step among those kept (the jitter the compute margin must absorb)."""

    rtf: float
    tail: float

    @property
    def margin_hops(self) -> float:
        """Compute margin of the output lead, in hops: twice the slow step, and, for a model
        that keeps the worker busy, 1.5 x the slow step / the idle share (after a slow step
        the worker catches up by only 1 - rtf of a hop per hop). crn (rtf 0.13, slow step 0.2)
        gets 0.4 hops; cnunet-tb-ts at 48 kHz on a 2-core Xeon (0.64, 0.73) 3.0: in 60 s runs
        there single steps took up to 1.5 hops, and margins of 1.3 (2 x rtf), 1.6 and 2.0
        hops each left one underrun in some runs."""
        return max(2.0 * self.tail, 1.5 * self.tail / max(0.1, 1.0 - self.rtf), 2.0 * self.rtf)


def probe_rtf(streamer: HopStreamer, hops: int = 50) -> float:
    """Time `hops` hops of low noise through the streamer alone (then reset it): compute /
    audio time. Reads low next to a running stream (see `probe_running`)."""
    x = (1e-3 * np.random.default_rng(0).standard_normal(hops * streamer.hop)).astype(np.float32)
    streamer.reset()
    hop_times(streamer, x[: 5 * streamer.hop])  # warm-up
    times = hop_times(streamer, x[5 * streamer.hop :])
    streamer.reset()
    return rtf_of(times, streamer.hop / streamer.sample_rate)


def probe_running(
    streamer: HopStreamer, rate: int, blocksize: int, seconds: float = 2.0, channels: int = 1
) -> ProbeSpeed:
    """The model's speed under the conditions of a run: an engine with its worker thread, and a
    thread that calls the engine's callback every block period as the audio device does (the
    callback and the worker share the GIL and the core). Its steps without the slowest 2 %
    (`Stats.trimmed_rtf`, `Stats.step_ratio(0.98)`): a single 0.2 s stall (another process, a
    garbage collection) read cnunet-tb-ts at 0.64 against the run's 0.44 when all steps
    counted. The streamer is reset afterwards."""
    engine = Engine(streamer, EngineConfig(rate, blocksize, safety_hops=2.0))
    period = blocksize / rate
    ind = (1e-3 * np.random.default_rng(0).standard_normal((blocksize, channels))).astype(np.float32)
    outd = np.zeros((blocksize, 1), np.float32)
    engine.start()
    try:
        t_next = time.perf_counter()
        end = t_next + seconds
        while t_next < end:
            engine.callback(ind, outd, blocksize, None, None)
            t_next += period
            time.sleep(max(0.0, t_next - time.perf_counter()))
    finally:
        engine.stop()
        streamer.reset()
    if engine.error is not None:
        raise StreamseError(f"the model failed: {engine.error}")
    st = engine.stats
    if not st.hops:
        rtf = probe_rtf(streamer)
        return ProbeSpeed(rtf, rtf)
    return ProbeSpeed(st.trimmed_rtf(0.02), st.step_ratio(0.98))


def _check_speed(speed: ProbeSpeed, streamer: HopStreamer) -> ProbeSpeed:
    rtf = speed.rtf
    if rtf > 0.9:
        hop_ms = 1e3 * streamer.hop / streamer.sample_rate
        raise StreamseError(
            f"the model needs {rtf * hop_ms:.1f} ms per {hop_ms:.0f} ms hop here "
            f"(RTF {rtf:.2f}): it cannot keep up live; try more threads (-t), "
            "--provider cuda, or a smaller model"
        )
    return speed


@dataclass(frozen=True)
class StreamPlan:
    """Resolved devices (indices), device rate (Hz), channel counts (in, out) and block
    (frames per callback; None = opts.blocksize)."""

    devices: tuple[int, int]
    rate: int
    channels: tuple[int, int]
    blocksize: int | None = None


def plan_stream(opts: LiveOptions) -> StreamPlan:
    """Resolve devices, rate and channels, and check that the devices accept them."""
    sd = devices.load_sounddevice()
    i_dev = devices.resolve(sd, opts.input, "input")
    o_dev = devices.resolve(sd, opts.output, "output")
    i_info, o_info = sd.query_devices(i_dev), sd.query_devices(o_dev)
    rate = int(opts.samplerate or i_info["default_samplerate"])
    ch = (input_channels(opts, i_info), min(opts.max_channels, o_info["max_output_channels"]))
    devices.check_rate(sd, i_dev, "input", rate, ch[0])
    devices.check_rate(sd, o_dev, "output", rate, ch[1])
    if not 32 <= opts.blocksize <= 4096:
        raise StreamseError(f"--blocksize {opts.blocksize}: use 32 to 4096 samples")
    return StreamPlan((i_dev, o_dev), rate, ch)


def make_engine(streamer: HopStreamer, opts: LiveOptions, speed: ProbeSpeed, plan: StreamPlan) -> Engine:
    """The engine for `plan`.

    speed: the model's speed measured under run conditions (`probe_running`). The output lead
    gets `speed.margin_hops` of compute margin on top of the instant-worker minimum (without
    it, the worker's jitter and the GIL it shares with the callback made a model that needs
    60 % of the hop underrun), and 2 more hops with --latency high; if the model is still
    late, the engine raises the delay by whole hops (engine.py)."""
    safety = (2.0 if opts.latency == "high" else 0.0) + speed.margin_hops
    mix = (
        opts.mix
        if opts.strength is None
        else replace(opts.mix, atten_lim_db=strength_to_atten_lim(opts.strength))
    )
    cfg = EngineConfig(
        plan.rate,
        plan.blocksize or opts.blocksize,
        mix=mix,
        safety_hops=safety,
        input_channel=opts.input_channel,
    )
    return Engine(streamer, cfg)


def open_engine(
    streamer: HopStreamer,
    opts: LiveOptions,
    speed: ProbeSpeed = ProbeSpeed(0.0, 0.0),
    plan: StreamPlan | None = None,
):
    """Build the engine and the (not yet started) PortAudio stream on `plan` (default:
    plan_stream)."""
    sd = devices.load_sounddevice()
    plan = plan or plan_stream(opts)
    engine = make_engine(streamer, opts, speed, plan)
    try:
        stream = sd.Stream(
            device=plan.devices,
            samplerate=plan.rate,
            blocksize=opts.blocksize,
            channels=plan.channels,
            dtype="float32",
            latency=opts.latency,
            callback=engine.callback,
        )
    except Exception as exc:  # PortAudioError: busy, vanished, refused settings
        raise StreamseError(
            f"cannot open devices {plan.devices[0]}/{plan.devices[1]} at "
            f"{plan.rate} Hz, block {opts.blocksize}: {exc}; is another program "
            "using them? Try other devices (-i/-o, --list-devices), "
            "--samplerate or --latency high"
        ) from exc
    return engine, stream


class PortAudioDevice:
    """Microphone to speaker through PortAudio (sounddevice). A `Device` has plan(opts) ->
    StreamPlan, open(streamer, opts, speed, plan) -> (engine, stream) and connect(opts) -> a
    line saying where the audio goes (after the stream started)."""

    def plan(self, opts: LiveOptions) -> StreamPlan:
        return plan_stream(opts)

    def open(self, streamer: HopStreamer, opts: LiveOptions, speed: ProbeSpeed, plan: StreamPlan):
        return open_engine(streamer, opts, speed, plan)

    def connect(self, opts: LiveOptions) -> str:
        return ""


def close_stream(stream, timeout: float = CLOSE_TIMEOUT_S) -> bool:
    """abort() + close() the stream from a helper thread; True if that finished within
    `timeout` seconds. PortAudio can block forever when the sound server died under it: such a
    stream is abandoned (the thread is a daemon) instead of hanging the program."""
    done = threading.Event()

    def shut() -> None:
        try:
            stream.abort()
            stream.close()
        except Exception:  # noqa: BLE001 - a dead device may also raise; it is gone either way
            pass
        done.set()

    threading.Thread(target=shut, name="streamse-close", daemon=True).start()
    return done.wait(timeout)


def input_channels(opts: LiveOptions, info) -> int:
    """How many capture channels to open: up to the chosen one, or all (up to max_channels)
    to average them."""
    have = int(info["max_input_channels"])
    if opts.input_channel is None:
        return min(opts.max_channels, have)
    if not 0 <= opts.input_channel < have:
        raise StreamseError(
            f"--input-channel {opts.input_channel + 1}: the input device has {have} channel(s)"
        )
    return opts.input_channel + 1


class StopFlag:
    """Set by a signal handler, read by the loop. (Not a threading.Event: Event.set from a
    handler that interrupts Event.wait in the same thread can deadlock on its lock.)"""

    def __init__(self) -> None:
        self.requested = False


class Strength:
    """The --strength knob while running: SIGUSR1 raises it, SIGUSR2 lowers it (by
    STRENGTH_STEP, within 0..100); `apply` hands a change to the engine."""

    def __init__(self, value: float | None):
        self.value = 100.0 if value is None else float(value)
        self.active = value is not None
        self._pending = 0

    def signals(self):
        """Context: SIGUSR1 / SIGUSR2 move the knob while open (main thread only)."""

        def up(signum, frame):
            self._pending += STRENGTH_STEP if signum == signal.SIGUSR1 else -STRENGTH_STEP

        return handlers((signal.SIGUSR1, signal.SIGUSR2), up)

    def apply(self, engine: Engine) -> bool:
        """Apply a pending change; True if the strength changed."""
        if not self._pending:
            return False
        step, self._pending = self._pending, 0
        self.value = min(100.0, max(0.0, self.value + step))
        self.active = True
        engine.set_atten_lim(strength_to_atten_lim(self.value))
        return True


@contextlib.contextmanager
def handlers(signums, handler):
    """Install `handler` for `signums` while open, then restore the old ones. Only the main
    thread can own signal handlers: elsewhere this installs nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def stop_on_signals():
    """Yields a StopFlag. While open, SIGINT (Ctrl-C) and SIGTERM set it instead of raising,
    so the loop ends and the stream closes by the same path as --duration; a second signal
    raises KeyboardInterrupt as usual (main thread only: elsewhere the flag is never set)."""
    flag = StopFlag()

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    with handlers((signal.SIGINT, signal.SIGTERM), handler):
        yield flag


def run_live(
    streamer: HopStreamer,
    opts: LiveOptions,
    out: TextIO = sys.stderr,
    on_started: Callable[[Engine, object], None] | None = None,
    device=None,
) -> dict:
    """Run until opts.duration, Ctrl-C / SIGTERM, a worker error, or the device disappearing.
    Prints a status line to `out` (when it is a terminal) and a summary; returns the summary
    numbers, with "ended": "ok" | "device lost" | "model failed", "degraded" (share of the
    run on the fallback), "closed" (False if the stream had to be abandoned). The recording is
    flushed and closed in every case. `device`: PortAudioDevice (default) or a
    virtual_mic.VirtualMicDevice."""
    device = device or PortAudioDevice()
    plan = device.plan(opts)
    block = plan.blocksize or opts.blocksize
    # the audio callback needs the GIL every block: hand it over within a quarter block
    sys.setswitchinterval(min(sys.getswitchinterval(), max(2e-4, block / plan.rate / 4)))
    try:
        speed = _check_speed(probe_running(streamer, plan.rate, block, channels=plan.channels[0]), streamer)
        engine, stream = device.open(streamer, opts, speed, plan)
    except BaseException:
        stream = getattr(device, "stream", None)
        if stream is not None:
            close_stream(stream)
        raise
    rec = Recorder(opts.record, engine.config.device_rate) if opts.record else None
    engine.recorder = rec
    live = out.isatty()
    lat = engine.latency()
    ended, closed, t0 = "ok", True, time.monotonic()
    stall_s = max(DEVICE_TIMEOUT_S, 4 * block / plan.rate)
    strength = Strength(opts.strength)
    try:
        engine.start()
        with stop_on_signals() as stop, strength.signals():
            stream.start()
            where = device.connect(opts)
            lat = engine.latency(float(sum(stream.latency)))
            print(
                f"streamse live: {plan.rate} Hz, block {block}, probe RTF {speed.rtf:.2f}, slow step "
                f"{speed.tail:.2f} (with the engine running), {lat.describe()}"
                + (f"; {where}" if where else ""),
                file=out,
                flush=True,
            )
            if on_started is not None:
                on_started(engine, stream)
            end = float("inf") if opts.duration is None else t0 + opts.duration
            seen, seen_at = engine.stats.callbacks, time.monotonic()
            while not stop.requested and time.monotonic() < end:
                if engine.error is not None:
                    ended = "model failed"
                    break
                time.sleep(0.1)
                now = time.monotonic()
                if strength.apply(engine) and not live:
                    print(f"streamse live: strength {strength.value:.0f}", file=out, flush=True)
                if engine.stats.callbacks != seen:
                    seen, seen_at = engine.stats.callbacks, now
                elif now - seen_at > stall_s or not stream.active:
                    ended = "device lost"
                    print(
                        ("\n" if live else "") + "streamse live: the audio device stopped "
                        f"(no callback for {now - seen_at:.1f} s): the sound server or the "
                        "device went away",
                        file=out,
                        flush=True,
                    )
                    break
                if live:
                    lat = engine.latency(lat.device)
                    line = status_line(engine.stats, lat, now - t0, engine.mode != 0, block)
                    if strength.active:
                        line += f" strength {strength.value:.0f}"
                    print("\r" + line, end="", file=out, flush=True)
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the handlers are in place
        pass
    finally:
        closed = close_stream(stream)
        engine.stop()
        if rec is not None:
            rec.close()
    elapsed = time.monotonic() - t0
    lat = engine.latency(lat.device)
    st = engine.stats
    degraded = st.degraded_samples / max(1, st.callbacks * block)
    lines = [summary(st, lat, elapsed)]
    if ended == "model failed":
        lines.insert(0, f"streamse live: the model failed: {engine.error}")
    if degraded > DEGRADED_WARN:
        lines.append(
            f"WARNING: {100 * degraded:.0f} % of the output was the fallback "
            f"({opts.mix.fallback}), not enhanced: the model is too slow here"
        )
    if not closed:
        lines.append("the audio device did not respond to stop; it was abandoned")
    print(("\n" if live else "") + "\n".join(lines), file=out, flush=True)
    return {
        "seconds": elapsed,
        "latency_ms": 1e3 * lat.total,
        "latency_samples": lat.total_samples,
        "engine_samples": lat.engine_samples,
        "device_latency_ms": 1e3 * lat.device,
        "underruns": st.underruns,
        "overruns": st.overruns,
        "device_xruns": st.device_xruns,
        "resyncs": st.resyncs,
        "rtf": st.rtf,
        "ms_per_hop": st.ms_per_hop,
        "callback_max_ms": 1e3 * st.cb_time_max_s,
        "probe_rtf": speed.rtf,
        "probe_tail": speed.tail,
        "switches": st.switches(),
        "degraded": degraded,
        "delay_growths": st.delay_growths,
        "delay_step_samples": engine.chain.hop,  # what each delay growth added
        "events": st.events().tolist(),
        "ended": ended,
        "closed": closed,
        "strength": strength.value,
        "blocksize": block,
    }
