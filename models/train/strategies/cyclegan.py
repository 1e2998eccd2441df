"""`streamse train --strategy cyclegan`: unpaired noisy and clean speech (Up-Cycle-SENet,
seeds §5).

Networks, all on the power-compressed spectrum (B, 2, T, F):
- A: noisy -> clean, the causal streaming model being trained (the one exported);
- B: clean -> noisy, `NoiseGenerator` (training only, non-causal, reads a Gaussian channel z);
- D_clean, D_noisy: complex conv patch discriminators (`SpectrumDiscriminator`).

Generator objective (each term averages its two directions, weights as in Up-Cycle-SENet):
  L_G = adversarial * LSGAN + cycle * |A(B(y)) - y|_1 & |B(A(x)) - x|_1
        + identity * |A(y) - y|_1 & |B(x) - x|_1,   defaults 1, 20, 10.
Discriminators: ((D(real) - 1)^2 + D(fake)^2) / 2. One Adam (betas 0.5, 0.999) for both
generators (with the run's warm-up/cosine schedule), one for both discriminators (lr_d).
`l1_domain`: "wave" (the seed's: cycle/identity L1 between waveforms, each spectrum
synthesised by the model's ISTFT, which is linear and cheap) or "spectrum" (L1 between the
compressed spectra the networks exchange). The weights 20 and 10 were tuned for waveforms:
on compressed spectra (|X|^0.3, values near 1 where a waveform is near 0.02) the same weights
make cycle and identity dominate the adversarial term, and 600 CPU steps stayed at the
identity (docs/unsupervised.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from streamse.errors import StreamseError

from ...tables import tuplify_table
from ..config import TrainConfig
from ..trainer import Trainer, lr_lambda
from .discriminator import DiscriminatorConfig, SpectrumDiscriminator, lsgan_d_loss, lsgan_g_loss
from .noise_generator import NoiseGenerator, NoiseGeneratorConfig
from .unpaired_data import RecordingCrops, Zipped, noisy_source, split_pool


@dataclass(frozen=True)
class CycleGANConfig:
    """[cyclegan] table. noisy_dirs: folders of your own noisy recordings; empty = mixtures
    built from half of [data] clean_dirs (the other half is the clean set)."""

    noisy_dirs: tuple[str, ...] = ()
    adversarial: float = 1.0
    cycle: float = 20.0
    identity: float = 10.0
    lr_d: float = 1e-3  # the seed's 2e-4 left crn-s at the identity in 600 steps
    betas: tuple[float, float] = (0.5, 0.999)
    l1_domain: str = "wave"
    d_warmup_steps: int = 0  # first steps train the discriminators only (generators frozen)
    generator: NoiseGeneratorConfig = field(default_factory=NoiseGeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    @classmethod
    def from_table(cls, table: dict) -> "CycleGANConfig":
        t = tuplify_table(table)
        gen = NoiseGeneratorConfig(**tuplify_table(t.pop("generator", {})))
        disc = DiscriminatorConfig(**tuplify_table(t.pop("discriminator", {})))
        return cls(**t, generator=gen, discriminator=disc)


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean()


class CycleGANTrainer(Trainer):
    """Trainer whose step is one CycleGAN generator + discriminator update.

    batch(step) -> (noisy (B, N), clean (B, N)), unpaired. Single process only (no DDP)."""

    strategy = "cyclegan"

    strategy_config = CycleGANConfig

    def prepare(self, cfg: TrainConfig) -> TrainConfig:
        if self.scfg.l1_domain not in ("wave", "spectrum"):
            raise StreamseError(f"[cyclegan] l1_domain must be wave or spectrum, not {self.scfg.l1_domain!r}")
        return cfg

    def setup_extra(self) -> None:
        if self.world > 1:
            raise StreamseError("the cyclegan strategy runs in one process (no torchrun)")
        if self.model.lookahead_frames:  # its identity and cycle terms compare frames in place
            raise StreamseError("the cyclegan strategy does not train a model with look-ahead")
        s = self.scfg
        self.gen_b = NoiseGenerator(s.generator).to(self.device)
        self.d_clean = SpectrumDiscriminator(s.discriminator).to(self.device)
        self.d_noisy = SpectrumDiscriminator(s.discriminator).to(self.device)
        gens = list(self.model.parameters()) + list(self.gen_b.parameters())
        self.opt = torch.optim.Adam(gens, lr=self.cfg.lr, betas=s.betas)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_lambda(self.cfg))
        discs = list(self.d_clean.parameters()) + list(self.d_noisy.parameters())
        self.opt_d = torch.optim.Adam(discs, lr=s.lr_d, betas=s.betas)

    def make_dataset(self, speech, noise):
        speech = speech or self.pool(self.cfg.data.clean_dirs)
        noisy_half, clean_half = split_pool(speech)
        if self.scfg.noisy_dirs:  # the user's own recordings: every clean clip is usable
            noisy = noisy_source(self.cfg.data, self.scfg.noisy_dirs, None, None, self.progress)
            return Zipped(noisy, RecordingCrops(self.cfg.data, speech, tag=2))
        noise = noise or self.pool(self.cfg.data.noise_dirs)
        noisy = noisy_source(self.cfg.data, (), noisy_half, noise, self.progress)
        return Zipped(noisy, RecordingCrops(self.cfg.data, clean_half, tag=2))

    def _latent(self, like: torch.Tensor, which: int) -> torch.Tensor:
        """Gaussian (B, 1, T, F) for B's noise channel, seeded by (seed, step, which)."""
        g = torch.Generator().manual_seed((self.cfg.seed * 1_000_003 + self.step) * 4 + which)
        b, _, t, f = like.shape
        return torch.randn(b, 1, t, f, generator=g).to(like.device)

    def _dist(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """L1 between two compressed spectra (B, 2, T, F), in the `l1_domain`."""
        if self.scfg.l1_domain == "wave":
            return _l1(self.model.synthesise(a), self.model.synthesise(b))
        return _l1(a, b)

    def generator_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict, tuple]:
        """x noisy, y clean compressed spectra (B, 2, T, F) -> (L_G, parts, (fake_y, fake_x))."""
        a, b, s, d = self.model.net_forward, self.gen_b, self.scfg, self._dist
        fake_y, fake_x = a(x), b(y, self._latent(y, 0))
        adv = 0.5 * (lsgan_g_loss(self.d_clean, fake_y) + lsgan_g_loss(self.d_noisy, fake_x))
        cycle = 0.5 * (d(b(fake_y, self._latent(y, 1)), x) + d(a(fake_x), y))
        ident = 0.5 * (d(a(y), y) + d(b(x, self._latent(y, 2)), x))
        total = s.adversarial * adv + s.cycle * cycle + s.identity * ident
        parts = {"g_adv": adv.item(), "cycle": cycle.item(), "identity": ident.item()}
        return total, parts, (fake_y, fake_x)

    def train_step(self, noisy: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
        self.model.train()
        x, y = self.model.analyse(noisy), self.model.analyse(clean)  # (B, 2, T, F)
        train_g = self.step >= self.scfg.d_warmup_steps  # before: discriminators only
        _requires_grad((self.d_clean, self.d_noisy), False)
        with torch.set_grad_enabled(train_g):
            loss_g, parts, (fake_y, fake_x) = self.generator_loss(x, y)
        grad = torch.zeros(())
        if train_g:
            self.opt.zero_grad(set_to_none=True)
            loss_g.backward()
            params = [p for g in self.opt.param_groups for p in g["params"]]
            grad = nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
            self.opt.step()
            self.sched.step()
        _requires_grad((self.d_clean, self.d_noisy), True)
        loss_d = lsgan_d_loss(self.d_clean, y, fake_y) + lsgan_d_loss(self.d_noisy, x, fake_x)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        self.step += 1
        return {
            **parts,
            "loss": loss_g.item(),
            "d_loss": loss_d.item(),
            "grad_norm": grad.item(),
            "lr": self.sched.get_last_lr()[0],
        }

    def extra_state(self) -> dict:
        return {
            "strategy": self.strategy,
            "strategy_config": dataclasses.asdict(self.scfg),
            "noise_generator": self.gen_b.state_dict(),
            "disc_clean": self.d_clean.state_dict(),
            "disc_noisy": self.d_noisy.state_dict(),
            "optimizer_d": self.opt_d.state_dict(),
        }

    def load_extra(self, ckpt: dict) -> None:
        if ckpt.get("strategy") != self.strategy:
            raise StreamseError(
                f"cannot resume cyclegan from a {ckpt.get('strategy')} checkpoint"
                " (use --init to start from its weights)"
            )
        self.gen_b.load_state_dict(ckpt["noise_generator"])
        self.d_clean.load_state_dict(ckpt["disc_clean"])
        self.d_noisy.load_state_dict(ckpt["disc_noisy"])
        self.opt_d.load_state_dict(ckpt["optimizer_d"])


def _requires_grad(modules, flag: bool) -> None:
    for m in modules:
        m.requires_grad_(flag)
