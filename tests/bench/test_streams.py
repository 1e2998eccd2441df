"""`bench --streams`: the search finds the largest real-time N; a probe and the CLI run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamse.bench import streams
from streamse.cli import main


@pytest.fixture
def fake_probe(monkeypatch):
    """A probe whose p99 step time is n ms: with a 10 ms hop, 9 streams is the answer."""
    calls = []

    def probe(make, n, hops, steps, warmup=10):
        calls.append(n)
        return {"streams": n, "step_p50_ms": n * 0.5, "step_p99_ms": float(n), "step_max_ms": n * 1.5}

    monkeypatch.setattr(streams, "probe", probe)
    return calls


@pytest.mark.parametrize("limit, expected", [(512, 9), (5, 5), (9, 9), (8, 8), (1, 1)])
def test_search_finds_the_largest_real_time_n(fake_probe, limit, expected):
    n, probes = streams.search(None, np.zeros((4, 160)), 10.0, 100, limit)
    assert n == expected
    assert max(fake_probe) <= limit and len(set(fake_probe)) == len(fake_probe)
    assert [p["streams"] for p in probes] == sorted(fake_probe)
    assert all(p["real_time"] == (p["streams"] < 10) for p in probes)


def test_search_returns_zero_when_one_stream_is_too_slow(fake_probe):
    assert streams.search(None, np.zeros((4, 160)), 0.5, 100, 64)[0] == 0


def test_probe_runs_n_streams_of_the_batched_streamer():
    hops = np.random.default_rng(0).standard_normal((50, 160)).astype(np.float32)
    p = streams.probe(lambda n: streams._batched("crn", n, 1, "cpu"), 3, hops, steps=20)
    assert p["streams"] == 3 and 0 < p["step_p50_ms"] <= p["step_p99_ms"] <= p["step_max_ms"]


def test_cli_streams_json(capsys):
    assert main(["bench", "--streams", "2", "--seconds", "0.2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["model"] == "crn" and r["provider"] == "cpu" and r["threads"] == 1
    assert 0 <= r["max_streams"] <= 2 and 0 <= r["max_streams_separate"] <= 2
    assert r["probes"] and r["probes_separate"]
