"""The crn's look-ahead (`CRNConfig.lookahead`, L frames, models/lookahead.py): the mask of
frame t is made when frame t + L has arrived and uses it; streaming == offline over ragged
chunks and across a reset; delay and latency grow by L hops everywhere they are reported
(geometry, ONNX metadata, the runtime streamer); ONNX == PyTorch; a checkpoint without
look-ahead loads as itself, exactly L frames later; the trainer lines its reference up with the
lagged estimate."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from streamse.errors import StreamseError
from streamse_testing import offline, onnx_error, perturbed_crn, stream_errors, tiny_crn

pytestmark = pytest.mark.usefixtures("torch_one_thread")
# the shipped crn's kind: asymmetric windows (32 ms analysis, 20 ms synthesis) and every input path
SHIPPED = dict(
    win=512, n_fft=512, synthesis_win=320, input_norm="level", enc_norm="none", lead_gate=True,
    decoder=True, noise_floor=True, silence_db=-80.0,
)  # fmt: skip
PLAIN = dict(SHIPPED, input_norm="none", noise_floor=False, decoder=False, lead_gate=False, silence_db=None)
KINDS = pytest.mark.parametrize("kind", [SHIPPED, PLAIN], ids=["shipped-kind", "plain"])


@KINDS
@pytest.mark.parametrize("frames", [1, 2])
@pytest.mark.parametrize("pattern", [[160], [5 * 160], [1, 100, 333, 17, 256, 999, 2]])
def test_streaming_equals_offline_with_lookahead(noisy_clean, pattern, frames, kind):
    model = perturbed_crn(**kind, lookahead=frames)
    x = np.concatenate([np.zeros(800, np.float32), noisy_clean[0][:12000]])
    chunked, after_reset = stream_errors(model, x, pattern)
    assert chunked < 1e-4 and after_reset < 1e-4


@pytest.mark.parametrize("frames", [0, 1, 2])
def test_the_estimate_of_a_sample_uses_lookahead_hops_of_later_input(noisy_clean, frames):
    """Output index j reconstructs input sample j - delay_samples. A change to the input from
    sample s on leaves every output before s as it was (causal) and changes the hop from s,
    which reconstructs input samples from s - (window - hop) - L hops: L hops earlier than a
    model without look-ahead can reach."""
    from streamse_testing import assert_causal_from

    model = perturbed_crn(**SHIPPED, lookahead=frames)
    x = noisy_clean[0][:16000]
    s = 60 * 160
    assert_causal_from(model, x, s, 160)
    earliest_changed = s - model.geometry.delay_samples
    assert earliest_changed == s - (320 - 160) - frames * 160


@pytest.mark.parametrize("frames", [1, 3])
def test_delay_and_latency_grow_by_lookahead_hops_in_every_report(tmp_path, noisy_clean, frames):
    from streamse.runtime import OnnxStreamer

    model = perturbed_crn(**SHIPPED, lookahead=frames)
    geo = model.geometry
    assert geo.lookahead == frames * 160
    assert geo.delay_samples == 320 - 160 + frames * 160
    assert geo.algorithmic_latency == 320 + frames * 160
    x = np.concatenate([np.zeros(1000, np.float32), noisy_clean[0][:8000]])
    assert onnx_error(model, x, tmp_path / "m.onnx") < 1e-4
    streamer = OnnxStreamer(tmp_path / "m.onnx")
    assert streamer.delay_samples == geo.delay_samples
    assert streamer.algorithmic_latency == geo.algorithmic_latency
    assert streamer.geometry.lookahead == frames * 160


def test_a_checkpoint_without_it_loads_as_itself_lookahead_hops_later(tmp_path, noisy_clean):
    """The network runs on every frame as before and the new weights (those on h(t + L)) start
    at zero: `--init` from a checkpoint without look-ahead gives that checkpoint's output,
    shifted by exactly L hops, from the first sample; only the mask head's and the decoder's
    input layers widen, by zero columns."""
    from streamse.models.registry import checkpoint_dict
    from streamse.models.train.strategies.base import init_weights

    x = noisy_clean[0][:16000]
    plain = perturbed_crn(**SHIPPED)
    torch.save(checkpoint_dict(plain, "crn", "crn", step=7), tmp_path / "p.pt")
    a = offline(plain, x)
    for frames in (1, 2):
        model = tiny_crn(seed=9, **SHIPPED, lookahead=frames)
        assert init_weights(model, "crn", tmp_path / "p.pt", {"lookahead": frames}) == 7
        b, d = offline(model, x), frames * 160
        assert np.abs(a[: a.size - d] - b[d:]).max() / np.abs(a).max() < 1e-5
        assert np.abs(b[:d]).max() == 0.0
        new, old = model.state_dict(), plain.state_dict()
        for k, v in old.items():
            if k in ("head.0.weight", "decoder.proj.weight"):
                torch.testing.assert_close(new[k][:, : v.shape[1]], v)
                assert new[k].shape[1] == v.shape[1] + 32  # rnn_hidden: h(t + L)
                assert float(new[k][:, v.shape[1] :].abs().max()) == 0.0
            else:
                torch.testing.assert_close(new[k], v)
        assert set(new) == set(old)


def test_the_trainer_compares_the_lagged_estimate_with_the_same_frame(tmp_path, train_data_dirs):
    """The reference spectrum is delayed by L frames: an estimate equal to the clean spectrum L
    frames late has zero spectral loss; the same estimate unlagged does not."""
    from streamse.models.train.losses import LossConfig
    from streamse.models.train.trainer import Trainer
    from streamse_testing import tiny_train_config

    model = {"channels": (4, 8), "rnn_hidden": 16, "rnn_layers": 1, "fc_hidden": 16, "lookahead": 2}
    cfg = tiny_train_config(*train_data_dirs, model, loss=LossConfig(cplx=0.3, mag=0.7, sisdr=0.0, snr=0.0))
    tr = Trainer("crn-s", cfg, tmp_path / "t", progress=False)
    assert tr.model.lookahead_frames == 2
    noisy, clean = tr.batch(0)
    ref = tr.model.analyse(clean)
    lagged = torch.nn.functional.pad(ref, (0, 0, 2, 0))[:, :, : ref.shape[2]]
    assert float(tr.spectral_loss(lagged, clean)[0]) < 1e-10
    assert float(tr.spectral_loss(ref, clean)[0]) > 1e-3


def test_lookahead_is_refused_where_frames_are_compared_in_place_and_when_negative():
    with pytest.raises(ValueError, match="lookahead"):
        tiny_crn(lookahead=-1)
    assert not any("delay" in k for k in tiny_crn(lookahead=2).state_dict())  # no weights
    with pytest.raises(StreamseError, match="look-ahead"):
        _cyclegan_with_lookahead()


def _cyclegan_with_lookahead():
    """setup_extra of a CycleGAN trainer whose model has look-ahead (the rest of the trainer
    is not needed to reach the check)."""
    from streamse.models.train.strategies.cyclegan import CycleGANTrainer

    tr = CycleGANTrainer.__new__(CycleGANTrainer)
    tr.world, tr.model = 1, tiny_crn(lookahead=1)
    tr.setup_extra()
