"""CNUNet-TB's encoder stage with fused complex halves: the plain-order channel map, and one
stage (every weight perturbed, so that swapped halves or a mis-permuted kernel show) equal to
the stage it is built from offline and one frame at a time, with one attention state."""

from __future__ import annotations

import pytest
import torch

from streamse.models.cnunet_stages import StageState
from streamse.models.cnunet_tb_fused_encoder import FusedEncoderStage, _complex_from_plain
from test_cnunet_tb_fused import perturbed

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_complex_order_read_from_the_plain_concatenation():
    # parts [r0 r1 i0 i1] and [r i]: complex_cat is [r0 r1 r | i0 i1 i]
    assert _complex_from_plain([4, 2]) == [0, 1, 4, 2, 3, 5]
    parts = [torch.randn(1, w, 1, 3) for w in (4, 6, 2)]
    halves = [p.chunk(2, dim=1) for p in parts]
    complex_cat = torch.cat([h[0] for h in halves] + [h[1] for h in halves], dim=1)
    assert torch.equal(torch.cat(parts, dim=1)[:, _complex_from_plain([4, 6, 2])], complex_cat)


@pytest.mark.parametrize("level", [0, 1])
def test_fused_stage_equals_its_stage(level):
    stage = perturbed(3).enc[level]
    fused = FusedEncoderStage(stage)
    x = torch.randn(2, stage.inp.conv.conv.in_channels, 9, stage.inp.conv.in_freq)
    with torch.no_grad():
        y_ref, feats_ref = stage(x)
        y_off, feats_off = fused(x)
        s_ref, s_got = stage.init_state(2), fused.init_state(2)
        assert isinstance(s_got, StageState) and len(s_got.attn) == 1 and len(s_ref.attn) == 2
        ys = []
        for t in range(9):
            (y, _), s_got = fused.step(x[:, :, t : t + 1], s_got)
            ys.append(y)
    scale = float(y_ref.abs().max())
    assert float((y_off - y_ref).abs().max()) < 1e-5 * scale
    assert float((torch.cat(ys, dim=2) - y_ref).abs().max()) < 1e-5 * scale
    for a, b in zip(feats_off, feats_ref):
        assert float((a - b).abs().max()) < 1e-5 * float(b.abs().max())
