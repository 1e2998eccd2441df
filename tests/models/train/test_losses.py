"""Losses: zero (or minimal) at est == ref, growing with noise, finite gradients at silence."""

import math

import pytest
import torch

from streamse.models.train.losses import (
    EnhancementLoss,
    LossConfig,
    complex_mse,
    compressed_spectral_loss,
    magnitude_mse,
    multi_resolution_stft_loss,
    si_sdr,
    si_sdr_loss,
)

torch.manual_seed(0)
WAV = torch.randn(2, 8000)
SPEC = torch.randn(2, 2, 20, 33)


def _noisy(x: torch.Tensor, level: float) -> torch.Tensor:
    return x + level * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(
    "loss_fn, ref",
    [
        (compressed_spectral_loss, SPEC),
        (complex_mse, SPEC),
        (magnitude_mse, SPEC),
        (multi_resolution_stft_loss, WAV),
    ],
)
def test_zero_at_identity_and_grows_with_noise(loss_fn, ref):
    assert float(loss_fn(ref, ref)) == pytest.approx(0.0, abs=1e-6)
    values = [float(loss_fn(_noisy(ref, level), ref)) for level in (0.01, 0.1, 1.0)]
    assert 0 < values[0] < values[1] < values[2]


def test_si_sdr_is_minimal_at_identity_and_grows_with_noise():
    at_identity = float(si_sdr_loss(WAV, WAV))
    values = [float(si_sdr_loss(_noisy(WAV, level), WAV)) for level in (0.01, 0.1, 1.0)]
    assert at_identity < -60 and at_identity < values[0] < values[1] < values[2]
    assert values[1] == pytest.approx(-20.0, abs=0.2)  # noise 20 dB below a unit-power signal


def test_si_sdr_exact_and_invariant():
    ref = torch.sin(torch.linspace(0, 100, 4000))[None]
    noise = torch.cos(torch.linspace(0, 377, 4000))[None]
    noise = noise - (noise * ref).sum() / (ref * ref).sum() * ref  # orthogonal to ref
    noise = noise * (ref.norm() / noise.norm()) * 10 ** (-10 / 20)  # exactly 10 dB below
    est = ref + noise
    assert float(si_sdr(est, ref)) == pytest.approx(10.0, abs=1e-3)
    assert float(si_sdr(3.0 * est + 0.5, ref)) == pytest.approx(10.0, abs=1e-3)


def test_compressed_weights_combine_the_two_terms():
    est = _noisy(SPEC, 0.3)
    combined = compressed_spectral_loss(est, SPEC, cplx_weight=0.1, mag_weight=0.9)
    assert float(combined) == pytest.approx(
        float(0.1 * complex_mse(est, SPEC) + 0.9 * magnitude_mse(est, SPEC)), rel=1e-6
    )
    assert float(complex_mse(est, SPEC)) == pytest.approx(2 * 0.09, rel=0.1)  # re + im


@pytest.mark.parametrize("ref_level", [0.0, 1.0])
def test_gradients_finite_for_silent_estimate(ref_level):
    """A zero estimate, against a zero (silent) or a non-zero reference, gives finite grads."""
    cfg = LossConfig(cplx=1.0, mag=1.0, sisdr=1.0, mrstft=1.0)
    est_spec = torch.zeros(2, 2, 10, 17, requires_grad=True)
    est_wav = torch.zeros(2, 4096, requires_grad=True)
    ref_spec = ref_level * _noisy(torch.zeros(2, 2, 10, 17), 1.0)
    ref_wav = ref_level * WAV[:, :4096]
    total, parts = EnhancementLoss(cfg)(est_spec, ref_spec, est_wav, ref_wav)
    total.backward()
    assert math.isfinite(float(total.detach())) and all(math.isfinite(v) for v in parts.values())
    assert torch.isfinite(est_spec.grad).all() and torch.isfinite(est_wav.grad).all()


def test_enhancement_loss_sums_weighted_terms_and_skips_zeros():
    est_spec, est_wav = _noisy(SPEC, 0.2), _noisy(WAV, 0.2)
    total, parts = EnhancementLoss(LossConfig(cplx=0.5, mag=2.0))(est_spec, SPEC)
    assert set(parts) == {"cplx", "mag", "total"}
    assert float(total) == pytest.approx(0.5 * parts["cplx"] + 2.0 * parts["mag"], rel=1e-6)
    cfg = LossConfig(cplx=0.0, mag=0.0, sisdr=0.1, mrstft=1.0)
    total, parts = EnhancementLoss(cfg)(None, None, est_wav, WAV)
    assert set(parts) == {"sisdr", "mrstft", "total"}
    assert parts["total"] == pytest.approx(0.1 * parts["sisdr"] + parts["mrstft"], rel=1e-5)
    with pytest.raises(ValueError):
        EnhancementLoss(LossConfig(cplx=0.0, mag=0.0))(SPEC, SPEC)


def test_si_sdr_cap_bounds_the_reward_for_an_exact_copy():
    """Uncapped, est == ref (a clean training item through an identity model) scores 80+ dB
    with a huge gradient; capped, it scores at most the cap and the gradient is small."""
    est = (WAV + 1e-4 * torch.randn(WAV.shape)).requires_grad_(True)
    uncapped = si_sdr_loss(est, WAV)
    uncapped.backward()
    big = est.grad.norm().item()
    est.grad = None
    capped = si_sdr_loss(est, WAV, max_db=30.0)
    capped.backward()
    assert uncapped.item() < -75 and -30.0 <= capped.item() < -29.9
    assert est.grad.norm().item() < 1e-3 * big
    noisy = _noisy(WAV, 0.1)  # 20 dB: far below the cap, nearly unchanged by it
    assert float(si_sdr_loss(noisy, WAV, 30.0)) == pytest.approx(float(si_sdr_loss(noisy, WAV)), abs=0.5)
