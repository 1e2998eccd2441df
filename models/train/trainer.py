"""`streamse train`: supervised training of any registered spectral model.

Determinism: the model is initialised from `seed`; batch b of epoch e holds the items
perm(seed, e)[b*bs : (b+1)*bs] (split across DDP ranks), and each item is rebuilt from
(seed, e, index). A checkpoint stores weights, optimizer, scheduler, step and config, so
`--resume` continues exactly where the run stopped.

Distributed: started by `torchrun`, each rank trains on its share of every batch (gloo on CPU,
nccl on GPU); rank 0 validates, logs and writes checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from streamse.errors import StreamseError

from ..registry import architecture, build, checkpoint_dict, config_from_dict, read_checkpoint
from ..streaming import delay_frames
from .audio_pool import AudioPool
from .config import TrainConfig, to_tables
from .data import MixtureDataset
from .ema import WeightAverage
from .prefetch import prefetched, step_items
from .losses import LEVEL_NORM_DBFS, EnhancementLoss
from .validate import validate, validate_sets


def _dist() -> tuple[int, int]:
    """(rank, world size), initialising torch.distributed when run under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def lr_lambda(cfg: TrainConfig):
    """Linear warm-up then cosine decay to lr_min, as a factor of cfg.lr."""
    floor = cfg.lr_min / cfg.lr

    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    return f


class _Estimator(nn.Module):
    """forward = model.estimate, so DDP can wrap the training forward. autocast: a
    `TrainConfig.autocast` value; with "bf16" the forward runs under bfloat16 autocast and its
    estimate is returned in fp32, so the loss and everything after it are fp32."""

    def __init__(self, model: nn.Module, autocast: str = ""):
        super().__init__()
        self.model, self.autocast = model, autocast

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        if not self.autocast:
            return self.model.estimate(noisy)
        with torch.autocast(noisy.device.type, dtype=torch.bfloat16):
            est = self.model.estimate(noisy)
        return est.float()


