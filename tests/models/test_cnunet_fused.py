"""The causal CNUNet's fused streaming form (the real and imaginary decoder paths as one
channel-grouped net, the encoder's complex halves fused): with every weight perturbed (norm
affines and PReLU slopes included, so that a mixed-up path order shows), the fused stream ==
the unfused stream over two streams, across a reset and in multi-frame steps; the exported hop
graph (the fused form) == PyTorch offline, with fewer nodes than the unfused one; the model
unchanged."""

from __future__ import annotations

import onnx
import pytest
import torch

from streamse.export.graph import HopGraph
from streamse.export.onnx_export import check_onnx, export_onnx
from streamse.models.cnunet import CNUNetState
from streamse.models.cnunet_fused import FusedCNUNet, FusedCNUNetState
from streamse_testing import (
    assert_fused_stream,
    graph_nodes,
    offline,
    perturb,
    rel_err,
    step_hops,
    tiny_cnunet,
)
from test_cnunet import HOP

TOL = 1e-5  # fused vs unfused PyTorch, max |diff| / peak
ONNX_TOL = 1e-4

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def model():
    return perturb(tiny_cnunet(5), 1005)


def test_fused_stream_equals_unfused_across_reset(model, noisy_clean):
    assert isinstance(model.init_state(1).net, CNUNetState)
    assert_fused_stream(model, FusedCNUNetState, noisy_clean, HOP, 40, TOL)


def test_fused_multi_frame_steps_equal_offline(model, noisy_clean):
    x = noisy_clean[0][: 27 * HOP]
    assert rel_err(step_hops(model.streaming_form(), x[None], HOP, frames=3)[0][0], offline(model, x)) < TOL


def test_model_is_unchanged_by_its_fused_form(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = model.streaming_form()
    assert isinstance(fused, FusedCNUNet) and fused is not model.streaming_form()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert isinstance(model.net_init_state(1), CNUNetState)
    assert all(p.requires_grad for p in model.parameters())  # shared layers keep training
    assert not any(p.requires_grad for p in fused.dec.parameters())


def test_onnx_fused_graph_matches_pytorch_with_fewer_nodes(model, tmp_path, noisy_clean):
    path = tmp_path / "tiny_cnunet_fused.onnx"
    meta = export_onnx(model, "tiny-cnunet", "cnunet", path)
    assert any(s.name.startswith("net.dec.") for s in meta.states)  # the fused form
    assert not any(s.name.startswith("net.dec_re.") for s in meta.states)
    assert meta.params == sum(p.numel() for p in model.parameters())  # the model's own
    assert check_onnx(model, path, noisy_clean[0][:6400], tol=ONNX_TOL) < ONNX_TOL
    fused = len(onnx.load(str(path)).graph.node)
    unfused = graph_nodes(HopGraph(model, streaming_form=False), tmp_path / "unfused.onnx", HOP)
    assert fused < 0.7 * unfused, (fused, unfused)
