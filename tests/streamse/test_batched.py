"""BatchedStreamer: per-stream output equals a single OnnxStreamer, across joins, leaves and
slot resets, with and without I/O binding (the CUDA code path, here on the CPU provider)."""

from __future__ import annotations

import numpy as np
import pytest

from streamse.batched import BatchedStreamer
from streamse.errors import StreamseError
from streamse.runtime import load_streamer

HOP = 160
REL_TOL = 1e-5


def _single(x: np.ndarray) -> np.ndarray:
    s = load_streamer("crn")
    return s.feed(x)


def _close(got: np.ndarray, want: np.ndarray) -> None:
    scale = max(float(np.abs(want).max()), 1e-12)
    assert got.shape == want.shape
    assert float(np.abs(got - want).max()) <= REL_TOL * scale


@pytest.fixture(scope="module")
def signals(noisy_clean):
    noisy, clean = noisy_clean
    return [noisy[:4800], clean[:4800], noisy[8000:12800], (noisy[:4800] + clean[:4800]) / 2]


@pytest.mark.parametrize("io_binding", [False, True])
def test_join_and_leave_do_not_disturb_other_streams(signals, io_binding):
    """a: hops 0-29; b joins at hop 5, leaves at hop 20; c joins at hop 10; d at hop 20."""
    b = BatchedStreamer("crn", io_binding=io_binding)
    plan = {"a": (0, 30), "b": (5, 20), "c": (10, 30), "d": (20, 30)}
    ids, outs = {}, {k: [] for k in plan}
    for t in range(30):
        for k, (start, stop) in plan.items():
            if t == start:
                ids[k] = b.add_stream()
            if t == stop and k in ids:
                b.remove_stream(ids.pop(k))
        hops = {ids[k]: signals["abcd".index(k)][(t - plan[k][0]) * HOP :][:HOP] for k in ids}
        res = b.step_streams(hops)
        for k in ids:
            outs[k].append(res[ids[k]])
    for k, (start, stop) in plan.items():
        x = signals["abcd".index(k)][: (stop - start) * HOP]
        _close(np.concatenate(outs[k]), _single(x))


@pytest.mark.parametrize("io_binding", [False, True])
def test_reset_stream_starts_a_fresh_utterance(signals, io_binding):
    b = BatchedStreamer("crn", io_binding=io_binding)
    first, other = b.add_stream(), b.add_stream()
    rows = lambda x, y, t: np.stack([x[t * HOP : (t + 1) * HOP], y[t * HOP : (t + 1) * HOP]])  # noqa
    for t in range(10):
        b.step(rows(signals[0], signals[1], t))
    b.reset_stream(first)
    out = np.concatenate([b.step(rows(signals[2], signals[1], t))[0] for t in range(10)])
    _close(out, _single(signals[2][: 10 * HOP]))
    assert b.ids == (first, other)


def test_ids_are_never_reused_and_rows_follow_join_order():
    b = BatchedStreamer("crn")
    a, c = b.add_stream(), b.add_stream()
    b.remove_stream(a)
    d = b.add_stream()
    assert d not in (a, c) and b.ids == (c, d) and len(b) == 2


def test_no_streams_and_bad_calls():
    b = BatchedStreamer("crn")
    assert b.step(np.zeros((0, HOP), np.float32)).shape == (0, HOP)
    assert b.step_streams({}) == {}
    sid = b.add_stream()
    with pytest.raises(StreamseError, match="one hop per active stream"):
        b.step(np.zeros((1, HOP + 1), np.float32))
    with pytest.raises(StreamseError, match="no active stream"):
        b.remove_stream(sid + 1)
    with pytest.raises(StreamseError, match="each active stream"):
        b.step_streams({sid + 1: np.zeros(HOP, np.float32)})


def test_nan_in_one_stream_is_zeroed_and_stays_local(signals):
    b = BatchedStreamer("crn")
    b.add_stream(), b.add_stream()
    bad = signals[0][: 5 * HOP].copy()
    bad[100:110] = np.nan
    outs = [
        b.step(np.stack([bad[t * HOP : (t + 1) * HOP], signals[1][t * HOP : (t + 1) * HOP]]))
        for t in range(5)
    ]
    assert b.nonfinite_count == 10
    assert np.isfinite(np.concatenate([o[0] for o in outs])).all()
    _close(np.concatenate([o[1] for o in outs]), _single(signals[1][: 5 * HOP]))


@pytest.mark.parametrize("io_binding", [False, True])
def test_step_some_leaves_the_other_streams_untouched(signals, io_binding):
    """Streams that get no hop in a step keep their state: each stream, stepped whenever a
    pseudo-random schedule gives it a hop, equals a single streamer fed the same hops."""
    b = BatchedStreamer("crn", io_binding=io_binding)
    ids = [b.add_stream() for _ in signals]
    pos = [0] * len(signals)
    outs: list[list[np.ndarray]] = [[] for _ in signals]
    rng = np.random.default_rng(0)
    while min(pos) < 4800:
        ready = {i: k for k, i in enumerate(ids) if pos[k] < 4800 and rng.random() < 0.6}
        got = b.step_some({i: signals[k][pos[k] : pos[k] + HOP] for i, k in ready.items()})
        assert set(got) == set(ready)
        for i, k in ready.items():
            outs[k].append(got[i])
            pos[k] += HOP
    for k, x in enumerate(signals):
        _close(np.concatenate(outs[k]), _single(x))
    with pytest.raises(StreamseError, match="no active streams"):
        b.step_some({999: np.zeros(HOP, np.float32)})
