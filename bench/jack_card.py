"""A virtual sound card for tests and `bench --e2e`: jackd's dummy backend plus a JACK-Client
"vio" that plays a signal into PortAudio's input ports and records its first output port in the
same JACK cycle (sample-accurate). Recipe: /work/shared/headless-audio.md (jackd2 dummy).

Order matters: start the server before PortAudio initialises (`reinit_portaudio`), and close
PortAudio before the server stops (else pa_jack asserts / segfaults).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from collections.abc import Sequence

import numpy as np

from streamse.errors import StreamseError, require

SETUP_HINT = "apt-get install libportaudio2 jackd2 && pip install JACK-Client"


class JackServer:
    """`jackd -n NAME -d dummy -r RATE -p PERIOD`; sets JACK_DEFAULT_SERVER while it runs."""

    def __init__(self, name: str, rate: int, period: int):
        self.name, self.rate, self.period = name, rate, period
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "JackServer":
        if shutil.which("jackd") is None:
            raise StreamseError(f"jackd not found: {SETUP_HINT}")
        rt_ok = subprocess.run(["chrt", "-f", "10", "true"], capture_output=True).returncode == 0
        cmd = [
            "jackd",
            "-n",
            self.name,
            *([] if rt_ok else ["--no-realtime"]),
            "-d",
            "dummy",
            "-r",
            str(self.rate),
            "-p",
            str(self.period),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._env = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        os.environ["JACK_NO_START_SERVER"] = "1"  # never let a client spawn a default server
        ok = subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True).returncode == 0
        if not ok:
            self.__exit__()
            raise StreamseError(f"jackd {self.name} did not start ({' '.join(cmd)})")
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        for key, value in getattr(self, "_env", {}).items():
            if key == "JACK_DEFAULT_SERVER":
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def reinit_portaudio(sd) -> None:
    """Re-scan host APIs (private sounddevice calls; needed after jackd starts or stops)."""
    sd._terminate()
    sd._initialize()


class VirtualIO:
    """Plays x (n,) float32 into every `client`:in_* port and records `client`:out_0 into
    (n + tail,) float32; recording index i is the JACK frame on which x[i] was played."""

    def __init__(
        self,
        x: np.ndarray,
        tail: int,
        client: str = "PortAudio",
        inputs: str | None = None,
        output: str | None = None,
    ):
        """inputs / output: full port-name patterns (regular expressions; default: `client`'s
        in_* and out_* ports): x is played into every matching input port and the first
        matching output port is recorded."""
        jack = require("jack", "test")
        self.x = np.asarray(x, dtype=np.float32)
        self.rec = np.zeros(self.x.size + tail, dtype=np.float32)
        self.pos, self.armed, self.client = 0, False, client
        self.inputs = inputs or f"{client}:in_.*"
        self.output = output or f"{client}:out_.*"
        self.jc = jack.Client("vio", no_start_server=True)
        self.mic = self.jc.outports.register("mic")
        self.spk = self.jc.inports.register("spk")
        self.jc.set_process_callback(self._process)
        self.xruns = 0  # JACK xruns seen while the client ran (cycles may have been lost)
        self.jc.set_xrun_callback(self._xrun)

    def _xrun(self, delay_usecs: float) -> None:
        self.xruns += 1

    def _process(self, n: int) -> None:
        o, i = self.mic.get_array(), self.spk.get_array()
        if not self.armed:
            o[:] = 0
            return
        p = self.pos
        m = max(0, min(n, self.x.size - p))
        o[:m] = self.x[p : p + m]
        o[m:] = 0
        k = max(0, min(n, self.rec.size - p))
        self.rec[p : p + k] = i[:k]
        self.pos = p + n

    def play_and_record(self, connect_timeout: float = 20.0) -> np.ndarray:
        """Wait for the client's ports, connect, play and record everything; return rec."""
        with self.jc:
            deadline = time.monotonic() + connect_timeout
            while True:
                ins = self.jc.get_ports(self.inputs, is_audio=True, is_input=True)
                outs = self.jc.get_ports(self.output, is_audio=True, is_output=True)
                if ins and outs:
                    break
                if time.monotonic() > deadline:
                    raise StreamseError(f"no JACK ports {self.inputs} / {self.output} appeared")
                time.sleep(0.05)
            for port in ins:
                self.jc.connect(self.mic, port)
            self.jc.connect(outs[0], self.spk)
            time.sleep(0.2)
            self.armed = True
            while self.pos < self.rec.size:
                time.sleep(0.02)
        return self.rec


def block_errors(rec: np.ndarray, ref_blocks: np.ndarray, lag: int) -> np.ndarray:
    """Mean squared difference (nb,) between rec at `lag` and ref, block by block; ref_blocks
    (nb, block) is ref's first nb blocks."""
    nb, block = ref_blocks.shape
    return ((rec[lag : lag + nb * block].reshape(nb, block) - ref_blocks) ** 2).mean(axis=1)


