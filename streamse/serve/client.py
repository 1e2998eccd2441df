"""`streamse serve-client FILE -o OUT`: stream a file through a server in real time, write the
result aligned with the input (the server's stated delay removed), as `streamse enhance`
would."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np

from streamse.errors import StreamseError

from .protocol import decode, encode


@dataclass
class ClientResult:
    output: np.ndarray  # (n,) float32, aligned with the input
    delay_samples: int
    ready: dict
    seconds: float


async def stream(
    url: str,
    x: np.ndarray,
    rate: int,
    fmt: str = "f32",
    chunk_s: float = 0.02,
    speed: float = 1.0,
    on_chunk: Callable[[int, float], None] | None = None,
    on_output: Callable[[int, float], None] | None = None,
) -> ClientResult:
    """Send x (n,) float32 at `rate` in chunks of chunk_s seconds, paced at `speed` x real
    time, and collect the enhanced stream; returns it aligned with x. A server error is a
    StreamseError. on_chunk(k, t): chunk k is about to be sent at loop time t; on_output(n, t):
    n output samples have arrived by loop time t (the load benchmark times calls with these)."""
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with connect(url, max_size=2**20) as ws:
        await ws.send(json.dumps({"sample_rate": rate, "format": fmt}))
        ready = json.loads(await ws.recv())
        if ready.get("type") != "ready":
            raise StreamseError(f"server refused: {ready.get('message', ready)}")
        parts: list[np.ndarray] = []
        received = [0]  # output samples so far
        done: dict = {}

        async def receive() -> None:
            async for msg in ws:
                if isinstance(msg, bytes):
                    parts.append(decode(msg, fmt))
                    received[0] += parts[-1].size
                    if on_output is not None:
                        on_output(received[0], loop.time())
                    continue
                d = json.loads(msg)
                if d.get("type") == "error":
                    raise StreamseError(f"server: {d.get('message')}")
                if d.get("type") == "done":
                    done.update(d)
                    return

        rx = asyncio.create_task(receive())
        step = max(1, int(chunk_s * rate))
        start = loop.time()
        for k, i in enumerate(range(0, x.size, step)):
            if rx.done():
                break
            if on_chunk is not None:
                on_chunk(k, loop.time())
            await ws.send(encode(x[i : i + step], fmt))
            await asyncio.sleep(max(0.0, start + (k + 1) * chunk_s / speed - loop.time()))
        if not rx.done():
            await ws.send(json.dumps({"type": "end"}))
        await rx  # raises the server's error, if any
    y = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    d = int(done["delay_samples"])
    out = y[d : d + x.size]
    if out.size < x.size:
        raise StreamseError(f"server returned {y.size} samples for {x.size} in (delay {d})")
    return ClientResult(out, d, ready, loop.time() - t0)


def stream_file(url: str, source: str, target: str, fmt: str = "f32") -> str:
    """The CLI's work: read any file (mono mix), stream it at its own rate, write the result."""
    from streamse.audio_io import read_audio, write_audio

    x, info = read_audio(source, None)  # mono mix at the file's own rate
    rate = info.sample_rate
    try:
        res = asyncio.run(stream(url, x, rate, fmt))
    except OSError as exc:
        raise StreamseError(f"cannot reach {url}: {exc}") from None
    write_audio(target, res.output, rate)
    return (
        f"{target}  ({x.size / rate:.2f} s of audio at {rate} Hz through {url}, server delay "
        f"{res.delay_samples} samples, {res.seconds:.2f} s wall)"
    )
