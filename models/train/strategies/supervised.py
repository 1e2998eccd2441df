"""`streamse train --strategy supervised` (the default): paired (noisy, clean) mixtures and
`EnhancementLoss`, exactly `Trainer`; it takes no strategy table."""

from __future__ import annotations

from pathlib import Path

from ..config import TrainConfig
from ..trainer import Trainer


class SupervisedTrainer(Trainer):
    strategy = "supervised"

    def __init__(self, name: str, cfg: TrainConfig, out_dir: Path, resume: Path | None = None,
                 speech=None, noise=None, progress: bool = True, strategy_cfg: None = None):
        super().__init__(name, cfg, out_dir, resume, speech, noise, progress)