def measure_delay(rec: np.ndarray, ref: np.ndarray, max_lag: int, block: int = 256) -> int:
    """Lag (samples, 0..max_lag) at which rec[lag:] is ref: the cross-correlation's peak, then,
    among the lags within 4 samples of it, the one at which the best quarter of ref's audible
    blocks match best (relative error).

    Above the model's rate the signal is band-limited, so the peak is a few samples wide, and
    the rest of the capture (a stretch at the delay before a delay raise, a fallback playing
    the dry input) can move it by a sample; the blocks that do match tell the exact lag."""
    n = 1 << int(rec.size + ref.size).bit_length()
    corr = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)
    peak = int(np.argmax(corr[: max_lag + 1]))
    lags = range(max(0, peak - 4), min(max_lag, peak + 4) + 1)
    nb = min(ref.size, rec.size - lags[-1]) // block
    if nb <= 0:
        return peak
    r = ref[: nb * block].reshape(nb, block)
    energy = (r**2).mean(axis=1)
    audible = energy > 0.01 * energy.mean()
    if not audible.any():
        return peak
    return min(
        lags, key=lambda k: float(np.quantile(block_errors(rec, r, k)[audible] / energy[audible], 0.25))
    )


def damaged_regions(
    rec: np.ndarray, ref: np.ndarray, lag: int | Sequence[int], block: int, floor_db: float = -30.0
) -> list[tuple[int, int]]:
    """Stretches (start, end) of ref's time axis where, block by block, rec (at `lag`, or at
    the best of several lags: the delays before and after a delay raise) differs from ref by
    more than `floor_db` relative to ref's mean block energy: where the capture is not the
    model's output (an xrun, a fallback, a lost JACK cycle). Adjacent blocks merge."""
    lags = [lag] if isinstance(lag, (int, np.integer)) else list(lag)
    nb = min(ref.size, rec.size - max(lags)) // block
    if nb <= 0:
        return [(0, ref.size)]
    r = ref[: nb * block].reshape(nb, block)
    err = np.min([block_errors(rec, r, k) for k in lags], axis=0)
    energy = float((r**2).mean()) or 1e-20
    bad = err > energy * 10 ** (floor_db / 10)
    regions, start = [], None
    for k, b in enumerate(bad):
        if b and start is None:
            start = k
        elif not b and start is not None:
            regions.append((start * block, k * block))
            start = None
    if start is not None:
        regions.append((start * block, nb * block))
    return regions


def delay_segments(
    rec: np.ndarray, ref: np.ndarray, lags: Sequence[int], block: int
) -> list[tuple[int, int]]:
    """Which of the candidate `lags` rec follows where: [(start, lag), ...] on ref's time axis,
    lags rising. The live engine raises its delay by a model hop when the model is late, so a
    capture is at one delay before a raise and at the next after it; `lags` are those delays
    (the final reported one and each one hop below it). The path through them is the rising
    one (delays never fall) with the least total block error, each block's error relative to
    its energy and capped at 1, so a stretch that matches no lag (the dry fallback while the
    model is late) weighs no more than a mismatch; quiet blocks cost nothing."""
    lags = sorted(set(int(k) for k in lags))
    nb = min(ref.size, rec.size - lags[-1]) // block
    if nb <= 0 or len(lags) == 1:
        return [(0, lags[-1] if nb <= 0 else lags[0])]
    r = ref[: nb * block].reshape(nb, block)
    energy = (r**2).mean(axis=1)
    audible = energy > 0.01 * energy.mean()
    err = np.stack([block_errors(rec, r, k) for k in lags])  # (lags, nb)
    cost = np.where(audible, np.minimum(err / np.maximum(energy, 1e-20), 1.0), 0.0)
    # dynamic programme: d[i, k] = least cost of blocks 0..k with block k at lag i, lags rising
    d, came = np.empty_like(cost), np.zeros(cost.shape, dtype=np.int64)
    d[:, 0] = cost[:, 0]
    for k in range(1, nb):
        prev = d[:, k - 1]
        arg = np.array([int(np.argmin(prev[: i + 1])) for i in range(len(lags))])
        came[:, k] = arg
        d[:, k] = cost[:, k] + prev[arg]
    i, path = int(np.argmin(d[:, -1])), []
    for k in range(nb - 1, -1, -1):
        path.append(i)
        i = int(came[i, k])
    path.reverse()
    segments = [(0, lags[path[0]])]
    for k in range(1, nb):
        if path[k] != path[k - 1]:
            segments.append((k * block, lags[path[k]]))
    return segments


def segmented_snr_db(rec: np.ndarray, ref: np.ndarray, segments: Sequence[tuple[int, int]]) -> float:
    """`snr_db` with each stretch of ref taken at its own lag (`delay_segments`)."""
    num = den = 0.0
    for i, (start, lag) in enumerate(segments):
        end = segments[i + 1][0] if i + 1 < len(segments) else ref.size
        seg = rec[lag + start : lag + end]
        r = ref[start : start + seg.size]
        num += float(np.sum(r**2))
        den += float(np.sum((seg - r) ** 2))
    return float(10 * np.log10(num / max(den, 1e-20))) if num else float("-inf")


def snr_db(rec: np.ndarray, ref: np.ndarray, lag: int) -> float:
    """How well rec[lag:] matches ref (dB); both (n,) float."""
    return segmented_snr_db(rec, ref, [(0, lag)])
