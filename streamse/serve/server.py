"""The WebSocket front of `streamse serve` (the `websockets` library, asyncio).

One event loop runs everything: a connection handler per client (reads its audio into the
hub, a writer task sends the hub's output back, a monitor drops it when it breaks a bound),
and one ticker that steps the hub once per model hop, catching up when late. `GET /health`
answers JSON with the number of streams, served and dropped clients, and tick times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from http import HTTPStatus

from .hub import DONE, Hub, Slot
from .protocol import ProtocolError, control, decode, message, parse_hello

HELLO_TIMEOUT_S = 5.0
SEND_BUFFER = 256 * 1024  # kernel send buffer per connection: with the hub's output queue,
# the bound on how far a client that does not read may fall behind before it is dropped


async def _writer(ws, slot: Slot) -> None:
    """Send the slot's output in order; 'done' at the end of its stream."""
    while slot.error is None:
        try:
            item = await asyncio.wait_for(slot.out.get(), 0.2)
        except TimeoutError:
            continue
        if item is DONE:
            await ws.send(message("done", samples_in=slot.n_in, delay_samples=slot.delay))
            return
        await ws.send(item)


async def _monitor(ws, slot: Slot) -> None:
    """Tell a client that broke a bound why, then cut it off (never waiting on it long)."""
    while slot.error is None:
        await asyncio.sleep(0.05)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.send(message("error", message=slot.error)), 1.0)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(1008, slot.error[:100]), 1.0)
    abort = getattr(ws, "abort", None) or ws.transport.abort
    abort()


async def _refuse(ws, reason: str) -> None:
    with contextlib.suppress(Exception):
        await ws.send(message("error", message=reason))
        await asyncio.wait_for(ws.close(1008, reason[:100]), 1.0)


class Server:
    def __init__(self, hub: Hub):
        self.hub = hub

    async def handle(self, ws, **ready_extra) -> None:
        """One client on `ws`: a `websockets` connection, or anything with the same recv,
        send, close and async iteration (`ray_app.StarletteChannel`). `ready_extra`: more
        fields for the ready message (e.g. which replica serves the stream)."""
        hub = self.hub
        try:
            hello = parse_hello(await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT_S))
            slot = hub.join(hello.sample_rate, hello.format)
        except (ProtocolError, TimeoutError) as exc:
            await _refuse(ws, str(exc) or "no hello within 5 s")
            return
        await ws.send(
            message(
                "ready",
                delay_samples=slot.delay,
                sample_rate=slot.rate,
                format=slot.fmt,
                model_rate=hub.model_rate,
                hop_ms=1e3 * hub.hop_seconds,
                latency_ms=1e3 * (slot.delay / slot.rate + hub.hop_seconds),
                **ready_extra,
            )
        )
        tasks = [asyncio.create_task(_writer(ws, slot)), asyncio.create_task(_monitor(ws, slot))]
        try:
            async for msg in ws:
                if slot.error is not None:
                    break
                if isinstance(msg, bytes):
                    hub.push(slot, decode(msg, slot.fmt))
                elif control(msg) == "end":
                    hub.end(slot)
                    await tasks[0]  # everything sent, then 'done'
                    break
        except ProtocolError as exc:
            hub.fail(slot, str(exc))
        except Exception:  # noqa: BLE001 - a vanished client ends only its own stream
            pass
        finally:
            if slot.error is not None:  # let the monitor tell the client and cut it off
                await asyncio.wait(tasks[1:], timeout=3.0)
            for t in tasks:
                t.cancel()
            hub.leave(slot)

    def health(self, connection, request):
        """websockets' process_request hook: GET /health -> JSON; other paths go on."""
        if request.path == "/health":
            return connection.respond(HTTPStatus.OK, json.dumps(self.hub.health()) + "\n")
        return None

    async def ticker(self) -> None:
        loop = asyncio.get_running_loop()
        period, t_next = self.hub.hop_seconds, loop.time()
        while True:
            t_next += period
            await asyncio.sleep(max(0.0, t_next - loop.time()))
            self.hub.tick()
            if loop.time() - t_next > 1.0:  # far behind (a stall): do not burst to catch up
                t_next = loop.time()


async def serve(
    hub: Hub, host: str = "127.0.0.1", port: int = 8765, ready=None, stop: asyncio.Event | None = None
) -> None:
    """Run until `stop` is set (or SIGINT/SIGTERM in the main thread). `ready(port)` is called
    once the socket listens (port 0 picks a free one)."""
    from websockets.asyncio.server import serve as ws_serve

    server = Server(hub)
    stop = stop or asyncio.Event()
    with contextlib.suppress(ValueError, NotImplementedError, RuntimeError):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)  # accepted sockets inherit
    sock.bind((host, port))
    async with ws_serve(server.handle, sock=sock, process_request=server.health, max_size=2**20) as ws_server:
        tick = asyncio.create_task(server.ticker())
        if ready is not None:
            ready(ws_server.sockets[0].getsockname()[1])
        await stop.wait()
        tick.cancel()
