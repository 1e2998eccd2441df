"""`streamse live --virtual-mic [NAME]`: publish the denoised microphone as a capture device
that any application can pick, on PipeWire or JACK.

How (and why this way):

- streamse runs as a JACK client named NAME (the `jack` package, JACK-Client): one input port
  fed by the chosen capture port, one output port with the enhanced signal, the live engine's
  callback in the JACK process callback (same engine, same guarantees: fixed reported delay,
  held and crossfaded fallback, counted xruns). The server's period is the engine's block.
- **JACK** (jackd2): the output port `NAME:output` is what other JACK clients connect to.
- **PipeWire**: the same client, through PipeWire's own libjack (loaded from PipeWire's
  folder before `jack` is imported), plus a virtual source node made by the server itself
  (`support.null-audio-sink` with `media.class = Audio/Source/Virtual`): PulseAudio clients
  (`parecord -d`, browsers, Zoom), PipeWire clients (`pw-record --target`) and JACK clients
  all list it as a microphone. The node is owned by a `pw-cli` child process with
  `object.linger = false`: it exists exactly as long as that child, and the child is killed by
  the kernel when streamse dies, however it dies (PR_SET_PDEATHSIG), so no stale device is
  left behind; a second streamse with the same name is refused instead of duplicating it.
  (A PipeWire filter-chain or a pactl null sink would also work, but a pactl module outlives a
  killed streamse, and a filter-chain cannot host our engine.)
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


from streamse.errors import StreamseError, require

DEFAULT_NAME = "streamse microphone"
ENGINE_CLIENT = "streamse-engine"  # our JACK client's name on PipeWire
PIPEWIRE_LIBJACK = (
    "/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack/libjack.so.0",
    "/usr/lib/aarch64-linux-gnu/pipewire-0.3/jack/libjack.so.0",
    "/usr/lib64/pipewire-0.3/jack/libjack.so.0",
    "/usr/lib/pipewire-0.3/jack/libjack.so.0",
)
BACKENDS = ("pipewire", "jack")


def node_name(name: str) -> str:
    """PipeWire node name for a display name: 'streamse microphone' -> 'streamse_microphone'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip()) or "streamse_microphone"


# --- what is running -------------------------------------------------------------------------
def _run(cmd: list[str], timeout: float = 3.0) -> subprocess.CompletedProcess | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (subprocess.TimeoutExpired, OSError):
        return None


def pipewire_status() -> tuple[bool, str]:
    """(usable, one-line reason) for the PipeWire back end."""
    if shutil.which("pw-cli") is None:
        return False, "not installed (pw-cli not found; apt-get install pipewire-bin)"
    if _pipewire_libjack() is None:
        return False, "PipeWire's libjack not found (apt-get install pipewire-jack)"
    info = _run(["pw-cli", "info", "0"])
    if info is None or info.returncode != 0 or "version" not in info.stdout:
        return False, "not running (pw-cli cannot reach a PipeWire server)"
    version = re.search(r'version\s*=\s*"([^"]+)"', info.stdout)
    return True, f"running{f' (version {version.group(1)})' if version else ''}"


def jack_status() -> tuple[bool, str]:
    """(usable, one-line reason) for the JACK back end (a jackd server, not PipeWire's)."""
    if shutil.which("jack_lsp") is None and shutil.which("jackd") is None:
        return False, "not installed (apt-get install jackd2)"
    lsp = _run(["jack_lsp"]) if shutil.which("jack_lsp") else None
    if lsp is None or lsp.returncode != 0:
        return False, "no JACK server running"
    return True, "running"


def backend_report() -> str:
    """Lines for `streamse live --list-devices`: each virtual-mic back end and why (not)."""
    lines = ["virtual microphone back ends (streamse live --virtual-mic):"]
    for name, (ok, why) in (("PipeWire", pipewire_status()), ("JACK", jack_status())):
        lines.append(f"  {name}: {why}")
    return "\n".join(lines)


def choose_backend(wanted: str = "auto") -> str:
    """'pipewire' or 'jack' (auto: PipeWire when it runs, else JACK); one-line error if the
    wanted one cannot be used."""
    status = {"pipewire": pipewire_status(), "jack": jack_status()}
    if wanted == "auto":
        for name in BACKENDS:
            if status[name][0]:
                return name
        raise StreamseError(
            "no back end for a virtual microphone: PipeWire: "
            f"{status['pipewire'][1]}; JACK: {status['jack'][1]}"
        )
    if wanted not in status:
        raise StreamseError(f"--backend {wanted}: use auto, pipewire or jack")
    if not status[wanted][0]:
        raise StreamseError(f"--backend {wanted}: {status[wanted][1]}")
    return wanted


