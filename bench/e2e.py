"""`streamse bench --e2e`: measured mic-to-speaker delay through a virtual JACK sound card.

A private jackd (dummy backend, period = blocksize) runs the live engine on its JACK device;
a JACK client plays a noisy sample into the engine's input ports and records its output in the
same JACK cycles. The measured delay is the cross-correlation lag between the recording and
the offline output of the same streamer (resampled like the engine does), so it measures the
whole path: PortAudio buffering, engine buffering and the model's own delay.
"""

from __future__ import annotations

import io
import math

import numpy as np

from streamse.bench import jack_card as jackio
from streamse.live import devices
from streamse.audio_io import read_audio
from streamse.dsp.resample import resample_stream
from streamse.demo import DEMO_INPUT
from streamse.live.runner import LiveOptions, run_live
from streamse.quality.behaviour import after_lead
from streamse.streamer import HopStreamer


def bench_signal(rate: int, seconds: float, model_rate: int) -> np.ndarray:
    """The bundled noisy sample, looped to `seconds`, at `rate` Hz."""
    x = read_audio(DEMO_INPUT, model_rate)[0]
    x = np.tile(x, int(np.ceil(seconds * model_rate / x.size)))[: int(seconds * model_rate)]
    return resample_stream(x, model_rate, rate)


def jack_device(sd) -> str:
    """Index (as text) of the JACK host API's default device."""
    for api in sd.query_hostapis():
        if api["name"].startswith("JACK") and api["default_input_device"] >= 0:
            return str(api["default_input_device"])
    raise jackio.StreamseError(f"PortAudio has no JACK host API: {jackio.SETUP_HINT}")


def e2e_run(streamer: HopStreamer, samplerate: int, blocksize: int, seconds: float, **options) -> dict:
    """Run the engine on a private virtual JACK card; returns the runner's summary plus
    measured_delay_samples, reported/measured delay in ms, match_snr_db, and `rec`/`ref`."""
    fs_m = streamer.sample_rate
    x = bench_signal(samplerate, seconds, fs_m)
    tail = int(0.5 * samplerate)
    got: dict = {}

    def play(engine, stream):
        vio = jackio.VirtualIO(x, tail)
        got["rec"] = vio.play_and_record()
        got["vio_xruns"] = vio.xruns

    with jackio.JackServer(f"streamse_e2e_{samplerate}_{blocksize}", samplerate, blocksize):
        sd = devices.load_sounddevice()
        jackio.reinit_portaudio(sd)
        try:
            dev = jack_device(sd)
            opts = LiveOptions(
                input=dev, output=dev, samplerate=samplerate, blocksize=blocksize, duration=0.0, **options
            )
            report = run_live(streamer, opts, out=io.StringIO(), on_started=play)
        finally:
            sd._terminate()  # close PortAudio's JACK client before the server goes
    sd._initialize()  # after the server is gone: PortAudio must not hold a client of it
    rec = got["rec"]
    y = resample_stream(x, samplerate, fs_m)
    ref = offline_at_phase(streamer, y, 0, samplerate)
    lag = jackio.measure_delay(rec, ref, tail)
    phase = best_frame_phase(streamer, rec, y, samplerate, blocksize, lag)
    if phase:
        ref = offline_at_phase(streamer, y, phase, samplerate)
        lag = jackio.measure_delay(rec, ref, tail)
    segments = delay_segments(rec, ref, report, blocksize)
    last = segments[-1][0]  # measured again over the stretch after the last delay raise
    final = lag if last == 0 else jackio.measure_delay(rec[last:], ref[last:], tail)
    report.update(
        frame_phase=phase,
        measured_delay_samples=lag,
        measured_delay_ms=1e3 * lag / samplerate,
        measured_final_delay_samples=final,
        measured_final_delay_ms=1e3 * final / samplerate,
        delay_segments=[(s / samplerate, 1e3 * k / samplerate) for s, k in segments],
        reported_latency_ms=report["latency_ms"],
        vio_xruns=got["vio_xruns"],
        match_snr_db=jackio.segmented_snr_db(rec, ref, segments),
        damaged=jackio.damaged_regions(rec, ref, sorted({k for _, k in segments}), blocksize),
        rec=rec,
        ref=ref,
        x=x,
    )
    return report


