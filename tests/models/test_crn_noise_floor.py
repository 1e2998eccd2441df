"""The crn's optional noise-floor feature (`CRNConfig.noise_floor`,
models/streaming/noise_floor.py): a steady tone reads ~0 dB above its floor while a bin that
comes and goes reads above it, the floor skips silent frames and does not care about the
input level, streaming == offline over ragged chunks and across a reset, ONNX == PyTorch, and
a zero start, so that `--init` from a checkpoint without it begins at that checkpoint's output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamse.models.spectral import compress
from streamse.models.streaming import NoiseFloor
from streamse_testing import assert_init_starts_at, offline, onnx_error, stream_errors, tiny_crn
from streamse_testing import perturbed_crn as _perturbed
from streamse_testing import prefix_rel_err as _rel

pytestmark = pytest.mark.usefixtures("torch_one_thread")
NEW = dict(input_norm="level", enc_norm="none", lead_gate=True, decoder=True)
FLOOR = dict(NEW, noise_floor=True)
HOP_S = 0.016


def _spectrum(frames: np.ndarray) -> torch.Tensor:
    """|X| per frame and bin (T, F) -> compressed spectrum (1, 2, T, F) with phase 0."""
    mag = torch.as_tensor(frames, dtype=torch.float32)
    return compress(torch.stack([mag, torch.zeros_like(mag)])[None], 0.3)


def _layer() -> NoiseFloor:
    return NoiseFloor(n_bins=3, frame_seconds=HOP_S, rise_db_per_s=5.0, compress=0.3)


def test_a_steady_tone_sits_at_its_floor_and_a_bin_that_comes_and_goes_stands_above_it():
    t = 200
    frames = np.full((t, 3), 1e-3)
    frames[:, 0] = 1.0  # a steady tone
    frames[100:130, 1] = 0.3  # a harmonic that starts at frame 100: 50 dB above bin 1's floor
    feat = _layer()(_spectrum(frames))[0, 0] * 20.0  # (T, F) dB above the floor
    assert feat[50:, 0].abs().max() < 0.5  # the tone: ~0 dB throughout
    assert feat[100:130, 1].min() > 40.0  # the harmonic: its 50 dB (less the slow rise)
    assert feat[140:, 1].abs().max() < 3.0  # back on the floor after it stops


def test_the_floor_rises_at_the_stated_rate_and_clips_at_the_span():
    frames = np.full((140, 3), 1e-1)
    frames[:40] = 1e-3  # quiet start: the floor sits at -60 dB, then the level jumps 40 dB
    feat = _layer()(_spectrum(frames))[0, 0, :, 0] * 20.0
    rise = 5.0 * HOP_S  # dB per frame
    expected = np.maximum(40.0 - rise * np.arange(1, 101), 0.0)
    np.testing.assert_allclose(feat[40:].numpy(), expected, atol=0.5)
    loud = np.full((10, 3), 1e-3)
    loud[5:] = 1e3  # 120 dB above the floor: clipped at 60
    assert abs(float(_layer()(_spectrum(loud))[0, 0, 5, 0]) * 20.0 - 60.0) < 1e-3


def test_silent_frames_leave_the_floor_alone_and_the_level_does_not_matter():
    rng = np.random.default_rng(0)
    frames = np.abs(rng.standard_normal((120, 3))) + 0.05
    gap = np.zeros((30, 3))
    with_zeros = np.concatenate([gap, frames[:60], gap, frames[60:]])  # before and inside
    a = _layer()(_spectrum(frames))[0, 0]
    b = _layer()(_spectrum(with_zeros))[0, 0]
    assert torch.all(b[:30] == 0) and torch.all(b[90:120] == 0)
    torch.testing.assert_close(torch.cat([b[30:90], b[120:]]), a, atol=1e-4, rtol=0)
    torch.testing.assert_close(_layer()(_spectrum(frames * 100.0))[0, 0], a, atol=1e-3, rtol=0)


@pytest.mark.parametrize("pattern", [[256], [5 * 256], [1, 100, 333, 17, 256, 999, 2]])
def test_streaming_equals_offline_with_the_noise_floor(noisy_clean, pattern):
    model = _perturbed(**FLOOR)
    x = np.concatenate([np.zeros(800, np.float32), noisy_clean[0][:12000]])
    assert max(stream_errors(model, x, pattern)) < 1e-4


def test_noise_floor_onnx_graph_equals_pytorch_and_changes_the_output(tmp_path, noisy_clean):
    model = _perturbed(**FLOOR)
    x = np.concatenate([np.zeros(1000, np.float32), noisy_clean[0][:8000]])
    assert onnx_error(model, x, tmp_path / "m.onnx") < 1e-4
    assert _rel(offline(model, x), offline(_perturbed(**NEW), x)) > 1e-3


def test_init_from_a_checkpoint_without_it_starts_at_its_output(tmp_path, noisy_clean):
    plain, with_floor = _perturbed(**NEW), tiny_crn(seed=9, **FLOOR)
    assert_init_starts_at(plain, with_floor, FLOOR, noisy_clean[0][:8000], tmp_path / "plain.pt")


def test_checkpoints_without_it_have_no_floor_tensors():
    plain = tiny_crn(**NEW)
    assert not any("floor" in k for k in plain.state_dict())
    with pytest.raises(ValueError, match="rise_db_per_s"):
        NoiseFloor(n_bins=3, frame_seconds=HOP_S, rise_db_per_s=0.0, compress=0.3)