def _pipewire_libjack() -> str | None:
    return next((p for p in PIPEWIRE_LIBJACK if Path(p).is_file()), None)


def load_jack(backend: str):
    """Import `jack` bound to the right libjack: PipeWire's for the pipewire back end (loaded
    first, globally, so JACK-Client's dlopen finds it), the system's for jackd."""
    import sys

    if backend == "pipewire":
        lib = _pipewire_libjack()
        if "jack" in sys.modules and not getattr(load_jack, "pipewire", False):
            raise StreamseError(
                "the JACK library was loaded before PipeWire's could be: "
                "start streamse afresh for --backend pipewire"
            )
        ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
        load_jack.pipewire = True
    return require("jack", "live")


# --- the PipeWire source node ----------------------------------------------------------------
def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when streamse dies


def pipewire_nodes(name: str) -> int:
    """How many PipeWire nodes are named `name` now."""
    out = _run(["pw-cli", "ls", "Node"])
    if out is None or out.returncode != 0:
        return 0
    return len(re.findall(rf'node\.name = "{re.escape(name)}"', out.stdout))


class VirtualSource:
    """A PipeWire virtual source node `node` ('description' in device lists), alive while this
    object is open (module doc). Its input port is `<node>:input_MONO`."""

    def __init__(self, node: str, description: str):
        self.node, self.description = node, description
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "VirtualSource":
        if pipewire_nodes(self.node):
            raise StreamseError(
                f"a PipeWire node named {self.node!r} exists already (another "
                "streamse --virtual-mic?): stop it or choose another name"
            )
        props = (
            f"factory.name=support.null-audio-sink node.name={self.node} "
            f'node.description="{self.description}" media.class=Audio/Source/Virtual '
            "audio.position=[MONO] object.linger=false resample.disable=true"
        )
        self.proc = subprocess.Popen(
            ["pw-cli"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=_die_with_parent,
        )
        self.proc.stdin.write(f"create-node adapter {{ {props} }}\n")
        self.proc.stdin.flush()  # stdin stays open: pw-cli, and the node, live until close
        deadline = time.monotonic() + 5.0
        while not pipewire_nodes(self.node):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise StreamseError(f"PipeWire did not create the node {self.node!r}")
            time.sleep(0.05)
        return self

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def __exit__(self, *exc) -> None:
        self.close()


# --- the JACK client as the engine's stream --------------------------------------------------
@dataclass(frozen=True)
class _Xrun:
    """The `status` the engine's callback gets after a JACK xrun (PortAudio's flag names)."""

    input_overflow: bool = True
    output_underflow: bool = False

    def __bool__(self) -> bool:
        return True


XRUN = _Xrun()


class JackStream:
    """A JACK client that drives an engine callback, with the stream interface the runner
    uses (start, active, latency, abort, close)."""

    def __init__(self, jack, name: str):
        try:
            self.client = jack.Client(name, no_start_server=True)
        except jack.JackError as exc:
            raise StreamseError(f"cannot reach the JACK/PipeWire server as {name!r}: {exc}") from None
        self.inport = self.client.inports.register("input")
        self.outport = self.client.outports.register("output")
        self.callback = None
        self.source: VirtualSource | None = None  # closed with the stream
        self._xruns_pending = 0
        self._dead = False
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._on_xrun)
        self.client.set_shutdown_callback(self._on_shutdown)

    @property
    def samplerate(self) -> int:
        return int(self.client.samplerate)

    @property
    def blocksize(self) -> int:
        return int(self.client.blocksize)

    def _process(self, frames: int) -> None:
        outdata = self.outport.get_array()[:, None]
        callback = self.callback
        if callback is None:
            outdata.fill(0)
            return
        status = XRUN if self._xruns_pending else None
        self._xruns_pending = 0
        callback(self.inport.get_array()[:, None], outdata, frames, None, status)

    def _on_xrun(self, delay_usecs: float) -> None:
        self._xruns_pending += 1  # reported to the engine with the next cycle

    def _on_shutdown(self, status, reason) -> None:
        self._dead = True

    @property
    def active(self) -> bool:
        return not self._dead

    @property
    def latency(self) -> tuple[float, float]:
        """(input, output) seconds: one period each way, as the server schedules it."""
        period = self.blocksize / self.samplerate
        return period, period

    def start(self) -> None:
        self.client.activate()

    def connect_input(self, spec: str | None) -> str:
        """Connect our input to the first capture port whose name contains `spec` (case
        insensitive; default: the first physical capture port). Returns its name."""
        ports = self.client.get_ports(is_audio=True, is_output=True)
        ours = {p.name for p in self.client.get_ports(f"{re.escape(self.client.name)}:.*")}
        ports = [p for p in ports if p.name not in ours]
        if spec is None:
            cand = [p for p in ports if p.is_physical] or ports
        else:
            cand = [p for p in ports if spec.lower() in p.name.lower()]
        if not cand:
            names = ", ".join(p.name for p in ports) or "none"
            raise StreamseError(f"no capture port matches {spec!r}; capture ports: {names}")
        self.client.connect(cand[0], self.inport)
        return cand[0].name

    def connect_output(self, port: str) -> None:
        self.client.connect(self.outport, port)

    def monitor(self) -> list[str]:
        """Also play the enhanced signal to the first physical playback port."""
        outs = self.client.get_ports(is_audio=True, is_input=True, is_physical=True)
        if outs:
            self.client.connect(self.outport, outs[0])
        return [p.name for p in outs[:1]]

    def abort(self) -> None:
        """Silence our output from the next cycle on. The client is NOT deactivated: PipeWire's
        libjack cancels its data thread on deactivate, and a thread cancelled inside our
        Python callback dies holding the GIL, freezing the process (seen at quantum 32). The
        server drops the client when the process exits (the CLI exits right after the run)."""
        self.callback = None

    def close(self) -> None:
        if self.source is not None:
            self.source.close()


