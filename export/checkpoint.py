"""`streamse export`: a checkpoint becomes a checked ONNX hop graph with its config beside it."""

from __future__ import annotations

from pathlib import Path

import torch

from streamse.audio_io import read_audio
from streamse.demo import DEMO_INPUT
from streamse.models.registry import load_checkpoint

from .onnx_export import check_onnx, export_onnx


SHIPPED_KEYS = ("format", "name", "family", "config", "state_dict", "step", "scores", "train_config")


def slim_checkpoint(ckpt: dict) -> dict:
    """The parts of a training checkpoint that ship: no optimizer, scheduler or RNG state."""
    return {k: ckpt[k] for k in SHIPPED_KEYS if k in ckpt}


def export_checkpoint(
    checkpoint: Path,
    output: Path,
    check_audio: str | None = None,
    tol: float = 1e-4,
    overrides: dict | None = None,
) -> str:
    """Export, then check onnxruntime hop-by-hop against PyTorch offline; raise on mismatch.

    Writes OUTPUT.onnx (metadata inside), OUTPUT.json (the same metadata) and OUTPUT.pt (the
    weights and config without optimizer state, for the PyTorch rows of `streamse bench`).
    overrides: model config fields to change first (`load_checkpoint`'s config_overrides); the
    written config says so.
    """
    model, ckpt = load_checkpoint(checkpoint, overrides)
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