class Trainer:
    """The supervised trainer, and the base of every strategy (models/train/strategies), which
    overrides the hooks below and names its TOML table's dataclass in `strategy_config`.
    strategy_cfg: that table (None: its defaults)."""

    strategy_config: type | None = None

    def __init__(
        self,
        name: str,
        cfg: TrainConfig,
        out_dir: Path,
        resume: Path | None = None,
        speech: AudioPool | None = None,
        noise: AudioPool | None = None,
        progress: bool = True,
        strategy_cfg=None,
    ):
        if strategy_cfg is None and self.strategy_config is not None:
            strategy_cfg = self.strategy_config()
        self.scfg = strategy_cfg
        cfg = self.prepare(cfg)
        self.name, self.cfg, self.out_dir, self.progress = name, cfg, Path(out_dir), progress
        self.rank, self.world = _dist()
        if cfg.autocast and type(self).train_step is not Trainer.train_step:
            raise StreamseError(
                f"[train] autocast: the {type(self).__name__} runs its own training step, "
                "which does not autocast; leave autocast unset"
            )
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.family, arch_cfg = architecture(name)
        model_cfg = dataclasses.replace(arch_cfg, **cfg.model)
        self.model = build(self.family, model_cfg)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        self.net: nn.Module = _Estimator(self.model, cfg.autocast)
        if self.world > 1:  # DDP syncs the gradients of what its forward produced
            self.net = nn.parallel.DistributedDataParallel(self.net)
        if cfg.compile:
            self.net = torch.compile(self.net)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_lambda(cfg))
        self.loss = EnhancementLoss(cfg.loss)
        self.ema = WeightAverage(self.model, cfg.ema) if cfg.ema else None
        self.step, self.best = 0, -math.inf
        self.setup_extra()  # strategy hook: more networks and optimizers, before a resume
        if resume is not None:
            self._load(resume)
        self.dataset = self.make_dataset(speech, noise)
        self.writer = self._writer() if self.rank == 0 else None

    # strategy hooks (models/train/strategies): the supervised defaults ----------------------
    def prepare(self, cfg: TrainConfig) -> TrainConfig:
        """Check `self.scfg` and return the run config to use; called before anything is built
        (one-line errors for bad strategy tables come from here)."""
        return cfg

    def setup_extra(self) -> None:
        """Build training-only networks/optimizers; called after the model, before a resume."""

    def make_dataset(self, speech: AudioPool | None, noise: AudioPool | None):
        """The indexable dataset `batch` draws items from; pools not given are loaded."""
        return MixtureDataset(
            self.cfg.data,
            speech or self.pool(self.cfg.data.clean_dirs),
            noise or self.pool(self.cfg.data.noise_dirs),
        )

    def pool(self, dirs) -> AudioPool:
        if not dirs:
            raise StreamseError(
                "no training audio folders: name them in the --config TOML "
                "([data] clean_dirs and noise_dirs; configs/crn.toml is the "
                "shipped recipe)"
            )
        return AudioPool(dirs, self.cfg.data.sample_rate, progress=self.progress)

    def extra_state(self) -> dict:
        """Checkpoint entries beyond the model/optimizer/scheduler (training-only state)."""
        return {}

    def load_extra(self, ckpt: dict) -> None:
        """Restore what `extra_state` saved."""

    # data -----------------------------------------------------------------------------------
    @property
    def batches_per_epoch(self) -> int:
        return max(1, self.cfg.data.epoch_size // self.cfg.batch_size)

    def batch(self, step: int) -> tuple[torch.Tensor, ...]:
        """The dataset's items for global step `step` on this rank, stacked field by field:
        (noisy, clean) (B_rank, N) for the supervised MixtureDataset."""
        return tuple(t.to(self.device) for t in self._step_items()(step))

    def _step_items(self) -> partial:
        """step -> CPU batch (models/train/prefetch.py), holding the dataset and not the model."""
        c = self.cfg
        return partial(
            step_items, self.dataset, c.batch_size, c.seed, self.batches_per_epoch, self.rank, self.world
        )

    def batches(self, start: int):
        """Batches of steps start..cfg.steps-1: built here, or ahead by cfg.num_workers worker
        processes (the same batches)."""
        if not self.cfg.num_workers:
            return (self.batch(s) for s in range(start, self.cfg.steps))
        if type(self).batch is not Trainer.batch:
            raise StreamseError(
                f"num_workers: the {type(self).__name__} builds its batches itself; set it to 0"
            )
        return prefetched(self._step_items(), start, self.cfg.steps, self.cfg.num_workers, self.device)

    # training -------------------------------------------------------------------------------
    def train_step(self, noisy: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
        self.net.train()
        est_c = self.net(noisy)  # (B, 2, T, F) compressed estimate
        return self.optimise(*self.spectral_loss(est_c, clean, noisy))

    def spectral_loss(
        self, est_c: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict]:
        """The configured `EnhancementLoss` of a compressed estimate (B, 2, T, F) vs clean (B, N).
        With `loss.level_norm`, `noisy` (B, N) sets each item's scale (see LossConfig)."""
        ref_c = self.model.analyse(clean)
        lag = self.model.lookahead_frames  # estimate frame t is input frame t - lag
        if lag:
            ref_c = delay_frames(ref_c, lag)
        if self.cfg.loss.level_norm and noisy is not None:
            ref_rms = 10 ** (LEVEL_NORM_DBFS / 20)
            rel = noisy.pow(2).mean(dim=-1).clamp_min(1e-10).sqrt() / ref_rms  # (B,)
            scale = rel.pow(-self.model.cfg.compress)[:, None, None, None]
            est_c, ref_c = est_c * scale, ref_c * scale
            clean = clean / rel[:, None]  # the waveform terms see the same scale
        est_wav = ref_wav = None
        if self.cfg.loss.sisdr > 0 or self.cfg.loss.snr > 0 or self.cfg.loss.mrstft > 0:
            # the synthesised output is delayed by win - hop: delay the reference too
            est_wav = self.model.synthesise(est_c)
            d = self.model.geometry.delay_samples
            ref_wav = F.pad(clean, (d, 0))[:, : est_wav.shape[1]]
        return self.loss(est_c, ref_c, est_wav, ref_wav)

    def optimise(self, loss: torch.Tensor, parts: dict) -> dict[str, float]:
        """One optimiser step of the model on `loss` (clipped); returns the values to log."""
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad = nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.opt.step()
        self.sched.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        return {**parts, "loss": loss.item(), "grad_norm": grad.item(), "lr": self.sched.get_last_lr()[0]}

    def fit(self, on_log=None) -> dict:
        """Train until cfg.steps; validate every cfg.valid_every steps and at the end."""
        from tqdm import tqdm

        bar = tqdm(
            total=self.cfg.steps,
            initial=self.step,
            disable=not self.progress or self.rank,
            desc=f"train {self.name}",
            unit="step",
            dynamic_ncols=True,
        )
        last: dict = {}
        t0, start = time.perf_counter(), self.step
        for batch in self.batches(self.step):
            parts = self.train_step(*batch)
            bar.update(1)
            if self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps:
                parts["step_s"] = (time.perf_counter() - t0) / max(1, self.step - start)
                self._log("train", parts)
                bar.set_postfix(loss=f"{parts['loss']:.4f}")
                if on_log:
                    on_log(self.step, parts)
            if self._validation_due():
                last = self.validate_and_save()
        bar.close()
        return last

    # validation and checkpoints -------------------------------------------------------------
    @property
    def eval_model(self) -> nn.Module:
        """The weights validated and saved as `state_dict`: the moving average with `ema`."""
        return self.model if self.ema is None else self.ema.model

    def _validation_due(self) -> bool:
        """At the end of every epoch (valid_every = 0) or every valid_every steps, and at the end."""
        every = self.cfg.valid_every or self.batches_per_epoch
        return self.step % every == 0 or self.step == self.cfg.steps

    def validate_and_save(self) -> dict:
        scores: dict = {}
        if self.rank == 0:
            scores = self.validation_scores()
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if scores:
                self._log("valid", scores)
                with open(self.out_dir / "valid.jsonl", "a") as f:  # one line per validation
                    f.write(json.dumps({"step": self.step, **scores}) + "\n")
            metric = scores.get(self.cfg.valid_metric, self.step)  # no dev set: the latest wins
            self.save(self.out_dir / "last.pt", scores)
            if self.cfg.keep_checkpoints:
                self.save(self.out_dir / f"step_{self.step:06d}.pt", scores)
            if metric > self.best or not math.isfinite(self.best):
                self.best = metric
                self.save(self.out_dir / "best.pt", scores)
        if self.world > 1:
            torch.distributed.barrier()
        return scores

    def validation_scores(self) -> dict:
        """Scores of the current weights on the configured dev set(s); {} when there is none."""
        cfg = self.cfg
        scores: dict = {}
        if cfg.valid_dirs:
            scores = validate_sets(
                self.eval_model,
                cfg.valid_dirs,
                cfg.valid_max_files,
                cfg.valid_transparency_dir,
                cfg.valid_transparency_files,
            )
        elif cfg.valid_noisy_dir and cfg.valid_max_files > 0 and Path(cfg.valid_noisy_dir).is_dir():
            scores = validate(self.eval_model, cfg.valid_noisy_dir, cfg.valid_clean_dir, cfg.valid_max_files)
        if cfg.valid_fit_dirs:
            fit = validate_sets(self.eval_model, cfg.valid_fit_dirs, cfg.valid_max_files)
            scores.update({f"fit/{k}": v for k, v in fit.items() if k != "composite"})
        return scores

    def save(self, path: Path, scores: dict) -> None:
        ema = {} if self.ema is None else self.ema.extra_state(self.model)
        ckpt = checkpoint_dict(
            self.eval_model,
            self.name,
            self.family,
            step=self.step,
            best=self.best,
            optimizer=self.opt.state_dict(),
            scheduler=self.sched.state_dict(),
            train_config=to_tables(self.cfg),
            scores=dict(scores),
            torch_rng=torch.get_rng_state(),
            **ema,
            **self.extra_state(),
        )
        tmp = path.with_suffix(".tmp")
        torch.save(ckpt, tmp)
        os.replace(tmp, path)

    def _load(self, path: Path) -> None:
        ckpt = read_checkpoint(path, self.family, "checkpoint to resume from", self.device)
        if config_from_dict(self.family, ckpt["config"]) != self.model.cfg:
            raise StreamseError(f"{path}: model config differs from this run's config")
        self.model.load_state_dict(ckpt.get("live_state_dict", ckpt["state_dict"]))
        if self.ema is not None:
            self.ema.load(ckpt, self.model)
        self.opt.load_state_dict(ckpt["optimizer"])
        self.sched.load_state_dict(ckpt["scheduler"])
        self.step, self.best = int(ckpt["step"]), float(ckpt["best"])
        torch.set_rng_state(ckpt["torch_rng"].cpu())
        self.load_extra(ckpt)

    # logging --------------------------------------------------------------------------------
    def _writer(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(str(self.out_dir / "tb"))

    def _log(self, split: str, values: dict) -> None:
        if self.writer is None:
            return
        for k, v in values.items():
            if isinstance(v, (int, float)) and math.isfinite(v):
                self.writer.add_scalar(f"{split}/{k}", v, self.step)
        self.writer.flush()
