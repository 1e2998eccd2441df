"""Input level normalisation (`LevelNorm`) and the lead gate (leading digital silence does not
step the network): streaming == offline, gain equivariance, exact invariance to leading
zeros, per-stream gating in a batch, and the ONNX hop graph agreeing with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamse.models.streaming import LevelNorm
from streamse.models.torch_streamer import TorchStreamer
from streamse_testing import feed_pattern, onnx_error
from streamse_testing import perturbed_crn as _perturbed
from streamse_testing import prefix_rel_err as _rel
from streamse_testing import tiny_crn

pytestmark = pytest.mark.usefixtures("torch_one_thread")
NEW = dict(input_norm="level", enc_norm="none", lead_gate=True, head_skip=True)


def _offline(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(np.asarray(x, np.float32))[None])[0].numpy()


def test_level_norm_is_scale_free_and_keeps_frame_contrast():
    x = torch.randn(2, 2, 50, 9)
    x[:, :, 20:30] *= 10  # a loud stretch
    ln = LevelNorm(0.01, 1.0)
    y = ln(x)
    torch.testing.assert_close(ln(0.05 * x), y, rtol=1e-3, atol=1e-4)  # -87 dB before compression
    frame_rms = y.pow(2).mean(dim=(1, 3)).sqrt()
    # an onset stands out against what came before (a 20 dB jump is still ~15 dB after it)
    assert float(frame_rms[:, 20].mean()) > 5 * float(frame_rms[:, 10:20].mean())


def test_level_norm_ignores_digital_silence_and_streams():
    x = torch.randn(1, 2, 40, 9)
    x[:, :, :10] = 0.0
    ln = LevelNorm(0.01, 0.2)
    whole = ln(x)
    assert torch.equal(whole[:, :, :10], torch.zeros_like(whole[:, :, :10]))
    torch.testing.assert_close(whole[:, :, 10:], ln(x[:, :, 10:]))  # as if started at 10
    state, parts = ln.init_state(1), []
    for a, b in [(0, 1), (1, 17), (17, 18), (18, 40)]:
        y, state = ln.step(x[:, :, a:b], state)
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, dim=2), whole)


@pytest.mark.parametrize("pattern", [[160], [7 * 160], [1, 100, 333, 17, 160, 999, 2]])
def test_streaming_equals_offline_with_level_norm_and_gate(noisy_clean, pattern):
    model = _perturbed(**NEW)
    x = np.concatenate([np.zeros(1234, np.float32), noisy_clean[0][:12000]])
    streamer = TorchStreamer(model)
    assert _rel(feed_pattern(streamer, x, pattern), _offline(model, x)) < 1e-4
    streamer.reset()  # across a reset: the same numbers again
    assert _rel(streamer.feed(x), _offline(model, x)) < 1e-4


def test_output_scales_with_the_input():
    model = _perturbed(**NEW)
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    y = _offline(model, x)
    for g in (0.01, 3.0):
        assert _rel(_offline(model, g * x) / g, y) < 1e-3
    old = _perturbed()  # no level norm: the output does not simply scale
    assert _rel(_offline(old, 0.01 * x) / 0.01, _offline(old, x)) > 1e-2


@pytest.mark.parametrize("lead_hops", [1, 50, 400])
def test_leading_zeros_change_nothing_with_the_gate(noisy_clean, lead_hops):
    x = noisy_clean[0][:8000]
    gated, plain = _perturbed(**NEW), _perturbed(input_norm="level", enc_norm="none")
    n = lead_hops * 160
    for model, exact in ((gated, True), (plain, False)):
        fresh = _offline(model, x)
        late = _offline(model, np.concatenate([np.zeros(n, np.float32), x]))
        assert np.all(late[:n] == 0)
        err = _rel(late[n:], fresh)
        assert (err < 1e-5) if exact else (err > 1e-4), (exact, err)


def test_gate_is_per_stream_in_a_batch(noisy_clean):
    model = _perturbed(**NEW)
    x = noisy_clean[0][:6400]
    a = np.concatenate([np.zeros(1600, np.float32), x])
    b = np.concatenate([x, np.zeros(1600, np.float32)])
    with torch.no_grad():
        both = model(torch.from_numpy(np.stack([a, b])))
    np.testing.assert_allclose(both[0].numpy(), _offline(model, a), atol=1e-6)
    np.testing.assert_allclose(both[1].numpy(), _offline(model, b), atol=1e-6)


def test_gated_onnx_graph_equals_pytorch(tmp_path, noisy_clean):
    from streamse.export.onnx_export import check_onnx, export_onnx

    model = _perturbed(**NEW)
    meta = export_onnx(model, "crn", "crn", tmp_path / "m.onnx")
    assert "started" in [s.name for s in meta.states]
    x = np.concatenate([np.zeros(3000, np.float32), noisy_clean[0][:8000]])
    assert check_onnx(model, tmp_path / "m.onnx", x) < 1e-4


def test_unflatten_state_names_a_count_mismatch():
    from streamse.models.streaming import flatten_state, unflatten_state

    template = tiny_crn().init_state(1)
    tensors = [t for _, t in flatten_state(template)]
    assert len(flatten_state(unflatten_state(template, tensors))) == len(tensors)
    for wrong in (tensors[:-1], tensors + [tensors[0]]):
        with pytest.raises(ValueError, match=f"state needs {len(tensors)} tensors"):
            unflatten_state(template, wrong)


@pytest.mark.parametrize("make", ["crn", "cnunet"])
def test_states_follow_the_model_dtype_float64_streaming_equals_offline(make, noisy_clean):
    """In float64 the streaming form matches the offline one to 1e-9 of the peak: every state
    tensor follows the model's dtype (a float32 state would cap the match near 1e-7)."""
    from streamse_testing import tiny_cnunet

    model = (_perturbed(**NEW) if make == "crn" else tiny_cnunet(seed=2)).double()
    x = torch.from_numpy(np.concatenate([np.zeros(800), noisy_clean[0][:6400]]))[None]
    with torch.no_grad():
        offline = model(x)[0]
        state = model.init_state(1)
        assert all(t.dtype == torch.float64 for t in _leaves(state))
        hop, outs = model.geometry.hop, []
        for i in range(0, x.shape[1] - hop + 1, 3 * hop):
            y, state = model.step(x[:, i : i + 3 * hop], state)
            outs.append(y[0])
    streamed = torch.cat(outs)
    n = min(streamed.numel(), offline.numel())
    err = (streamed[:n] - offline[:n]).abs().max() / offline[:n].abs().max()
    assert err < 1e-9, float(err)


