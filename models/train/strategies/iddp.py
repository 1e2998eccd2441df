"""`streamse train --strategy iddp`: noisy recordings only (MIA-SE's implicit deep denoiser
prior, seeds §6).

One step on noisy speech x1 (B, N):
1. y1 = f(x1) without gradient (the model's current estimate);
2. x2 = y1 + n, n a crop of a noise clip scaled to an integer SNR in [0, 9] dB re y1;
3. y2 = f(x2), and f is trained so that y2 returns y1.
All waveforms are time-aligned (the model's win - hop delay removed), so y1, y2, x1 line up.

Loss (MIA-SE's terms and weights):
  mse_time * MSE(y2, y1) + mae_stft * MAE(|STFT y2|, |STFT y1|)   (0.8/600, 0.2/600)
  + wsdr * wSDR(x1, y2, y1)                                        (1; DCUnet weighted SDR)
  + fidelity * ||x1 - y1||_2                                       (0.001; logged only: y1 is
                                                                    detached, so no gradient)
The STFT "magnitude" is |Re| + |Im| of a 512-sample Hamming STFT with hop 256, as in the seed.

Caveat (why `fidelity` matters in principle): an all-zero output makes y2 = y1 = 0, which this
loss cannot tell from a perfect denoiser (wSDR's weight moves entirely onto the noise term,
whose two vectors are then equal). MIA-SE has no gradient against that collapse; starting from
a trained model (`--init`) or the CRN's identity-mask initialisation keeps away from it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from streamse.errors import StreamseError

from ...tables import tuplify_table
from ..trainer import Trainer
from ...aligned import enhance_aligned
from .unpaired_data import NoiseCrops, Zipped, noisy_source, split_pool

EPS = 1e-8


@dataclass(frozen=True)
class IDDPConfig:
    """[iddp] table. noisy_dirs: your noisy recordings (empty = mixtures of half of [data]
    clean_dirs, clean targets discarded); noise_dirs: the noise added in the second pass
    (empty = [data] noise_dirs)."""

    noisy_dirs: tuple[str, ...] = ()
    noise_dirs: tuple[str, ...] = ()
    snr_db: tuple[int, int] = (0, 9)  # inclusive integer range, re the first estimate
    mse_time: float = 0.8 / 600
    mae_stft: float = 0.2 / 600
    wsdr: float = 1.0
    fidelity: float = 0.001

    @classmethod
    def from_table(cls, table: dict) -> "IDDPConfig":
        return cls(**tuplify_table(table))


def _neg_cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """-<a, b> / (|a| |b|) per item, (B, N) -> (B,)."""
    return -(a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + EPS)


def wsdr_loss(x: torch.Tensor, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """DCUnet weighted SDR of (B, N) waveforms, mean over B, in [-1, 1] (-1 best)."""
    z_ref, z_est = x - ref, x - est
    e_ref, e_noise = ref.pow(2).sum(-1), z_ref.pow(2).sum(-1)
    alpha = e_ref / (e_ref + e_noise + EPS)
    return (alpha * _neg_cos(ref, est) + (1 - alpha) * _neg_cos(z_ref, z_est)).mean()


def _abs_stft(wav: torch.Tensor) -> torch.Tensor:
    """(B, N) -> |Re| + |Im| of the 512/256 Hamming STFT, (B, 257, T)."""
    win = torch.hamming_window(512, device=wav.device, dtype=wav.dtype)
    spec = torch.stft(wav, 512, 256, 512, win, return_complex=True)
    return spec.real.abs() + spec.imag.abs()


def iddp_loss(
    x1: torch.Tensor, y1: torch.Tensor, y2: torch.Tensor, cfg: "IDDPConfig"
) -> tuple[torch.Tensor, dict[str, float]]:
    """x1 noisy input, y1 first estimate (target, detached), y2 second estimate; all (B, N)."""
    y1 = y1.detach()
    mse = (y2 - y1).pow(2).mean()
    mae = (_abs_stft(y2) - _abs_stft(y1)).abs().mean()
    wsdr = wsdr_loss(x1, y2, y1)
    fidelity = (x1 - y1).norm(dim=-1).mean()  # constant w.r.t. the weights
    total = cfg.mse_time * mse + cfg.mae_stft * mae + cfg.wsdr * wsdr + cfg.fidelity * fidelity
    parts = {"mse_time": mse.item(), "mae_stft": mae.item(), "wsdr": wsdr.item(), "fidelity": fidelity.item()}
    return total, parts


def add_noise_at_snr(y1: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """y1 (B, N) + unit-power noise (B, N) scaled to snr_db (B,) dB below y1's mean power."""
    p = y1.pow(2).mean(-1, keepdim=True)  # (B, 1)
    gain = torch.sqrt(p / 10 ** (snr_db[:, None] / 10))
    return y1 + gain * noise


class IDDPTrainer(Trainer):
    """Trainer whose step is one IDDP update. batch(step) -> (noisy (B, N), noise (B, N),
    snr_db (B,)). Single process only (no DDP)."""

    strategy = "iddp"

    strategy_config = IDDPConfig

    def setup_extra(self) -> None:
        if self.world > 1:
            raise StreamseError("the iddp strategy runs in one process (no torchrun)")

    def make_dataset(self, speech, noise):
        data, s = self.cfg.data, self.scfg
        if s.noisy_dirs:  # the user's recordings; [data] clean_dirs is never read
            noisy = noisy_source(data, s.noisy_dirs, None, None, self.progress)
        else:
            noise = noise or self.pool(data.noise_dirs)
            half, _ = split_pool(speech or self.pool(data.clean_dirs))
            noisy = noisy_source(data, (), half, noise, self.progress)
        added = self.pool(s.noise_dirs) if s.noise_dirs else (noise or self.pool(data.noise_dirs))
        return Zipped(noisy, NoiseCrops(data, added, s.snr_db, tag=3))

    def train_step(self, noisy: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> dict[str, float]:
        self.model.train()
        with torch.no_grad():
            y1 = enhance_aligned(self.model, noisy)  # (B, N)
        y2 = enhance_aligned(self.model, add_noise_at_snr(y1, noise, snr_db))
        return self.optimise(*iddp_loss(noisy, y1, y2, self.scfg))

    def extra_state(self) -> dict:
        return {"strategy": self.strategy, "strategy_config": dataclasses.asdict(self.scfg)}

    def load_extra(self, ckpt: dict) -> None:
        if ckpt.get("strategy") != self.strategy:
            raise StreamseError(
                f"cannot resume iddp from a {ckpt.get('strategy')} checkpoint"
                " (use --init to start from its weights)"
            )
