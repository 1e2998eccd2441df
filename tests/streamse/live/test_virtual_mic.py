"""`streamse live --virtual-mic` against real sound servers: a private PipeWire (the default
on current Linux desktops) and jackd2 (dummy backend). The noisy file is played into a virtual
capture device; ordinary clients of the server record the streamse microphone: a JACK client
(sample-accurate, for the delay) and parecord (a PulseAudio client, as browsers and call apps
are). Under CI every piece must be there (.ci/run installs it); elsewhere the tests skip only
when the servers are not installed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipewire_server import PipeWireServer, missing

from streamse.demo import DEMO_INPUT
from bundled import ROOT, streamse_argv
from live_process import start_live

NODE = "streamse_microphone"
FS = 48000


@pytest.fixture(scope="module")
def pipewire(tmp_path_factory):
    gone = missing()
    if gone and not os.environ.get("CI"):
        pytest.skip(f"PipeWire not installed here ({gone}); .ci/run installs it")
    assert not gone, f"CI must install PipeWire first: {gone}"
    with PipeWireServer(tmp_path_factory.mktemp("pw")) as server:
        yield server


@pytest.fixture(scope="module")
def noisy48(tmp_path_factory) -> Path:
    import soxr

    x, fs = sf.read(DEMO_INPUT, dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "noisy48.wav"
    sf.write(path, np.tile(soxr.resample(x, fs, FS), 2).astype(np.float32), FS, subtype="FLOAT")
    return path


def start_vmic(env: dict, duration: float, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    """`streamse live --virtual-mic` with `env`, returned once it streams."""
    return start_live(["--model", "crn", "--virtual-mic", "--duration", str(duration), *extra], env)


def finish(proc: subprocess.Popen, lines: list[str], timeout: float = 60) -> str:
    try:
        err = proc.communicate(timeout=timeout)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return "".join(lines) + err


def summary_numbers(err: str) -> dict:
    m = re.search(r"\(([\d.]+) samples at (\d+) Hz\)", err)
    u = re.search(r"xruns: (\d+) underruns .*?, (\d+) overruns, (\d+) device xruns", err)
    g = re.search(r"delay raised (\d+) time", err)
    f = re.search(r"fallback: (\d+) switches", err)
    assert m and u and g and f, err
    return {
        "latency_samples": float(m.group(1)),
        "rate": int(m.group(2)),
        "underruns": int(u.group(1)),
        "overruns": int(u.group(2)),
        "device_xruns": int(u.group(3)),
        "delay_growths": int(g.group(1)),
        "fallback_switches": int(f.group(1)),
    }


def reference(x: np.ndarray, rate: int, phase: int = 0, seconds: float | None = None) -> np.ndarray:
    """The model's output for x at `rate`, as the engine makes it (resampled to 16 kHz and
    back), when x started `phase` samples into the engine's input stream after digital silence.
    The model's lead gate makes whole hops of leading zeros exact; the position inside a hop
    (0..479 at 48 kHz) still changes the output of a non-linear mask model (an input shifted
    by one 48 kHz sample gives an output only ~22 dB like the unshifted one). One more hop of
    zeros ahead keeps the resampler's pre-ringing before the file's first sample, as live."""
    from streamse.dsp.resample import resample_stream
    from streamse.runtime import load_streamer

    x = x[: int(seconds * rate)] if seconds else x
    phase += rate // 100
    z = np.concatenate([np.zeros(phase, np.float32), x])
    y = load_streamer("crn").process(resample_stream(z, rate, 16000))
    return resample_stream(y, 16000, rate)[phase : phase + x.size]


def aligned_reference(rec: np.ndarray, x: np.ndarray, rate: int, lags: list[int]) -> np.ndarray:
    """reference() at the phase inside a hop where the file entered the engine (not knowable
    from outside: the server started the stream at some quantum): the phase whose output
    matches rec best over the first 2 s (the model is causal), coarse then fine, at the best of
    the delays the capture held (the first 2 s may precede a delay raise)."""
    from streamse.bench.jack_card import snr_db

    hop = rate // 100

    def score(p: int) -> float:
        ref = reference(x, rate, p, seconds=2.0)
        return max(snr_db(rec, ref, lag) for lag in lags)

    best = max(range(0, hop, 16), key=score)
    best = max(range(best - 8, best + 9), key=lambda p: score(p % hop)) % hop
    return reference(x, rate, best)


def delays(got: dict, capture_buffer: int = 0) -> list[int]:
    """The delays (samples) a capture may hold: the reported one at the end, less a hop for
    each time the engine raised it, less a capture buffer the harness does not have."""
    final = round(got["latency_samples"]) - capture_buffer
    return [final - FS // 100 * k for k in range(got["delay_growths"] + 1)]


def check_capture(
    rec: np.ndarray, ref: np.ndarray, lags: list[int], reported: int, got: dict, err: str
) -> None:
    """The capture is the model's output: with nothing reported, close to it throughout;
    otherwise every stretch unlike it (at any of the delays it held) is one the summary
    counted: an xrun, a switch to or from the dry fallback, or the switch to a raised delay."""
    from streamse.bench.jack_card import damaged_regions, snr_db

    reported += got["fallback_switches"]
    if reported == 0 and len(lags) == 1:
        assert snr_db(rec, ref, lags[0]) > 25.0, (snr_db(rec, ref, lags[0]), err)
    damaged = damaged_regions(rec, ref, lags, FS // 100)
    assert len(damaged) <= reported + len(lags) - 1, (damaged, err)


def harness(env: dict, wav: Path, out: Path, inputs: str, output: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "vio_run.py"),
            str(wav),
            str(out),
            "--inputs",
            inputs,
            "--output",
            output,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_pipewire_microphone_is_the_enhanced_speech_at_the_reported_delay(pipewire, noisy48, tmp_path):
    """Zero underruns at the default quantum, the capture the model's output at the reported
    delay, and a PulseAudio client records the same. One session may be re-run, only when its
    worker was late (the engine raised its delay) and an underrun followed: on a 2-core CI
    machine a stall elsewhere once took one hop to 7.5 ms (mean 0.5 ms) in the full suite while
    the session passed alone 3 of 3 times; the second session is held to every assertion."""
    from streamse.bench.jack_card import measure_delay, snr_db

    for attempt in range(2):
        got, err, rec, ref, lags, y = _microphone_session(pipewire, noisy48, tmp_path / f"run{attempt}")
        if attempt == 1 or not (got["underruns"] and got["delay_growths"]):
            break
    assert got["underruns"] == 0, err  # the bar: none at the default quantum
    check_capture(rec, ref, lags, got["underruns"] + got["overruns"] + got["device_xruns"], got, err)
    assert y.size > FS  # parecord, a PulseAudio client, recorded the same enhanced speech
    k = measure_delay(y, ref, 4 * FS)
    assert snr_db(y, ref, k) > 20.0, snr_db(y, ref, k)


def _microphone_session(pipewire, noisy48, tmp_path):
    """One 14 s vmic session with speech played into it -> (summary numbers, stderr, capture,
    aligned reference, possible delays, what parecord recorded); asserts what does not depend
    on the machine's load (the reported delay, the harness's own cycles)."""
    tmp_path.mkdir()
    proc, lines = start_vmic(pipewire.env, 14.0, "-i", "vmic")  # outlasts the 9.7 s played
    assert pipewire.nodes(NODE) == 1 and NODE in pipewire.sources()  # a Pulse-visible source
    pulse = subprocess.Popen(
        [
            "parecord",
            "-d",
            NODE,
            "--rate",
            str(FS),
            "--channels",
            "1",
            "--format",
            "float32le",
            "--file-format=wav",
            str(tmp_path / "pulse.wav"),
        ],
        env=pipewire.env,
    )
    vio = harness(
        pipewire.jack_env, noisy48, tmp_path / "rec.npy", "vmic:playback_.*", "streamse microphone:capture_.*"
    )
    assert vio.wait(60) == 0, vio.stdout.read()
    pulse.terminate()
    pulse.wait(10)
    err = finish(proc, lines)
    assert proc.returncode == 0, err
    from streamse.bench.jack_card import measure_delay

    got = summary_numbers(err)
    print(f"default quantum: {got}")
    raw = np.load(tmp_path / "rec.npy")
    harness_xruns, rec = int(raw[0]), raw[1:]
    x = sf.read(noisy48, dtype="float32")[0]
    lag = measure_delay(rec, reference(x, FS), FS)
    # vmic hands what is played into it to its capture port one quantum later, as a sound
    # card does: that is the capture half of the reported device latency. A model late under
    # CPU load raises the delay by a hop (480 at 48 kHz) each time (the summary says how
    # often): the capture then holds the reported delays before and after.
    lags = delays(got)
    assert lag in lags, (lag, err)
    ref = aligned_reference(rec, x, FS, lags)
    assert harness_xruns == 0, err
    return got, err, rec, ref, lags, sf.read(tmp_path / "pulse.wav", dtype="float32")[0]


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_pipewire_microphone_vanishes_with_streamse(pipewire, sig):
    """Stopped or killed, streamse leaves no device behind; a restart makes exactly one."""
    for attempt in range(2):
        proc, lines = start_vmic(pipewire.env, 60.0, "-i", "vmic")
        assert pipewire.nodes(NODE) == 1, pipewire.sources()
        if attempt == 1:
            break
        proc.send_signal(getattr(signal, sig))
        finish(proc, lines, timeout=15)
        deadline = time.monotonic() + 3.0
        while pipewire.nodes(NODE) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pipewire.nodes(NODE) == 0, pipewire.sources()
    proc.terminate()
    finish(proc, lines, timeout=15)
    assert pipewire.nodes(NODE) == 0


def test_pipewire_microphone_at_quantum_64_has_no_underruns(pipewire, noisy48, tmp_path):
    """64 frames per cycle at 48 kHz (1.3 ms): 10 s with speech flowing, no underruns."""
    proc, lines = start_vmic(pipewire.env, 10.0, "-i", "vmic", "--quantum", "64")
    assert "server quantum 64 at 48000 Hz" in lines[-1], lines[-1]
    play = subprocess.Popen(["pw-play", "--target", "vmic", str(noisy48)], env=pipewire.env)
    err = finish(proc, lines)
    play.wait(30)
    got = summary_numbers(err)
    print(f"quantum 64: {got}")
    assert proc.returncode == 0, err
    assert got["underruns"] == 0 and got["device_xruns"] == 0, err


def test_second_microphone_with_the_same_name_is_refused(pipewire):
    proc, lines = start_vmic(pipewire.env, 60.0, "-i", "vmic")
    try:
        argv = streamse_argv("live", "--model", "crn", "--virtual-mic", "-i", "vmic", "--duration", "2")
        env = dict(pipewire.env, PYTHONPATH=str(ROOT))
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "exists already" in r.stderr, r.stderr
        assert pipewire.nodes(NODE) == 1
    finally:
        proc.terminate()
        finish(proc, lines)


def test_jack_microphone_ports_carry_the_enhanced_speech(need_jack, noisy48):
    """jackd2: streamse is a JACK client 'streamse microphone' whose output port other JACK
    clients record; the delay is the reported one, exactly."""
    from streamse.bench import jack_card as jackio
    from streamse.bench.jack_card import measure_delay

    x = sf.read(noisy48, dtype="float32")[0]
    with jackio.JackServer("streamse_vmic", FS, 480):
        proc, lines = start_vmic(dict(os.environ), 13.0, "--backend", "jack", "-i", "system:capture_1")
        try:
            vio = jackio.VirtualIO(
                x, FS // 2, inputs="streamse microphone:input", output="streamse microphone:output"
            )
            rec = vio.play_and_record()
        finally:
            err = finish(proc, lines)
    assert proc.returncode == 0, err
    got = summary_numbers(err)
    lag = measure_delay(rec, reference(x, FS), FS)
    # the reported device latency counts a sound card's capture period (480 here) and its
    # playback period; this harness feeds our input port directly, with no capture buffer.
    # A model late under CPU load raises the delay by a hop (480 at 48 kHz) each time (the
    # summary says how often): the capture then holds the reported delays before and after.
    lags = delays(got, capture_buffer=480)
    assert lag in lags, (lag, err)
    ref = aligned_reference(rec, x, FS, lags)
    reported = got["underruns"] + got["device_xruns"] + got["overruns"] + vio.xruns
    check_capture(rec, ref, lags, reported, got, err)
