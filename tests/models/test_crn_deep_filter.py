"""The crn's low-band multi-frame complex filter (`CRNConfig.df_order`, `df_bins`): what it
computes, streaming == offline over ragged chunks and across a reset (lead gate included),
ONNX == PyTorch, and a zero start, so `--init` from a checkpoint without it begins at that
checkpoint's output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamse.models.streaming import ConvState, DeepFilter
from streamse_testing import assert_init_starts_at, offline, onnx_error, stream_errors, tiny_crn
from streamse_testing import perturbed_crn as _perturbed
from streamse_testing import prefix_rel_err as _rel

pytestmark = pytest.mark.usefixtures("torch_one_thread")
DEC = dict(input_norm="level", enc_norm="none", lead_gate=True, decoder=True)
DF = dict(DEC, df_order=4, df_bins=20)


def test_filter_adds_weighted_past_frames_on_the_low_bins_only():
    torch.manual_seed(0)
    df = DeepFilter(3, order=3, bins=5)
    b, t, f = 2, 6, 9
    feats, x, y = torch.randn(b, 3, t, f), torch.randn(b, 2, t, f), torch.randn(b, 2, t, f)
    out, state = df(feats, x, y, df.init_state(b))
    assert torch.equal(out, y)  # zero coefficients at the start
    assert torch.equal(state.past, x[:, :, -2:, :5])
    with torch.no_grad():  # constant coefficients: tap 1 = tanh(0.5) (real), tap 2 = j tanh(0.2)
        df.coef.bias.copy_(torch.tensor([0.5, 0.0, 0.0, 0.2]))
    out, _ = df(feats, x, y, df.init_state(b))
    xz = torch.complex(x[:, 0], x[:, 1])  # (B, T, F)
    want = torch.complex(y[:, 0], y[:, 1]).clone()
    c1, c2 = np.tanh(0.5), 1j * np.tanh(0.2)
    want[:, 1:, :5] += c1 * xz[:, :-1, :5]
    want[:, 2:, :5] += c2 * xz[:, :-2, :5]
    torch.testing.assert_close(torch.complex(out[:, 0], out[:, 1]), want)
    # the stream's past frames stand in for the zeros before the first frame
    past = torch.randn(b, 2, 2, 5)
    out2, _ = df(feats[:, :, :1], x[:, :, :1], y[:, :, :1], ConvState(past))
    pz = torch.complex(past[:, 0], past[:, 1])  # (B, 2, n): frames t-2, t-1
    want0 = torch.complex(y[:, 0, 0, :5], y[:, 1, 0, :5]) + c1 * pz[:, 1] + c2 * pz[:, 0]
    torch.testing.assert_close(torch.complex(out2[:, 0, 0, :5], out2[:, 1, 0, :5]), want0)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="needs decoder"):
        tiny_crn(input_norm="level", df_order=3, df_bins=10)
    with pytest.raises(ValueError, match="df_bins"):
        tiny_crn(**DEC, df_order=3, df_bins=10_000)
    assert tiny_crn(**DEC).df is None


@pytest.mark.parametrize("pattern", [[160], [5 * 160], [1, 100, 333, 17, 160, 999, 2]])
def test_streaming_equals_offline_with_the_filter(noisy_clean, pattern):
    model = _perturbed(**DF)
    x = np.concatenate([np.zeros(800, np.float32), noisy_clean[0][:12000]])
    assert max(stream_errors(model, x, pattern)) < 1e-4


def test_filter_onnx_graph_equals_pytorch_and_changes_the_output(tmp_path, noisy_clean):
    model = _perturbed(**DF)
    x = np.concatenate([np.zeros(1000, np.float32), noisy_clean[0][:8000]])
    assert onnx_error(model, x, tmp_path / "m.onnx") < 1e-4
    with torch.no_grad():
        model.df.coef.weight.zero_()
        model.df.coef.bias.zero_()
    assert _rel(offline(model, x), offline(_perturbed(**DF), x)) > 1e-3


def test_init_from_a_decoder_checkpoint_starts_at_its_output(tmp_path, noisy_clean):
    plain, with_df = _perturbed(**DEC), tiny_crn(seed=3, **DF)
    assert_init_starts_at(plain, with_df, DF, noisy_clean[0][:8000], tmp_path / "dec.pt", step=7)