def delay_segments(rec: np.ndarray, ref: np.ndarray, report: dict, blocksize: int) -> list[tuple[int, int]]:
    """[(start, delay)] in device samples: the reported delay the capture is at, stretch by
    stretch (where the match is judged). Without a delay raise, the reported delay throughout;
    after k raises (the engine raises its delay by one model hop each time the model is late),
    each stretch at whichever of the reported delay and the k delays below it it matches
    (`jack_card.delay_segments`)."""
    reported = int(round(report["latency_samples"]))
    if not report["delay_growths"]:
        return [(0, reported)]
    step = report["delay_step_samples"]
    lags = [reported - k * step for k in range(report["delay_growths"] + 1)]
    return jackio.delay_segments(rec, ref, lags, blocksize)


def offline_at_phase(streamer: HopStreamer, y: np.ndarray, phase: int, samplerate: int) -> np.ndarray:
    """The streamer's offline output of y (model rate) with its frame grid `phase` samples
    earlier (that many zeros ahead of y, cut off again), resampled to `samplerate`."""
    out = after_lead(streamer.process, np.zeros(phase, np.float32), y.astype(np.float32))
    return resample_stream(out, streamer.sample_rate, samplerate)


def candidate_phases(hop: int, samplerate: int, model_rate: int, blocksize: int) -> range:
    """Frame phases (model-rate samples, 0..hop-1) a lead of whole device blocks can give."""
    block_m = blocksize * model_rate / samplerate
    step = math.gcd(hop, int(block_m)) if block_m == int(block_m) else 1
    return range(0, hop, step)


def best_frame_phase(
    streamer: HopStreamer,
    rec: np.ndarray,
    y: np.ndarray,
    samplerate: int,
    blocksize: int,
    lag: int,
    probe_s: float = 2.0,
) -> int:
    """The candidate phase whose offline output matches the capture best at `lag`, judged on
    the first `probe_s` seconds of y (model rate)."""
    phases = candidate_phases(streamer.hop, samplerate, streamer.sample_rate, blocksize)
    if len(phases) == 1:
        return 0
    head = y[: int(probe_s * streamer.sample_rate)]
    scores = {p: jackio.snr_db(rec, offline_at_phase(streamer, head, p, samplerate), lag) for p in phases}
    return max(scores, key=scores.get)


def run_e2e_bench(
    model: str, samplerate: int = 48000, blocksize: int = 480, threads: int = 1, seconds: float = 5.0
) -> dict:
    """Measured end-to-end delay of `model` through the virtual JACK device (needs jackd2,
    libportaudio2, JACK-Client). Returns JSON-able numbers."""
    from streamse.runtime import load_streamer

    if isinstance(model, (list, tuple)):
        model = model[0] if model else "crn"
    streamer = load_streamer(model or "crn", threads=threads or 1)
    r = e2e_run(streamer, samplerate, blocksize, seconds)
    keys = (
        "reported_latency_ms",
        "measured_delay_ms",
        "measured_final_delay_ms",
        "delay_growths",
        "device_latency_ms",
        "match_snr_db",
        "frame_phase",
        "underruns",
        "device_xruns",
        "resyncs",
        "probe_rtf",
        "probe_tail",
        "rtf",
        "ms_per_hop",
        "callback_max_ms",
    )
    return {
        "model": model,
        "samplerate": samplerate,
        "blocksize": blocksize,
        **{k: r[k] if isinstance(r[k], int) else round(float(r[k]), 3) for k in keys},
        "delay_segments": [[round(t, 3), round(ms, 3)] for t, ms in r["delay_segments"]],
    }
