"""The I/O-bound hop loop of OnnxStreamer gives exactly what plain `session.run` gives,
over ragged chunks and across a reset (double-buffered states must not alias)."""

from __future__ import annotations

import numpy as np
import pytest

from streamse.runtime import load_streamer, make_session, shipped_models


@pytest.mark.parametrize("name", shipped_models())
def test_bound_hops_equal_plain_runs(name, noisy_clean):
    x = noisy_clean[0][:12000]
    bound = load_streamer(name)
    plain = load_streamer(name)
    plain._bound = None  # the reference path: session.run with state dicts
    assert bound._bound is not None
    chunks = np.split(x, [7, 500, 1601, 5000])
    a = np.concatenate([bound.feed(c) for c in chunks])
    b = np.concatenate([plain.feed(c) for c in chunks])
    np.testing.assert_allclose(a, b, atol=1e-6)
    bound.reset()  # after a reset: the same as a fresh streamer
    np.testing.assert_allclose(bound.feed(x[:4000]), load_streamer(name).feed(x[:4000]), atol=1e-6)


@pytest.mark.parametrize("name", shipped_models())
def test_single_stream_runs_extended_with_the_same_output(name, noisy_clean):
    """One stream: level EXTENDED (no NCHWc reorders); batched sessions keep ALL. Same output."""
    import onnxruntime as ort

    streamer = load_streamer(name)
    level = ort.GraphOptimizationLevel
    assert streamer.session.get_session_options().graph_optimization_level == level.ORT_ENABLE_EXTENDED
    batched = make_session(streamer.path)
    assert batched.get_session_options().graph_optimization_level == level.ORT_ENABLE_ALL
    x = noisy_clean[0][:8000]
    full = load_streamer(name)
    full.session = batched  # ALL, same graph
    full._bound = None
    np.testing.assert_allclose(streamer.feed(x), full.feed(x), atol=2e-5)
