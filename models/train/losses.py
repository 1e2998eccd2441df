"""Training losses: compressed-spectrum MSE, negative SI-SDR, multi-resolution STFT.

Spectral inputs are power-compressed complex spectra laid out as real tensors (B, 2, T, F):
channel 0 real, 1 imaginary, |X|^p e^{j angle X} as made by `streamse.models.spectral.compress`
with the model config's exponent (0.3 for the mask CRN, 0.2 in CNUNet-TB); these losses do not
depend on p. Waveforms are (B, N) float, and est/ref must be sample-aligned (a model's output
delay has to be removed by the caller first). All losses are means over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

EPS = 1e-8
LEVEL_NORM_DBFS = -25.0  # reference mixture level of `level_norm` (a typical dataset level)
DEFAULT_RESOLUTIONS = ((512, 128, 512), (1024, 256, 1024), (256, 64, 256))  # (n_fft, hop, win)


@dataclass(frozen=True)
class LossConfig:
    """Weights of the terms of `EnhancementLoss`; a term with weight 0 is not computed.

    cplx: MSE of the compressed real + imaginary parts (MSE_re + MSE_im).
    mag: MSE of the compressed magnitudes. The CNUNet-TB seed used cplx 0.1, mag 0.9.
    sisdr: negative SI-SDR in dB (lower is better; about -20 for good estimates), softly capped
    at `sisdr_max_db`: without a cap an item whose input is already clean (noisy == clean)
    rewards the exact identity without bound (SI-SDR -> 80+ dB, gradients ~1e4), which pins a
    model initialised at the identity there (docs/quality.md).
    snr: negative SNR in dB (scale-dependent: a level error costs), soft-capped like sisdr. Its
    MMSE-like optimum shrinks a doubtful bin linearly, where the compressed-spectrum MSE
    shrinks it by the compression power (a 0.9 doubt = -0.9 dB here, -4.6 dB at p = 0.3).
    mrstft: multi-resolution STFT loss (spectral convergence + log-magnitude L1).
    level_norm: score every item as if its noisy input had an RMS of LEVEL_NORM_DBFS (the
    trainer scales each item's compressed spectra by (rms(noisy) / ref)^-p). Without it the
    compressed MSE of an item grows with its level^(2p), so a 35 dB level range weights loud
    items ~100x more than quiet ones.
    """

    cplx: float = 1.0
    mag: float = 1.0
    sisdr: float = 0.0
    sisdr_max_db: float = 30.0
    snr: float = 0.0
    mrstft: float = 0.0
    level_norm: bool = False
    resolutions: tuple[tuple[int, int, int], ...] = DEFAULT_RESOLUTIONS


def _magnitude(spec: Tensor) -> Tensor:
    """(B, 2, T, F) -> (B, T, F); eps keeps the gradient finite at 0."""
    return torch.sqrt(spec.pow(2).sum(dim=1) + EPS)


def complex_mse(est: Tensor, ref: Tensor) -> Tensor:
    """MSE_re + MSE_im of (B, 2, T, F) spectra."""
    return (est - ref).pow(2).mean(dim=(0, 2, 3)).sum()


def magnitude_mse(est: Tensor, ref: Tensor) -> Tensor:
    """MSE between the magnitudes of (B, 2, T, F) spectra."""
    return (_magnitude(est) - _magnitude(ref)).pow(2).mean()


def compressed_spectral_loss(
    est: Tensor, ref: Tensor, cplx_weight: float = 1.0, mag_weight: float = 1.0
) -> Tensor:
    """cplx_weight * (MSE_re + MSE_im) + mag_weight * MSE_mag of (B, 2, T, F) compressed spectra."""
    return cplx_weight * complex_mse(est, ref) + mag_weight * magnitude_mse(est, ref)


def si_sdr(est_wav: Tensor, ref_wav: Tensor, max_db: float | None = None) -> Tensor:
    """Scale-invariant SDR in dB per item, (B, N) -> (B,). Means removed; 0 dB for all-zero.

    max_db: soft cap, 10 log10(|t|^2 / (|e|^2 + tau |t|^2)) with tau = 10^(-max_db/10), so the
    value never exceeds max_db and its gradient vanishes as it approaches the cap."""
    est = est_wav - est_wav.mean(dim=-1, keepdim=True)
    ref = ref_wav - ref_wav.mean(dim=-1, keepdim=True)
    alpha = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + EPS)
    target = alpha * ref  # (B, N): the part of est explained by ref
    noise = est - target
    t2 = target.pow(2).sum(-1)
    tau = 0.0 if max_db is None else 10 ** (-max_db / 10)
    return 10 * torch.log10((t2 + EPS) / (noise.pow(2).sum(-1) + tau * t2 + EPS))


def snr(est_wav: Tensor, ref_wav: Tensor, max_db: float | None = None) -> Tensor:
    """SNR of est against ref in dB per item, (B, N) -> (B,): 10 log10(|ref|^2 / |ref - est|^2),
    soft-capped at max_db like `si_sdr`. Scale-dependent: est = 0.5 ref scores 6 dB."""
    r2 = ref_wav.pow(2).sum(-1)
    tau = 0.0 if max_db is None else 10 ** (-max_db / 10)
    return 10 * torch.log10((r2 + EPS) / ((ref_wav - est_wav).pow(2).sum(-1) + tau * r2 + EPS))


def si_sdr_loss(est_wav: Tensor, ref_wav: Tensor, max_db: float | None = None) -> Tensor:
    """Negative SI-SDR in dB (soft-capped at max_db), mean over the batch; (B, N) or (N,)."""
    return -si_sdr(est_wav, ref_wav, max_db).mean()


def _stft_mag(wav: Tensor, n_fft: int, hop: int, win: int) -> Tensor:
    """(B, N) -> magnitude (B, F, T), eps-floored so log and sqrt have finite gradients."""
    window = torch.hann_window(win, device=wav.device, dtype=wav.dtype)
    spec = torch.stft(wav, n_fft, hop, win, window, return_complex=True)
    return torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + EPS)


def multi_resolution_stft_loss(est_wav: Tensor, ref_wav: Tensor, resolutions=DEFAULT_RESOLUTIONS) -> Tensor:
    """Mean over resolutions (n_fft, hop, win) of spectral convergence + log-magnitude L1.

    Spectral convergence is ||ref| - |est||_F / ||ref||_F per item (Yamamoto et al., 2020).
    """
    est_wav = est_wav.reshape(-1, est_wav.shape[-1])  # (B, N), also for (N,) input
    ref_wav = ref_wav.reshape(-1, ref_wav.shape[-1])
    total = est_wav.new_zeros(())
    for n_fft, hop, win in resolutions:
        est, ref = _stft_mag(est_wav, n_fft, hop, win), _stft_mag(ref_wav, n_fft, hop, win)
        conv = torch.linalg.norm(ref - est, dim=(1, 2)) / (torch.linalg.norm(ref, dim=(1, 2)) + EPS)
        total = total + conv.mean() + (torch.log(ref) - torch.log(est)).abs().mean()
    return total / len(resolutions)


class EnhancementLoss(nn.Module):
    """Weighted sum of the terms in a LossConfig.

    forward(est_spec_c, ref_spec_c, est_wav, ref_wav) -> (total, {term: value}), where the dict
    holds the unweighted value of every computed term plus "total", as floats for logging.
    Spectra may be None when cplx and mag are 0, waveforms when sisdr and mrstft are 0.
    """

    def __init__(self, cfg: LossConfig = LossConfig()):
        super().__init__()
        self.cfg = cfg

    def _terms(self, est_spec_c, ref_spec_c, est_wav, ref_wav):
        cfg = self.cfg
        terms = {
            "cplx": (cfg.cplx, lambda: complex_mse(est_spec_c, ref_spec_c)),
            "mag": (cfg.mag, lambda: magnitude_mse(est_spec_c, ref_spec_c)),
            "sisdr": (cfg.sisdr, lambda: si_sdr_loss(est_wav, ref_wav, cfg.sisdr_max_db)),
            "snr": (cfg.snr, lambda: -snr(est_wav, ref_wav, cfg.sisdr_max_db).mean()),
            "mrstft": (cfg.mrstft, lambda: multi_resolution_stft_loss(est_wav, ref_wav, cfg.resolutions)),
        }
        return {name: (w, fn()) for name, (w, fn) in terms.items() if w != 0.0}

    def forward(
        self,
        est_spec_c: Tensor | None,
        ref_spec_c: Tensor | None,
        est_wav: Tensor | None = None,
        ref_wav: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, float]]:
        terms = self._terms(est_spec_c, ref_spec_c, est_wav, ref_wav)
        if not terms:
            raise ValueError("every loss weight is 0")
        total = sum(w * value for w, value in terms.values())
        parts = {name: float(value.detach()) for name, (_, value) in terms.items()}
        parts["total"] = float(total.detach())
        return total, parts
