"""Typed training configuration, read from a TOML file with four optional tables.

```toml
[train]            # TrainConfig fields
steps = 4000
[data]             # DataConfig fields (models/train/data.py)
segment_seconds = 2.0
[loss]             # LossConfig fields (models/train/losses.py)
mag = 1.0
[model]            # overrides of the named architecture's config fields
rnn_hidden = 256
```
Every field has a default; paths are relative to the working directory. A first line
`extends = "other.toml"` (relative to this file's folder) starts from that recipe and changes
only the keys this file names (`streamse.models.tables.read_toml`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamse.errors import StreamseError

from ..tables import read_toml, tuplify_table
from .data import DataConfig
from .losses import LossConfig


AUTOCAST = ("", "bf16")  # TrainConfig.autocast values: fp32, bfloat16


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 4000
    batch_size: int = 8
    lr: float = 1e-3
    lr_min: float = 5e-5  # cosine decay floor
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    compile: bool = False  # torch.compile the training forward (see `streamse bench --train`)
    # lower-precision training forward: "" (fp32) or "bf16" (torch.autocast: convolutions and
    # linear layers in bfloat16 where the CPU has bf16 instructions; weights, optimiser, loss
    # and gradients stay fp32). `streamse bench --train --autocast bf16` measures the speed.
    autocast: str = ""
    num_workers: int = 0  # processes building batches ahead (models/train/prefetch.py); 0 = inline
    log_every: int = 25
    valid_every: int = 0  # steps; 0 = at the end of every epoch; always at the end
    valid_noisy_dir: str = ""  # a dev set (noisy/clean folders); "" = none (configs name it)
    valid_clean_dir: str = ""
    valid_max_files: int = 16  # first N pairs (sorted), to keep validation cheap; 0 = all
    valid_metric: str = "pesq_wb"  # the best checkpoint maximises this
    # several sets (folders with noisy/ and clean/): when given, they replace valid_noisy_dir /
    # valid_clean_dir, scores are logged per set, and valid_metric may be "composite"
    valid_dirs: tuple[str, ...] = ()
    valid_transparency_dir: str = ""  # clean speech in, level out; "" = not measured
    # sets made of the *training* speech and noise (`streamse bench --make-mixed-set` on the
    # train folders): scored and logged as "fit/<set>/<metric>", never part of the composite.
    # Next to valid_dirs they tell underfitting (behind on both) from overfitting.
    valid_fit_dirs: tuple[str, ...] = ()
    valid_transparency_files: int = 6
    keep_checkpoints: bool = False  # also keep step_NNNNNN.pt at every validation
    # exponential moving average of the weights, decay per step (0 = off): validation scores
    # and checkpoints' `state_dict` are the averaged weights; the live ones resume training
    ema: float = 0.0
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    model: dict = field(default_factory=dict)  # architecture overrides

    def __post_init__(self):
        if self.autocast not in AUTOCAST:
            raise StreamseError(f"[train] autocast must be one of {list(AUTOCAST)}, not {self.autocast!r}")


def _build(cls: type, table: dict, where: str) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(table) - set(names)
    if unknown:
        raise StreamseError(f"unknown keys in [{where}]: {sorted(unknown)}")
    return cls(**tuplify_table(table))


def config_from_tables(tables: dict) -> TrainConfig:
    """Nested dict (as parsed from TOML) -> TrainConfig."""
    unknown = set(tables) - {"train", "data", "loss", "model"}
    if unknown:
        raise StreamseError(f"unknown tables in config: {sorted(unknown)}")
    base = _build(TrainConfig, tables.get("train", {}), "train")
    return dataclasses.replace(
        base,
        data=_build(DataConfig, tables.get("data", {}), "data"),
        loss=_build(LossConfig, tables.get("loss", {}), "loss"),
        model=tuplify_table(tables.get("model", {})),
    )


def load_config(path: str | Path | None) -> TrainConfig:
    """TOML file -> TrainConfig; None gives the defaults."""
    return TrainConfig() if path is None else config_from_tables(read_toml(path))


def to_tables(cfg: TrainConfig) -> dict:
    """TrainConfig -> plain nested dict (stored inside checkpoints)."""
    d = dataclasses.asdict(cfg)
    train = {k: v for k, v in d.items() if k not in ("data", "loss", "model")}
    return {"train": train, "data": d["data"], "loss": d["loss"], "model": d["model"]}
