"""Entry point behind `streamse train`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from streamse.errors import StreamseError


def train(
    model: str,
    config: str | None,
    out: str,
    resume: str | None = None,
    steps: int | None = None,
    strategy: str = "supervised",
    init: str | None = None,
    noisy_dirs: tuple[str, ...] = (),
    noise_dirs: tuple[str, ...] = (),
    teacher: str | None = None,
    teacher_path: str | None = None,
    teacher_hears: str | None = None,
    latents: str | None = None,
) -> dict:
    """Train `model` with the TOML `config` and training `strategy`; checkpoints go to `out`.

    init: checkpoint whose model weights start the run (adaptation; ignored on resume).
    noisy_dirs / noise_dirs: override the strategy table's noisy recordings / added noise.
    teacher / teacher_path / teacher_hears: override [ts-stage1]'s teacher settings.
    latents: override [ts-stage2]'s latent source ('store' or 'online').
    Returns the final scores."""
    from .strategies import strategy as lookup
    from ..tables import read_toml
    from .strategies.base import init_weights, split_config

    trainer_cls, cfg_cls = lookup(strategy)
    if teacher is not None:
        from ..teachers import TEACHERS

        if teacher not in TEACHERS:
            raise StreamseError(f"unknown teacher {teacher!r}; choose one of {list(TEACHERS)}")
    cfg, scfg = split_config(read_toml(config), strategy, cfg_cls)
    if steps is not None:
        cfg = dataclasses.replace(cfg, steps=steps)
    overrides = {
        "noisy_dirs": tuple(noisy_dirs),
        "noise_dirs": tuple(noise_dirs),
        "teacher": teacher,
        "teacher_path": teacher_path,
        "teacher_hears": teacher_hears,
        "latents": latents,
    }
    overrides = {k: v for k, v in overrides.items() if v}
    names = {f.name for f in dataclasses.fields(scfg)} if scfg is not None else set()
    if set(overrides) - names:
        raise StreamseError(f"strategy {strategy!r} takes no {sorted(set(overrides) - names)}")
    if overrides:
        scfg = dataclasses.replace(scfg, **overrides)
    trainer = trainer_cls(model, cfg, Path(out), Path(resume) if resume else None, strategy_cfg=scfg)
    if init and not resume:
        init_weights(trainer.model, trainer.family, init, cfg.model)
    scores = trainer.fit()
    return {"model": model, "strategy": strategy, "step": trainer.step, "out": out, **scores}
