"""The streaming contract of both nested U-Nets (CNUNet, CNUNet-TB), one set of tests for the
two: streaming == offline over hop chunkings of 1, 2 and 7 frames and ragged sample counts,
across a reset; reset forgets and the state matters; whole-model causality."""

from __future__ import annotations

import numpy as np
import pytest

from streamse.models.torch_streamer import TorchStreamer
from streamse_testing import (
    assert_causal_from,
    feed_pattern,
    offline,
    rel_err,
    step_hops,
    tiny_cnunet,
    tiny_tb,
)

REL_TOL = 1e-4  # max |streamed - offline| / peak
FAMILIES = {"cnunet": tiny_cnunet, "cnunet-tb": tiny_tb}
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request):
    """(factory(seed), model with seed 3, its hop)."""
    make = FAMILIES[request.param]
    model = make(seed=3)
    return make, model, model.geometry.hop


@pytest.mark.parametrize("frames", [1, 2, 7])
def test_step_chunks_equal_offline(family, noisy_clean, frames):
    """model.step fed `frames` hops per call == offline forward."""
    _, model, hop = family
    x = noisy_clean[0][: 30 * hop]
    assert rel_err(step_hops(model, x[None], hop, frames)[0][0], offline(model, x)) < REL_TOL


def test_streamer_ragged_across_reset(family, noisy_clean):
    """Ragged sample counts through the hop-buffering streamer, after another utterance and a
    reset, == offline forward."""
    _, model, hop = family
    x = noisy_clean[0][:6000]
    streamer = TorchStreamer(model)
    streamer.feed(noisy_clean[1][:2000])
    streamer.reset()
    y = feed_pattern(streamer, x, [1, 100, 333, 17, hop, 999, 2])
    assert y.size == (x.size // hop) * hop
    assert rel_err(y, offline(model, x)[: y.size]) < REL_TOL


def test_reset_forgets_and_state_matters(family, noisy_clean):
    """With a reset the second utterance matches a fresh streamer; without it, it does not
    (so the state is real and the reset test can fail)."""
    make, model, hop = family
    a, b = noisy_clean[0][: 12 * hop * 2], noisy_clean[1][4000 : 4000 + 12 * hop * 2]
    fresh = TorchStreamer(make(seed=3)).process(b)
    s = TorchStreamer(model)
    s.process(a)
    np.testing.assert_allclose(s.process(b), fresh, atol=1e-6)  # process() resets first
    leaky = TorchStreamer(model)
    leaky.feed(a)
    n = 6 * hop
    assert rel_err(leaky.feed(b)[:n], fresh[:n]) > 1e-3


def test_causal_whole_model(family, noisy_clean):
    """Perturbing input from sample s on changes no output of a hop before the hop holding s,
    and does change later ones."""
    _, model, hop = family
    x = noisy_clean[0][: 40 * hop].copy()
    assert_causal_from(model, x, 20 * hop + 37, hop)
