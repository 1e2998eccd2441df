"""`streamse bench --train`: how fast a model trains here, through the real trainer.

For each thread count, a `Trainer` is built from the model name and TOML config (the same
objects `streamse train` uses, writing into a temporary folder), then `steps` steps are timed
after `warmup` untimed ones, split into data preparation (`Trainer.batch`: mixing, rooms,
augmentation) and the model step (`Trainer.train_step`: forward, loss, backward, optimiser).
Reported: medians and p90 of both, and audio seconds trained per wall second
(batch x segment / (data + model)). Needs the `train` extra and the config's data folders.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from streamse.errors import StreamseError

from .machine import describe_machine, machine_info


def _time_steps(trainer, steps: int, warmup: int) -> tuple[list[float], list[float]]:
    data_s, model_s = [], []
    for k in range(warmup + steps):
        t0 = time.perf_counter()
        batch = trainer.batch(k)
        t1 = time.perf_counter()
        trainer.train_step(*batch)
        t2 = time.perf_counter()
        if k >= warmup:
            data_s.append(t1 - t0)
            model_s.append(t2 - t1)
    return data_s, model_s


def run_train_speed(
    model: str,
    config: str | None = None,
    threads=(1, 2),
    steps: int = 10,
    warmup: int = 3,
    compile_model: bool | None = None,
    autocast: str | None = None,
) -> dict:
    """Training throughput of `model` per thread count (see module doc); JSON-ready dict.
    compile_model overrides the config's `[train] compile`, autocast ("fp32" or "bf16") its
    `[train] autocast`; None keeps the config's value."""
    from streamse.errors import require

    require("torch", "train")
    from streamse.models.tables import read_toml
    from streamse.models.train.config import TrainConfig
    from streamse.models.train.strategies.base import split_config
    from streamse.models.train.trainer import Trainer

    # the common tables; a strategy's own ([ts-stage1], ...) do not change the model step timed here
    cfg = TrainConfig() if config is None else split_config(read_toml(config), "", None)[0]
    for d in cfg.data.clean_dirs + cfg.data.noise_dirs:
        if not Path(d).is_dir():
            raise StreamseError(
                f"training data folder not found: {d} (run from the folder the "
                "config's paths are relative to, or give --config)"
            )
    if autocast is not None:
        cfg = dataclasses.replace(cfg, autocast="" if autocast == "fp32" else autocast)
    if compile_model is not None:
        cfg = dataclasses.replace(cfg, compile=compile_model)
    rows = []
    for n in threads:
        if n < 1:
            raise StreamseError(f"threads must be >= 1, got {n}")
        run_cfg = dataclasses.replace(cfg, threads=n, valid_max_files=0, valid_dirs=())
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(model, run_cfg, Path(tmp), progress=False)
            data_s, model_s = _time_steps(trainer, steps, warmup)
        audio = cfg.batch_size * cfg.data.segment_seconds
        d, m = np.asarray(data_s), np.asarray(model_s)
        rows.append(
            {
                "threads": n,
                "steps": steps,
                "batch": cfg.batch_size,
                "segment_s": cfg.data.segment_seconds,
                "compile": cfg.compile,
                "autocast": cfg.autocast or "fp32",
                "data_s_p50": float(np.median(d)),
                "data_s_p90": float(np.percentile(d, 90)),
                "model_s_p50": float(np.median(m)),
                "model_s_p90": float(np.percentile(m, 90)),
                "data_share": float(d.sum() / (d.sum() + m.sum())),
                "audio_s_per_s": float(audio * steps / (d.sum() + m.sum())),
            }
        )
    return {"model": model, "config": config, "machine": machine_info(), "rows": rows}


def format_train_speed(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"streamse bench --train --model {report['model']} ({report['config'] or 'defaults'});"
        f" {describe_machine(m)}",
        f"{'threads':>7}{'compile':>8}{'autocast':>9}{'batch':>6}{'seg s':>6}{'data p50':>10}"
        f"{'model p50':>10}{'model p90':>10}{'data %':>7}{'audio s/s':>10}",
    ]
    for r in report["rows"]:
        lines.append(
            f"{r['threads']:>7}{str(r['compile']):>8}{r['autocast']:>9}{r['batch']:>6}{r['segment_s']:>6.1f}"
            f"{r['data_s_p50']:>10.3f}{r['model_s_p50']:>10.3f}{r['model_s_p90']:>10.3f}"
            f"{100 * r['data_share']:>7.1f}{r['audio_s_per_s']:>10.1f}"
        )
    lines.append("seconds per step (medians, p90); audio s/s = seconds of audio trained per wall second")
    return "\n".join(lines)
