"""What onnxruntime actually runs per hop: the nodes left after its graph optimisation, counted
from a profile of single-stream hops (the session `OnnxStreamer` uses), and the kernel time per
op type. Needs only onnxruntime."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from streamse.runtime import make_session, read_metadata


def graph_stats(path: Path, hops: int = 20) -> dict:
    """{"nodes": nodes run per hop, "op_time_share": {op type: share of kernel time}}."""
    with tempfile.TemporaryDirectory() as tmp:
        session = make_session(path, 1, "cpu", batch=1, profile_prefix=str(Path(tmp) / "p"))
        meta = read_metadata(session, path)
        # low noise, the states carried from hop to hop: a gated graph (`export/gate.py`) runs
        # its started branch, as it does once a stream has sounded
        state = {s.name: np.zeros(s.shape, np.float32) for s in meta.states}
        audio = 0.01 * np.random.default_rng(0).standard_normal((hops + 1, 1, meta.hop)).astype(np.float32)
        out_names = [s.out_name for s in meta.states]
        state = dict(zip(state, session.run(out_names, {"audio": audio[0], **state})))
        session.end_profiling()  # the first hop (gated, where a gate is) is not counted
        session = make_session(path, 1, "cpu", batch=1, profile_prefix=str(Path(tmp) / "q"))
        for k in range(hops):
            state = dict(zip(state, session.run(out_names, {"audio": audio[k + 1], **state})))
        events = json.loads(Path(session.end_profiling()).read_text())
    kernels = [  # an If's time holds its branch's nodes, which are profiled themselves
        e
        for e in events
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["args"]["op_name"] != "If"
    ]
    per_run = len(kernels) / hops
    time_by_op: Counter = Counter()
    for e in kernels:
        time_by_op[e["args"]["op_name"]] += e["dur"]
    total = sum(time_by_op.values()) or 1
    return {
        "nodes": int(round(per_run)),
        "op_time_share": {op: t / total for op, t in time_by_op.most_common(6)},
    }


def gflops(macs_per_second: float, hop_s: float, seconds_per_hop: float) -> float:
    """Arithmetic rate achieved: 2 FLOP per MAC of one hop over the time that hop took."""
    return 2.0 * macs_per_second * hop_s / max(seconds_per_hop, 1e-12) / 1e9