def _leaves(state):
    from streamse.models.streaming import flatten_state

    return [t for _, t in flatten_state(state)]


def test_mask_power_softens_attenuations_only_and_keeps_the_phase():
    model = _perturbed(**NEW, mask_power=0.6)
    m = torch.rand(2, 2, 9, 11, generator=torch.Generator().manual_seed(0)) * 2.5 - 1.25
    out = m * model._power_gain(m)
    r, r2 = m.norm(dim=1), out.norm(dim=1)
    below = r < 1
    torch.testing.assert_close(r2[below], r[below] ** 0.6, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(r2[~below], r[~below])
    cross = m[:, 0] * out[:, 1] - m[:, 1] * out[:, 0]  # parallel complex numbers: no rotation
    torch.testing.assert_close(cross, torch.zeros_like(cross), rtol=0, atol=1e-6)


def test_mask_power_streams_exports_and_changes_the_output(tmp_path, noisy_clean):
    soft, plain = _perturbed(**NEW, mask_power=0.8), _perturbed(**NEW)  # the same weights
    x = np.concatenate([np.zeros(1234, np.float32), noisy_clean[0][:9000]])
    want = _offline(soft, x)
    streamer = TorchStreamer(soft)
    got = np.concatenate([streamer.feed(x[i : i + 333]) for i in range(0, x.size, 333)])
    assert _rel(got, want[: got.size]) < 1e-4
    assert onnx_error(soft, x, tmp_path / "soft.onnx") < 1e-4
    assert _rel(want, _offline(plain, x)) > 1e-3


QUIET = dict(NEW, silence_db=-80.0)


def _floor(n: int, db: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * 10 ** (db / 20)).astype(np.float32)


def test_frame_mean_square_reads_the_level_of_white_noise():
    """Parseval over the window: white noise of RMS s reads s^2 per frame (within the spread
    of 320-sample frames), whatever the compression."""
    for compress in (0.3, 1.0):
        model = _perturbed(**NEW, compress=compress)
        x = torch.from_numpy(_floor(32000, -70.0))[None]
        ms = model.frame_mean_square(model.analyse(x))[0, 2:]
        level = 10 * torch.log10(ms)
        assert abs(float(level.mean()) + 70.0) < 0.3 and float(level.std()) < 1.0


@pytest.mark.parametrize("lead_db", [-120.0, -90.0])
def test_a_floor_under_silence_db_is_silence(noisy_clean, lead_db):
    """Noise under `silence_db` ahead of the input is leading silence: the output after it is a
    fresh start's (the lead frames give zeros; the first frame's window still holds the last
    hop of the floor, hence not bit-exact); without `silence_db` it is a quiet start."""
    x, n = noisy_clean[0][:8000], 50 * 160
    lead = _floor(n, lead_db)
    for model, exact in ((_perturbed(**QUIET), True), (_perturbed(**NEW), False)):
        fresh = _offline(model, x)
        late = _offline(model, np.concatenate([lead, x]))
        assert np.all(late[: n - 160] == 0) == exact
        err = _rel(late[n:], fresh)
        assert (err < 1e-2) if exact else (err > 0.3), (exact, err)  # measured 2e-3 / > 1


def test_a_floor_above_silence_db_starts_the_stream(noisy_clean):
    model = _perturbed(**QUIET)
    x, lead = noisy_clean[0][:8000], _floor(4800, -60.0)
    late = _offline(model, np.concatenate([lead, x]))
    assert np.abs(late[1600:4800]).max() > 0  # the -60 dBFS frames stepped the network
    assert _rel(late[4800:], _offline(model, x)) > 1e-4


def test_silent_frames_mid_stream_leave_the_level_alone():
    """With `silence_db`, frames under it do not move the level normaliser's average (as exact
    zeros never did): a -100 dBFS gap reads like a zero gap, where without it the floor pulls
    the average down and the frames after the gap come out louder."""
    rng = np.random.default_rng(1)
    a, b = ((0.05 * rng.standard_normal(4000)).astype(np.float32) for _ in range(2))
    gap_zero = np.concatenate([a, np.zeros(3200, np.float32), b])
    gap_floor = np.concatenate([a, _floor(3200, -100.0), b])
    tail = slice(4000 + 3200 + 640, None)
    err = {}
    for key, kw in (("quiet", QUIET), ("new", NEW)):
        model = _perturbed(**kw)
        err[key] = _rel(_offline(model, gap_floor)[tail], _offline(model, gap_zero)[tail])
    assert err["quiet"] < 3e-3 and err["new"] > 10 * err["quiet"], err


@pytest.mark.parametrize("pattern", [[160], [7 * 160], [1, 100, 333, 17, 160, 999, 2]])
def test_streaming_equals_offline_with_silence_db(noisy_clean, pattern):
    model = _perturbed(**QUIET)
    x = np.concatenate([_floor(1234, -95.0), _floor(800, -60.0), noisy_clean[0][:12000]])
    streamer = TorchStreamer(model)
    assert _rel(feed_pattern(streamer, x, pattern), _offline(model, x)) < 1e-4
    streamer.reset()
    assert _rel(streamer.feed(x), _offline(model, x)) < 1e-4


def test_silence_db_onnx_graph_equals_pytorch(tmp_path, noisy_clean):
    model = _perturbed(**QUIET)
    x = np.concatenate([_floor(3000, -90.0), noisy_clean[0][:8000]])
    assert onnx_error(model, x, tmp_path / "quiet.onnx") < 1e-4
