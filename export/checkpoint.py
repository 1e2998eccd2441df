"""`streamse export`: a checkpoint becomes a checked ONNX hop graph with its config beside it."""

from __future__ import annotations

from pathlib import Path

import torch

from streamse.audio_io import read_audio
from streamse.demo import DEMO_INPUT
from streamse.errors import StreamseError
from streamse.models.registry import architecture, load_checkpoint

from .onnx_export import check_onnx, export_onnx


SHIPPED_KEYS = (
    "format",
    "name",
    "family",
    "config",
    "state_dict",
    "step",
    "scores",
    "train_config",
    "averaged_with",
)


def slim_checkpoint(ckpt: dict) -> dict:
    """The parts of a training checkpoint that ship: no optimizer, scheduler or RNG state."""
    return {k: ckpt[k] for k in SHIPPED_KEYS if k in ckpt}


def average_weights(model: torch.nn.Module, ckpt: dict, others: list[Path], overrides: dict | None) -> dict:
    """Set `model`'s weights to the mean of its own and those of the checkpoints `others` (a
    weight average of fine-tunes of one network, e.g. a fine-tune and the weights it started
    from); each must hold the same family and, with `overrides` applied, the same config.
    Returns `ckpt` with that state_dict and `averaged_with` naming the others (name, step)."""
    states, names = [model.state_dict()], []
    for path in others:
        other, oc = load_checkpoint(path, overrides)
        if oc["family"] != ckpt["family"] or other.cfg != model.cfg:
            raise StreamseError(f"{path}: another model or config than the checkpoint's; cannot average")
        states.append(other.state_dict())
        names.append({"path": Path(path).name, "step": int(oc.get("step", 0))})
    mean = {k: sum(s[k].double() for s in states).div(len(states)).to(v.dtype) for k, v in states[0].items()}
    model.load_state_dict(mean)
    return {**ckpt, "state_dict": model.state_dict(), "averaged_with": names}


def rename(ckpt: dict, name: str) -> dict:
    """`ckpt` under another registered model name of the same family (e.g. a `crn` run with the
    32 ms window of `crn-32ms` shipped as that); its config stays the checkpoint's own."""
    family, _ = architecture(name)
    if family != ckpt["family"]:
        raise StreamseError(f"{name!r} is a {family} model; the checkpoint holds a {ckpt['family']} model")
    return {**ckpt, "name": name}


def export_checkpoint(
    checkpoint: Path,
    output: Path,
    check_audio: str | None = None,
    tol: float = 1e-4,
    overrides: dict | None = None,
    average_with: list[Path] | None = None,
    name: str | None = None,
) -> str:
    """Export, then check onnxruntime hop-by-hop against PyTorch offline; raise on mismatch.

    Writes OUTPUT.onnx (metadata inside), OUTPUT.json (the same metadata) and OUTPUT.pt (the
    weights and config without optimizer state, for the PyTorch rows of `streamse bench`).
    overrides: model config fields to change first (`load_checkpoint`'s config_overrides); the
    written config says so. average_with: checkpoints whose weights are averaged in
    (`average_weights`). name: the registered model name to ship under (default: the
    checkpoint's), of the checkpoint's family (`rename`).
    """
    model, ckpt = load_checkpoint(checkpoint, overrides)
    if average_with:
        ckpt = average_weights(model, ckpt, list(average_with), overrides)
    if name is not None:
        ckpt = rename(ckpt, name)
    if output.suffix != ".onnx":
        output = output.with_suffix(".onnx")
    tmp = output.with_name(output.stem + ".partial.onnx")
    try:
        meta = export_onnx(model, ckpt["name"], ckpt["family"], tmp)
        audio, _ = read_audio(Path(check_audio) if check_audio else DEMO_INPUT, meta.sample_rate)
        err = check_onnx(model, tmp, audio, tol)
        tmp.replace(output)
        tmp.with_suffix(".json").replace(output.with_suffix(".json"))
        torch.save(slim_checkpoint(ckpt), output.with_suffix(".pt"))
    finally:
        for p in (tmp, tmp.with_suffix(".json")):
            p.unlink(missing_ok=True)
    return (
        f"{output}: {meta.name}, {meta.params} params, hop {meta.hop}, window {meta.window}; "
        f"ONNX vs PyTorch max error {err:.2e} of peak (limit {tol:.0e})"
    )
