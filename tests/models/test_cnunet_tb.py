"""Whole-model tests of the causal CNUNet-TB(-TS) beyond the streaming contract both nested
U-Nets share (test_nested_unet_streaming.py): the 17-tap attention's causality, the polar mask,
ONNX hop graph == PyTorch, the published size, the stage-1 fusion."""

from __future__ import annotations


import pytest
import torch

from streamse.export.onnx_export import check_onnx, export_onnx
from streamse.models.cnunet_tb import CNUNetTBConfig
from streamse.models.cnunet_tb_blocks import CausalCTFA, GateConfig, polar_mask
from streamse.models.spectral import decompress
from streamse.models.macs import macs_per_second
from streamse.models.registry import build_by_name
from streamse.runtime import OnnxStreamer
from streamse_testing import feed_pattern, offline, rel_err, tiny_tb

REL_TOL = 1e-4  # max |streamed - offline| / peak
HOP = 256


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def model():
    return tiny_tb(seed=3)


def test_attention_is_causal_with_17_taps():
    """The published gate (17 taps, 32-frame mean): no output frame moves before the change,
    and the change reaches 16 frames later through the taps."""
    torch.manual_seed(0)
    attn = CausalCTFA(4, 8, GateConfig(17, 32)).eval()
    x = torch.randn(1, 4, 60, 8)
    x2 = x.clone()
    x2[:, :, 30:] += 1.0
    with torch.no_grad():
        y1, y2 = attn(x), attn(x2)
    torch.testing.assert_close(y1[:, :, :30], y2[:, :, :30], rtol=0, atol=0)
    assert not torch.allclose(y1[:, :, 46], y2[:, :, 46])


def test_polar_mask_is_bounded():
    xc, m = torch.randn(2, 2, 5, 7), 100 * torch.randn(2, 2, 5, 7)
    ratio = polar_mask(xc, m).norm(dim=1) / xc.norm(dim=1)
    assert ratio.max() <= 1.0 + 1e-6


def test_a_softer_mask_power_attenuates_less_and_stays_bounded():
    xc, m = torch.randn(2, 2, 5, 7), 3 * torch.randn(2, 2, 5, 7)
    hard, soft = (polar_mask(xc, m, p).norm(dim=1) / xc.norm(dim=1) for p in (1.0, 0.5))
    torch.testing.assert_close(polar_mask(xc, m, 1.0), polar_mask(xc, m))
    assert (soft >= hard - 1e-6).all() and (soft > hard + 1e-3).any() and soft.max() <= 1.0 + 1e-6
    torch.testing.assert_close(soft, hard.sqrt())  # the gain tanh|M| to the power 0.5


def _branches(model, xc):
    """The compressed estimate and the two branch outputs of an offline pass."""
    with torch.no_grad():
        h, skips, feats, _ = model.encode(xc, None)
        latent = model.bottleneck(h)
        m = model.mask_branch.decode(latent, skips, feats, None)[0]
        s = model.map_branch.decode(latent, skips, feats, None)[0]
        return model.net_forward(xc), m, s


def test_combine_mean_halves_a_dead_mapping_branch_and_sum_does_not(noisy_clean):
    """With the mapping branch silenced (its head zero: what training left in the shipped
    weights, -26..-65 dB), 'mean' is the masked spectrum at -6 dB and 'sum' the masked spectrum
    itself; with a live branch, 'sum' is twice 'mean' in the linear domain."""
    x = torch.from_numpy(noisy_clean[0][:8000])[None]
    mean, total = tiny_tb(seed=4), tiny_tb(seed=4, combine="sum")
    xc = mean.analyse(x)
    p = mean.cfg.compress
    lin = lambda z: decompress(z, p)[..., 1:]  # noqa: E731
    torch.testing.assert_close(
        lin(total.net_forward(xc)), 2 * lin(mean.net_forward(xc)), rtol=1e-4, atol=1e-6
    )
    for model in (mean, total):
        with torch.no_grad():
            model.map_branch.head.weight.zero_()
            model.map_branch.head.bias.zero_()
    y_mean, m, s = _branches(mean, xc)
    assert float(s.abs().max()) == 0.0
    masked = decompress(polar_mask(xc[..., 1:], m), p)
    torch.testing.assert_close(lin(y_mean), 0.5 * masked, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(lin(total.net_forward(xc)), masked, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="combine must be one of"):
        CNUNetTBConfig(combine="max")


@pytest.mark.parametrize("overrides", [{}, {"combine": "sum", "mask_power": 0.6}], ids=["seed", "sum-power"])
def test_onnx_hop_graph_matches_pytorch(tmp_path, noisy_clean, overrides):
    model = tiny_tb(seed=5, **overrides)
    path = tmp_path / "tiny_tb.onnx"
    meta = export_onnx(model, "tiny-tb", "cnunet-tb", path)
    assert meta.params == sum(p.numel() for p in model.parameters())
    x = noisy_clean[0][:6400]
    assert check_onnx(model, path, x) < REL_TOL
    streamer, ref = OnnxStreamer(path), offline(model, x)
    streamer.reset()
    ref = ref[: (x.size // HOP) * HOP]
    assert rel_err(feed_pattern(streamer, x, [5, 256, 1000, 33, 1]), ref) < REL_TOL


def test_published_configuration():
    """2,796,393 parameters: within 10 % of the release's 2,979,840, on the paper's 512/256
    Hamming STFT (32 ms window, 16 ms hop) with compression 0.2."""
    m = build_by_name("cnunet-tb-ts-paper")
    n = sum(p.numel() for p in m.parameters())
    assert n == 2_796_393 and abs(n / 2_979_840 - 1) < 0.10
    geo = m.geometry
    assert (geo.window, geo.hop, geo.delay_samples) == (512, 256, 256)
    assert m.fusion is None
    paper = CNUNetTBConfig()
    assert (paper.win, paper.hop, paper.window, paper.compress) == (512, 256, "hamming", 0.2)


def test_small_configuration_macs():
    assert 0.3e9 < macs_per_second(build_by_name("cnunet-tb-ts")) < 0.9e9


def test_fusion_needs_and_uses_the_embedding():
    model = tiny_tb(seed=1, embed_dim=6)
    wav = torch.randn(2, 10 * HOP)
    emb = torch.randn(2, 10, 6)
    with pytest.raises(ValueError, match="embedding"):
        model.estimate(wav)
    with torch.no_grad():
        y1, lat1 = model.estimate_with_latent(wav, emb)
        y2, lat2 = model.estimate_with_latent(wav, emb + 1)
    assert y1.shape == (2, 2, 10, 257) and lat1.shape == (2, 8, 10, 64)
    assert not torch.allclose(lat1, lat2)
