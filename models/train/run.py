"""Entry point behind `streamse train`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .config import load_config
from .trainer import Trainer


def train(model: str, config: str | None, out: str, resume: str | None = None,
          steps: int | None = None) -> dict:
    """Train `model` with the TOML `config`; checkpoints go to `out`. Returns final scores."""
    cfg = load_config(config)
    if steps is not None:
        cfg = dataclasses.replace(cfg, steps=steps)
    trainer = Trainer(model, cfg, Path(out), Path(resume) if resume else None)
    scores = trainer.run()
    return {"model": model, "step": trainer.step, "out": out, **scores}
