"""`streamse serve --ray`: the same protocol as a Ray Serve deployment (extra `serve`).

Each replica is a `Hub` of its own with its own batched session; Ray Serve's HTTP proxy hands
each WebSocket to one replica and keeps it there, so a stream's state never moves. Replicas
scale by configuration (`--replicas`, CPUs per replica); `--ray-address` joins an existing
cluster (`ray start --head` on one machine, `ray start --address ...` on the others), where
the proxy spreads calls over all machines' replicas.
"""

# no `from __future__ import annotations` here: FastAPI reads the endpoint's WebSocket
# annotation at run time, and WebSocket is imported inside `deployment` (optional extra)
import asyncio
import os
import socket

from .hub import Hub
from .server import Server


class StarletteChannel:
    """A Starlette/FastAPI WebSocket with the few methods `Server.handle` uses."""

    def __init__(self, websocket):
        self.ws = websocket

    async def recv(self):
        msg = await self.ws.receive()
        if msg["type"] == "websocket.disconnect":
            raise ConnectionError("client went away")
        return msg["text"] if msg.get("text") is not None else msg.get("bytes")

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.recv()
        except ConnectionError:
            raise StopAsyncIteration from None

    async def send(self, data) -> None:
        if isinstance(data, str):
            await self.ws.send_text(data)
        else:
            await self.ws.send_bytes(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)

    def abort(self) -> None:
        asyncio.ensure_future(self.ws.close(1008))


def deployment(model: str, threads: int, max_streams: int, replicas: int, cpus: float):
    """The bound Ray Serve application."""
    from fastapi import FastAPI, WebSocket
    from ray import serve

    app = FastAPI()

    @serve.deployment(
        num_replicas=replicas, ray_actor_options={"num_cpus": cpus}, max_ongoing_requests=max_streams
    )
    @serve.ingress(app)
    class StreamseServe:
        def __init__(self):
            self.hub = Hub(model, threads, max_streams)
            self.server = Server(self.hub)
            self.replica = f"{socket.gethostname()}:{os.getpid()}"
            self._ticker = None

        @app.websocket("/")
        async def stream(self, websocket: WebSocket):
            await websocket.accept()
            if self._ticker is None:  # the replica's event loop runs its hub's ticker
                self._ticker = asyncio.create_task(self.server.ticker())
            await self.server.handle(StarletteChannel(websocket), replica=self.replica)

        @app.get("/health")
        def health(self):
            return {**self.hub.health(), "replica": self.replica}

    return StreamseServe.bind()


def _start_serve(serve, host: str, port: int, attempts: int = 3) -> None:
    """serve.start, tried again when its HTTP proxy actor dies or times out while starting (Ray
    kills a proxy whose start-up health check is late: seen on a CPU-starved machine)."""
    import sys

    import ray

    for attempt in range(1, attempts + 1):
        try:
            serve.start(http_options={"host": host, "port": port})
            return
        except (ray.exceptions.RayActorError, TimeoutError) as exc:
            if attempt == attempts:
                raise
            print(
                f"streamse serve --ray: Ray Serve's proxy did not start ({type(exc).__name__});"
                f" trying again ({attempt + 1}/{attempts})",
                file=sys.stderr,
                flush=True,
            )
            serve.shutdown()


def serve_ray(
    model: str = "crn",
    host: str = "127.0.0.1",
    port: int = 8765,
    threads: int = 1,
    max_streams: int = 64,
    replicas: int = 2,
    cpus: float = 1.0,
    address: str | None = None,
    ready=None,
) -> None:
    """Start (or join, with `address`) Ray, deploy, serve until SIGINT/SIGTERM."""
    import signal
    import threading

    import ray
    from ray import serve

    # Ray Serve kills an HTTP proxy that is not ready within 5 s of its start (10 s for a
    # health check): a CPU-starved machine (measured: 2 cores, 4 busy processes) never starts
    # one. Longer limits unless the user set them; they reach a local Ray's processes.
    for var, seconds in (
        ("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60"),
        ("RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S", "30"),
    ):
        os.environ.setdefault(var, seconds)
    ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        _start_serve(serve, host, port)
        serve.run(deployment(model, threads, max_streams, replicas, cpus), route_prefix="/")
        if ready is not None:
            ready(port)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        serve.shutdown()
        ray.shutdown()
