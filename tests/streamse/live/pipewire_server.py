"""A private PipeWire server for tests: D-Bus session bus, pipewire, wireplumber and
pipewire-pulse under a temporary XDG_RUNTIME_DIR, with one virtual capture device `vmic` (a
null-audio-sink Duplex node: what is played into vmic:playback_MONO comes out of
vmic:capture_MONO one quantum later, as from a microphone). Recipe: shared/headless-audio.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

PACKAGES = ("pipewire", "wireplumber", "pipewire-pulse", "pw-cli", "pw-metadata", "dbus-daemon", "parecord")
CONF = """context.properties = {
    clock.power-of-two-quantum = false
    default.clock.allowed-rates = [ 16000 48000 ]
}
context.objects = [
    { factory = adapter
      args = { factory.name = support.null-audio-sink node.name = vmic node.description = vmic
               media.class = Audio/Duplex audio.position = [ MONO ] object.linger = true } }
]
"""
LIBJACK_DIR = "/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack"


def missing() -> list[str]:
    return [p for p in PACKAGES if shutil.which(p) is None]


class PipeWireServer:
    def __init__(self, root: Path):
        self.root = Path(root)
        run = self.root / "run"
        self.env = dict(
            os.environ,
            XDG_RUNTIME_DIR=str(run),
            XDG_CONFIG_HOME=str(self.root / "conf"),
            XDG_STATE_HOME=str(self.root / "state"),
            DBUS_SESSION_BUS_ADDRESS=f"unix:path={run}/bus",
        )
        for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER", "PIPEWIRE_QUANTUM"):
            self.env.pop(k, None)
        self.procs: list[subprocess.Popen] = []

    @property
    def jack_env(self) -> dict:
        """Environment for a JACK-Client process that should talk to this server."""
        return dict(self.env, LD_LIBRARY_PATH=LIBJACK_DIR)

    def __enter__(self) -> "PipeWireServer":
        run = Path(self.env["XDG_RUNTIME_DIR"])
        conf = Path(self.env["XDG_CONFIG_HOME"]) / "pipewire" / "pipewire.conf.d"
        conf.mkdir(parents=True, exist_ok=True)
        run.mkdir(parents=True, exist_ok=True)
        run.chmod(0o700)
        (conf / "10-virtual-devices.conf").write_text(CONF)
        log = open(self.root / "servers.log", "w")
        self.procs.append(
            subprocess.Popen(
                ["dbus-daemon", "--session", "--nofork", "--address", self.env["DBUS_SESSION_BUS_ADDRESS"]],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        )
        time.sleep(0.2)
        for cmd in (["pipewire"], ["wireplumber"], ["pipewire-pulse"]):
            self.procs.append(subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log))
        deadline = time.monotonic() + 15
        while not (self.has_node("vmic") and self._pulse_up()):
            if time.monotonic() > deadline:
                self.__exit__()
                log_text = (self.root / "servers.log").read_text()[-2000:]
                raise RuntimeError(f"PipeWire did not come up: {log_text}")
            time.sleep(0.1)
        return self

    def _pulse_up(self) -> bool:
        r = subprocess.run(["pactl", "info"], env=self.env, capture_output=True)
        return r.returncode == 0

    def nodes(self, name: str) -> int:
        """How many nodes called `name` the server has now."""
        out = subprocess.run(["pw-cli", "ls", "Node"], env=self.env, capture_output=True, text=True).stdout
        return out.count(f'node.name = "{name}"')

    def has_node(self, name: str) -> bool:
        return self.nodes(name) > 0

    def sources(self) -> str:
        return subprocess.run(
            ["pactl", "list", "short", "sources"], env=self.env, capture_output=True, text=True
        ).stdout

    def __exit__(self, *exc) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []
