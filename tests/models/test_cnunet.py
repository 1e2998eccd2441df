"""Whole-model tests of the causal CNUNet beyond the streaming contract both nested U-Nets
share (test_nested_unet_streaming.py): one hop costs one frame of work; ONNX hop graph ==
PyTorch; the published configuration's size."""

from __future__ import annotations

import pytest
import torch

from streamse.export.onnx_export import check_onnx, export_onnx
from streamse.models.cnunet import CNUNetConfig
from streamse.models.macs import hooked_macs
from streamse.models.registry import build_by_name
from streamse.runtime import OnnxStreamer
from streamse_testing import feed_pattern, offline, rel_err, tiny_cnunet

REL_TOL = 1e-4  # max |streamed - offline| / peak
HOP = 160


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def model():
    return tiny_cnunet(seed=3)


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
