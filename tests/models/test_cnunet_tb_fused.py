"""CNUNet-TB's fused streaming form (the four decoder paths as one channel-grouped net, each
encoder stage's complex halves as two groups): with
every weight perturbed (norm affines and PReLU slopes included, so that a mixed-up path order
shows), the fused stream == the unfused stream over two streams and across a reset, and in
multi-frame steps; fused branches offline == the two branches; the exported hop graph (the
fused form) == PyTorch offline, with fewer nodes than the unfused one; the model unchanged."""

from __future__ import annotations

import onnx
import pytest
import torch

from streamse.export.graph import HopGraph
from streamse.export.onnx_export import check_onnx, export_onnx
from streamse.models.cnunet_tb import CNUNetTBState
from streamse.models.cnunet_tb_fused import FusedCNUNetTB, FusedCNUNetTBState
from streamse_testing import assert_fused_stream, graph_nodes, offline, perturb, rel_err, step_hops, tiny_tb
from test_cnunet_tb import HOP

TOL = 1e-5  # fused vs unfused PyTorch, max |diff| / peak
ONNX_TOL = 1e-4

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def perturbed(seed: int):
    """The tiny CNUNet-TB with noise on every parameter."""
    return perturb(tiny_tb(seed), seed + 1000)


@pytest.fixture(scope="module")
def model():
    return perturbed(7)


def test_fused_stream_equals_unfused_across_reset(model, noisy_clean):
    assert isinstance(model.init_state(1).net, CNUNetTBState)
    assert_fused_stream(model, FusedCNUNetTBState, noisy_clean, HOP, 30, TOL)


def test_fused_multi_frame_steps_and_offline(model, noisy_clean):
    fused = model.streaming_form()
    x = noisy_clean[0][: 21 * HOP]
    ref = offline(model, x)
    assert rel_err(step_hops(fused, x[None], HOP, frames=3)[0][0], ref) < TOL
    with torch.no_grad():  # offline, the branch outputs themselves
        h, skips, feats, _ = model.encode(model.analyse(torch.from_numpy(x)[None]), None)
        latent = model.bottleneck(h)
        m, s = fused.branches(latent, skips, feats)
        for got, branch in ((m, model.mask_branch), (s, model.map_branch)):
            assert rel_err(got.numpy(), branch.decode(latent, skips, feats, None)[0].numpy()) < TOL


def test_model_is_unchanged_by_its_fused_form(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = model.streaming_form()
    assert isinstance(fused, FusedCNUNetTB) and fused is not model.streaming_form()
    assert model.state_dict().keys() == before.keys()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert isinstance(model.net_init_state(1), CNUNetTBState)
    assert not any(p.requires_grad for p in fused.branches.parameters())
    assert all(p.requires_grad for p in model.parameters())  # shared layers keep training


def test_onnx_fused_graph_matches_pytorch_with_fewer_nodes(model, tmp_path, noisy_clean):
    path = tmp_path / "tiny_tb_fused.onnx"
    meta = export_onnx(model, "tiny-tb", "cnunet-tb", path)
    assert any(s.name.startswith("net.branches.") for s in meta.states)  # the fused form
    enc_attn = {
        s.name.split(".")[4] for s in meta.states if s.name.startswith("net.enc.") and ".attn." in s.name
    }
    assert enc_attn == {"0"}, enc_attn  # one attention (both halves) per encoder stage
    assert meta.params == sum(p.numel() for p in model.parameters())  # the model's own
    assert check_onnx(model, path, noisy_clean[0][:6400], tol=ONNX_TOL) < ONNX_TOL
    fused = len(onnx.load(str(path)).graph.node)
    unfused = graph_nodes(HopGraph(model, streaming_form=False), tmp_path / "unfused.onnx", HOP)
    assert fused < 0.7 * unfused, (fused, unfused)
