"""CNUNet-TB-TS two-stage training (seeds.md §1.5-1.7), on top of `Trainer`.

Stage 1 (`Stage1Trainer`): a frozen teacher (`models.teachers`) embeds the clean target (or the
noisy input: `teacher_hears`), the embedding is resampled to the STFT frame grid and fused into
the bottleneck (`BottleneckFusion`); loss = the usual spectral loss. After training,
`store_latents` runs the trained stage-1 model over the mixtures of global steps 0..n-1 and
writes the bottleneck output (B, out, T, 4) of each step to `latent_dir/step_XXXXXXXX.pt`.

How stage 2 sees exactly those mixtures: `Trainer.batch(step)` rebuilds every mixture from
(seed, epoch, index), so the store keeps, per step, the epoch, the item indices and a digest
(sum and energy per item) of the noisy batch, and `meta.json` keeps the seed, batch size and
data recipe. Stage 2 (`Stage2Trainer`) refuses a store made under another seed / batch size /
data recipe, and at step s trains on `batch(s mod n)` and checks its keys and digest against
record s mod n before using the latent (stage 2 cycles over the stored set, as the seed's
fixed-dataset epochs did).

Stage 2: the causal model without fusion (no teacher at all) learns spectral loss +
`latent_weight` (0.05) x MSE(own bottleneck output, stored latent normalised per utterance
over (C, T, F), the seed's intended GroupNorm(1)). Initialisation (`init`): "stage1" copies
every stage-1 weight except the fusion layer; "scratch" keeps the seeded random init.
`latents = "online"` is the on-the-fly variant: no store; the frozen stage-1 model and its
teacher (read from the stage-1 checkpoint's `ts_stage1` entry) compute the target latent of
each batch, so stage 2 never repeats a batch but pays the teacher and a stage-1 forward per
step.

Single process only (the stage trainers call the model directly, not through DDP).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from streamse.errors import StreamseError

from ..cnunet_tb import CNUNetTB
from .config import TrainConfig
from .prefetch import step_keys
from .trainer import Trainer

LATENT_FORMAT = "streamse-tbts-latents-v1"


@dataclass(frozen=True)
class Stage1Config:
    """[ts-stage1] table. teacher: 'wavlm' (teacher_path = local HF directory, required) or
    'resemblyzer' (shipped weights). teacher_hears: 'clean' (the seed: oracle) or 'noisy'.
    store_steps: after training, store latents for steps 0..store_steps-1 in latent_dir
    (0: do not store; `store_latents` can be called later)."""

    teacher: str = "resemblyzer"
    teacher_path: str = ""
    teacher_hears: str = "clean"
    latent_dir: str = "latents"
    store_steps: int = 0
    latent_dtype: str = "float16"

    @classmethod
    def from_table(cls, table: dict) -> "Stage1Config":
        return cls(**table)


@dataclass(frozen=True)
class Stage2Config:
    """[ts-stage2] table. init: 'stage1' (needs stage1_checkpoint) or 'scratch'.
    latent_norm: 'utterance' (GroupNorm(1) of each stored latent, no affine) or 'none'.
    latents: 'store' (read latent_dir) or 'online' (frozen stage-1 model + its teacher on each
    batch; needs stage1_checkpoint)."""

    latents: str = "store"
    latent_dir: str = "latents"
    latent_weight: float = 0.05
    latent_norm: str = "utterance"
    init: str = "stage1"
    stage1_checkpoint: str = ""

    @classmethod
    def from_table(cls, table: dict) -> "Stage2Config":
        return cls(**table)


# mixture keys ---------------------------------------------------------------------------------
def mixture_keys(trainer: Trainer, step: int) -> tuple[int, list[int]]:
    """(epoch, item indices) that `trainer.batch(step)` draws (the rule of `Trainer.batch`)."""
    c = trainer.cfg
    return step_keys(
        len(trainer.dataset),
        c.batch_size,
        c.seed,
        trainer.batches_per_epoch,
        trainer.rank,
        trainer.world,
        step,
    )


def digest(noisy: torch.Tensor) -> torch.Tensor:
    """(B, N) -> (B, 2) float64: sum and energy of each mixture."""
    x = noisy.detach().double().cpu()
    return torch.stack([x.sum(-1), x.pow(2).sum(-1)], dim=-1)


def store_meta(cfg: TrainConfig) -> dict:
    """What must agree between the run that stores latents and the one that reads them."""
    return {
        "format": LATENT_FORMAT,
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "data": json.loads(json.dumps(dataclasses.asdict(cfg.data))),
    }


def record_path(latent_dir: Path, step: int) -> Path:
    return Path(latent_dir) / f"step_{step:08d}.pt"


def _check_model(trainer: Trainer, fused: bool) -> None:
    if trainer.world > 1:
        raise StreamseError("two-stage training runs in one process (no torchrun)")
    if not isinstance(trainer.model, CNUNetTB):
        raise StreamseError(f"two-stage training needs a cnunet-tb model, not {trainer.name}")
    if bool(trainer.model.cfg.embed_dim) != fused:
        raise StreamseError("stage 1 needs the fusion layer (embed_dim > 0), stage 2 none")


def embed_heard(
    teacher, hears: str, model: CNUNetTB, noisy: torch.Tensor, clean: torch.Tensor
) -> torch.Tensor:
    """Teacher embedding (B, N // hop, D) of the signal it hears ('clean' or 'noisy'), on the
    model's STFT frame grid."""
    heard = clean if hears == "clean" else noisy
    return teacher.embed_frames(heard, model.cfg.win, model.cfg.hop)


# stage 1 --------------------------------------------------------------------------------------
class Stage1Trainer(Trainer):
    """Trains a cnunet-tb model with the teacher embedding fused at the bottleneck.

    The model is the named architecture with embed_dim = the teacher's width (set here), so its
    checkpoints rebuild the fused model. Validation scores are skipped: the stage-1 model needs
    the teacher (and the clean target) at inference, and is not the deliverable."""

    strategy_config = Stage1Config

    def __init__(self, *args, teacher=None, **kwargs):
        """Trainer's arguments; teacher: an already built teacher (default: the table's)."""
        self.teacher = teacher
        super().__init__(*args, **kwargs)

    def prepare(self, cfg: TrainConfig) -> TrainConfig:
        from ..teachers import build_teacher

        if self.scfg.teacher_hears not in ("clean", "noisy"):
            raise StreamseError(f"teacher_hears must be clean or noisy, not {self.scfg.teacher_hears!r}")
        self.teacher = self.teacher or build_teacher(self.scfg.teacher, self.scfg.teacher_path or None)
        return dataclasses.replace(cfg, valid_max_files=0, model={**cfg.model, "embed_dim": self.teacher.dim})

    def setup_extra(self) -> None:
        _check_model(self, fused=True)
        self.teacher.to(self.device)

    def extra_state(self) -> dict:
        """The teacher settings, so an on-the-fly stage 2 can rebuild the stage-1 teacher."""
        return {
            "ts_stage1": {k: v for k, v in dataclasses.asdict(self.scfg).items() if k.startswith("teacher")}
        }

    def embed(self, noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """(B, N) pair -> teacher embedding (B, N // hop, D) of the signal it hears."""
        return embed_heard(self.teacher, self.scfg.teacher_hears, self.model, noisy, clean)

    def train_step(self, noisy: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
        self.model.train()
        est_c, _ = self.model.estimate_with_latent(noisy, self.embed(noisy, clean))
        loss, parts = self.spectral_loss(est_c, clean)
        return self.optimise(loss, parts)

    def fit(self, on_log=None) -> dict:
        scores = super().fit(on_log)
        if self.scfg.store_steps > 0:
            self.store_latents(Path(self.scfg.latent_dir), self.scfg.store_steps)
        return scores

    @torch.no_grad()
    def store_latents(self, latent_dir: Path, steps: int) -> None:
        """Write the bottleneck latents of the mixtures of global steps 0..steps-1."""
        latent_dir = Path(latent_dir)
        latent_dir.mkdir(parents=True, exist_ok=True)
        meta = {
            **store_meta(self.cfg),
            "steps": steps,
            "teacher": self.scfg.teacher,
            "teacher_hears": self.scfg.teacher_hears,
            "stage1_step": self.step,
        }
        self.model.eval()
        dtype = getattr(torch, self.scfg.latent_dtype)
        from tqdm import tqdm

        for step in tqdm(range(steps), desc="store latents", unit="step", disable=not self.progress):
            noisy, clean = self.batch(step)
            _, latent = self.model.estimate_with_latent(noisy, self.embed(noisy, clean))
            epoch, idx = mixture_keys(self, step)
            rec = {
                "step": step,
                "epoch": epoch,
                "indices": torch.tensor(idx),
                "digest": digest(noisy),
                "latent": latent.to(dtype).cpu(),
            }
            torch.save(rec, record_path(latent_dir, step))
        (latent_dir / "meta.json").write_text(json.dumps(meta, indent=1))


# stage 2 --------------------------------------------------------------------------------------
class LatentStore:
    """Read side of `Stage1Trainer.store_latents`: meta.json + one record per global step."""

    def __init__(self, latent_dir: str | Path):
        self.dir = Path(latent_dir)
        meta_path = self.dir / "meta.json"
        if not meta_path.is_file():
            raise StreamseError(f"no stored latents in {self.dir} (run stage 1 with store_steps)")
        self.meta = json.loads(meta_path.read_text())
        if self.meta.get("format") != LATENT_FORMAT:
            raise StreamseError(f"{self.dir}: not a {LATENT_FORMAT} store")
        self.steps = int(self.meta["steps"])

    def check_run(self, cfg: TrainConfig) -> None:
        """Refuse a run whose batches would not be the stored mixtures."""
        ours = store_meta(cfg)
        for key in ("seed", "batch_size", "data"):
            if ours[key] != self.meta[key]:
                raise StreamseError(
                    f"{self.dir}: latents were stored with another {key} "
                    f"({self.meta[key]!r}, this run {ours[key]!r})"
                )

    def read(self, step: int) -> dict:
        return torch.load(record_path(self.dir, step), map_location="cpu", weights_only=True)


def read_stage1(path: str | Path, stage2_cfg) -> dict:
    """A stage-1 checkpoint whose architecture is `stage2_cfg` apart from embed_dim."""
    from ..registry import config_from_dict, read_checkpoint

    ckpt = read_checkpoint(path, "cnunet-tb", "stage-1 checkpoint")
    theirs = config_from_dict("cnunet-tb", ckpt["config"])
    if dataclasses.replace(theirs, embed_dim=0) != stage2_cfg:
        raise StreamseError(f"{path}: stage-1 architecture differs from this stage-2 model")
    return ckpt


def load_stage1(model: CNUNetTB, ckpt: dict) -> list[str]:
    """Copy a stage-1 checkpoint's weights (`read_stage1`) into a stage-2 model, all but
    `fusion.*`. Returns the skipped keys."""
    state = {k: v for k, v in ckpt["state_dict"].items() if not k.startswith("fusion.")}
    model.load_state_dict(state)
    return sorted(set(ckpt["state_dict"]) - set(state))


class OnlineLatents:
    """The on-the-fly teacher of stage 2: a frozen stage-1 model and the teacher it was trained
    with (the checkpoint's `ts_stage1` entry) -> latent (B, out, T, F) of each batch."""

    def __init__(self, ckpt: dict, path: str | Path, device: torch.device):
        from ..registry import build, config_from_dict
        from ..teachers import build_teacher

        if "ts_stage1" not in ckpt:
            raise StreamseError(f"{path} is not a stage-1 (ts-stage1) checkpoint")
        cfg = config_from_dict("cnunet-tb", ckpt["config"])
        self.model = build("cnunet-tb", cfg).to(device).eval().requires_grad_(False)
        self.model.load_state_dict(ckpt["state_dict"])
        t = ckpt["ts_stage1"]
        self.hears = t["teacher_hears"]
        self.teacher = build_teacher(t["teacher"], t["teacher_path"] or None).to(device)

    @torch.no_grad()
    def __call__(self, noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        emb = embed_heard(self.teacher, self.hears, self.model, noisy, clean)
        return self.model.estimate_with_latent(noisy, emb)[1]


class Stage2Trainer(Trainer):
    """Trains the causal cnunet-tb (no fusion) with spectral loss + latent replication."""

    strategy_config = Stage2Config

    def prepare(self, cfg: TrainConfig) -> TrainConfig:
        if (
            self.scfg.init not in ("stage1", "scratch")
            or self.scfg.latent_norm not in ("utterance", "none")
            or self.scfg.latents not in ("store", "online")
        ):
            raise StreamseError(f"bad [ts-stage2] init/latent_norm/latents: {self.scfg}")
        self.store = self.online = None
        if self.scfg.latents == "store":
            self.store = LatentStore(self.scfg.latent_dir)
            self.store.check_run(cfg)
        return cfg

    def setup_extra(self) -> None:
        """Initialise from stage 1 (a resume, which comes after, overrides it)."""
        _check_model(self, fused=False)
        path = self.scfg.stage1_checkpoint
        if not path and (self.scfg.init == "stage1" or self.scfg.latents == "online"):
            raise StreamseError(
                f"init = {self.scfg.init!r} / latents = {self.scfg.latents!r} needs stage1_checkpoint"
            )
        ckpt = read_stage1(path, self.model.cfg) if path else None
        if self.scfg.init == "stage1":
            load_stage1(self.model, ckpt)
        if self.scfg.latents == "online":
            self.online = OnlineLatents(ckpt, path, self.device)

    def batch(self, step: int) -> tuple[torch.Tensor, ...]:
        """(noisy, clean, target latent): online, the frozen stage-1 model's latent of this
        step's batch; stored, the record of step `step mod n`, keys checked."""
        if self.online is not None:
            noisy, clean = super().batch(step)
            return noisy, clean, self.online(noisy, clean)
        key = step % self.store.steps
        noisy, clean = super().batch(key)
        rec = self.store.read(key)
        epoch, idx = mixture_keys(self, key)
        if (
            rec["epoch"] != epoch
            or rec["indices"].tolist() != idx
            or not torch.allclose(rec["digest"], digest(noisy), rtol=1e-9, atol=1e-9)
        ):
            raise StreamseError(f"stored latent {key} was computed on other mixtures")
        return noisy, clean, rec["latent"].to(self.device, torch.float32)

    def target(self, latent: torch.Tensor) -> torch.Tensor:
        """Stored latent (B, C, T, F) -> replication target."""
        return F.group_norm(latent, 1, eps=1e-8) if self.scfg.latent_norm == "utterance" else latent

    def train_step(self, noisy: torch.Tensor, clean: torch.Tensor, latent: torch.Tensor) -> dict[str, float]:
        self.model.train()
        est_c, own = self.model.estimate_with_latent(noisy)
        loss, parts = self.spectral_loss(est_c, clean)
        rep = F.mse_loss(own, self.target(latent))
        parts = {**parts, "latent_mse": rep.item()}
        return self.optimise(loss + self.scfg.latent_weight * rep, parts)
