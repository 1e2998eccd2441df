"""`streamse bench --serve [--streams MAX]`: how many real-time calls one `streamse serve`
process holds, measured over loopback with real clients.

A server runs as a subprocess (its CPU time read from /proc). For N concurrent clients (found
by doubling, then bisection, up to MAX), each streams `seconds` of speech in 20 ms chunks at
real-time pace. N holds when no client is dropped and the server's hop-step time p99 (from
/health) is under the hop. Reported per N: the added latency of every chunk (arrival of its
last enhanced sample minus its send time, with the model's own delay removed) p50/p99, the
server's CPU share, and its step times. Compare with `bench --streams` (no network).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np

from streamse.errors import StreamseError

from .machine import describe_machine, machine_info
from .rtf import bench_audio
from .streams import largest_passing

CHUNK_S = 0.02


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _client(url: str, x: np.ndarray, rate: int) -> dict:
    """Stream x in real time through `serve.client.stream`; per-chunk added latency (s) and
    whether the server dropped us.

    Output index i is out once input i has been processed (it holds input i - delay: the
    model's own algorithmic delay is not counted): the arrival of the output index that ends a
    chunk minus the chunk's send time = hop alignment + the tick + compute + the network."""
    from websockets.exceptions import ConnectionClosed

    from streamse.serve.client import stream

    step = int(CHUNK_S * rate)
    sent: list[float] = []
    lat: list[float] = []

    def on_output(received: int, now: float) -> None:
        while len(lat) < len(sent) and (len(lat) + 1) * step <= received:
            lat.append(now - sent[len(lat)])

    try:
        await stream(
            url,
            x[: x.size // step * step],
            rate,
            "f32",
            CHUNK_S,
            on_chunk=lambda k, t: sent.append(t),
            on_output=on_output,
        )
        dropped = False
    except (StreamseError, ConnectionClosed):
        dropped = True
    return {"latency_s": np.asarray(lat), "dropped": dropped}


def _probe(url: str, health: str, pid: int, n: int, x: np.ndarray, rate: int, hop_ms: float) -> dict:
    async def run():
        return await asyncio.gather(*[_client(url, np.roll(x, 997 * k), rate) for k in range(n)])

    cpu0, t0 = _cpu_seconds(pid), time.perf_counter()
    results = asyncio.run(run())
    wall, cpu = time.perf_counter() - t0, _cpu_seconds(pid) - cpu0
    with urllib.request.urlopen(health, timeout=10) as r:
        h = json.loads(r.read())
    lat = np.concatenate([r["latency_s"] for r in results]) * 1e3
    dropped = sum(r["dropped"] for r in results)
    return {
        "streams": n,
        "dropped": dropped,
        "tick_ms_p50": h["tick_ms_p50"],
        "tick_ms_p99": h["tick_ms_p99"],
        "added_latency_ms_p50": float(np.percentile(lat, 50)),
        "added_latency_ms_p99": float(np.percentile(lat, 99)),
        "server_cpu_share": cpu / wall,
        "real_time": dropped == 0 and h["tick_ms_p99"] < hop_ms,
    }


def run_serve_bench(model: str = "crn", limit: int = 64, seconds: float = 5.0, threads: int = 1) -> dict:
    """Largest N (<= limit) real-time clients one server process holds; JSON-ready."""
    port = _free_port()
    env = dict(os.environ)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamse",
            "serve",
            "--model",
            model,
            "--port",
            str(port),
            "--max-streams",
            str(limit + 8),
            "-t",
            str(threads),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        if "streamse serve:" not in line:
            raise RuntimeError(f"server did not start: {line}{proc.stderr.read()[-2000:]}")
        url, health = f"ws://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/health"
        hop_ms = json.loads(urllib.request.urlopen(health, timeout=10).read())["hop_ms"]
        x = bench_audio(16000, seconds)
        probes: list[dict] = []

        def ok(n: int) -> bool:
            # a fresh server per probe would cost a model load; /health percentiles are of
            # the last 1000 ticks, so each probe (>= 5 s = 500 ticks of its own) dominates them
            probes.append(_probe(url, health, proc.pid, n, x, 16000, hop_ms))
            return probes[-1]["real_time"]

        good = largest_passing(ok, limit)
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "model": model,
        "threads": threads,
        "seconds_per_probe": seconds,
        "hop_ms": hop_ms,
        "max_streams": good,
        "probes": sorted(probes, key=lambda p: p["streams"]),
        "machine": machine_info(),
    }


def format_serve_bench(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"streamse bench --serve --model {r['model']}: {r['max_streams']} real-time calls "
        f"in one server process ({r['threads']} thread(s)); {describe_machine(m)}",
        f"{'streams':>8}{'real time':>10}{'dropped':>8}{'tick p50':>9}{'tick p99':>9}"
        f"{'added p50':>10}{'added p99':>10}{'server CPU':>11}",
    ]
    for p in r["probes"]:
        lines.append(
            f"{p['streams']:>8}{str(p['real_time']):>10}{p['dropped']:>8}"
            f"{p['tick_ms_p50']:>9.2f}{p['tick_ms_p99']:>9.2f}"
            f"{p['added_latency_ms_p50']:>10.1f}{p['added_latency_ms_p99']:>10.1f}"
            f"{100 * p['server_cpu_share']:>10.0f}%"
        )
    lines.append(
        f"ms; hop {r['hop_ms']:.0f} ms; added = arrival of the output that ends a 20 ms "
        "chunk minus the chunk's send time (the model's own delay not counted)"
    )
    return "\n".join(lines)
