"""`streamse bench --streams [MAX]`: how many concurrent streams one process keeps real time.

N streams share one `BatchedStreamer` (one onnxruntime session, one call per hop for all). A
probe runs N streams for `seconds` of audio, each stream reading the bench audio from its own
offset, and times every step (one hop for all N). N is real time when the p99 step time is
below the hop duration. The search doubles N until a probe fails (or MAX is reached), then
bisects between the last success and the first failure.

`baseline=True` adds the same search for N independent `OnnxStreamer`s (one session and one
call per stream per hop), the way one would serve N streams without batching.
On provider "cuda" the batched streamer keeps all states on the GPU between hops (I/O binding).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from streamse.batched import BatchedStreamer
from streamse.runtime import OnnxStreamer, resolve_model

from .machine import describe_machine, machine_info
from .rtf import bench_audio

Stepper = Callable[[np.ndarray], np.ndarray]  # (N, hop) -> (N, hop)


def _batched(model: str, n: int, threads: int, provider: str) -> Stepper:
    b = BatchedStreamer(model, threads=threads, provider=provider)
    for _ in range(n):
        b.add_stream()
    return b.step


def _separate(model: str, n: int, threads: int, provider: str) -> Stepper:
    streamers = [OnnxStreamer(resolve_model(model), threads, provider) for _ in range(n)]

    def step(audio: np.ndarray) -> np.ndarray:
        return np.stack([s.feed(row) for s, row in zip(streamers, audio)])

    return step


def probe(make: Callable[[int], Stepper], n: int, hops: np.ndarray, steps: int, warmup: int = 10) -> dict:
    """Time `steps` steps of n streams. hops: (M, hop) audio; stream i at step t reads row
    (offset_i + t) mod M. Returns step-time percentiles (ms) and whether p99 < hop."""
    step = make(n)
    m, hop = hops.shape
    offsets = (np.arange(n) * 37) % m  # different audio for every stream
    for t in range(warmup):
        step(hops[(offsets + t) % m])
    times = np.empty(steps)
    for t in range(steps):
        batch = hops[(offsets + warmup + t) % m]  # gathering input is not timed
        t0 = time.perf_counter()
        step(batch)
        times[t] = time.perf_counter() - t0
    ms = times * 1000
    return {
        "streams": n,
        "step_p50_ms": float(np.percentile(ms, 50)),
        "step_p99_ms": float(np.percentile(ms, 99)),
        "step_max_ms": float(ms.max()),
    }


def search(
    make: Callable[[int], Stepper],
    hops: np.ndarray,
    hop_ms: float,
    steps: int,
    limit: int,
    label: str = "streams",
) -> tuple[int, list[dict]]:
    """Largest n <= limit whose p99 step time is under hop_ms (0 if even 1 fails). A
    progress line (on a terminal) names each probe as it runs."""
    from tqdm import tqdm

    probes: list[dict] = []
    bar = tqdm(desc=label, unit="probe", leave=False, disable=None)

    def ok(n: int) -> bool:
        bar.set_postfix_str(f"{n} streams")
        p = probe(make, n, hops, steps)
        p["real_time"] = p["step_p99_ms"] < hop_ms
        probes.append(p)
        bar.update()
        return p["real_time"]

    good = largest_passing(ok, limit)
    bar.close()
    return good, sorted(probes, key=lambda p: p["streams"])


def largest_passing(ok: Callable[[int], bool], limit: int) -> int:
    """Largest n <= limit with ok(n) (0 if ok(1) fails), assuming ok holds up to a threshold:
    doubling from 1 until a failure, then bisection between the last pass and that failure."""
    good, bad, n = 0, None, 1
    while bad is None and good < limit:
        n = min(n, limit)
        if ok(n):
            good, n = n, n * 2
        else:
            bad = n
    while bad is not None and bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if ok(mid) else (good, mid)
    return good


def run_streams(
    model: str,
    threads: int = 1,
    provider: str = "cpu",
    seconds: float = 3.0,
    limit: int = 512,
    baseline: bool = True,
) -> dict:
    """Max real-time streams for `model` with one batched session (and, if `baseline`, with
    one session per stream). JSON-ready dict."""
    b = BatchedStreamer(model, threads=threads, provider=provider)
    hop, sr = b.hop, b.sample_rate
    hop_ms = 1000.0 * hop / sr
    x = bench_audio(sr, max(seconds, 1.0))
    hops = x[: x.size // hop * hop].reshape(-1, hop)
    steps = max(int(seconds * sr / hop), 100)
    report = {
        "model": b.meta.name,
        "provider": provider,
        "threads": threads,
        "io_binding": b.io_binding,
        "hop_ms": hop_ms,
        "steps_per_probe": steps,
        "machine": machine_info(),
    }
    n, probes = search(
        lambda k: _batched(model, k, threads, provider),
        hops,
        hop_ms,
        steps,
        limit,
        "bench --streams (batched)",
    )
    report.update(max_streams=n, probes=probes)
    if baseline:
        n, probes = search(
            lambda k: _separate(model, k, threads, provider),
            hops,
            hop_ms,
            steps,
            limit,
            "bench --streams (one session each)",
        )
        report.update(max_streams_separate=n, probes_separate=probes)
    return report


def format_streams(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"model {r['model']} on {r['provider']} ({r['threads']} thread(s), I/O binding "
        f"{'on' if r['io_binding'] else 'off'}), hop {r['hop_ms']:.1f} ms; "
        f"{describe_machine(m)}",
        f"  max real-time streams, one batched session: {r['max_streams']}",
    ]
    if "max_streams_separate" in r:
        lines.append(f"  max real-time streams, one session per stream: {r['max_streams_separate']}")
    lines.append(f"  {'mode':<10}{'N':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  real time")
    for mode, key in (("batched", "probes"), ("separate", "probes_separate")):
        for p in r.get(key, []):
            lines.append(
                f"  {mode:<10}{p['streams']:>6}{p['step_p50_ms']:>9.3f}"
                f"{p['step_p99_ms']:>9.3f}{p['step_max_ms']:>9.3f}  "
                f"{'yes' if p['real_time'] else 'no'}"
            )
    lines.append("  real time = p99 time of one step (one hop for every stream) < hop")
    return "\n".join(lines)
