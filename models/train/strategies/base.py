"""What every training strategy shares: its own TOML table, starting weights (`--init`), and
the delay-free offline enhancement used inside the self-supervised losses.

A strategy's options live in a frozen dataclass read from a table named after the strategy
(`[cyclegan]`, `[iddp]`) in the same TOML file as [train] [data] [loss] [model]; every field
has a default, so a config without the table works.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from torch import nn

from streamse.errors import StreamseError

from ...registry import config_from_dict, read_checkpoint
from ..config import TrainConfig, config_from_tables

log = logging.getLogger(__name__)


def split_config(tables: dict, table: str, cls: type | None) -> tuple[TrainConfig, Any]:
    """(TrainConfig from the common tables, `cls` built from [table] or None without a cls).

    Tables of other strategies are ignored, so one file can hold several."""
    from . import STRATEGIES

    common = {k: v for k, v in tables.items() if k not in STRATEGIES}
    cfg = config_from_tables(common)
    if cls is None:
        return cfg, None
    try:
        return cfg, cls.from_table(tables.get(table, {}))
    except TypeError as exc:  # an unknown key reaches the dataclass constructor
        raise StreamseError(f"[{table}]: {exc}") from None


def init_weights(model: nn.Module, family: str, path: str | Path, overrides: dict | None = None) -> int:
    """Load the model weights of checkpoint `path` into `model` (adaptation start point).

    Accepts slim checkpoints (no optimizer). The family must match, and the checkpoint's
    config with `overrides` (the run's [model] table: a deliberate change such as a CNUNet-TB
    `combine`) applied must equal this run's model config, except for the config class's
    `INFERENCE_FIELDS` (no weights: a shipped checkpoint's export settings such as the crn's
    mask_power and silence_db), which come from the run, with a log line where they differ.
    Tensors that such an override adds (a crn `decoder`) keep their fresh initialisation and
    are listed (a logging warning); when the overrides change nothing, every tensor must be in
    the checkpoint. Returns the checkpoint's step (0 when it does not say)."""
    ckpt = read_checkpoint(path, family, "--init checkpoint")
    ours = config_from_dict(family, dataclasses.asdict(model.cfg))  # TOML lists -> tuples
    runs = {f: getattr(ours, f) for f in getattr(type(ours), "INFERENCE_FIELDS", ())}
    theirs = {f: ckpt["config"][f] for f in runs if f in ckpt["config"] and ckpt["config"][f] != runs[f]}
    if config_from_dict(family, {**ckpt["config"], **(overrides or {}), **runs}) != ours:
        raise StreamseError(f"{path}: model config differs from this run's (--model / [model])")
    if theirs:
        log.warning(
            "--init: inference settings from the run, not the checkpoint: %s",
            ", ".join(f"{f} {v!r} -> {runs[f]!r}" for f, v in sorted(theirs.items())),
        )
    changed = config_from_dict(family, {**ckpt["config"], **runs}) != ours  # overrides change something
    try:
        result = model.load_state_dict(ckpt["state_dict"], strict=False)
    except RuntimeError as exc:  # a [model] override that changes a tensor's size
        detail = str(exc).splitlines()[-1].strip()
        raise StreamseError(f"{path}: weights do not fit this model: {detail}") from None
    if result.unexpected_keys or (result.missing_keys and not changed):
        raise StreamseError(
            f"{path}: weights do not fit this model (missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]})"
        )
    if result.missing_keys:  # parts the [model] overrides add (e.g. a crn decoder) start fresh
        log.warning(
            "--init: %d tensors not in the checkpoint start fresh: %s",
            len(result.missing_keys),
            sorted({k.split(".")[0] for k in result.missing_keys}),
        )
    return int(ckpt.get("step", 0))
