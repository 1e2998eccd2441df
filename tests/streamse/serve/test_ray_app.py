"""`streamse serve --ray`: a local Ray instance, two Ray Serve replicas, the same protocol;
several calls at once are spread over both replicas and each gets its exact enhanced audio."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time

import numpy as np
import pytest

from test_server import enhance_like
from bundled import ROOT, streamse_argv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory):
    try:
        import ray  # noqa: F401
        from ray import serve  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"ray[serve] not installed: {exc}")
    port = _free_port()
    log = tmp_path_factory.mktemp("ray") / "serve.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAY_USAGE_STATS_ENABLED="0")
    with open(log, "w") as f:
        args = f"serve --ray --replicas 2 --cpus-per-replica 0.5 --port {port}".split()
        proc = subprocess.Popen(streamse_argv(*args), env=env, stderr=f, stdout=f)
    deadline = time.monotonic() + 240
    while "streamse serve:" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"Ray Serve did not start: {log.read_text()[-3000:]}")
        time.sleep(0.5)
    yield f"ws://127.0.0.1:{port}/"
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_for_replicas(url: str, n: int, timeout: float = 120.0) -> None:
    """Until `n` different replicas have answered GET /health (a replica still starting on a
    CPU-starved machine gets no calls from Ray's router yet)."""
    import urllib.request

    health = url.replace("ws://", "http://").rstrip("/") + "/health"
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < n and time.monotonic() < deadline:
        with urllib.request.urlopen(health, timeout=10) as r:
            seen.add(json.loads(r.read())["replica"])
        time.sleep(0.05)
    assert len(seen) >= n, f"only {sorted(seen)} answered /health in {timeout:.0f} s"


def test_calls_spread_over_two_replicas_and_match_enhance(ray_server, noisy_clean):
    from streamse.serve.client import stream

    x = noisy_clean[0][:24000]
    want = enhance_like(x, 16000)

    async def calls():
        return await asyncio.gather(*[stream(ray_server, x, 16000) for _ in range(6)])

    _wait_for_replicas(ray_server, 2)
    results = asyncio.run(calls())
    assert len({r.ready["replica"] for r in results}) == 2, [r.ready for r in results]
    for r in results:
        np.testing.assert_allclose(r.output, want, atol=1e-5)
