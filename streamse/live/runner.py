"""Open the duplex stream, run the engine with a status line, stop cleanly, summarise."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, TextIO

import numpy as np

from streamse.errors import StreamseError
from streamse.live import devices
from streamse.live.engine import Engine, EngineConfig
from streamse.live.record import Recorder
from streamse.live.status import status_line, summary
from streamse.streamer import HopStreamer


@dataclass(frozen=True)
class LiveOptions:
    """Device choice (index or name part; None = default), rate in Hz (None = the input
    device's), blocksize in samples, latency as PortAudio takes it ('low', 'high' or seconds),
    mixing, optional record folder, duration in seconds (None = until Ctrl-C)."""

    input: str | None = None
    output: str | None = None
    samplerate: int | None = None
    blocksize: int = 480
    latency: str | float = "low"
    dry: float = 0.0
    atten_lim_db: float | None = None
    fallback: str = "dry"
    record: str | None = None
    duration: float | None = None
    max_channels: int = 8


def probe_rtf(streamer: HopStreamer, hops: int = 50) -> float:
    """Time `hops` hops of low noise through the streamer (then reset it): compute / audio time."""
    x = (1e-3 * np.random.default_rng(0).standard_normal(hops * streamer.hop)).astype(np.float32)
    streamer.reset()
    streamer.feed(x[: 5 * streamer.hop])  # warm-up
    t0 = time.perf_counter()
    streamer.feed(x[5 * streamer.hop :])
    dt = time.perf_counter() - t0
    streamer.reset()
    return dt / ((hops - 5) * streamer.hop / streamer.sample_rate)


def _check_speed(streamer: HopStreamer) -> float:
    rtf = probe_rtf(streamer)
    if rtf > 0.9:
        hop_ms = 1e3 * streamer.hop / streamer.sample_rate
        raise StreamseError(f"the model needs {rtf * hop_ms:.1f} ms per {hop_ms:.0f} ms hop here "
                            f"(RTF {rtf:.2f}): it cannot keep up live; try more threads (-t), "
                            "--provider cuda, or a smaller model")
    return rtf


def open_engine(streamer: HopStreamer, opts: LiveOptions, rtf: float = 0.0):
    """Resolve devices and rate, build the engine and the (not yet started) stream.

    rtf: the model's measured compute time per hop / hop time (`probe_rtf`). The output lead
    gets 2 x rtf hops of compute margin on top of the instant-worker minimum (a model that
    needs 60 % of the hop gets 1.2 hops: without it, the worker's jitter and the GIL it
    shares with the callback made such a model underrun), and 2 more hops with --latency
    high."""
    sd = devices.load_sounddevice()
    i_dev = devices.resolve(sd, opts.input, "input")
    o_dev = devices.resolve(sd, opts.output, "output")
    i_info, o_info = sd.query_devices(i_dev), sd.query_devices(o_dev)
    rate = int(opts.samplerate or i_info["default_samplerate"])
    ch = (min(opts.max_channels, i_info["max_input_channels"]),
          min(opts.max_channels, o_info["max_output_channels"]))
    devices.check_rate(sd, i_dev, "input", rate, ch[0])
    devices.check_rate(sd, o_dev, "output", rate, ch[1])
    if not 32 <= opts.blocksize <= 4096:
        raise StreamseError(f"--blocksize {opts.blocksize}: use 32 to 4096 samples")
    safety = (2.0 if opts.latency == "high" else 0.0) + 2.0 * rtf
    cfg = EngineConfig(rate, opts.blocksize, fallback=opts.fallback, dry=opts.dry,
                       atten_lim_db=opts.atten_lim_db, safety_hops=safety)
    engine = Engine(streamer, cfg)
    try:
        stream = sd.Stream(device=(i_dev, o_dev), samplerate=rate, blocksize=opts.blocksize,
                           channels=ch, dtype="float32", latency=opts.latency,
                           callback=engine.callback)
    except Exception as exc:  # PortAudioError: busy, vanished, refused settings
        raise StreamseError(f"cannot open devices {i_dev}/{o_dev} at {rate} Hz, block "
                            f"{opts.blocksize}: {exc}; is another program using them? "
                            "Try other devices (-i/-o, --list-devices), --samplerate or "
                            "--latency high") from exc
    return engine, stream


class StopFlag:
    """Set by a signal handler, read by the loop. (Not a threading.Event: Event.set from a
    handler that interrupts Event.wait in the same thread can deadlock on its lock.)"""

    def __init__(self) -> None:
        self.requested = False


@contextlib.contextmanager
def stop_on_signals():
    """Yields a StopFlag. While open, SIGINT (Ctrl-C) and SIGTERM set it instead of raising,
    so the loop ends and the stream closes by the same path as --duration; a second signal
    raises KeyboardInterrupt as usual. Only the main thread can own signal handlers:
    elsewhere the flag is never set."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_live(streamer: HopStreamer, opts: LiveOptions, out: TextIO = sys.stderr,
             on_started: Callable[[Engine, object], None] | None = None) -> dict:
    """Run until opts.duration, Ctrl-C / SIGTERM or a worker error. Prints a status line to
    `out` (when it is a terminal) and a summary; returns the summary numbers."""
    rtf = _check_speed(streamer)
    engine, stream = open_engine(streamer, opts, rtf)
    rec = Recorder(opts.record, engine.config.device_rate) if opts.record else None
    engine.recorder = rec
    live = out.isatty()
    t0 = time.monotonic()
    try:
        engine.start()
        with stop_on_signals() as stop, stream:
            lat = engine.latency(float(sum(stream.latency)))
            print(f"streamse live: {engine.config.device_rate} Hz, block {opts.blocksize}, "
                  f"probe RTF {rtf:.2f}, {lat.describe()}", file=out, flush=True)
            if on_started is not None:
                on_started(engine, stream)
            end = float("inf") if opts.duration is None else t0 + opts.duration
            while not stop.requested and time.monotonic() < end:
                if engine.error is not None:
                    raise StreamseError(f"the model failed: {engine.error}")
                time.sleep(0.25)
                if live:
                    print("\r" + status_line(engine.stats, lat, time.monotonic() - t0),
                          end="", file=out, flush=True)
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the handlers are in place
        pass
    finally:
        engine.stop()
        if rec is not None:
            rec.close()
    elapsed = time.monotonic() - t0
    print(("\n" if live else "") + summary(engine.stats, lat, elapsed), file=out, flush=True)
    st = engine.stats
    return {"seconds": elapsed, "latency_ms": 1e3 * lat.total, "latency_samples": lat.total_samples,
            "engine_samples": lat.engine_samples, "device_latency_ms": 1e3 * lat.device,
            "underruns": st.underruns, "overruns": st.overruns, "device_xruns": st.device_xruns,
            "resyncs": st.resyncs, "rtf": st.rtf, "ms_per_hop": st.ms_per_hop,
            "callback_max_ms": 1e3 * st.cb_time_max_s}
