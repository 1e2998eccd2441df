"""The crn's learned-basis second stage (`CRNConfig.stage2_basis`, models/basis_stage.py):
streaming == offline over ragged chunks and across a reset, ONNX == PyTorch, the input level
still only scales the output, and a zero start, so that `--init` from a checkpoint without it
begins at that checkpoint's output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamse.models.basis_stage import BasisStage
from streamse_testing import assert_init_starts_at, offline, onnx_error, stream_errors, tiny_crn
from streamse_testing import perturbed_crn as _perturbed
from streamse_testing import prefix_rel_err as _rel

pytestmark = pytest.mark.usefixtures("torch_one_thread")
NEW = dict(input_norm="level", enc_norm="none", lead_gate=True, decoder=True, noise_floor=True)
STAGE2 = dict(NEW, stage2_basis=24, stage2_hidden=12)
NOISY = dict(STAGE2, stage2_noisy=True)  # the basis spans the noisy input too
BOTH = pytest.mark.parametrize("kind", [STAGE2, NOISY], ids=["estimate", "noisy"])


@pytest.mark.parametrize("noisy", [False, True])
def test_the_stage_starts_as_the_identity_and_its_correction_scales_with_the_input(noisy):
    torch.manual_seed(0)
    stage = BasisStage(n_bins=9, n_basis=6, hidden=5, noisy=noisy)
    y = torch.randn(2, 2, 30, 9)
    x = torch.randn(2, 2, 30, 9) if noisy else None
    scaled = None if x is None else 7.0 * x
    with torch.no_grad():
        torch.testing.assert_close(stage(y, x), y, atol=0, rtol=0)
        stage.decode.weight.normal_()
        d = stage(y, x) - y
        assert float(d.abs().max()) > 1e-2
        torch.testing.assert_close(stage(7.0 * y, scaled) - 7.0 * y, 7.0 * d, atol=1e-4, rtol=1e-4)
        if noisy:  # the noisy input reaches the correction
            assert float((stage(y, 2.0 * x) - y - d).abs().max()) > 1e-3
    with pytest.raises(ValueError, match="noisy"):
        stage(y, None if noisy else y)


@BOTH
@pytest.mark.parametrize("pattern", [[256], [5 * 256], [1, 100, 333, 17, 256, 999, 2]])
def test_streaming_equals_offline_with_the_second_stage(noisy_clean, pattern, kind):
    model = _perturbed(**kind)
    x = np.concatenate([np.zeros(800, np.float32), noisy_clean[0][:12000]])
    assert max(stream_errors(model, x, pattern)) < 1e-4


@BOTH
def test_second_stage_onnx_graph_equals_pytorch_and_changes_the_output(tmp_path, noisy_clean, kind):
    model = _perturbed(**kind)
    x = np.concatenate([np.zeros(1000, np.float32), noisy_clean[0][:8000]])
    assert onnx_error(model, x, tmp_path / "m.onnx") < 1e-4
    assert _rel(offline(model, x), offline(_perturbed(**NEW), x)) > 1e-3


@BOTH
def test_the_input_level_only_scales_the_output_with_the_second_stage(noisy_clean, kind):
    model = _perturbed(**kind)
    x = noisy_clean[0][:12000]
    ref = offline(model, x)
    for gain in (0.03, 10.0):
        assert _rel(offline(model, gain * x) / gain, ref) < 1e-3


@BOTH
def test_init_from_a_checkpoint_without_it_starts_at_its_output(tmp_path, noisy_clean, kind):
    plain, with_stage = _perturbed(**NEW), tiny_crn(seed=9, **kind)
    assert_init_starts_at(plain, with_stage, kind, noisy_clean[0][:8000], tmp_path / "plain.pt")


def test_checkpoints_without_it_have_no_stage2_tensors():
    assert not any(k.startswith("stage2") for k in tiny_crn(**NEW).state_dict())
    assert any(k.startswith("stage2.rnn") for k in tiny_crn(**STAGE2).state_dict())
