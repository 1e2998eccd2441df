"""The crn's optional across-frequency GRU inside each frame (`CRNConfig.intra`,
models/intra_frame.py): it reads one frame only (a later frame cannot change an earlier
output), streaming == offline over ragged chunks and across a reset, ONNX == PyTorch, and a
zero start, so that `--init` from a checkpoint without it begins at that checkpoint's output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamse.models.intra_frame import IntraFrameGRU
from streamse_testing import assert_init_starts_at, offline, onnx_error, stream_errors, tiny_crn
from streamse_testing import perturbed_crn as _perturbed
from streamse_testing import prefix_rel_err as _rel

pytestmark = pytest.mark.usefixtures("torch_one_thread")
NEW = dict(input_norm="level", enc_norm="none", lead_gate=True, decoder=True)
INTRA = dict(NEW, intra=(6, 8))


def test_the_block_starts_as_the_identity_and_mixes_bins_only_within_a_frame():
    block = IntraFrameGRU(channels=4, freq=9, hidden=5)
    x = torch.randn(2, 4, 6, 9)  # (B, C, T, F)
    assert torch.equal(block(x), x)
    with torch.no_grad():
        block.norm.weight.normal_()
    y = block(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    x2 = x.clone()
    x2[:, :, 3, 0] += 1.0  # one bin of frame 3: every bin of frame 3 moves, no other frame
    d = (block(x2) - y).abs().amax(dim=(0, 1))  # (T, F)
    assert torch.all(d[3] > 0) and torch.all(d[:3] == 0) and torch.all(d[4:] == 0)


@pytest.mark.parametrize("pattern", [[160], [5 * 160], [1, 100, 333, 17, 160, 999, 2]])
def test_streaming_equals_offline_with_the_intra_frame_gru(noisy_clean, pattern):
    model = _perturbed(**INTRA)
    x = np.concatenate([np.zeros(800, np.float32), noisy_clean[0][:12000]])
    assert max(stream_errors(model, x, pattern)) < 1e-4


def test_intra_frame_onnx_graph_equals_pytorch_and_changes_the_output(tmp_path, noisy_clean):
    model = _perturbed(**INTRA)
    x = np.concatenate([np.zeros(1000, np.float32), noisy_clean[0][:8000]])
    assert onnx_error(model, x, tmp_path / "m.onnx") < 1e-4
    assert _rel(offline(model, x), offline(_perturbed(**NEW), x)) > 1e-3


def test_init_from_a_checkpoint_without_it_starts_at_its_output(tmp_path, noisy_clean):
    plain, with_intra = _perturbed(**NEW), tiny_crn(seed=9, **INTRA)
    assert_init_starts_at(plain, with_intra, INTRA, noisy_clean[0][:8000], tmp_path / "plain.pt")


def test_one_entry_per_encoder_layer_or_a_clear_error():
    assert isinstance(tiny_crn(**NEW, intra=(0, 8)).intra[0], torch.nn.Identity)
    plain = tiny_crn(**NEW)
    assert all(isinstance(m, torch.nn.Identity) for m in plain.intra)
    assert not any("intra" in k for k in plain.state_dict())  # checkpoints without it still load
    with pytest.raises(ValueError, match="one entry per encoder layer"):
        tiny_crn(**NEW, intra=(8,))


def test_the_mac_count_includes_both_directions_of_the_intra_frame_gru():
    from streamse.models.macs import hooked_macs

    block = IntraFrameGRU(channels=4, freq=9, hidden=5)
    x = torch.randn(2, 4, 3, 9)  # 6 frames of 9 positions
    gru = 2 * 6 * 9 * 3 * (4 * 5 + 5 * 5)  # 2 directions x frames x positions x 3 gates
    assert hooked_macs(block, lambda: block(x)) == gru + 6 * 9 * 10 * 4  # + the projection
