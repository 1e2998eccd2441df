"""Whole-model tests of the causal CNUNet: streaming == offline over hop chunkings of 1, 2 and
7 frames and ragged sample counts, across a reset; whole-model causality; one hop costs one
frame of work; ONNX hop graph == PyTorch; the published configuration's size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamse.export.onnx_export import check_onnx, export_onnx
from streamse.models.cnunet import CNUNetConfig
from streamse.models.macs import hooked_macs
from streamse.models.registry import build_by_name
from streamse.models.torch_streamer import TorchStreamer
from streamse.runtime import OnnxStreamer
from streamse_testing import (assert_causal_from, feed_pattern, offline, rel_err, step_hops,
                              tiny_cnunet)

REL_TOL = 1e-4  # max |streamed - offline| / peak
HOP = 160


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def model():
    return tiny_cnunet(seed=3)


@pytest.mark.parametrize("frames", [1, 2, 7])
def test_step_chunks_equaloffline(model, noisy_clean, frames):
    """model.step fed `frames` hops per call == offline forward."""
    x = noisy_clean[0][: 42 * HOP]
    assert rel_err(step_hops(model, x[None], HOP, frames)[0][0], offline(model, x)) < REL_TOL


def test_streamer_ragged_across_reset(model, noisy_clean):
    """Ragged sample counts through the hop-buffering streamer, after another utterance and a
    reset, == offline forward."""
    x = noisy_clean[0][:6000]
    streamer = TorchStreamer(model)
    streamer.feed(noisy_clean[1][:2000])
    streamer.reset()
    y = feed_pattern(streamer, x, [1, 100, 333, 17, 160, 999, 2])
    assert y.size == (x.size // HOP) * HOP
    assert rel_err(y, offline(model, x)[: y.size]) < REL_TOL


def test_reset_forgets_and_state_matters(model, noisy_clean):
    """With a reset the second utterance matches a fresh streamer; without it, it does not
    (so the state is real and the reset test can fail)."""
    a, b = noisy_clean[0][:3200], noisy_clean[1][4000:7200]
    fresh = TorchStreamer(tiny_cnunet(seed=3)).process(b)
    s = TorchStreamer(model)
    s.process(a)
    np.testing.assert_allclose(s.process(b), fresh, atol=1e-6)  # process() resets first
    leaky = TorchStreamer(model)
    leaky.feed(a)
    assert rel_err(leaky.feed(b)[:1600], fresh[:1600]) > 1e-3


def test_causal_whole_model(model, noisy_clean):
    """Perturbing input from sample s on changes no output of a hop before the hop holding s,
    and does change later ones."""
    x = noisy_clean[0][:9600].copy()
    s = 4800 + 37
    assert_causal_from(model, x, s, HOP)


def test_one_hop_costs_one_frame(model):
    """A streaming step with long history does exactly 1/T of the offline network work for T
    frames: no past frame is recomputed."""
    t = 12
    x = torch.randn(1, t * HOP)
    offline = hooked_macs(model, lambda: model(x))
    state = model.init_state(1)
    with torch.no_grad():
        for i in range(t - 1):
            _, state = model.step(x[:, i * HOP : (i + 1) * HOP], state)
    per_hop = hooked_macs(model, lambda: model.step(x[:, -HOP:], state))
    assert per_hop * t == offline


def test_onnx_hop_graph_matches_pytorch(tmp_path, noisy_clean):
    model = tiny_cnunet(seed=5)
    path = tmp_path / "tiny_cnunet.onnx"
    meta = export_onnx(model, "tiny-cnunet", "cnunet", path)
    assert meta.params == sum(p.numel() for p in model.parameters())
    assert any(s.name.endswith("attn.0.past") for s in meta.states)  # CTFA running state
    x = noisy_clean[0][:6400]
    assert check_onnx(model, path, x) < REL_TOL
    streamer, ref = OnnxStreamer(path), offline(model, x)
    for pattern in ([7 * HOP], [5, 160, 1000, 33, 1]):  # the second after a reset
        streamer.reset()
        assert rel_err(feed_pattern(streamer, x, pattern), ref) < REL_TOL


def test_published_configuration():
    """`cnunet-paper` (the default config) is the published topology: 1,486,806 parameters (the count of the
    released CNUNet class), 20 ms window, 10 ms hop."""
    m = build_by_name("cnunet-paper")
    assert sum(p.numel() for p in m.parameters()) == 1_486_806
    geo = m.geometry
    assert (geo.window, geo.hop, geo.delay_samples) == (320, 160, 160)


def test_config_rejects_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match="cannot be halved"):
        CNUNetConfig(n_fft=320)
    with pytest.raises(ValueError, match="mid % 8"):
        CNUNetConfig(mid=12)
