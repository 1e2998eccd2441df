"""The crn's optional per-frame U-Net decoder (`CRNConfig.decoder`): streaming == offline over
ragged chunks and across a reset, ONNX == PyTorch, and a zero start, so that `--init` from a
checkpoint without it begins at exactly that checkpoint's output."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from streamse.errors import StreamseError
from streamse.models.registry import checkpoint_dict
from streamse.models.train.strategies.base import init_weights
from streamse_testing import assert_init_starts_at, offline, onnx_error, stream_errors, tiny_crn
from streamse_testing import perturbed_crn as _perturbed
from streamse_testing import prefix_rel_err as _rel

pytestmark = pytest.mark.usefixtures("torch_one_thread")
NEW = dict(input_norm="level", enc_norm="none", lead_gate=True)


def _offline(model, x):
    return offline(model, np.asarray(x, np.float32))


def test_decoder_output_has_full_resolution_and_starts_at_zero():
    model = tiny_crn(**NEW, decoder=True)
    b, t, f = 2, 7, model.n_bins
    skips, x = [], torch.randn(b, 2, t, f)
    for layer in model.encoder:
        x = layer(x)
        skips.append(x)
    h = torch.randn(b, t, model.cfg.rnn_hidden)
    out = model.decoder(h, skips, torch.randn(b, 2, t, f))
    assert out.shape == (b, 2, t, f) and torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize("pattern", [[160], [5 * 160], [1, 100, 333, 17, 160, 999, 2]])
def test_streaming_equals_offline_with_the_decoder(noisy_clean, pattern):
    model = _perturbed(**NEW, decoder=True)
    x = np.concatenate([np.zeros(800, np.float32), noisy_clean[0][:12000]])
    assert max(stream_errors(model, x, pattern)) < 1e-4


def test_decoder_onnx_graph_equals_pytorch_and_changes_the_output(tmp_path, noisy_clean):
    model = _perturbed(**NEW, decoder=True)
    x = np.concatenate([np.zeros(1000, np.float32), noisy_clean[0][:8000]])
    assert onnx_error(model, x, tmp_path / "m.onnx") < 1e-4
    with torch.no_grad():
        model.decoder.out.weight.zero_()
        model.decoder.out.bias.zero_()
    assert _rel(_offline(model, x), _offline(_perturbed(**NEW, decoder=True), x)) > 1e-3


def test_init_from_a_checkpoint_without_decoder_starts_at_its_output(tmp_path, noisy_clean):
    plain, with_dec = _perturbed(**NEW), tiny_crn(seed=9, **NEW, decoder=True)
    path = tmp_path / "plain.pt"
    assert_init_starts_at(plain, with_dec, {**NEW, "decoder": True}, noisy_clean[0][:8000], path)
    with pytest.raises(StreamseError, match="model config differs"):
        init_weights(tiny_crn(**NEW, decoder=True), "crn", path)
    # the other way round, weights the model has no place for are refused
    path2 = tmp_path / "dec.pt"
    torch.save(checkpoint_dict(with_dec, "crn", "crn", step=4), path2)
    with pytest.raises(StreamseError, match="do not fit"):
        init_weights(tiny_crn(**NEW), "crn", path2, {**NEW, "decoder": False})
    # a [model] table that changes nothing does not excuse missing tensors
    ckpt = checkpoint_dict(with_dec, "crn", "crn", step=5)
    ckpt["state_dict"] = {k: v for k, v in ckpt["state_dict"].items() if "decoder" not in k}
    torch.save(ckpt, path2)
    with pytest.raises(StreamseError, match="do not fit"):
        init_weights(tiny_crn(**NEW, decoder=True), "crn", path2, {**NEW, "decoder": True})


def test_decoder_is_a_config_field_recorded_in_the_checkpoint():
    model = tiny_crn(**NEW, decoder=True)
    assert dataclasses.asdict(model.cfg)["decoder"] is True
    assert tiny_crn(**NEW).decoder is None


def test_an_override_that_changes_a_tensor_size_is_a_clear_error(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save(checkpoint_dict(tiny_crn(**NEW), "crn", "crn", step=1), path)
    wider = tiny_crn(**NEW, fc_hidden=48)
    with pytest.raises(StreamseError, match="weights do not fit this model: size mismatch"):
        init_weights(wider, "crn", path, {**NEW, "fc_hidden": 48})