class VirtualMicDevice:
    """The virtual-microphone stream for `run_live` (see streamse/live/runner.py, `Device`)."""

    def __init__(
        self,
        name: str = DEFAULT_NAME,
        backend: str = "auto",
        monitor: bool = False,
        quantum: int | None = None,
        rate: int | None = None,
    ):
        """quantum: frames per cycle to ask PipeWire for (PIPEWIRE_QUANTUM; JACK's period is
        the server's own setting), at `rate` Hz (default 48000)."""
        self.name, self.monitor_out = name, monitor
        self.backend = choose_backend(backend)
        self.stream: JackStream | None = None
        if quantum is not None:
            if self.backend != "pipewire":
                raise StreamseError(
                    "--quantum is PipeWire's; a JACK server's period is set when jackd starts (-p)"
                )
            os.environ["PIPEWIRE_QUANTUM"] = f"{quantum}/{rate or 48000}"

    def plan(self, opts):
        """Create the client (and for PipeWire the source node); rate and block are the
        server's."""
        from streamse.live.runner import StreamPlan

        jack = load_jack(self.backend)
        source = None
        if self.backend == "pipewire":
            source = VirtualSource(node_name(self.name), self.name).__enter__()
        # on PipeWire the JACK port names use the node description: our own client must not
        # take the microphone's name, or its ports and the source's would share a prefix
        client = self.name if source is None else ENGINE_CLIENT
        try:
            self.stream = JackStream(jack, client)
        except BaseException:
            if source is not None:
                source.close()
            raise
        self.stream.source = source
        s = self.stream
        return StreamPlan((-1, -1), s.samplerate, (1, 1), s.blocksize)

    def open(self, streamer, opts, speed, plan):
        from streamse.live.runner import make_engine

        engine = make_engine(streamer, opts, speed, plan)
        self.stream.callback = engine.callback
        return engine, self.stream

    def connect(self, opts) -> str:
        """After start: wire the input, the published output and the monitor; a line that says
        where things are."""
        s = self.stream
        src = s.connect_input(opts.input)
        if s.source is not None:
            s.connect_output(f"{s.source.description}:input_MONO")
            where = f"PipeWire source {s.source.node!r} ({self.name!r})"
        else:
            where = f"JACK port '{s.client.name}:output'"
        mon = s.monitor() if self.monitor_out else []
        return (
            f"virtual microphone {where}, input {src}"
            + (f", monitor {mon[0]}" if mon else "")
            + f", server quantum {s.blocksize} at {s.samplerate} Hz"
        )
