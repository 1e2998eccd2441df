"""Architectures are data: a table of named configurations, and checkpoints that rebuild
their model by themselves (config inside, loaded with `weights_only=True`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from streamse.errors import StreamseError

from .cnunet import CNUNet, CNUNetConfig
from .cnunet_tb import CNUNetTB, CNUNetTBConfig
from .crn import CRNConfig, MaskCRN
from .tables import tuplify_table

# family -> (model class, config class)
FAMILIES: dict[str, tuple[type[nn.Module], type]] = {
    "crn": (MaskCRN, CRNConfig),
    "cnunet": (CNUNet, CNUNetConfig),
    "cnunet-tb": (CNUNetTB, CNUNetTBConfig),
}

# user-facing model name -> (family, config)
ARCHITECTURES: dict[str, tuple[str, Any]] = {
    "crn": ("crn", CRNConfig()),
    "crn-s": ("crn", CRNConfig(channels=(8, 16, 16), rnn_hidden=128, rnn_layers=1, fc_hidden=128)),
    # the crn on the peers' 32 ms window / 16 ms hop (31 Hz bins) with the full-resolution mask
    # decoder: 12 ms more latency than `crn`, better scores (docs/quality.md, eleventh round)
    "crn-32ms": (
        "crn",
        CRNConfig(
            win=512, hop=256, n_fft=512, decoder=True, input_norm="level", enc_norm="none", lead_gate=True
        ),
    ),
    # CNUNet at a quarter of the published widths and 4 dense layers: ~98 k params, ~0.33 GMAC/s,
    # sized to train on a CPU and run live on one core (the shipped `cnunet`)
    "cnunet": ("cnunet", CNUNetConfig(mid=8, out=16, dense_layers=4, attn_hidden=8)),
    # the published CNUNet topology (1,486,806 params), causal; ~4.6 GMAC/s at a 10 ms hop:
    # GPU-sized, trainable, not shipped
    "cnunet-paper": ("cnunet", CNUNetConfig()),
    # CNUNet-TB(-TS), the stage-2 / inference network (no fusion layer), at a quarter of the
    # widths, 4 dense layers, shorter attention: sized to train on a CPU (the shipped one)
    "cnunet-tb-ts": (
        "cnunet-tb",
        CNUNetTBConfig(mid=8, out=16, dense_layers=4, gate_kernel=9, attn_frames=16),
    ),
    # CNUNet-TB(-TS) at the published size (2,796,393 params; release 2,979,840), causal, on
    # the paper's 512/256 Hamming STFT (32 ms window, 16 ms hop): GPU-sized, not shipped
    "cnunet-tb-ts-paper": ("cnunet-tb", CNUNetTBConfig()),
}

CHECKPOINT_FORMAT = "streamse-checkpoint-v1"


def architecture(name: str) -> tuple[str, Any]:
    """Model name -> (family, default config)."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise StreamseError(f"unknown model {name!r}; architectures: {describe_architectures()}") from None


def describe_architectures() -> str:
    """'crn (ships), crn-s, ...': every registered name, saying which ship trained weights."""
    from streamse.runtime import shipped_models

    shipped = set(shipped_models())
    return ", ".join(f"{n} (ships)" if n in shipped else n for n in sorted(ARCHITECTURES))


def config_from_dict(family: str, data: dict) -> Any:
    """Rebuild a frozen config dataclass from its `asdict` form (lists become tuples)."""
    cls = FAMILIES[family][1]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise StreamseError(f"config has unknown fields for {family}: {sorted(unknown)}")
    try:
        return cls(**tuplify_table(data))
    except (TypeError, ValueError) as exc:  # a field's own check (e.g. --set combine=max)
        raise StreamseError(f"invalid {family} config: {exc}") from None


def build(family: str, cfg: Any) -> nn.Module:
    return FAMILIES[family][0](cfg)


def build_by_name(name: str) -> nn.Module:
    family, cfg = architecture(name)
    return build(family, cfg)


def checkpoint_dict(model: nn.Module, name: str, family: str, **extra: Any) -> dict:
    """Everything needed to rebuild `model`: name, family, config, weights, plus `extra`."""
    return {
        "format": CHECKPOINT_FORMAT,
        "name": name,
        "family": family,
        "config": dataclasses.asdict(model.cfg),
        "state_dict": model.state_dict(),
        **extra,
    }


def read_checkpoint(
    path: str | Path, family: str | None = None, what: str = "checkpoint", map_location: Any = "cpu"
) -> dict:
    """The one checkpoint reader: a streamse checkpoint read as data (`weights_only`, never
    code), checked to be one (format, known family, and `family` when given). `what` names it
    in the one-line errors (e.g. "--init checkpoint")."""
    path = Path(path)
    if not path.is_file():
        raise StreamseError(f"{what} not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt, truncated, or not a torch file
        raise StreamseError(f"cannot read {what} {path}: {exc.__class__.__name__}: {exc}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise StreamseError(f"{path} is not a streamse checkpoint")
    if ckpt.get("family") not in FAMILIES:
        raise StreamseError(f"{path}: unknown model family {ckpt.get('family')!r}")
    if family is not None and ckpt["family"] != family:
        raise StreamseError(f"{path} holds a {ckpt['family']} model, not {family}")
    return ckpt


def load_checkpoint(path: str | Path, config_overrides: dict | None = None) -> tuple[nn.Module, dict]:
    """Load a checkpoint as data (never code) and rebuild its model in eval mode.

    config_overrides: model config fields to replace first (inference-time settings such as
    the CRN's mask_power); the returned checkpoint dict carries the changed config. A field
    that changes a weight's shape is a one-line error."""
    ckpt = read_checkpoint(path)
    if config_overrides:
        ckpt = {**ckpt, "config": {**ckpt["config"], **config_overrides}}
    family = ckpt["family"]
    model = build(family, config_from_dict(family, ckpt["config"]))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        if not config_overrides:
            raise
        raise StreamseError(
            f"--set {config_overrides} changes the weights' shapes: {str(exc).splitlines()[0][:200]}"
        ) from None
    return model.eval(), ckpt
